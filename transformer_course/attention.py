"""Scaled dot-product attention: softmax(Q K^T / sqrt(d_k)) V, with an optional mask (True = may attend)."""

from __future__ import annotations

import math

import torch

from .masks import check_mask


def scaled_dot_product_attention(
    q: torch.Tensor,  # (..., q_len, d_k)
    k: torch.Tensor,  # (..., k_len, d_k)
    v: torch.Tensor,  # (..., k_len, d_v)
    mask: torch.Tensor | None = None,  # bool, broadcastable to (..., q_len, k_len); True = may attend
    dropout: torch.nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (output (..., q_len, d_v), weights (..., q_len, k_len)).

    A query whose keys are all masked out gets all-zero weights and a zero output, not NaN.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries have width d_k={q.shape[-1]} (shape {tuple(q.shape)}) but keys have width "
            f"{k.shape[-1]} (shape {tuple(k.shape)}): q and k must share their last dimension"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys have length {k.shape[-2]} (shape {tuple(k.shape)}) but values have length "
            f"{v.shape[-2]} (shape {tuple(v.shape)}): each key needs exactly one value"
        )
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., q_len, k_len)
    if mask is not None:
        check_mask(mask, tuple(scores.shape))
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # exp(-inf - (-inf)) is NaN for a fully masked row: give such a query no weights at all
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights
