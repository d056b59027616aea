"""Every exercise check, run on a learner's copy of its reference: it calls the learner's code only through
``checks.call`` (so the pretend-GPU and in-place watches run) and leaves the global random generator alone.

The checks are found by walking ``transformer_course.checks`` (every ``check_*`` function of every topic
module), so a check added later is covered without an edit here. The learner's copy is a re-defined
function, or a subclass whose course-defined methods are re-defined (``tests/contract.py``'s
``watched_copy``): ``exercise()`` returns at once when handed the reference itself, so only a copy runs
the check's body.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import torch
from contract import assert_rng_untouched, run_watched  # tests/contract.py

from transformer_course import checks
from transformer_course.checks import _core
from transformer_course.checks import residual as cr

pytestmark = pytest.mark.usefixtures("one_thread")


def _reference_of(module, check):
    """The reference object `check` compares with: what it hands to exercise()."""
    seen = {}

    def record(name, learner, reference, body):
        seen["reference"] = reference
        return learner

    real, module.exercise = module.exercise, record
    try:
        check(object())
    finally:
        module.exercise = real
    return seen["reference"]


WHOLE_FILE = {"blank_page"}
"""Notebook 12's battery checks a whole file of the learner's, piece by piece, with the topic checks above
(each piece is one of them, or built like them); tests/test_blank_page.py runs it on the solution and on 50
single-edit mistakes."""


def every_check() -> list[tuple[str, object, object]]:
    """(module.check_name, check, reference) for every check_* function of every topic module."""
    found = []
    for info in pkgutil.iter_modules(checks.__path__):
        if info.name.startswith("_") or info.name in WHOLE_FILE:
            continue
        module = importlib.import_module(f"{checks.__name__}.{info.name}")
        for name, check in vars(module).items():
            if name.startswith("check_") and inspect.isfunction(check) and check.__module__ == module.__name__:
                found.append((f"{info.name}.{name}", check, _reference_of(module, check)))
    return found


CHECKS = every_check()


def test_every_topic_module_is_found():
    modules = {name.split(".")[0] for name, _, _ in CHECKS}
    assert {"warmup", "residual", "attention", "multihead", "positional", "block", "encoder_decoder",
            "training", "ablation", "gpt", "model"} <= modules
    assert len(CHECKS) >= 38


@pytest.mark.parametrize("name, check, reference", CHECKS, ids=[name for name, _, _ in CHECKS])
def test_check_calls_the_learner_only_through_call_and_leaves_the_rng_alone(name, check, reference, capsys):
    passed, direct, moved = run_watched(check, reference)
    assert passed and "correct" in capsys.readouterr().out, f"{name} refused a copy of its reference"
    assert not direct, f"{name} calls the learner's code outside checks.call: " + "; ".join(direct)
    assert not moved, f"{name} moves the global random generator: the learner's random numbers after it change"


# --- the test above can fail: a check that breaks each property is caught ------------------------------


def _softmax_check(body):
    """A check of residual.softmax whose body is `body(learner)`."""
    return lambda learner: _core.exercise("softmax", learner, cr.ref.softmax, body)


def _right(fn):
    _core.expect_close(_core.call(fn, _core.randn(2, 3)), cr.ref.softmax(_core.randn(2, 3)), "the output")


def test_a_check_that_seeds_the_global_rng_is_caught(capsys):
    def seeding(fn):
        torch.manual_seed(0)  # what checks/residual.py did before: every later torch.rand of the learner changes
        _right(fn)

    assert_rng_untouched(_softmax_check(_right), cr.ref.softmax)
    with pytest.raises(AssertionError, match="moved the global random generator"):
        assert_rng_untouched(_softmax_check(seeding), cr.ref.softmax)


def test_the_reference_itself_would_hide_a_seeding_check(capsys):
    """Why the copy: handed the reference, exercise() returns at once and the seeding body never runs."""
    def seeding(fn):
        torch.manual_seed(0)
        _right(fn)

    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    _softmax_check(seeding)(cr.ref.softmax)
    assert torch.equal(before, torch.random.get_rng_state())  # nothing ran: a test written this way cannot fail
    assert "not done yet" in capsys.readouterr().out


def test_a_check_that_calls_the_learner_directly_is_caught(capsys):
    def direct(fn):
        _core.expect_close(fn(_core.randn(2, 3)), cr.ref.softmax(_core.randn(2, 3)), "the output")

    passed, calls, _ = run_watched(_softmax_check(direct), cr.ref.softmax)
    assert passed and len(calls) == 1 and "test_checks_watch" not in calls[0]
    passed, calls, _ = run_watched(_softmax_check(_right), cr.ref.softmax)
    assert passed and calls == []


def test_a_method_called_directly_is_caught(capsys):
    """For a class, each method the course defines (here forward) is watched, not only the module's call."""
    def direct(cls):
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            block = cls(4, 8)
            x = _core.randn(1, 2, 4)
            block.forward(x)
            _core.call(block, x)
    def body(learner):
        return _core.exercise("ResidualBlock", learner, cr.ref.ResidualBlock, direct)

    passed, calls, moved = run_watched(body, cr.ref.ResidualBlock)
    assert passed and not moved and calls and calls[0].startswith("forward called directly")



# --- read in the sources: `call` means _core.call everywhere; hints make masks on the inputs' device ----

CHECK_SOURCES = sorted(Path(checks.__file__).parent.glob("*.py"))


def test_no_check_module_rebinds_the_name_call():
    """checks/gpt.py had a string variable (and a parameter) named `call`, hiding _core.call in its scope."""
    rebound = {}
    for path in CHECK_SOURCES:
        lines = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Name) and node.id == "call" and isinstance(node.ctx, ast.Store)
                 or isinstance(node, ast.arg) and node.arg == "call"]
        if lines and path.name != "_core.py":
            rebound[path.name] = lines
    assert not rebound, f"`call` is rebound at {rebound}"


def test_hints_make_masks_on_the_inputs_device():
    """A hint that recommends tc.causal_mask(n) without device= leads the learner to code that fails on a GPU."""
    hints = [(path.name, node.value) for path in CHECK_SOURCES for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and "causal_mask(" in node.value]
    assert hints and all("device=" in hint for _, hint in hints), [h for h in hints if "device=" not in h[1]]
