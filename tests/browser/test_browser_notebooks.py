"""Every exercise notebook, run in JupyterLab in headless Chromium as a learner runs it: Run All, then look.

nbval runs the notebooks' code but cannot see the page: Mermaid diagrams, typeset math and live
widgets exist only in JupyterLab. This test fails on what a learner would see go wrong there (see
labdriver.py for the list) and saves screenshots for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labdriver import run_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# Every exercise notebook, also ones added later.
EXERCISE_NOTEBOOKS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", EXERCISE_NOTEBOOKS)
def test_notebook_in_jupyterlab(notebook, lab, browser, screenshots):
    report = run_notebook(browser, lab, notebook, screenshots)
    print(report.summary())
    assert not report.problems, report.summary()
