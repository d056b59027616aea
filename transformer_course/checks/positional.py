"""Checks for notebook 04 (positional encoding): the permutation test, the sinusoids, a learned table.

The permutation test is a tool for the notebook rather than a model part, so its reference
answer, :func:`permutation_gap`, lives here beside its check (as notebook 00's warm-up does).
The sinusoidal check names the usual mistakes: sin and cos concatenated instead of
interleaved, swapped, the exponent i instead of 2i, positions starting at 1.
"""

from __future__ import annotations

from typing import Callable

import torch

from .. import positional as ref
from ..multihead import MultiHeadAttention
from ._core import (CheckFailed, call, case, copy_parameters, exercise, expect_close, expect_dropout_placed,
                    expect_tensor, randn)

# --- reference answer: the permutation test -------------------------------------


def permutation_gap(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Largest |f(x shuffled) - f(x) shuffled|, shuffling the positions (axis 1) of x (batch, seq_len, d_model) by perm.

    0 (up to rounding) means f is permutation-equivariant: shuffling its input only shuffles its output.
    """
    return (f(x[:, perm]) - f(x)[:, perm]).abs().max()


# --- checks ------------------------------------------------------------------


def _functions(d_model: int) -> list[tuple[str, Callable]]:
    """Functions of a sequence, some permutation-equivariant and some not, to test permutation_gap on."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mha = MultiHeadAttention(d_model, 2).eval()
    pe = ref.sinusoidal_encoding(16, d_model)
    return [
        ("self-attention (equivariant)", lambda x: mha(x, x, x)),
        ("self-attention after adding the sinusoidal encoding", lambda x: mha(x + pe[: x.shape[1]], x, x)),
        ("a running sum over positions", lambda x: x.cumsum(dim=1)),
        ("x * 2 (equivariant)", lambda x: 2 * x),
    ]


def _check_permutation_gap(fn: Callable) -> None:
    for batch, seq_len, d_model in [(2, 4, 4), (2, 6, 8), (1, 5, 4)]:
        x = randn(batch, seq_len, d_model, seed=seq_len)
        perm = torch.roll(torch.arange(seq_len), 1)  # every position moves, and perm is not its own inverse
        if seq_len == 6:  # not a roll: a learner who rolls instead of indexing with perm is caught
            perm = torch.tensor([2, 0, 5, 1, 3, 4])
        inverse = torch.argsort(perm)
        for name, f in _functions(d_model):
            with case(f"f = {name}, x of shape ({batch}, {seq_len}, {d_model}), perm = {perm.tolist()}"), \
                    torch.no_grad():
                expected = permutation_gap(f, x, perm)
                got = call(fn, f, x, perm)
                if isinstance(got, (int, float)):
                    got = torch.tensor(float(got))
                got = expect_tensor(got, "the gap")
                if got.dim() != 0:
                    raise CheckFailed(f"the gap should be one number (a 0-d tensor or a float), "
                                      f"but has shape {tuple(got.shape)}: reduce with .max()")
                shuffled_in, plain_out = f(x[:, perm]), f(x)
                expect_close(got, expected, "the gap", atol=1e-4, mistakes={
                    "it compares f(shuffled x) with the UNshuffled f(x): if f is equivariant, f(shuffled x) "
                    "is f(x) shuffled the same way, so shuffle f(x) with perm before comparing":
                        lambda: (shuffled_in - plain_out).abs().max(),
                    "it shuffles f(x) with the inverse permutation; shuffle it with the same perm as the input":
                        lambda: (shuffled_in - plain_out[:, inverse]).abs().max(),
                    "it shuffled the wrong axis: positions are axis 1 (batch, seq_len, d_model), "
                    "so index x[:, perm]":
                        lambda: (f(x[..., perm]) - plain_out[..., perm]).abs().max() if seq_len == d_model
                        else expected,
                    "it returns the mean difference; return the largest absolute difference (.max())":
                        lambda: (shuffled_in - plain_out[:, perm]).abs().mean(),
                    "it takes the max of the signed difference; take .abs() first":
                        lambda: (shuffled_in - plain_out[:, perm]).max(),
                    "it rolls the positions by one instead of shuffling them with perm: index x[:, perm] "
                    "(perm is any order, not always a roll)":
                        lambda: (f(torch.roll(x, 1, dims=1)) - torch.roll(plain_out, 1, dims=1)).abs().max(),
                })


def check_permutation_gap(learner: Callable) -> Callable:
    """Check the learner's `permutation_gap`; returns theirs if right, the reference if not done."""
    return exercise("permutation_gap", learner, permutation_gap, _check_permutation_gap)


def _sinusoids(max_len: int, d_model: int, first_position: int = 0, exponent: str = "2i",
               layout: str = "interleaved", swap: bool = False, invert: bool = False) -> torch.Tensor:
    """The sinusoidal encoding with one deliberate change, to recognise a learner's mistake."""
    pos = torch.arange(first_position, first_position + max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    i = torch.arange(d_model // 2, dtype=torch.float64)  # pair index
    if exponent == "2i":
        even_rate = odd_rate = 10000.0 ** (-2 * i / d_model)
    elif exponent == "i":
        even_rate = odd_rate = 10000.0 ** (-i / d_model)
    else:  # "j": each dimension j uses its own index, so cos gets (2i + 1) / d_model
        even_rate, odd_rate = 10000.0 ** (-2 * i / d_model), 10000.0 ** (-(2 * i + 1) / d_model)
    if invert:
        even_rate, odd_rate = 1 / even_rate, 1 / odd_rate
    first, second = torch.sin(pos * even_rate), torch.cos(pos * odd_rate)
    if swap:
        first, second = torch.cos(pos * even_rate), torch.sin(pos * odd_rate)
    if layout == "concatenated":
        return torch.cat([first, second], dim=1).float()
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = first, second
    return pe.float()


def _check_sinusoidal_encoding(fn: Callable) -> None:
    for max_len, d_model in [(50, 16), (10, 6), (1, 4), (7, 2), (100, 64)]:
        with case(f"max_len={max_len}, d_model={d_model}"):
            expected = ref.sinusoidal_encoding(max_len, d_model)
            expect_close(call(fn, max_len, d_model), expected, "the encoding", atol=1e-4,
                         axes=("max_len", "d_model"), mistakes={
                "sin and cos are concatenated (sin in the first half of the dimensions, cos in the "
                "second); the paper interleaves them: sin in even dimensions 0, 2, 4, ..., cos in odd "
                "ones 1, 3, 5, ...":
                    lambda: _sinusoids(max_len, d_model, layout="concatenated"),
                "sin and cos are swapped: even dimensions (2i) get sin, odd dimensions (2i+1) get cos":
                    lambda: _sinusoids(max_len, d_model, swap=True),
                "the frequency exponent uses i instead of 2i: dimension pair i has wavelength "
                "2π·10000^(2i/d_model), so the exponent runs 0, 2/d_model, 4/d_model, ...":
                    lambda: _sinusoids(max_len, d_model, exponent="i"),
                "the odd (cos) dimension 2i+1 uses exponent (2i+1)/d_model; sin and cos of one pair "
                "share the frequency 1/10000^(2i/d_model)":
                    lambda: _sinusoids(max_len, d_model, exponent="j"),
                "the frequencies are inverted: divide pos by 10000^(2i/d_model), don't multiply":
                    lambda: _sinusoids(max_len, d_model, invert=True),
                "positions start at 1; the first position is pos = 0 (row 0 is sin 0 = 0, cos 0 = 1)":
                    lambda: _sinusoids(max_len, d_model, first_position=1),
                "it is transposed: rows are positions and columns are dimensions, (max_len, d_model)":
                    lambda: expected.T,
            })


def check_sinusoidal_encoding(learner: Callable) -> Callable:
    """Check the learner's `sinusoidal_encoding`; returns theirs if right, the reference if not done."""
    return exercise("sinusoidal_encoding", learner, ref.sinusoidal_encoding, _check_sinusoidal_encoding)


def _check_learned_positional_embedding(cls: type) -> None:
    for batch, seq_len, d_model, max_len in [(2, 5, 8, 10), (1, 1, 4, 3), (3, 10, 6, 10), (4, 2, 4, 6)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), max_len={max_len}"):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seq_len)
                reference = ref.LearnedPositionalEmbedding(d_model, max_len).eval()
                module = cls(d_model, max_len)
            copy_parameters(reference, module, "your LearnedPositionalEmbedding")
            module.eval()
            x = randn(batch, seq_len, d_model, seed=batch)
            table = reference.embedding.weight.detach()  # (max_len, d_model)
            with torch.no_grad():
                expected = reference(x)
                expect_close(call(module, x), expected, "the output",
                             axes=("batch", "seq_len", "d_model"), mistakes={
                    "it returns the position vectors alone; add them to x":
                        lambda: table[:seq_len].expand(batch, seq_len, d_model),
                    "it returns the position vectors alone, (seq_len, d_model); add them to x":
                        lambda: table[:seq_len],
                    "positions start at 1; the first position is 0, row 0 of the table":
                        lambda: x + table[1: seq_len + 1] if seq_len < max_len else expected,
                    "it gives each batch element a position vector; positions run along axis 1 (seq_len)":
                        lambda: x + table[:batch, None, :],
                    "it adds the whole table's first row to every position; use one row per position":
                        lambda: x + table[:1],
                })
    _check_learned_dropout(cls)


def _check_learned_dropout(cls: type) -> None:
    """In train mode with one seed, dropout must fall on the sum x + position vectors, as in the reference."""
    batch, seq_len, d_model, max_len = 2, 5, 8, 10
    with case(f"train mode with dropout=0.5: x of shape ({batch}, {seq_len}, {d_model}), max_len={max_len}"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(3)
            reference = ref.LearnedPositionalEmbedding(d_model, max_len, 0.5)
            module = cls(d_model, max_len, 0.5)
        copy_parameters(reference, module, "your LearnedPositionalEmbedding")
        x = randn(batch, seq_len, d_model, seed=6)
        table, drop = reference.embedding.weight.detach(), reference.dropout
        expect_dropout_placed(module, reference, lambda m: call(m, x), "LearnedPositionalEmbedding", {
            "dropout is applied to the position vectors only; the paper applies it to the sum, "
            "self.dropout(x + position vectors)": lambda: x + drop(table[:seq_len]),
            "dropout is applied to x only; the paper applies it to the sum, self.dropout(x + position "
            "vectors)": lambda: drop(x) + table[:seq_len],
        }, where="self.dropout(x + self.embedding(positions))")


def check_learned_positional_embedding(learner: type) -> type:
    """Check the learner's `LearnedPositionalEmbedding`; returns theirs if right, the reference if not done."""
    return exercise("LearnedPositionalEmbedding", learner, ref.LearnedPositionalEmbedding,
                    _check_learned_positional_embedding)

