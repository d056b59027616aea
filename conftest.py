"""pytest configuration shared by the unit tests and the nbval notebook runs."""

import os
from pathlib import Path

import pytest

STRICT_ENV_VAR = "TRANSFORMER_COURSE_STRICT"
SOLUTIONS = Path(__file__).resolve().parent / "notebooks" / "solutions"
_learner_setting = os.environ.get(STRICT_ENV_VAR)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Run the solution notebooks in strict mode, so a solution that is not complete fails the tests.

    nbval starts each notebook's kernel when that notebook's first cell is set up, with this
    process's environment, so setting the variable here reaches the kernel. Exercise notebooks
    keep whatever the person running pytest chose.
    """
    if SOLUTIONS in Path(str(item.fspath)).resolve().parents:
        os.environ[STRICT_ENV_VAR] = "1"
    elif _learner_setting is None:
        os.environ.pop(STRICT_ENV_VAR, None)
    else:
        os.environ[STRICT_ENV_VAR] = _learner_setting
