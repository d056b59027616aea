"""Position signals added to the token embeddings: the paper's sinusoids, and a learned table."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .utils import check_last_dim, check_rank


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same), interleaved."""
    if d_model % 2 != 0:
        raise ValueError(f"the sinusoidal encoding pairs sin and cos, so d_model must be even, got {d_model}")
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)  # even dimensions
    pe[:, 1::2] = torch.cos(position * div_term)  # odd dimensions
    return pe


def _check_length(x: torch.Tensor, max_len: int, d_model: int) -> None:
    """Raise a ValueError unless x is (B, L, d_model) with L <= max_len."""
    check_rank(x, 3, "(batch, seq_len, d_model)", "input")
    check_last_dim(x, d_model, "input")
    if x.shape[1] > max_len:
        raise ValueError(
            f"the sequence has length {x.shape[1]} but the positional encoding was built for "
            f"max_len={max_len}; build it with a larger max_len"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding to x (B, L, d_model), then dropout (as in the paper).

    ``sinusoidal_encoding``: the function that makes the table (``tc.parts.load`` passes in the learner's).
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, *,
                 sinusoidal_encoding: Callable[[int, int], torch.Tensor] = sinusoidal_encoding) -> None:
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_length(x, self.max_len, self.d_model)
        return self.dropout(x + self.pe[: x.shape[1]])  # (B, L, d_model)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position to x (B, L, d_model), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_length(x, self.max_len, self.d_model)
        positions = torch.arange(x.shape[1], device=x.device)  # (L,)
        return self.dropout(x + self.embedding(positions))  # (B, L, d_model)
