"""The check machinery: pass, fail with a diagnosis, not done yet, strict mode, and the helpers."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from transformer_course import checks
from transformer_course.checks import CheckFailed, ExerciseNotDone, exercise, expect_close, expect_shape


def reference(x):
    return x * 2


def check_double(fn):
    for n in (1, 3):
        with checks.case(f"n={n}"):
            x = checks.randn(n, seed=n)
            expect_close(fn(x), reference(x), "the result", mistakes={"it adds instead of doubling": lambda: x + 2})


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.delenv(checks.STRICT_ENV_VAR, raising=False)


def test_correct_prints_one_line_and_returns_the_learners(capsys):
    def mine(x):
        return x + x

    assert exercise("double", mine, reference, check_double) is mine
    assert capsys.readouterr().out == "✔ double: correct\n"


def test_wrong_raises_with_name_diagnosis_and_case():
    with pytest.raises(CheckFailed) as info:
        exercise("double", lambda x: x + 2, reference, check_double)
    assert str(info.value) == "double: the result is wrong: it adds instead of doubling (case: n=1)"
    assert isinstance(info.value, AssertionError)


def test_not_done_returns_the_reference(capsys):
    def stub(x):
        raise NotImplementedError

    assert exercise("double", stub, reference, check_double) is reference
    assert capsys.readouterr().out == "… double: not done yet — the reference implementation is used from here on\n"


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    with pytest.raises(ExerciseNotDone, match="double: not done yet"):
        exercise("double", lambda x: (_ for _ in ()).throw(NotImplementedError), reference, check_double)


@pytest.mark.parametrize("value, strict", [("", False), ("0", False), ("false", False), ("1", True), ("yes", True)])
def test_strict_mode_values(monkeypatch, value, strict):
    monkeypatch.setenv(checks.STRICT_ENV_VAR, value)
    assert checks.strict_mode() is strict


class RefLinear(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        return self.proj(x)


def check_linear(cls):
    torch.manual_seed(0)
    ref, mine = RefLinear(4), cls(4)
    checks.copy_parameters(ref, mine, "your module")
    x = checks.randn(2, 4)
    expect_close(mine(x), ref(x), "the output")


def test_not_done_in_module_init_or_forward(capsys):
    class StubInit(nn.Module):
        def __init__(self, d):
            super().__init__()
            raise NotImplementedError

    class StubForward(RefLinear):
        def forward(self, x):
            raise NotImplementedError

    for cls in (StubInit, StubForward):
        assert exercise("linear", cls, RefLinear, check_linear) is RefLinear
    assert capsys.readouterr().out.count("not done yet") == 2
    assert exercise("linear", RefLinear, RefLinear, check_linear) is RefLinear


def test_copy_parameters_names_missing_ones():
    class Renamed(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.linear = nn.Linear(d, d)

    with pytest.raises(CheckFailed, match=r"missing: proj.bias, proj.weight\) \(unexpected: linear.bias"):
        check_linear(Renamed)


def test_other_errors_propagate_unchanged():
    """A learner's own bug keeps its traceback: it points at their line."""
    with pytest.raises(RuntimeError):
        exercise("double", lambda x: x.view(5, -1, 7), reference, check_double)


def test_render_traceback_is_just_the_message():
    lines = CheckFailed("double: wrong axis")._render_traceback_()
    assert len(lines) == 1 and "double: wrong axis" in lines[0] and "Traceback" not in lines[0]
    assert "not done" in ExerciseNotDone("x: not done yet")._render_traceback_()[0]


@pytest.mark.parametrize(
    "actual, expected, axes, message",
    [
        ((2, 5, 7), (2, 5, 8), ("batch", "seq_len", "d_model"), "axis 2 (d_model) is 7, expected 8"),
        ((2, 5, 7), (2, 5, 8), None, "axis 2 is 7, expected 8"),
        ((2, 5), (2, 5, 8), None, "it has 2 axes instead of 3"),
        ((2, 8, 5), (2, 5, 8), None, "wrong order — axes swapped?"),
    ],
)
def test_expect_shape_names_the_axis(actual, expected, axes, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        expect_shape(torch.zeros(actual), expected, "x", axes)
    expect_shape(torch.zeros(expected), expected, "x", axes)


def test_expect_close_messages():
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    expect_close(want + 1e-7, want, "y")
    with pytest.raises(CheckFailed, match=r"largest difference 0.5 at index \(1, 0\) \(got 3.5, expected 3\)"):
        expect_close(torch.tensor([[1.0, 2.0], [3.5, 4.0]]), want, "y")
    with pytest.raises(CheckFailed, match="y contains NaN at 1 of 4 positions"):
        expect_close(torch.tensor([[1.0, float("nan")], [3.0, 4.0]]), want, "y")
    with pytest.raises(CheckFailed, match="forget to `return`"):
        expect_close(None, want, "y")
    # a mistake that equals the right answer on this input is never blamed
    expect_close(want, want, "y", mistakes={"never": want.clone()})


def test_randn_is_seeded_and_on_cpu():
    torch.manual_seed(123)
    a = checks.randn(2, 3, seed=7)
    torch.manual_seed(456)
    assert torch.equal(a, checks.randn(2, 3, seed=7)) and a.device.type == "cpu"
    assert not torch.equal(a, checks.randn(2, 3, seed=8))


def test_topic_modules_load_lazily():
    assert checks.warmup.check_pairwise_dot
    with pytest.raises(AttributeError, match="no topic module"):
        checks.no_such_topic
