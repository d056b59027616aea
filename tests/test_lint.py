"""The linter: ruff, pinned in requirements-dev.txt, rules in pyproject.toml, run by .ci/run before the tests.

Skipped without ruff (a learner's set-up does not install it) unless CI requires the maintainers' tools.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from devtools import command

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = command("ruff")
    result = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_pinned_configured_and_run_before_the_tests():
    assert re.search(r"^ruff==\d+\.\d+\.\d+$", (ROOT / "requirements-dev.txt").read_text(), flags=re.M)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "[tool.ruff.lint]" in pyproject and 'select = ["E4", "E7", "E9", "F"]' in pyproject
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/ruff check ." in ci
    assert ci.index(".venv/bin/ruff check .") < ci.index(".venv/bin/python -m pytest")
