"""Multi-head attention: n_heads small attentions side by side, concatenated and mixed by W_O."""

from __future__ import annotations

from typing import Callable

import torch
from einops import rearrange
from torch import nn

from .attention import scaled_dot_product_attention
from .utils import check_attention_inputs


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, L, d_model) -> (B, H, L, d_k), with H = n_heads and d_k = d_model // n_heads; head i gets a contiguous block."""
    return rearrange(x, "b l (h d_k) -> b h l d_k", h=n_heads)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, d_k) -> (B, L, H * d_k): the heads concatenated, head 0's d_k features first."""
    return rearrange(x, "b h l d_k -> b l (h d_k)")


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W_O, head_i = Attention(Q W_Q_i, K W_K_i, V W_V_i).

    forward(query (B, q_len, d_model), key (B, k_len, d_model), value (B, k_len, d_model),
            mask bool broadcastable to (B, H, q_len, k_len), True = may attend)
    -> (B, q_len, d_model). Each head has d_k = d_v = d_model / n_heads features. The weights of the
    last call stay in `self.attn_weights` (B, H, q_len, k_len). `dropout` applies to the attention weights.
    The keyword-only arguments are the functions it is made of (``tc.parts.load`` passes in the learner's;
    notebook 08's ablation an attention without the 1/sqrt(d_k)).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, *,
                 split_heads: Callable = split_heads, merge_heads: Callable = merge_heads,
                 attention: Callable = scaled_dot_product_attention) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: "
                f"each head gets d_k = d_model / n_heads dimensions, so pick e.g. n_heads in "
                f"{[h for h in range(1, min(d_model, 16) + 1) if d_model % h == 0]}"
            )
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)  # all heads' W_Q_i side by side
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attn_weights: torch.Tensor | None = None
        self.split_heads, self.merge_heads, self.attention = split_heads, merge_heads, attention

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        check_attention_inputs(query, key, value, self.d_model)
        q = self.split_heads(self.w_q(query), self.n_heads)  # (B, H, q_len, d_k)
        k = self.split_heads(self.w_k(key), self.n_heads)  # (B, H, k_len, d_k)
        v = self.split_heads(self.w_v(value), self.n_heads)  # (B, H, k_len, d_k)
        out, weights = self.attention(q, k, v, mask, self.dropout)  # (B, H, q_len, d_k)
        self.attn_weights = weights.detach()
        return self.w_o(self.merge_heads(out))  # (B, q_len, d_model)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """A MultiHeadAttention with the weights of a `torch.nn.MultiheadAttention` (batch_first or not)."""
        if not mha._qkv_same_embed_dim or mha.in_proj_bias is None:
            raise ValueError("from_torch supports nn.MultiheadAttention with kdim = vdim = embed_dim and bias=True")
        ours = cls(mha.embed_dim, mha.num_heads, dropout=mha.dropout)
        load_torch_weights(ours, mha)
        return ours.to(mha.in_proj_weight.device)


def load_torch_weights(ours: MultiHeadAttention, mha: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy a `torch.nn.MultiheadAttention`'s weights into `ours` (same d_model and n_heads); returns `ours`.

    torch keeps W_Q, W_K, W_V stacked in one (3 * d_model, d_model) `in_proj_weight` (and `in_proj_bias`),
    and W_O in `out_proj`. Both use nn.Linear's layout (out_features, in_features), so nothing is transposed.
    """
    w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)  # each (d_model, d_model)
    b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)  # each (d_model,)
    with torch.no_grad():
        for linear, w, b in ((ours.w_q, w_q, b_q), (ours.w_k, w_k, b_k), (ours.w_v, w_v, b_v)):
            linear.weight.copy_(w)
            linear.bias.copy_(b)
        ours.w_o.weight.copy_(mha.out_proj.weight)
        ours.w_o.bias.copy_(mha.out_proj.bias)
    return ours
