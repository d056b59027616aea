"""Assertions shared by the tests of every exercise check (the exercise contract: README.md, "How exercises work")."""

import functools

import pytest

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
    """The check accepts a copy of the reference and hands that copy back (it prints "correct")."""
    learner = learner_copy(reference)
    return check(learner) is learner
