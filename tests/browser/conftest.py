"""Fixtures of the browser test: one JupyterLab server and one headless Chromium for the whole run.

The browser test needs Playwright for Python (`requirements-dev.txt`) and a Chromium on the machine
(Debian: `apt-get install chromium`). Without them it is skipped, with the reason; with
TRANSFORMER_COURSE_DEV_TOOLS=required (set by `.ci/run`) a missing browser fails instead.
TRANSFORMER_COURSE_BROWSER=off skips it on purpose (a quicker local run).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from devtools import require
from labdriver import LabServer, find_chromium, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BROWSER_ENV_VAR = "TRANSFORMER_COURSE_BROWSER"
SCREENSHOTS_ENV_VAR = "TRANSFORMER_COURSE_SCREENSHOTS"
# Not copied into the server's folder: what the learner never opens from there.
NOT_SERVED = ("solutions", "backup", "src", ".ipynb_checkpoints")
_shots_written: list[Path] = []


def screenshots_dir() -> Path:
    """Where the screenshots go: $TRANSFORMER_COURSE_SCREENSHOTS, else browser-screenshots/ (git ignores it)."""
    return Path(os.environ.get(SCREENSHOTS_ENV_VAR) or ROOT / "browser-screenshots").resolve()


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    if find_chromium() is None:
        return "no Chromium found (Debian: apt-get install chromium; or set TRANSFORMER_COURSE_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    setting = os.environ.get(BROWSER_ENV_VAR, "").strip().lower()
    if setting in ("off", "0", "no", "false"):
        pytest.skip(f"{BROWSER_ENV_VAR}={setting}")
    require(_missing())
    return find_chromium()


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A copy of notebooks/ for the server to serve: JupyterLab may save a notebook it ran, never the learner's."""
    root = tmp_path_factory.mktemp("lab_root")
    shutil.copytree(NOTEBOOKS, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*NOT_SERVED))
    return root


@pytest.fixture(scope="session")
def screenshots(chromium_path) -> Path:
    """The folder the screenshots (and the server's log) go to, emptied of an earlier run's pictures."""
    shots = screenshots_dir()
    shots.mkdir(parents=True, exist_ok=True)
    for old in [*shots.glob("*.png"), shots / "jupyterlab.log"]:
        old.unlink(missing_ok=True)
    return shots


@pytest.fixture(scope="session")
def lab(lab_root, screenshots, tmp_path_factory):
    shots = screenshots
    server = LabServer(lab_root, tmp_path_factory.mktemp("lab_home"), shots / "jupyterlab.log")
    server.start()
    _shots_written.append(shots)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright, chromium_path)
        yield chromium
        chromium.close()


def pytest_terminal_summary(terminalreporter):
    for shots in _shots_written:
        terminalreporter.write_line(f"browser test: screenshots and the JupyterLab log are in {shots}")
