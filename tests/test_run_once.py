"""In CI each notebook runs once: nbval leaves to the browser tests the notebooks they execute whole (conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.run_once import BROWSER_TEST, SITE_TEST, executed_elsewhere

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted(p.name for p in (ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
BROWSER_IDS = [f"{BROWSER_TEST}{name}]" for name in EXERCISES]
REQUIRED = {"TRANSFORMER_COURSE_DEV_TOOLS": "required"}


def test_nothing_is_left_out_unless_the_tools_are_required():
    assert executed_elsewhere(BROWSER_IDS + [SITE_TEST], environ={}) == set()
    assert executed_elsewhere(BROWSER_IDS + [SITE_TEST], environ={"TRANSFORMER_COURSE_DEV_TOOLS": "if-there"}) == set()


def test_the_browser_test_covers_exactly_the_exercise_notebooks_it_runs():
    covered = executed_elsewhere(BROWSER_IDS[:2], environ=REQUIRED)
    assert covered == {f"notebooks/{name}" for name in EXERCISES[:2]}


def test_the_web_book_covers_the_solution_notebooks_it_builds():
    assert executed_elsewhere([SITE_TEST], environ=REQUIRED) == {f"notebooks/solutions/{n}" for n in SOLUTIONS}
    some = executed_elsewhere([SITE_TEST], environ={**REQUIRED, "TRANSFORMER_COURSE_SITE_NOTEBOOKS": "00 04"})
    assert some == {"notebooks/solutions/00_how_this_course_works.ipynb",
                    "notebooks/solutions/04_positional_encoding.ipynb"}


def test_browser_off_means_nbval_runs_everything():
    assert executed_elsewhere(BROWSER_IDS + [SITE_TEST], environ={**REQUIRED, "TRANSFORMER_COURSE_BROWSER": "off"}) \
        == set()


def test_collection_deselects_only_the_covered_notebooks():
    """Collect (not run) the README's command as CI does: every notebook is run by exactly one test."""
    env = {"PATH": "/usr/bin:/bin", "TRANSFORMER_COURSE_DEV_TOOLS": "required", "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300).stdout
    collected = out.splitlines()
    nbval_paths = {line.split("::")[0] for line in collected if ".ipynb::" in line}
    browser = {line for line in collected if line.startswith(BROWSER_TEST)}
    assert len(browser) == len(EXERCISES) and SITE_TEST in collected
    assert not any(p.startswith("notebooks/") and p.count("/") == 1 and p.endswith(".ipynb") for p in nbval_paths)
    assert not any(p.startswith("notebooks/solutions/") for p in nbval_paths)
    assert "not a second time under nbval" in out  # and the run says so
