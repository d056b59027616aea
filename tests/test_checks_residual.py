"""Notebook 01's checks pass the reference and name each mistake they claim to catch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transformer_course import residual
from contract import assert_not_done, passes  # tests/contract.py
from transformer_course.checks import CheckFailed
from transformer_course.checks import residual as checks

STRICT = "TRANSFORMER_COURSE_STRICT"


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.delenv(STRICT, raising=False)


def failure(check, wrong) -> str:
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    return str(info.value)


def stub(*args):
    raise NotImplementedError


class StubBlock(nn.Module):
    """The notebook's ResidualBlock stub: layers made, forward not written."""

    def __init__(self, d_model, d_hidden):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_hidden)
        self.linear2 = nn.Linear(d_hidden, d_model)

    def forward(self, x):
        raise NotImplementedError


EXERCISES = [
    (checks.check_softmax, residual.softmax, stub, "softmax"),
    (checks.check_next_token_probs, residual.next_token_probs, stub, "next_token_probs"),
    (checks.check_residual_block, residual.ResidualBlock, StubBlock, "ResidualBlock"),
]


@pytest.mark.parametrize("check, reference, _, name", EXERCISES)
def test_reference_passes(check, reference, _, name, capsys):
    assert passes(check, reference)
    assert capsys.readouterr().out == f"✔ {name}: correct\n"


@pytest.mark.parametrize("check, reference, unfinished, name", EXERCISES)
def test_stub_is_not_done(check, reference, unfinished, name, capsys, monkeypatch):
    assert_not_done(check, unfinished, reference, name, capsys, monkeypatch)


def test_other_correct_answers_pass(capsys):
    checks.check_softmax(lambda z: (z - z.logsumexp(dim=-1, keepdim=True)).exp())
    checks.check_next_token_probs(lambda s, W: torch.softmax(torch.einsum("btd,dv->btv", s, W), dim=-1))
    assert capsys.readouterr().out.count("correct") == 2


# --- softmax -------------------------------------------------------------------------


def no_max_subtraction(z):
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


@pytest.mark.parametrize("wrong, message", [
    (no_max_subtraction, "exp overflows to inf"),
    (lambda z: torch.log_softmax(z, dim=-1), "it is the log-softmax"),
    (lambda z: torch.softmax(z, dim=-2), "softmax over the wrong axis"),
    (lambda z: (z - z.max(dim=-1, keepdim=True).values).exp(), "without dividing by their sum"),
    (lambda z: z.exp() / z.exp().sum(), "divides by the sum over the whole tensor"),
    (lambda z: z.exp() / z.exp().sum(dim=-1), "without keepdim=True"),
    (lambda z: z / z.sum(dim=-1, keepdim=True), "exponentiate them first"),
    (lambda z: torch.softmax(z, dim=-1) + 0.01, "differs from the reference"),
    (lambda z: None, "did you forget to `return`"),
])
def test_softmax_mistakes(wrong, message):
    assert message in failure(checks.check_softmax, wrong)


def test_softmax_failure_names_the_case():
    assert "(case: large logits around 1000" in failure(checks.check_softmax, no_max_subtraction)


# --- next-token probabilities ----------------------------------------------------------


@pytest.mark.parametrize("wrong, message", [
    (lambda s, W: s @ W, "it returns the logits"),
    (lambda s, W: torch.log_softmax(s @ W, dim=-1), "it is the log-softmax"),
    (lambda s, W: torch.softmax(s @ W, dim=1), "softmax over the positions (axis 1, seq_len)"),
    (lambda s, W: torch.softmax(s @ W, dim=0), "softmax over the batch (axis 0)"),
    (lambda s, W: torch.softmax(s[:, -1] @ W, dim=-1), "it keeps only the last position"),
    (lambda s, W: torch.softmax(s @ W, dim=-1)[..., :-1], "axis 2 (vocab_size)"),
])
def test_next_token_probs_mistakes(wrong, message):
    assert message in failure(checks.check_next_token_probs, wrong)


# --- the residual block ----------------------------------------------------------------


def block_with(forward):
    """A ResidualBlock class whose forward is `forward(self, x)`."""
    return type("WrongBlock", (StubBlock,), {"forward": forward})


@pytest.mark.parametrize("forward, message", [
    (lambda self, x: self.linear2(torch.relu(self.linear1(x))), "the residual connection is missing"),
    (lambda self, x: x, "it returns x unchanged"),
    (lambda self, x: torch.relu(x + self.linear2(torch.relu(self.linear1(x)))), "the ReLU is applied after adding"),
    (lambda self, x: x + self.linear2(self.linear1(x)), "the ReLU between linear1 and linear2 is missing"),
    (lambda self, x: x + torch.relu(self.linear2(self.linear1(x))), "the ReLU is applied to the update's output"),
    (lambda self, x: 2 * x + self.linear2(torch.relu(self.linear1(x))), "x is added twice"),
    (lambda self, x: x + self.linear2(torch.tanh(self.linear1(x))), "the first stage that differs is the input of `linear2`"),
])
def test_residual_block_mistakes(forward, message):
    assert message in failure(checks.check_residual_block, block_with(forward))


def test_residual_block_with_other_parameter_names():
    class Renamed(nn.Module):
        def __init__(self, d_model, d_hidden):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(d_model, d_hidden), nn.Linear(d_hidden, d_model)

        def forward(self, x):
            return x + self.fc2(torch.relu(self.fc1(x)))

    assert "should have parameters" in failure(checks.check_residual_block, Renamed)


def test_the_residual_block_check_keeps_the_learners_random_numbers(capsys):
    """The old check reseeded the global generator: seeds 1 and 2 set before it gave the same torch.rand after."""
    learner = type("ResidualBlock", (residual.ResidualBlock,), {})
    drawn = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        checks.check_residual_block(learner)
        drawn.append(torch.rand(1))
    torch.manual_seed(1)
    assert torch.equal(drawn[0], torch.rand(1)) and not torch.equal(drawn[0], drawn[1])
    assert capsys.readouterr().out.count("correct") == 2
