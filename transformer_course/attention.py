"""Scaled dot-product attention: softmax(Q K^T / sqrt(d_k)) V, with an optional mask (True = may attend).

Built from two steps the course teaches one at a time: `attention_scores` (how well each query
matches each key) and `masked_softmax` (scores -> weights, masked positions getting none).
"""

from __future__ import annotations

import math

import torch

from .masks import check_mask


def attention_scores(
    q: torch.Tensor,  # (..., q_len, d_k)
    k: torch.Tensor,  # (..., k_len, d_k)
) -> torch.Tensor:
    """Q K^T / sqrt(d_k): (..., q_len, k_len), entry [i, j] = how well query i matches key j."""
    d_k = q.shape[-1]
    # dividing by sqrt(d_k) keeps the scores' spread near 1 whatever d_k is, so the softmax does not saturate
    return q @ k.transpose(-2, -1) / math.sqrt(d_k)


def masked_softmax(
    scores: torch.Tensor,  # (..., q_len, k_len)
    mask: torch.Tensor | None = None,  # bool, broadcastable to scores; True = may attend
) -> torch.Tensor:
    """Softmax over the keys (last axis) in which masked-out keys get weight 0: (..., q_len, k_len).

    A query whose keys are all masked out gets all-zero weights, not NaN.
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    check_mask(mask, tuple(scores.shape))
    # -inf before the softmax: exp(-inf) = 0, and the remaining weights still sum to 1
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    # exp(-inf - (-inf)) is NaN for a fully masked row: give such a query no weights at all
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


def scaled_dot_product_attention(
    q: torch.Tensor,  # (..., q_len, d_k)
    k: torch.Tensor,  # (..., k_len, d_k)
    v: torch.Tensor,  # (..., k_len, d_v)
    mask: torch.Tensor | None = None,  # bool, broadcastable to (..., q_len, k_len); True = may attend
    dropout: torch.nn.Module | None = None,
    scale: float | None = None,  # what multiplies Q K^T; None: 1/sqrt(d_k)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (output (..., q_len, d_v), weights (..., q_len, k_len)).

    A query whose keys are all masked out gets all-zero weights and a zero output, not NaN.
    `dropout`, if given, zeroes some of the weights while training (a regulariser). `scale`, as in
    torch's scaled_dot_product_attention, replaces 1/sqrt(d_k) (notebook 08 sets it to 1 to take it out).
    """
    _check_qkv(q, k, v)
    scores = attention_scores(q, k) if scale is None else q @ k.transpose(-2, -1) * scale  # (..., q_len, k_len)
    weights = masked_softmax(scores, mask)  # (..., q_len, k_len), each row sums to 1 (or is all 0)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (..., q_len, d_v): each query's weighted average of the values


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """Raise a ValueError unless q and k share their width d_k and k and v their length k_len."""
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
