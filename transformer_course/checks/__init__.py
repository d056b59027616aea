"""Checks for the notebooks' exercises: one module per topic, built on ``_core``.

In a notebook::

    from transformer_course import checks
    split_heads = checks.warmup.check_split_heads(split_heads)

Topic modules (``checks.warmup``, ``checks.attention``, ...) are imported on first
use, so this file needs no edit when one is added. The shared machinery is
re-exported here; see ``_core`` for how to write a check.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ._core import (
    STRICT_ENV_VAR,
    CheckFailed,
    ExerciseNotDone,
    LearnerError,
    call,
    case,
    copy_parameters,
    exercise,
    expect_close,
    expect_dropout_placed,
    expect_dtype,
    expect_shape,
    expect_tensor,
    fmt_shape,
    is_close,
    match_mistake,
    randn,
    strict_mode,
    verb,
)

__all__ = [
    "STRICT_ENV_VAR",
    "CheckFailed",
    "ExerciseNotDone",
    "LearnerError",
    "call",
    "case",
    "copy_parameters",
    "exercise",
    "expect_close",
    "expect_dropout_placed",
    "expect_dtype",
    "expect_shape",
    "expect_tensor",
    "fmt_shape",
    "is_close",
    "match_mistake",
    "randn",
    "strict_mode",
    "verb",
]


def __getattr__(name: str) -> ModuleType:
    """Import a topic module (``checks.attention``) the first time it is used."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"transformer_course.checks has no topic module {name!r}") from None
