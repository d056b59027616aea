"""The linter: ruff, pinned in requirements-dev.txt, rules in pyproject.toml, run by .ci/run before the tests.

Skipped without ruff (a learner's set-up does not install it) unless CI requires the maintainers' tools.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections import Counter
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


def test_every_function_and_class_of_the_package_is_used_somewhere():
    """Dead code: a top-level function or class that no module, tool, test or notebook source names."""
    files = [p for folder in ("transformer_course", "tools", "tests", "notebooks/src")
             for p in (ROOT / folder).rglob("*.py")]
    words = Counter(word for p in files for word in re.findall(r"\w+", p.read_text(encoding="utf-8")))
    unused = []
    for path in (ROOT / "transformer_course").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("__"):
                if words[node.name] <= 1:  # only its own definition
                    unused.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not unused, unused


def test_no_two_classes_of_the_package_share_a_name():
    """One name for one thing: a class name says which class it is (once three different classes were `Part`)."""
    where: dict[str, list[str]] = {}
    for path in (ROOT / "transformer_course").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert not {name: paths for name, paths in where.items() if len(paths) > 1}
