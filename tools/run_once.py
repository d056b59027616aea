"""Which notebooks a test run executes whole in a browser test, so that nbval need not run them again.

Used by the root ``conftest.py``: in CI (the maintainers' tools required) each notebook runs once.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


DEV_TOOLS_ENV_VAR = "TRANSFORMER_COURSE_DEV_TOOLS"
BROWSER_TEST = "tests/browser/test_browser_notebooks.py::test_notebook_in_jupyterlab["
SITE_TEST = "tests/browser/test_site.py::test_every_page_of_the_web_book_loads_whole"
SITE_NOTEBOOKS_ENV_VAR = "TRANSFORMER_COURSE_SITE_NOTEBOOKS"


def executed_elsewhere(nodeids: list[str], environ=os.environ) -> set[str]:
    """The notebooks (paths relative to the repository) that a browser test of this session runs whole.

    Only when the maintainers' tools are required ($TRANSFORMER_COURSE_DEV_TOOLS=required, as in CI), so
    those tests cannot skip: the JupyterLab test runs each exercise notebook it is given with Run All and
    fails on any error output or any cell not run; the web book's test executes each solution notebook
    it builds in strict mode (every part from this run, in a fresh parts folder) and fails on any error.
    Each is what nbval --nbval-lax checks of that notebook, and more, so nbval need not run it again.
    """
    if environ.get(DEV_TOOLS_ENV_VAR, "").strip().lower() != "required":
        return set()
    covered = set()
    if environ.get("TRANSFORMER_COURSE_BROWSER", "").strip().lower() not in ("off", "0", "no", "false"):
        covered |= {"notebooks/" + nodeid[len(BROWSER_TEST):-1] for nodeid in nodeids
                    if nodeid.startswith(BROWSER_TEST)}
        if SITE_TEST in nodeids:
            from tools.build import select  # the web book's own choice of notebooks

            covered |= {f"notebooks/solutions/{src.stem}.ipynb"
                        for src in select(environ.get(SITE_NOTEBOOKS_ENV_VAR, "").split())}
    return covered
