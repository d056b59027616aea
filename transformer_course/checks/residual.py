"""Checks for notebook 01 (the residual stream): softmax, next-token probabilities, a residual block."""

from __future__ import annotations

from typing import Callable

import torch

from .. import residual as ref
from ._core import call, case, copy_parameters, exercise, expect_close, randn, rows_sum_to_one

# --- softmax -----------------------------------------------------------------


def _softmax_mistakes(logits: torch.Tensor) -> dict:
    exp = logits.exp()
    shifted = (logits - logits.max(dim=-1, keepdim=True).values).exp()
    mistakes = {
        "exp overflows to inf for large logits (here around 1000) and inf / inf is NaN: subtract "
        "each row's maximum from the logits before exp — the softmax does not change":
            lambda: exp / exp.sum(dim=-1, keepdim=True),
        "it is the log-softmax (log-probabilities, all <= 0); the softmax is exp(logits) divided by "
        "the sum of exp(logits) over the row":
            lambda: torch.log_softmax(logits, dim=-1),
        "softmax over the wrong axis: each row (the last axis, one score per word) must sum to 1, "
        "not each column":
            lambda: torch.softmax(logits, dim=-2),
        "it returns exp(logits) without dividing by their sum, so the rows do not sum to 1":
            lambda: exp,
        "it returns exp(logits - max) without dividing by their sum, so the rows do not sum to 1":
            lambda: (logits - logits.max(dim=-1, keepdim=True).values).exp(),
        "it divides by the sum over the whole tensor; normalise each row on its own "
        "(sum over the last axis with keepdim=True)":
            lambda: exp / exp.sum(),
        "it divides the logits by their sum; exponentiate them first: exp(logits) / sum(exp(logits))":
            lambda: logits / logits.sum(dim=-1, keepdim=True),
        "it subtracts one maximum over the whole tensor: a row far below it underflows to 0 / 0 = NaN; "
        "subtract each row's own maximum, logits.max(dim=-1, keepdim=True)":
            lambda: (logits - logits.max()).exp() / (logits - logits.max()).exp().sum(dim=-1, keepdim=True),
    }
    if logits.shape[-1] == logits.shape[-2]:  # only a square input lets this mistake run at all
        mistakes["sum(dim=-1) without keepdim=True drops the axis, so the division lines up the row "
                 "sums with the columns: use sum(dim=-1, keepdim=True)"] = lambda: [exp / exp.sum(dim=-1), shifted / shifted.sum(dim=-1)]
    return mistakes


_NO_SOFTMAX = {
    name: f"the exercise asks you to build the softmax yourself, without {name}: exp(logits - max) divided "
          f"by its sum over the last axis"
    for name in ("softmax", "log_softmax")
}


def _check_softmax(fn: Callable) -> None:
    cases = [
        ("logits of shape (4, 4)", randn(4, 4, seed=2) * 3),
        ("logits of shape (2, 5)", randn(2, 5, seed=1)),
        ("logits of shape (batch=2, seq_len=3, vocab_size=6)", randn(2, 3, 6, seed=3)),
        ("one logit, shape (1, 1)", randn(1, 1, seed=4)),
        ("large logits around 1000, shape (3, 4)", 1000 + 5 * randn(3, 4, seed=5)),
        ("rows on different scales, around -1000, 0 and 1000, shape (3, 4)",
         torch.tensor([[-1000.0], [0.0], [1000.0]]) + randn(3, 4, seed=6)),
    ]
    for description, logits in cases:
        with case(description):
            expected = ref.softmax(logits)
            actual = call(fn, logits, forbidden=_NO_SOFTMAX)
            expect_close(actual, expected, "the output", mistakes=_softmax_mistakes(logits),
                         properties=[rows_sum_to_one])


def check_softmax(learner: Callable) -> Callable:
    """Check the learner's `softmax`; returns theirs if right, the reference if not done."""
    return exercise("softmax", learner, ref.softmax, _check_softmax)


# --- next-token probabilities ------------------------------------------------


def _check_next_token_probs(fn: Callable) -> None:
    for batch, seq_len, d_model, vocab in [(2, 5, 8, 11), (3, 4, 6, 4), (1, 1, 4, 6), (2, 3, 5, 3)]:
        with case(f"stream (batch={batch}, seq_len={seq_len}, d_model={d_model}), "
                  f"W_U (d_model={d_model}, vocab_size={vocab})"):
            stream, W_U = randn(batch, seq_len, d_model, seed=seq_len), randn(d_model, vocab, seed=vocab)
            expected = ref.next_token_probs(stream, W_U)
            logits = stream @ W_U
            expect_close(call(fn, stream, W_U), expected, "the output", properties=[rows_sum_to_one],
                         axes=("batch", "seq_len", "vocab_size"), mistakes={
                "it returns the logits stream @ W_U; a softmax over the vocabulary turns them into "
                "probabilities":
                    lambda: logits,
                "it is the log-softmax (log-probabilities, all <= 0); use the softmax":
                    lambda: torch.log_softmax(logits, dim=-1),
                "softmax over the positions (axis 1, seq_len): each position's probabilities for its "
                "next token must sum to 1 over the vocabulary (the last axis)":
                    lambda: torch.softmax(logits, dim=1),
                "softmax over the batch (axis 0): normalise over the vocabulary (the last axis)":
                    lambda: torch.softmax(logits, dim=0),
                "it keeps only the last position: the model predicts a next token at every "
                "position, so return all seq_len rows, shape (batch, seq_len, vocab_size)":
                    lambda: torch.softmax(logits[:, -1], dim=-1),
            })


def check_next_token_probs(learner: Callable) -> Callable:
    """Check the learner's `next_token_probs`; returns theirs if right, the reference if not done."""
    return exercise("next_token_probs", learner, ref.next_token_probs, _check_next_token_probs)


# --- the residual block ------------------------------------------------------


def _check_residual_block(cls: Callable) -> None:
    for batch, seq_len, d_model, d_hidden in [(2, 5, 8, 16), (3, 2, 6, 6), (1, 1, 4, 8)]:
        with case(f"ResidualBlock(d_model={d_model}, d_hidden={d_hidden}) on x of shape "
                  f"({batch}, {seq_len}, {d_model})"):
            with torch.random.fork_rng(devices=[]):  # seeded weights; the learner's own RNG stays as it was
                torch.manual_seed(d_model)
                reference = ref.ResidualBlock(d_model, d_hidden)
                block = cls(d_model, d_hidden)
            copy_parameters(reference, block, "your ResidualBlock")
            x = randn(batch, seq_len, d_model, seed=batch)
            with torch.no_grad():
                expected = reference(x)
                update = reference.update(x)
                lin1, lin2 = reference.linear1, reference.linear2
                actual = call(block, x)
                expect_close(actual, expected, "the block's output",
                             axes=("batch", "seq_len", "d_model"), mistakes={
                    "it returns f(x), the update alone: the residual connection is missing, the block "
                    "must return x + f(x)":
                        update,
                    "it returns x unchanged: add the update f(x) = linear2(relu(linear1(x))) to it":
                        x,
                    "the ReLU is applied after adding, relu(x + f(x)): only the update goes through the "
                    "non-linearity, the stream x is added back untouched":
                        torch.relu(x + update),
                    "the ReLU between linear1 and linear2 is missing":
                        x + lin2(lin1(x)),
                    "the ReLU is applied to the update's output, x + relu(linear2(linear1(x))); it goes "
                    "between linear1 and linear2":
                        x + torch.relu(lin2(lin1(x))),
                    "x is added twice, 2x + f(x)":
                        2 * x + update,
                })


def check_residual_block(learner: type) -> type:
    """Check the learner's `ResidualBlock` class; returns theirs if right, the reference if not done."""
    return exercise("ResidualBlock", learner, ref.ResidualBlock, _check_residual_block)
