"""Looking inside a trained translator: every attention map it computes for one sentence.

The maps come from one teacher-forced forward pass over the model's own greedy
translation. Because of the causal mask that pass computes exactly the weights
the step-by-step decoding computed (row t only ever sees positions 0..t), so the
pictures show what the model attended to while it was writing.
"""

from __future__ import annotations

import torch
from torch import nn

from .decoding import EvalMode, greedy_decode
from ..masks import padding_mask, target_mask
from .number_words import DE_VOCAB, PAD_ID, english_tokens, make_batch, trim_padding


def attention_maps(model: nn.Module, number: int) -> dict:
    """Translate ``number`` greedily and return its attention weights, layer by layer.

    Returns a dict:

    - ``"source"``: the English tokens (S,);
    - ``"decoder_input"``: what the decoder read, ``<bos>`` + its output but the last token (T,);
    - ``"output"``: the tokens it wrote, usually ending with ``<eos>`` (T,); row t of every
      decoder map is the step that wrote ``output[t]``;
    - ``"encoder_self"``: (n_layers, n_heads, S, S), queries and keys from the source;
    - ``"decoder_self"``: (n_decoder_layers, n_heads, T, T), masked (causal);
    - ``"cross"``: (n_decoder_layers, n_heads, T, S), queries from the decoder, keys from the source.

    Each map's rows sum to 1 (a softmax over the keys); tensors are on the CPU.
    """
    src, _ = make_batch([number])                                                # (1, S)
    ys = trim_padding(greedy_decode(model, src).cpu(), PAD_ID)                   # (1, T + 1): <bos> ... <eos>
    device = next(model.parameters()).device
    src, tgt_in = src.to(device), ys[:, :-1].to(device)                          # (1, S), (1, T)
    with EvalMode(model):
        model(src, tgt_in, padding_mask(src, PAD_ID), target_mask(tgt_in, PAD_ID))

    def stack(attentions) -> torch.Tensor:
        attentions = list(attentions)
        if any(getattr(a, "attn_weights", None) is None for a in attentions):
            raise ValueError("the attention maps need every MultiHeadAttention to keep the weights of its last "
                             "call in self.attn_weights (B, n_heads, q_len, k_len), as notebook 03's asks; "
                             f"this model's {type(attentions[0]).__name__} does not")
        return torch.stack([a.attn_weights[0].float().cpu() for a in attentions])  # (layers, heads, q, k)

    return {
        "source": english_tokens(number),
        "decoder_input": [DE_VOCAB.itos[i] for i in tgt_in[0].tolist()],
        "output": [DE_VOCAB.itos[i] for i in ys[0, 1:].tolist()],
        "encoder_self": stack(layer.self_attn for layer in model.encoder.layers),
        "decoder_self": stack(layer.self_attn for layer in model.decoder.layers),
        "cross": stack(layer.cross_attn for layer in model.decoder.layers),
    }


__all__ = ["attention_maps"]
