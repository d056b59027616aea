"""Checks for notebook 02 (attention): scores, the masked softmax, scaled dot-product attention, masks.

Mask convention: bool, True = "may attend", broadcastable to (batch, heads, q_len, k_len).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import torch

from .. import attention as ref
from .. import masks as ref_masks
from ._core import CheckFailed, made_on_cpu, on_cpu_because, call, case, exercise, expect_close, expect_tensor, randn, rows_sum_to_one

NEG_INF = float("-inf")


def _keys_kept(lengths: list[int], k_len: int) -> torch.Tensor:
    """(batch, k_len) bool: True for the first `length` keys of each sequence, False for its padding."""
    return torch.arange(k_len)[None, :] < torch.tensor(lengths)[:, None]


# --- attention scores ----------------------------------------------------------


def _check_attention_scores(fn: Callable) -> None:
    cases = [(2, 5, 5, 8), (2, 3, 6, 8), (1, 1, 1, 4), (3, 4, 4, 16)]
    for batch, q_len, k_len, d_k in cases:
        with case(f"q (batch={batch}, q_len={q_len}, d_k={d_k}), k (batch={batch}, k_len={k_len}, d_k={d_k})"):
            q, k = randn(batch, q_len, d_k, seed=q_len), randn(batch, k_len, d_k, seed=10 + k_len)
            expected = ref.attention_scores(q, k)
            dots = q @ k.transpose(-2, -1)
            _expect_scores(call(fn, q, k), expected, dots, q, k)
    with case("with a heads axis: q and k of shape (batch=2, heads=3, seq_len=4, d_k=8)"):
        q, k = randn(2, 3, 4, 8, seed=7), randn(2, 3, 4, 8, seed=8)
        _expect_scores(call(fn, q, k), ref.attention_scores(q, k), q @ k.transpose(-2, -1), q, k)


def _expect_scores(actual, expected, dots, q, k) -> None:
    d_k, k_len = q.shape[-1], k.shape[-2]
    mistakes = {
        f"the scaling 1/sqrt(d_k) is missing: divide the dot products by sqrt(d_k) = {math.sqrt(d_k):.3g}":
            dots,
        f"it divides by d_k = {d_k}; divide by its square root, sqrt(d_k) = {math.sqrt(d_k):.3g}":
            dots / d_k,
        "it multiplies by sqrt(d_k); divide by it":
            dots * math.sqrt(d_k),
        "it divides by sqrt(k_len), the number of keys; the scale is sqrt(d_k), the width of a query":
            dots / math.sqrt(k_len),
        "it is transposed, k @ q^T: entry [i, j] must compare query i with key j, so the result is "
        "(..., q_len, k_len) = q @ k^T":
            (k @ q.transpose(-2, -1)) / math.sqrt(d_k),
    }
    axes = ("batch", "heads", "q_len", "k_len")[-expected.dim():]
    expect_close(actual, expected, "the result", mistakes=mistakes, axes=axes)


def check_attention_scores(learner: Callable) -> Callable:
    """Check the learner's `attention_scores`; returns theirs if right, the reference if not done."""
    return exercise("attention_scores", learner, ref.attention_scores, _check_attention_scores)


# --- masked softmax ------------------------------------------------------------


def _masked_softmax_cases() -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """(description, scores, mask) for every case the masked-softmax check runs."""
    padding = _keys_kept([5, 3], 6)[:, None, :]  # (batch=2, 1, k_len=6)
    fully_padded = _keys_kept([3, 0], 4)[:, None, None, :]  # (batch=2, 1, 1, k_len=4); sequence 1 is all padding
    return [
        ("no mask (mask=None), scores (2, 4, 6)", randn(2, 4, 6, seed=1), None),
        ("padding mask (2, 1, 6) on scores (batch=2, q_len=4, k_len=6); "
         "the sequences have 5 and 3 real keys", randn(2, 4, 6, seed=2) * 2, padding),
        ("causal mask (5, 5) on scores (batch=2, q_len=5, k_len=5)", randn(2, 5, 5, seed=3), ref_masks.causal_mask(5)),
        ("a fully padded row: padding mask (2, 1, 1, 4) on scores (batch=2, heads=2, q_len=3, k_len=4), "
         "the second sequence is all padding", randn(2, 2, 3, 4, seed=4), fully_padded),
        ("length 1: scores (1, 1, 1), mask [[[True]]]", randn(1, 1, 1, seed=5), torch.ones(1, 1, 1, dtype=torch.bool)),
    ]


def _masked_softmax_mistakes(scores: torch.Tensor, mask: torch.Tensor | None) -> dict:
    if mask is None:
        return {
            "softmax over the wrong axis: each query's row (the last axis, the keys) must sum to 1":
                lambda: torch.softmax(scores, dim=-2),
            "it is the log-softmax; use the softmax": lambda: torch.log_softmax(scores, dim=-1),
        }
    filled = scores.masked_fill(~mask, NEG_INF)
    return {
        "the mask has the wrong polarity: True means 'may attend', so fill the positions where the "
        "mask is False (~mask) with -inf":
            lambda: ref.masked_softmax(scores, ~mask),
        "the mask is applied after the softmax: zeroing weights afterwards leaves rows that no longer "
        "sum to 1; set masked scores to -inf BEFORE the softmax":
            lambda: torch.softmax(scores, dim=-1) * mask,
        "masked scores were set to 0 instead of -inf, but exp(0) = 1 still gives them weight; "
        "fill them with float('-inf')":
            lambda: torch.softmax(scores.masked_fill(~mask, 0.0), dim=-1),
        "softmax over the wrong axis: each query's row (the last axis, the keys) must sum to 1":
            lambda: torch.softmax(filled, dim=-2),
        "a fully masked row (a query with nothing to attend to) gives NaN, because all its scores "
        "are -inf; set such rows to all-zero weights, e.g. "
        "weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)":
            lambda: torch.softmax(filled, dim=-1),
        "a fully masked row gets uniform weights 1/k_len: filling with a large negative number "
        "instead of -inf makes all its scores equal; such a row must get all-zero weights":
            lambda: torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1),
    }


def _masked_get_nothing(mask: torch.Tensor | None) -> Callable[[torch.Tensor], str | None]:
    """Property: every masked-out key gets weight 0."""
    def check(got: torch.Tensor) -> str | None:
        if mask is None or not (got.masked_select(~mask.expand_as(got)).abs() > 1e-6).any():
            return None
        return ("a masked-out key (mask False) gets weight: fill the scores where the mask is False with "
                "-inf before the softmax")
    return check


def _check_masked_softmax(fn: Callable) -> None:
    for description, scores, mask in _masked_softmax_cases():
        with case(description):
            expected = ref.masked_softmax(scores, mask)
            actual = call(fn, scores, mask)
            axes = ("batch", "heads", "q_len", "k_len")[-scores.dim():]
            expect_close(actual, expected, "the result", axes=axes,
                         mistakes=_masked_softmax_mistakes(scores, mask),
                         properties=[lambda got: rows_sum_to_one(got, zero_rows=True), _masked_get_nothing(mask)])


def check_masked_softmax(learner: Callable) -> Callable:
    """Check the learner's `masked_softmax`; returns theirs if right, the reference if not done."""
    return exercise("masked_softmax", learner, ref.masked_softmax, _check_masked_softmax)


# --- scaled dot-product attention ------------------------------------------------


def _attention_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """(description, q, k, v, mask) for every case the attention check runs."""
    return [
        ("self-attention, no mask: q, k (2, 5, 8), v (2, 5, 6)",
         randn(2, 5, 8, seed=1), randn(2, 5, 8, seed=2), randn(2, 5, 6, seed=3), None),
        ("cross-attention, q_len=3 != k_len=6, padding mask (2, 1, 6) with 5 and 3 real keys",
         randn(2, 3, 8, seed=4), randn(2, 6, 8, seed=5), randn(2, 6, 4, seed=6),
         _keys_kept([5, 3], 6)[:, None, :]),
        ("batch of 1 with heads: q, k, v (1, 2, 4, 8), causal mask (4, 4)",
         randn(1, 2, 4, 8, seed=7), randn(1, 2, 4, 8, seed=8), randn(1, 2, 4, 8, seed=9), ref_masks.causal_mask(4)),
        ("length 1: q, k, v (1, 1, 4)", randn(1, 1, 4, seed=10), randn(1, 1, 4, seed=11), randn(1, 1, 4, seed=12), None),
        ("a fully padded sequence: q, k, v (2, 3, 4), padding mask (2, 1, 3), the second sequence all padding",
         randn(2, 3, 4, seed=13), randn(2, 3, 4, seed=14), randn(2, 3, 4, seed=15), _keys_kept([2, 0], 3)[:, None, :]),
    ]


def _attention_mistakes(q, k, v, mask) -> dict:
    d_k = q.shape[-1]
    scores = ref.attention_scores(q, k)
    mistakes = {
        "the scaling 1/sqrt(d_k) is missing from the scores":
            lambda: ref.masked_softmax(scores * math.sqrt(d_k), mask) @ v,
        "softmax over the wrong axis: each query's weights (a row, over the keys) must sum to 1":
            lambda: torch.softmax(scores if mask is None else scores.masked_fill(~mask, NEG_INF), dim=-2) @ v,
    }
    if mask is not None:
        mistakes["the mask is ignored: pass it on to the masked softmax"] = \
            lambda: ref.masked_softmax(scores) @ v
        mistakes["the mask has the wrong polarity: True means 'may attend'"] = \
            lambda: ref.masked_softmax(scores, ~mask) @ v
    if q.shape[-2] == k.shape[-2]:
        mistakes["the weights are transposed, weights^T @ v: query i must average the values with its "
                 "own row of weights, weights @ v"] = \
            lambda: ref.masked_softmax(scores, mask).transpose(-2, -1) @ v
    mistakes["it averages the keys, weights @ k; the output is a weighted average of the values v"] = \
        lambda: ref.masked_softmax(scores, mask) @ k
    return mistakes


def _check_attention(fn: Callable) -> None:
    for description, q, k, v, mask in _attention_cases():
        with case(description):
            output, weights = ref.scaled_dot_product_attention(q, k, v, mask)
            result = call(fn, q, k, v, mask)
            if not isinstance(result, (tuple, list)) or len(result) != 2:  # a list unpacks like a tuple
                kind = type(result).__name__ if not isinstance(result, tuple) else f"a tuple of {len(result)}"
                raise CheckFailed(f"it should return a tuple (output, weights) but returned {kind}")
            got_output, got_weights = (expect_tensor(t, name) for t, name in zip(result, ("`output`", "`weights`")))
            if got_output.shape == weights.shape and got_weights.shape == output.shape != weights.shape:
                raise CheckFailed("it returns (weights, output); return (output, weights)")
            lead = ("batch", "heads")[: q.dim() - 2]
            scores = ref.attention_scores(q, k)
            expect_close(got_weights, weights, "`weights`", axes=(*lead, "q_len", "k_len"),
                         properties=[lambda got: rows_sum_to_one(got, zero_rows=True)], mistakes={
                "the scaling 1/sqrt(d_k) is missing from the scores":
                    lambda: ref.masked_softmax(scores * math.sqrt(q.shape[-1]), mask),
                "softmax over the wrong axis: each query's weights (a row, over the keys) must sum to 1":
                    lambda: torch.softmax(scores if mask is None else scores.masked_fill(~mask, NEG_INF), dim=-2),
                "the scores are divided by sqrt(k_len), the number of keys; the scale is sqrt(d_k), the width of "
                "a query (use attention_scores from exercise 1)":
                    lambda: ref.masked_softmax(scores * math.sqrt(q.shape[-1] / k.shape[-2]), mask),
                **({} if mask is None else {
                    "the mask is ignored: pass it on to the masked softmax":
                        lambda: ref.masked_softmax(scores),
                    "the mask has the wrong polarity: True means 'may attend'":
                        lambda: ref.masked_softmax(scores, ~mask),
                    "the mask is applied after the softmax (weights times the mask): the masked weights are "
                    "removed but the rest no longer sum to 1; hide the masked scores (-inf) BEFORE the softmax, "
                    "as your masked_softmax from exercise 2 does":
                        lambda: torch.softmax(scores, dim=-1) * mask,
                    "a fully masked row (here: a sequence that is all padding) gives NaN; such a query "
                    "must get all-zero weights (your masked_softmax from exercise 2 does that)":
                        lambda: torch.softmax(scores.masked_fill(~mask, NEG_INF), dim=-1),
                }),
            })
            expect_close(got_output, output, "`output`", axes=(*lead, "q_len", "d_v"),
                         mistakes=_attention_mistakes(q, k, v, mask))


def check_scaled_dot_product_attention(learner: Callable) -> Callable:
    """Check the learner's `scaled_dot_product_attention`; returns theirs if right, the reference if not done."""
    return exercise("scaled_dot_product_attention", learner, ref.scaled_dot_product_attention, _check_attention)


# --- masks -----------------------------------------------------------------------


def _expect_mask(actual, expected: torch.Tensor, what: str, mistakes: Mapping[str, Callable], axes) -> None:
    """Fail unless `actual` is a bool tensor equal to `expected`; name a known mistake where one matches."""
    actual = expect_tensor(actual, what)
    if actual.dtype != torch.bool:
        raise CheckFailed(
            f"{what} has dtype {actual.dtype} but must be a bool tensor (True = may attend); "
            f"build it as bool (dtype=torch.bool) or from a comparison such as `tokens != pad_id`"
        )
    as_float = {diagnosis: (lambda wrong=wrong: wrong().float()) for diagnosis, wrong in mistakes.items()}
    expect_close(actual.float(), expected.float(), what, mistakes=as_float, axes=axes)


def _check_causal_mask(fn: Callable) -> None:
    for size in (4, 1, 7):
        with case(f"size={size}"):
            expected = ref_masks.causal_mask(size)
            ones = torch.ones(size, size, dtype=torch.bool)
            _expect_mask(call(fn, size), expected, "the mask", axes=("q_len", "k_len"), mistakes={
                "the mask has the wrong polarity: True means 'may attend', so the allowed positions, on "
                "and below the diagonal, are True and the future is False":
                    lambda: ~expected,
                "it is the upper triangle: row i is query i, which may attend to keys 0..i, the entries "
                "on and BELOW the diagonal (torch.tril)":
                    lambda: torch.triu(ones),
                "the diagonal is missing: position i may attend to itself as well as to earlier positions":
                    lambda: torch.tril(ones, diagonal=-1),
                "every position may attend everywhere: the future (above the diagonal) must be False":
                    lambda: ones,
            })


    with case("size=3, device=the inputs' device"):
        got = expect_tensor(call(fn, 3, device=torch.device("cpu")), "the mask")
        made = made_on_cpu(got)
        if made:
            raise CheckFailed(f"it ignores its `device` argument: the mask is made by {made} ({on_cpu_because(got)}), so "
                              f"on a GPU it stays on the CPU; pass it on: torch.ones(size, size, dtype=torch.bool, "
                              f"device=device)")


def check_causal_mask(learner: Callable) -> Callable:
    """Check the learner's `causal_mask`; returns theirs if right, the reference if not done."""
    return exercise("causal_mask", learner, ref_masks.causal_mask, _check_causal_mask)


def _check_padding_mask(fn: Callable) -> None:
    cases = [
        ("tokens (2, 5) with pad_id=0, lengths 5 and 3", torch.tensor([[5, 3, 8, 2, 7], [4, 6, 9, 0, 0]]), 0),
        ("tokens (1, 1) with pad_id=0, no padding", torch.tensor([[3]]), 0),
        ("tokens (3, 4) with pad_id=1; the last sequence is all padding",
         torch.tensor([[2, 0, 5, 1], [7, 3, 9, 4], [1, 1, 1, 1]]), 1),
    ]
    for description, tokens, pad_id in cases:
        with case(description):
            expected = ref_masks.padding_mask(tokens, pad_id)
            keep = tokens != pad_id
            _expect_mask(call(fn, tokens, pad_id), expected, "the mask",
                         axes=("batch", "heads", "q_len", "k_len"), mistakes={
                "the mask has the wrong polarity: True means 'may attend', so real tokens are True and "
                "padding is False":
                    lambda: ~expected,
                "it has shape (batch, seq_len); add a heads axis and a query axis so it broadcasts to "
                "(batch, heads, q_len, k_len): shape (batch, 1, 1, seq_len)":
                    lambda: keep,
                "it has shape (batch, 1, seq_len), which lines its batch axis up with the heads axis of "
                "(batch, heads, q_len, k_len); use (batch, 1, 1, seq_len)":
                    lambda: keep[:, None, :],
                "it hides queries, shape (batch, 1, seq_len, 1); padding is hidden as a KEY (the last "
                "axis): shape (batch, 1, 1, seq_len)":
                    lambda: keep[:, None, :, None],
                "it compares with 0 instead of pad_id":
                    lambda: (tokens != 0)[:, None, None, :],
            })


def check_padding_mask(learner: Callable) -> Callable:
    """Check the learner's `padding_mask`; returns theirs if right, the reference if not done."""
    return exercise("padding_mask", learner, ref_masks.padding_mask, _check_padding_mask)
