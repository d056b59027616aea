"""Notebook 00's tensor-shape warm-up: the three reference answers and their checks.

The warm-up teaches no transformer part, so its reference answers live here
beside their checks rather than in a model module.
"""

from __future__ import annotations

from typing import Callable

import torch
from einops import rearrange

from ._core import call, case, exercise, expect_close, randn

# --- reference answers -------------------------------------------------------


def mean_over_positions(x: torch.Tensor) -> torch.Tensor:
    """Average a sequence over its positions: (batch, seq_len, d_model) -> (batch, d_model)."""
    return x.mean(dim=1)


def pairwise_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot product of every row of `a` with every row of `b`: (batch, n, d), (batch, m, d) -> (batch, n, m)."""
    return a @ b.transpose(-2, -1)


def chunk_sequence(x: torch.Tensor, chunk_len: int) -> torch.Tensor:
    """Cut a sequence into consecutive chunks: (batch, seq_len, d_model) -> (batch, n_chunks, chunk_len, d_model)."""
    return rearrange(x, "b (n c) d -> b n c d", c=chunk_len)


# --- checks ------------------------------------------------------------------


def _check_mean_over_positions(fn: Callable) -> None:
    for batch, seq_len, d_model in [(2, 3, 5), (3, 4, 4), (1, 1, 6)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model})"):
            x = randn(batch, seq_len, d_model, seed=seq_len)
            expected = mean_over_positions(x)
            expect_close(call(fn, x), expected, "the result", axes=("batch", "d_model"), mistakes={
                "it averages over d_model (the last axis); average over the positions, axis 1":
                    lambda: x.mean(dim=-1),
                "it averages over the batch (axis 0); average over the positions, axis 1":
                    lambda: x.mean(dim=0),
                "it sums the positions; divide by seq_len (or use .mean) to average them":
                    lambda: x.sum(dim=1),
                "it keeps the averaged axis (keepdim=True); the result should be (batch, d_model)":
                    lambda: x.mean(dim=1, keepdim=True),
                "it averages every number into one; average over axis 1 only":
                    lambda: x.mean(),
            })


def check_mean_over_positions(learner: Callable) -> Callable:
    """Check the learner's `mean_over_positions`; returns theirs if right, the reference if not done."""
    return exercise("mean_over_positions", learner, mean_over_positions, _check_mean_over_positions)


def _check_pairwise_dot(fn: Callable) -> None:
    for batch, n, m, d in [(2, 3, 4, 5), (2, 4, 4, 4), (1, 1, 2, 3)]:
        with case(f"a of shape ({batch}, n={n}, d={d}), b of shape ({batch}, m={m}, d={d})"):
            a, b = randn(batch, n, d, seed=1), randn(batch, m, d, seed=2)
            expected = pairwise_dot(a, b)
            expect_close(call(fn, a, b), expected, "the result", axes=("batch", "n", "m"), mistakes={
                "it is transposed: row i should hold a's row i dotted with every row of b (a @ b^T, not b @ a^T)":
                    lambda: b @ a.transpose(-2, -1),
                "it multiplies element by element; a dot product also sums over d (use @)":
                    lambda: a * b,
                "it sums over the rows instead of over d":
                    lambda: a.transpose(-2, -1) @ b,
            })


def check_pairwise_dot(learner: Callable) -> Callable:
    """Check the learner's `pairwise_dot`; returns theirs if right, the reference if not done."""
    return exercise("pairwise_dot", learner, pairwise_dot, _check_pairwise_dot)


def _check_chunk_sequence(fn: Callable) -> None:
    for batch, n_chunks, chunk_len, d_model in [(2, 3, 4, 5), (1, 2, 2, 3), (2, 1, 3, 2)]:
        seq_len = n_chunks * chunk_len
        with case(f"x of shape ({batch}, seq_len={seq_len}, {d_model}), chunk_len={chunk_len}"):
            x = randn(batch, seq_len, d_model, seed=chunk_len)
            expected = chunk_sequence(x, chunk_len)
            axes = ("batch", "n_chunks", "chunk_len", "d_model")
            expect_close(call(fn, x, chunk_len), expected, "the result", axes=axes, mistakes={
                "the chunks are interleaved, not consecutive: chunk 0 should be positions "
                f"0..{chunk_len - 1}; in einops write (n c), not (c n)":
                    lambda: rearrange(x, "b (c n) d -> b n c d", c=chunk_len),
                "the axes n_chunks and chunk_len are swapped; the result should be "
                "(batch, n_chunks, chunk_len, d_model)":
                    lambda: rearrange(x, "b (n c) d -> b c n d", c=chunk_len),
                f"it makes chunk_len = {chunk_len} chunks of {n_chunks} positions, but chunk_len is the length of "
                f"ONE chunk: there should be {n_chunks} chunks of {chunk_len} positions (in einops bind "
                f"c=chunk_len, not n; x.chunk(k) makes k chunks, not chunks of length k)":
                    lambda: rearrange(x, "b (n c) d -> b n c d", n=chunk_len),
                "it binds the number of chunks to chunk_len and swaps the axes: chunk_len is the size of c; "
                "write rearrange(x, \"b (n c) d -> b n c d\", c=chunk_len)":
                    lambda: rearrange(x, "b (n c) d -> b c n d", n=chunk_len),
            })


def check_chunk_sequence(learner: Callable) -> Callable:
    """Check the learner's `chunk_sequence`; returns theirs if right, the reference if not done."""
    return exercise("chunk_sequence", learner, chunk_sequence, _check_chunk_sequence)
