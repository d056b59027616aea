"""Tests that need a maintainer's tool (requirements-dev.txt, Chromium) skip without it, or fail where CI requires it.

`.ci/run` sets TRANSFORMER_COURSE_DEV_TOOLS=required, so in CI a missing tool fails the test instead
of skipping it silently. A learner running the README's test command needs none of these tools.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

DEV_TOOLS_ENV_VAR = "TRANSFORMER_COURSE_DEV_TOOLS"


def require(why_missing: str | None) -> None:
    """Skip the test (or fail it, when $TRANSFORMER_COURSE_DEV_TOOLS=required) if a tool is missing."""
    if why_missing is None:
        return
    if os.environ.get(DEV_TOOLS_ENV_VAR, "").strip().lower() == "required":
        pytest.fail(f"{DEV_TOOLS_ENV_VAR}=required, but {why_missing}", pytrace=False)
    pytest.skip(why_missing)


def command(name: str) -> str:
    """Path of a command-line tool installed with requirements-dev.txt (beside this Python first)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    require(None if found else f"`{name}` is not installed (pip install -r requirements-dev.txt)")
    return found
