"""Assertions shared by the tests of every exercise check (the exercise contract: README.md, "How exercises work")."""

import contextlib
import functools
import inspect
import io
import os
import traceback

import pytest
import torch

from transformer_course import checks


def assert_not_done(check, stub, reference, name, capsys, monkeypatch):
    """An untouched stub: "… name: not done yet" and the reference handed back; in strict mode, ExerciseNotDone."""
    monkeypatch.delenv(checks.STRICT_ENV_VAR, raising=False)
    assert check(stub) is reference
    said = f"{name}: not done yet" if name else "not done yet"
    assert (f"… {said}" if name else said) in capsys.readouterr().out
    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    with pytest.raises(checks.ExerciseNotDone, match=said):
        check(stub)


def fails_with(check, learner, *fragments):
    """The check rejects `learner` with a message containing every fragment."""
    with pytest.raises(checks.CheckFailed) as info:
        check(learner)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def learner_copy(reference):
    """The reference as a learner would hand it in: equal code, but not the reference object itself."""
    if isinstance(reference, type):
        return type(reference.__name__, (reference,), {})

    @functools.wraps(reference)
    def copy(*args, **kwargs):
        return reference(*args, **kwargs)

    return copy


def passes(check, reference):
    """The check accepts a copy of the reference and hands that copy back (it prints "correct").

    The copy is watched (run_watched): the check must call it only through checks.call and leave the
    global random generator as it was.
    """
    passed, direct, moved = run_watched(check, reference)
    assert not direct, "the check calls the learner's code outside checks.call: " + "; ".join(direct)
    assert not moved, "the check moved the global random generator: the learner's next random numbers change"
    return passed


# --- what a check must not do: move the learner's random generator, call the learner's code unwatched ---


def _watching() -> bool:
    """Whether checks.call's watch (the pretend GPU, the in-place and forbidden-call guards) is running now."""
    from transformer_course.checks._core import _Watch
    return any(isinstance(mode, _Watch) for mode in torch.overrides._get_current_function_mode_stack())


def _check_frame() -> str:
    """'checks/gpt.py:312 in _check_forward_with_cache' for the innermost frame of a check module."""
    for frame in reversed(traceback.extract_stack()):
        if f"{os.sep}checks{os.sep}" in frame.filename and not frame.filename.endswith("_core.py"):
            return f"checks/{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    return "outside the check modules"


def watched_copy(reference, direct: list):
    """A learner's copy of `reference` that appends to `direct` where each call of it runs outside checks.call.

    For a class, every method the course defines on it (forward, encode, decode, ...) is watched;
    building the module (``__init__``) is not a call that the watch is for.
    """
    def guard(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            if not _watching():
                direct.append(f"{fn.__name__} called directly at {_check_frame()}")
            return fn(*args, **kwargs)
        return guarded

    if not isinstance(reference, type):
        return guard(reference)
    methods = {}
    for klass in reference.__mro__:
        if klass.__module__.startswith(("torch", "builtins")):
            continue
        for name, attribute in vars(klass).items():
            if inspect.isfunction(attribute) and not name.startswith("_") and name not in methods:
                methods[name] = guard(attribute)
    return type(reference.__name__, (reference,), methods)


_RUNS: dict = {}  # (check, reference) -> what run_watched saw: each check runs once per test session


def run_watched(check, reference):
    """Run `check` on a watched learner's copy of `reference` with the global RNG seeded.

    -> (whether the check handed the copy back, the calls made outside checks.call, whether the
    global random generator moved). The checks are deterministic, so a second call for the same
    check and reference gives back the first run's result and prints what it printed: the topic
    tests' `passes` and test_checks_watch's test of every check share one run.
    """
    if (check, reference) not in _RUNS:
        direct: list[str] = []
        learner = watched_copy(reference, direct)
        assert learner is not reference
        torch.manual_seed(1234)
        before = torch.random.get_rng_state()
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            returned = check(learner)
        moved = not torch.equal(before, torch.random.get_rng_state())
        _RUNS[check, reference] = (returned is learner, list(dict.fromkeys(direct)), moved, printed.getvalue())
    passed, direct, moved, printed = _RUNS[check, reference]
    print(printed, end="")
    return passed, direct, moved


def assert_rng_untouched(check, reference):
    """The check, run on a learner's copy (so its body runs), leaves the global random generator as it was."""
    passed, _, moved = run_watched(check, reference)
    assert passed, "the check did not accept the learner's copy of the reference"
    assert not moved, "the check moved the global random generator: the learner's next random numbers change"
