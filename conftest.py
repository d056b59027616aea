"""pytest configuration shared by the unit tests and the nbval notebook runs."""

import os
import shutil
from pathlib import Path

import pytest

from tools.run_once import executed_elsewhere

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


def pytest_collection_modifyitems(session, config, items):
    """In CI, run each notebook once: leave to the browser tests the notebooks they execute
    whole (see ``tools/run_once.py``)."""
    root = Path(__file__).resolve().parent
    covered = executed_elsewhere([item.nodeid for item in items])
    if not covered:
        return
    kept, left = [], []
    for item in items:
        path = Path(str(item.fspath)).resolve()
        relative = path.relative_to(root).as_posix() if root in path.parents else ""
        (left if path.suffix == ".ipynb" and relative in covered else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            names = sorted({Path(str(item.fspath)).parent.name + "/" + Path(str(item.fspath)).name for item in left})
            reporter.write_line(f"nbval: {len(names)} notebooks are executed whole by the browser tests of this "
                                f"run (maintainers' tools required), so not a second time under nbval: "
                                + ", ".join(names))
