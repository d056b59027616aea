"""transformer_course: the readable reference implementation behind the course's notebooks.

Layout
------
Model code, one module per idea, in the order the course teaches them (no module imports a later one):
``utils`` (device, seeds, input validation), ``config`` (``ModelConfig``, a model's size), ``masks``,
``residual`` (notebook 01), ``attention`` (02), ``multihead`` (03), ``positional`` (04), ``block``
(LayerNorm, feed-forward, residual sub-layers, encoder layer: 05), ``encoder_decoder`` (decoder
layer, stacks, the full ``Transformer``: 06), ``gpt`` (the decoder-only model, its KV cache, sampling: 09).
Task code, in the subpackage ``task``: the number-words data, training, decoding and attention maps
of the translator that notebook 07 trains, and the same task (plus counting) as one sequence for
the GPT of notebook 09 (``lm_data``, ``lm_training``);
``task.ablation``, the switchable translator whose parts notebook 08 takes out one at a time.
``whiteboard`` (08): the whole model on one page, each part with its sentence, equation, shapes and
measured cost of removal.
``live`` (04, 07): ``LiveOrPicture``, a widget that is also a PNG for viewers that cannot run widgets.
``checks``: the exercise checks (the teacher's feedback), apart from the model code.
``parts``: how the learner's parts travel: saved to ``my_parts/`` when their check passes, loaded by later notebooks.
Authoring tools (the notebook builder, the benchmark, the diagram scripts) are not in the package:
they live in the repository's ``tools/``.

Vocabulary: one name for one thing, here, in every notebook, check message and test
------------------------------------------------------------------------------------
Sizes: ``d_model`` (width of the residual stream), ``n_heads``, ``d_k`` = d_model / n_heads (each
head's query/key width; its value width d_v = d_k), ``d_ff`` (the feed-forward's hidden width),
``n_layers``, ``vocab_size`` (V), ``max_len``.
Axes in shape comments: ``B`` batch, ``S`` source length, ``T`` target length, ``L`` a sequence
length where source or target does not matter, ``H`` heads, ``V`` vocabulary; e.g. ``(B, L, d_model)``,
``(B, H, L, d_k)``, attention weights ``(B, H, q_len, k_len)``. In check messages the same axes are
named in words: batch, seq_len (src_len, tgt_len), n_heads, d_model, d_k, vocab_size. einops patterns
use ``b l (h d_k)``-style names.
Tensors: ``x`` the residual stream (B, L, d_model); ``src``/``tgt`` token ids; ``memory`` the
encoder's output (B, S, d_model); ``q``, ``k``, ``v``; ``scores`` before the softmax, ``weights``
after; ``logits`` (B, T, V); ``src_mask``/``tgt_mask``.
Masks: bool, True = "may attend", broadcastable to (B, H, q_len, k_len): ``padding_mask(src, pad_id)``
(B, 1, 1, S), ``causal_mask(L)`` (L, L), ``target_mask(tgt, pad_id)`` (B, 1, T, T).
Special tokens: the strings ``<pad>``, ``<bos>``, ``<eos>``; their ids ``PAD_ID`` = 0, ``BOS_ID``,
``EOS_ID`` (arguments ``pad_id``, ``bos_id``, ``eos_id``).
The output layer: the unembedding ``W_U``, the module ``unembed`` (d_model -> vocab_size logits).
"""

from .utils import get_device, seed_everything, set_threads
from .config import ModelConfig
from .masks import causal_mask, padding_mask, target_mask
from .residual import DeepStack, ResidualBlock, gradient_norms, next_token_probs, softmax
from .attention import attention_scores, masked_softmax, scaled_dot_product_attention
from .multihead import MultiHeadAttention, load_torch_weights, merge_heads, split_heads
from .positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding, sinusoidal_encoding
from .block import EncoderLayer, FeedForward, LayerNorm, SublayerConnection
from .encoder_decoder import (Decoder, DecoderLayer, Embedding, Encoder, Transformer, shift_right,
                              transformer_forward)
from .gpt import (GPT, DecoderOnlyBlock, KVCache, attend_with_cache, causal_mask_after, count_parameters,
                  forward_with_cache, generate, sample_next, top_k_filter, top_p_filter)
from .task.number_words import (DE_VOCAB, EN_VOCAB, Vocab, batch_iterator, english_tokens, german,
                           german_tokens, make_batch, make_splits, number_families)
from .task.decoding import beam_search, exact_match, family_exact_match, greedy_decode, translate
from .task.interpret import attention_maps
from .task.training import CapstoneConfig, History, label_smoothing_loss, noam_lr, train, train_capstone, train_step
from . import parts

__all__ = [
    "get_device", "seed_everything", "set_threads", "ModelConfig",
    "causal_mask", "padding_mask", "target_mask",
    "softmax", "next_token_probs", "ResidualBlock", "DeepStack", "gradient_norms",
    "attention_scores", "masked_softmax", "scaled_dot_product_attention",
    "MultiHeadAttention", "split_heads", "merge_heads", "load_torch_weights",
    "sinusoidal_encoding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
    "LayerNorm", "FeedForward", "SublayerConnection", "EncoderLayer",
    "DecoderLayer", "Encoder", "Decoder", "Embedding", "Transformer", "shift_right", "transformer_forward",
    "DecoderOnlyBlock", "KVCache", "attend_with_cache", "causal_mask_after", "GPT", "forward_with_cache",
    "count_parameters",
    "top_k_filter", "top_p_filter", "sample_next", "generate",
    "Vocab", "EN_VOCAB", "DE_VOCAB", "english_tokens", "german_tokens", "german", "make_splits",
    "make_batch", "batch_iterator", "number_families",
    "greedy_decode", "beam_search", "translate", "exact_match", "family_exact_match",
    "label_smoothing_loss", "noam_lr", "train_step", "train", "History", "CapstoneConfig", "train_capstone",
    "attention_maps", "parts",
]
