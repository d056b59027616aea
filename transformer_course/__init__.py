"""transformer_course: the readable reference implementation behind the course's notebooks.

Modules, in the order the course teaches them: utils (device, seeds), masks, residual (the
residual stream, notebook 01), attention, multihead, positional, block (LayerNorm, feed-forward,
residual sub-layers, encoder layer), encoder_decoder (decoder layer, stacks, the full Transformer); then the capstone's number_words
(English and German number words, vocabularies, splits, padded batches), decoding (greedy, beam
search, exact match), interpret (attention maps of a translation) and training (label smoothing,
warm-up schedules, the training loop).
`checks` holds the exercise checks, `build` the notebook generator, `bench` the benchmark.
"""

from .utils import get_device, seed_everything
from .masks import causal_mask, padding_mask, target_mask
from .residual import DeepStack, ResidualBlock, gradient_norms, next_token_probs, softmax
from .attention import attention_scores, masked_softmax, scaled_dot_product_attention
from .multihead import MultiHeadAttention, load_torch_weights, merge_heads, split_heads
from .positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding, sinusoidal_encoding
from .block import EncoderLayer, FeedForward, LayerNorm, SublayerConnection
from .encoder_decoder import (Decoder, DecoderLayer, Embedding, Encoder, Transformer, shift_right,
                              transformer_forward)
from .number_words import (DE_VOCAB, EN_VOCAB, Vocab, batch_iterator, english_tokens, german,
                           german_tokens, make_batch, make_splits)
from .decoding import beam_search, exact_match, greedy_decode, translate
from .interpret import attention_maps
from .training import CapstoneConfig, History, label_smoothing_loss, noam_lr, train, train_capstone, train_step

__all__ = [
    "get_device", "seed_everything",
    "causal_mask", "padding_mask", "target_mask",
    "softmax", "next_token_probs", "ResidualBlock", "DeepStack", "gradient_norms",
    "attention_scores", "masked_softmax", "scaled_dot_product_attention",
    "MultiHeadAttention", "split_heads", "merge_heads", "load_torch_weights",
    "sinusoidal_encoding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
    "LayerNorm", "FeedForward", "SublayerConnection", "EncoderLayer",
    "DecoderLayer", "Encoder", "Decoder", "Embedding", "Transformer", "shift_right", "transformer_forward",
    "Vocab", "EN_VOCAB", "DE_VOCAB", "english_tokens", "german_tokens", "german", "make_splits",
    "make_batch", "batch_iterator",
    "greedy_decode", "beam_search", "translate", "exact_match",
    "label_smoothing_loss", "noam_lr", "train_step", "train", "History", "CapstoneConfig", "train_capstone",
    "attention_maps",
]
