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


def wrong_view(x):
    return x.view(5, -1, 7)


def test_other_errors_show_the_learners_frames_only():
    """A learner's own bug: a summary (exercise, case, shapes), their own line, the error; no check internals."""
    with pytest.raises(checks.LearnerError) as info:
        exercise("double", wrong_view, reference, check_double_called)
    error = info.value
    assert isinstance(error.error, RuntimeError)
    assert error.summary == "double: your code raised RuntimeError (case: n=1; called with x (1,) float32)"
    rendered = "\n".join(error._render_traceback_())
    assert "return x.view(5, -1, 7)" in rendered and "RuntimeError" in rendered
    assert "transformer_course/checks" not in rendered and "torch/" not in rendered
    assert "return x.view(5, -1, 7)" in str(error)


def check_double_called(fn):
    for n in (1, 3):
        with checks.case(f"n={n}"):
            x = checks.randn(n, seed=n)
            expect_close(checks.call(fn, x), reference(x), "the result")


def test_the_reference_itself_is_not_done(capsys, monkeypatch):
    """The check cell run again after an untouched stub gets the reference back: never "correct"."""
    seen = []
    monkeypatch.setattr(checks._core, "RESULT_HOOKS", [lambda *report: seen.append(report)])
    assert exercise("double", reference, reference, check_double) is reference
    out = capsys.readouterr().out
    assert "double: not done yet" in out and "still the reference" in out and "correct" not in out
    assert seen == [("double", reference, "not done")]
    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    with pytest.raises(ExerciseNotDone):
        exercise("double", reference, reference, check_double)


def test_call_catches_in_place_changes_of_an_input():
    def in_place(x):
        x += 1
        return x

    with pytest.raises(CheckFailed, match=r"changes its input `x` in place \(`add_` at line \d+ of in_place: `x \+= 1`\)"):
        checks.call(in_place, torch.zeros(3))
    checks.call(lambda x: x + 1, torch.zeros(3))
    checks.call(lambda x: x.requires_grad_() * 2, torch.zeros(3))  # changes no values: fine
    with pytest.raises(CheckFailed, match=r"changes its input `batch` in place \(`__setitem__`"):
        checks.call(lambda batch: batch[1].__setitem__((slice(None), 0), 1), (torch.zeros(2, 3), torch.zeros(2, 3)))


def test_call_catches_a_tensor_made_on_the_cpu():
    def cpu_mask(scores):
        mask = torch.ones(3, 3, dtype=torch.bool).tril()
        return scores.masked_fill(~mask, 0.0)

    def device_mask(scores):
        mask = torch.ones(3, 3, dtype=torch.bool, device=scores.device).tril()
        return scores.masked_fill(~mask, 0.0) * torch.tensor(2.0)  # a 0-d CPU tensor is fine on a GPU too

    with pytest.raises(CheckFailed, match=r"would fail on a GPU: the tensor made by `torch.ones\(...\)` at line \d+ "
                                          r"of cpu_mask: `mask = torch.ones\(3, 3, dtype=torch.bool\).tril\(\)` is "
                                          r"on the CPU"):
        checks.call(cpu_mask, torch.zeros(2, 3, 3))
    checks.call(device_mask, torch.zeros(2, 3, 3))
    with pytest.raises(CheckFailed, match="its output would be on the CPU"):
        checks.call(lambda x: torch.zeros(len(x)), torch.zeros(3))


def _legacy_constructor(x):
    return x + torch.LongTensor([1, 2, 3])  # the mistake: always a CPU tensor


def _from_numpy(x):
    import numpy as np
    return x + torch.from_numpy(np.arange(3.0)).float()  # the mistake: a NumPy array is on the CPU


def _like_on_cpu(x):
    return x + torch.zeros_like(x, device="cpu")  # the mistake: device="cpu", not the input's


def _method_on_cpu(x):
    return x * x.new_ones(3, device="cpu")


@pytest.mark.parametrize("fn, made, why", [
    (_legacy_constructor, "torch.LongTensor", "torch.LongTensor, torch.FloatTensor and the like always make CPU"),
    (_from_numpy, "torch.from_numpy", "a NumPy array is always on the CPU"),
    (_like_on_cpu, "torch.zeros_like", 'device="cpu" was given'),
    (_method_on_cpu, ".new_ones", 'device="cpu" was given'),
])
def test_call_sees_the_cpu_tensors_that_are_not_made_by_a_factory_without_device(fn, made, why):
    with pytest.raises(CheckFailed, match=rf"would fail on a GPU: the tensor made by `{re.escape(made)}\(...\)` at "
                                          rf"line \d+ of {fn.__name__}: .* is on the CPU \({re.escape(why)}"):
        checks.call(fn, torch.zeros(2, 3))


def test_the_stand_ins_behave_as_the_originals_and_are_put_back():
    """While a check watches, torch.LongTensor and torch.from_numpy are stand-ins; the learner cannot tell."""
    originals = torch.LongTensor, torch.from_numpy

    def uses_them(x):
        ids = torch.LongTensor([0, 2]).to(x.device)  # moved to the inputs' device: fine on a GPU
        assert isinstance(ids, torch.LongTensor) and torch.LongTensor.dtype == torch.int64
        return x[:, ids] + torch.from_numpy(__import__("numpy").ones(2, dtype="float32")).to(x.device)

    assert checks.call(uses_them, torch.zeros(2, 3)).shape == (2, 2)
    assert (torch.LongTensor, torch.from_numpy) == originals
    with pytest.raises(ZeroDivisionError):
        checks.call(lambda x: 1 / 0, torch.zeros(1))
    assert (torch.LongTensor, torch.from_numpy) == originals
    checks.call(lambda x: x + torch.zeros_like(x, device=x.device), torch.zeros(2))  # on the input's device: fine


def test_call_forbids_what_the_text_forbids():
    with pytest.raises(CheckFailed, match="it calls softmax at line .*; do it yourself"):
        checks.call(lambda x: x.softmax(-1), torch.zeros(3), forbidden={"softmax": "do it yourself"})


@pytest.mark.parametrize("what, sentence", [
    ("the logits", "the logits are wrong"), ("the output ids", "the output ids are wrong"),
    ("the parameters after one step", "the parameters after one step are wrong"),
    ("the loss", "the loss is wrong"), ("w_q.bias", "w_q.bias is wrong"), ("the mask", "the mask is wrong"),
])
def test_messages_agree_in_number(what, sentence):
    with pytest.raises(CheckFailed, match=f"^{sentence}: x"):
        expect_close(torch.ones(2), torch.zeros(2), what, mistakes={"x": torch.ones(2)})


def test_a_float64_result_is_named():
    with pytest.raises(CheckFailed, match="dtype torch.float64 but should be torch.float32"):
        expect_close(torch.zeros(2, dtype=torch.float64), torch.zeros(2), "the encoding")


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


def test_ipython_shows_the_learners_frames_and_hides_the_checks(capsys):
    """In a notebook, a learner's error shows their own line and a summary, not the check's catalogue of mistakes."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        shell.run_cell(
            "import torch\n"
            "from transformer_course import checks\n"
            "def masked_softmax(scores, mask):\n"
            "    return torch.softmax(scores.masked_fill(~mask, float('-inf')), dim=-1)\n"
            "masked_softmax = checks.attention.check_masked_softmax(masked_softmax)\n")
    finally:
        interactiveshell.InteractiveShell.clear_instance()
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "masked_softmax: your code raised TypeError (case: no mask" in text
    assert "scores.masked_fill(~mask" in text and "bad operand type for unary ~" in text
    assert "_core.py" not in text and "mistakes" not in text and "ref.masked_softmax" not in text


# --- issue 18: relate a wrong result to the right one, locate the first stage that differs -----------------


def test_relate_names_the_relation_a_mistake_leaves():
    from transformer_course.checks._locate import relate
    right = checks.randn(2, 5, 8, seed=1)
    assert "a factor 2.828 = sqrt(8) too large" in relate(right * 8 ** 0.5, right)
    assert "= 1/sqrt(8)" in relate(right / 8 ** 0.5, right)
    assert "= sqrt(d_k)" in relate(right * 2, right, factors={"sqrt(d_k)": 2.0})
    probs = right.softmax(-1)
    assert "log-probabilities" in relate(probs.log(), probs)
    assert "BEFORE the softmax" in relate(right, probs)
    assert "probabilities where logits" in relate(probs, right)
    assert "log-probabilities where logits" in relate(right.log_softmax(-1), right)
    square = checks.randn(2, 5, 5, seed=2)
    assert "transposed" in relate(square.transpose(-2, -1), square)
    shifted = torch.cat([right[:, :1], right[:, :-1]], dim=1)
    assert "shifted by one along axis 1 (seq_len)" in relate(shifted, right, axes=("batch", "seq_len", "d_model"))
    assert "reverse order along axis 1" in relate(right.flip(1), right)
    assert "ReLU" in relate(right.clamp_min(0), right)
    dropped = right * 2 * (checks.randn(2, 5, 8, seed=3) > 0)  # dropout with p = 0.5
    assert "dropout applied" in relate(dropped, right)
    assert relate(checks.randn(2, 5, 8, seed=4), right) is None  # no simple relation: say nothing


def test_locate_reports_the_first_stage_that_differs():
    ref = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4)).eval()

    class Mine(torch.nn.Sequential):
        def forward(self, x):  # the activation forgotten
            return self[2](self[0](x))

    mine = Mine(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4)).eval()
    checks.copy_parameters(ref, mine, "mine")
    x = checks.randn(3, 4, seed=1)
    with pytest.raises(CheckFailed, match=r"the input of `2` .*a ReLU \(the activation\) .* missing"):
        expect_close(mine(x), ref(x), "y")
