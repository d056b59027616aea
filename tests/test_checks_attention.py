"""Notebook 02's checks pass the reference and name each mistake they claim to catch."""

from __future__ import annotations

import math

import pytest
from transformer_course.checks import LearnerError
import torch

import transformer_course as tc
from contract import assert_not_done, passes  # tests/contract.py
from transformer_course.checks import CheckFailed
from transformer_course.checks import attention as checks

STRICT = "TRANSFORMER_COURSE_STRICT"
NEG_INF = float("-inf")


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.delenv(STRICT, raising=False)


def failure(check, wrong) -> str:
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    return str(info.value)


def stub(*args, **kwargs):
    raise NotImplementedError


EXERCISES = [
    (checks.check_attention_scores, tc.attention_scores, "attention_scores"),
    (checks.check_masked_softmax, tc.masked_softmax, "masked_softmax"),
    (checks.check_scaled_dot_product_attention, tc.scaled_dot_product_attention, "scaled_dot_product_attention"),
    (checks.check_causal_mask, tc.causal_mask, "causal_mask"),
    (checks.check_padding_mask, tc.padding_mask, "padding_mask"),
]


@pytest.mark.parametrize("check, reference, name", EXERCISES)
def test_reference_passes(check, reference, name, capsys):
    assert passes(check, reference)
    assert capsys.readouterr().out == f"✔ {name}: correct\n"


@pytest.mark.parametrize("check, reference, name", EXERCISES)
def test_stub_is_not_done(check, reference, name, capsys, monkeypatch):
    assert_not_done(check, stub, reference, name, capsys, monkeypatch)


def nan_to_zero_softmax(scores, mask=None):
    if mask is None:
        return torch.softmax(scores, dim=-1)
    return torch.nan_to_num(torch.softmax(scores.masked_fill(~mask, NEG_INF), dim=-1), nan=0.0)


def test_causal_mask_must_honour_device():
    with pytest.raises(checks.CheckFailed, match="it ignores its `device` argument: the mask is made by `torch.ones"):
        checks.check_causal_mask(lambda n, device=None: torch.tril(torch.ones(n, n, dtype=torch.bool)))


def test_other_correct_answers_pass(capsys):
    checks.check_attention_scores(lambda q, k: torch.einsum("...id,...jd->...ij", q / q.shape[-1] ** 0.25,
                                                            k / k.shape[-1] ** 0.25))
    checks.check_masked_softmax(nan_to_zero_softmax)
    checks.check_scaled_dot_product_attention(
        lambda q, k, v, mask=None: (lambda w: (w @ v, w))(nan_to_zero_softmax(tc.attention_scores(q, k), mask)))
    checks.check_causal_mask(lambda n, device=None: torch.arange(n, device=device)[:, None]
                             >= torch.arange(n, device=device)[None, :])
    checks.check_padding_mask(lambda t, pad: (t != pad).unsqueeze(1).unsqueeze(2))
    assert capsys.readouterr().out.count("correct") == 5


# --- attention scores --------------------------------------------------------------------


@pytest.mark.parametrize("wrong, message", [
    (lambda q, k: q @ k.transpose(-2, -1), "the scaling 1/sqrt(d_k) is missing"),
    (lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1], "it divides by d_k = 8; divide by its square root"),
    (lambda q, k: q @ k.transpose(-2, -1) * math.sqrt(q.shape[-1]), "it multiplies by sqrt(d_k)"),
    (lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(k.shape[-2]), "it divides by sqrt(k_len)"),
    (lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1]), "it is transposed, k @ q^T"),
    (lambda q, k: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))[..., :1], "axis 2 (k_len) is 1, expected 5"),
    (lambda q, k: q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + 1, "differs from the reference"),
])
def test_attention_scores_mistakes(wrong, message):
    assert message in failure(checks.check_attention_scores, wrong)


# --- masked softmax ----------------------------------------------------------------------


def masked(body):
    """A masked softmax that handles mask=None correctly and applies `body(scores, mask)` otherwise."""
    return lambda scores, mask=None: torch.softmax(scores, dim=-1) if mask is None else body(scores, mask)


def zero_full_rows(weights, mask):
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


@pytest.mark.parametrize("wrong, message", [
    (lambda s, mask=None: torch.softmax(s, dim=-2), "softmax over the wrong axis"),
    (lambda s, mask=None: torch.log_softmax(s, dim=-1), "it is the log-softmax"),
    (masked(lambda s, m: zero_full_rows(torch.softmax(s.masked_fill(m, NEG_INF), dim=-1), ~m)),
     "the mask has the wrong polarity"),
    (masked(lambda s, m: torch.softmax(s, dim=-1).masked_fill(~m, 0.0)), "the mask is applied after the softmax"),
    (masked(lambda s, m: torch.softmax(s.masked_fill(~m, 0.0), dim=-1)), "set to 0 instead of -inf"),
    (masked(lambda s, m: torch.softmax(s * m, dim=-1)), "set to 0 instead of -inf"),
    (masked(lambda s, m: torch.softmax(s.masked_fill(~m, NEG_INF), dim=-2)), "softmax over the wrong axis"),
    (masked(lambda s, m: torch.softmax(s.masked_fill(~m, NEG_INF), dim=-1)), "a fully masked row"),
    (masked(lambda s, m: torch.softmax(s.masked_fill(~m, NEG_INF), dim=-1)), "gives NaN"),
    (masked(lambda s, m: torch.softmax(s.masked_fill(~m, -1e9), dim=-1)), "gets uniform weights 1/k_len"),
    (masked(lambda s, m: torch.softmax(s.masked_fill(~m, torch.finfo(s.dtype).min), dim=-1)), "uniform weights"),
    (masked(lambda s, m: torch.zeros_like(s)), "it is all zeros"),
])
def test_masked_softmax_mistakes(wrong, message):
    assert message in failure(checks.check_masked_softmax, wrong)


def test_masked_softmax_names_the_fully_padded_case():
    wrong = masked(lambda s, m: torch.softmax(s.masked_fill(~m, -1e9), dim=-1))
    assert "(case: a fully padded row" in failure(checks.check_masked_softmax, wrong)


def test_masked_softmax_must_accept_no_mask():
    def needs_mask(scores, mask):
        return zero_full_rows(torch.softmax(scores.masked_fill(~mask, NEG_INF), dim=-1), mask)

    with pytest.raises(LearnerError, match="raised TypeError .case: no mask") as info:
        checks.check_masked_softmax(needs_mask)  # the learner's own error, with their own frames only
    assert "~mask" in "".join(info.value.learner_frames())


# --- scaled dot-product attention ---------------------------------------------------------


def attention_from(scores_fn=tc.attention_scores, softmax_fn=tc.masked_softmax, combine=lambda w, v: w @ v):
    def attention(q, k, v, mask=None):
        weights = softmax_fn(scores_fn(q, k), mask)
        return combine(weights, v), weights
    return attention


def without_mask(scores, mask=None):
    return torch.softmax(scores, dim=-1)


def flipped_mask(scores, mask=None):
    return tc.masked_softmax(scores, None if mask is None else ~mask)


def softmax_over_queries(scores, mask=None):
    return torch.softmax(scores if mask is None else scores.masked_fill(~mask, NEG_INF), dim=-2)


@pytest.mark.parametrize("wrong, message", [
    (attention_from(scores_fn=lambda q, k: q @ k.transpose(-2, -1)), "the scaling 1/sqrt(d_k) is missing"),
    (attention_from(softmax_fn=without_mask), "the mask is ignored"),
    (attention_from(softmax_fn=flipped_mask), "the mask has the wrong polarity"),
    (attention_from(softmax_fn=softmax_over_queries), "softmax over the wrong axis"),
    (attention_from(combine=lambda w, v: w.transpose(-2, -1) @ v), "the weights are transposed"),
    (lambda q, k, v, mask=None: (lambda w: (w @ k, w))(tc.masked_softmax(tc.attention_scores(q, k), mask)),
     "it averages the keys"),
    (lambda q, k, v, mask=None: tc.scaled_dot_product_attention(q, k, v, mask)[::-1],
     "it returns (weights, output)"),
    (lambda q, k, v, mask=None: tc.scaled_dot_product_attention(q, k, v, mask)[0],
     "it should return a tuple (output, weights) but returned Tensor"),
    (lambda q, k, v, mask=None: (*tc.scaled_dot_product_attention(q, k, v, mask), None),
     "but returned a tuple of 3"),
    (lambda q, k, v, mask=None: (None, tc.scaled_dot_product_attention(q, k, v, mask)[1]),
     "`output` should be a torch.Tensor but is NoneType"),
    (attention_from(softmax_fn=lambda s, m=None: torch.softmax(s if m is None else s.masked_fill(~m, NEG_INF), -1)),
     "a fully masked row (here: a sequence that is all padding) gives NaN"),
    (attention_from(combine=lambda w, v: w @ v + 1), "`output` differs from the reference"),
])
def test_attention_mistakes(wrong, message):
    assert message in failure(checks.check_scaled_dot_product_attention, wrong)


# --- masks -------------------------------------------------------------------------------


def ones(n):
    return torch.ones(n, n, dtype=torch.bool)


@pytest.mark.parametrize("wrong, message", [
    (lambda n: torch.triu(ones(n), diagonal=1), "the mask has the wrong polarity"),
    (lambda n: torch.triu(ones(n)), "it is the upper triangle"),
    (lambda n: torch.tril(ones(n), diagonal=-1), "the diagonal is missing"),
    (lambda n: ones(n), "every position may attend everywhere"),
    (lambda n: torch.tril(torch.ones(n, n)), "has dtype torch.float32 but must be a bool tensor"),
    (lambda n: torch.tril(ones(n))[None], "it has 3 axes instead of 2"),
    (lambda n: None, "did you forget to `return`"),
])
def test_causal_mask_mistakes(wrong, message):
    assert message in failure(checks.check_causal_mask, wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda t, pad: (t == pad)[:, None, None, :], "the mask has the wrong polarity"),
    (lambda t, pad: t != pad, "it has shape (batch, seq_len); add a heads axis and a query axis"),
    (lambda t, pad: (t != pad)[:, None, :], "it has shape (batch, 1, seq_len)"),
    (lambda t, pad: (t != pad)[:, None, :, None], "it hides queries"),
    (lambda t, pad: (t != 0)[:, None, None, :], "it compares with 0 instead of pad_id"),
    (lambda t, pad: (t != pad)[:, None, None, :].float(), "has dtype torch.float32 but must be a bool tensor"),
    (lambda t, pad: (t != pad)[None, None], "axes swapped?"),
    (lambda t, pad: (t[:, :1] != pad)[:, None, None, :], "axis 3 (k_len) is 1"),
])
def test_padding_mask_mistakes(wrong, message):
    assert message in failure(checks.check_padding_mask, wrong)
