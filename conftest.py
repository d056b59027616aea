"""pytest configuration shared by the unit tests and the nbval notebook runs."""

import os
import shutil
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


def pytest_collection_finish(session):
    """Start the solution notebooks from an empty my_parts/ when notebook 03, the first to save parts, runs.

    Each solution notebook's checks save its parts (transformer_course.parts) and 07 loads them in
    strict mode, which fails for any part not saved; so 07 passing proves that the model it trains
    is made entirely of solution code from this very run, not of files left by an earlier one.
    """
    first = SOLUTIONS / "03_multi_head_attention.ipynb"
    if any(Path(str(item.fspath)).resolve() == first for item in session.items):
        shutil.rmtree(SOLUTIONS / "my_parts", ignore_errors=True)
