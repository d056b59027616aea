"""A learner's own work passes the README's test command wherever their answers are right.

The course's guards (every generated notebook equal to what its source builds, every exercise a stub)
protect the course's sources. A learner's exercise notebooks are *meant* to differ from the sources:
filled in, or half filled in. These tests make such a learner on a copy of the course and run the
tests that read the exercise notebooks there, the way the learner would (`python -m pytest` from the
copy's root):

- finished: every stub replaced by the solution's answer, as a learner who did every exercise;
  the guards pass (saying the notebooks were edited and not compared), and the notebooks pass
  under nbval in strict mode, every exercise required;
- half finished: the first half of each notebook's exercises filled in; the guards pass and the
  notebook runs, the rest "not done yet";
- one wrong answer: the run fails and its output names the exercise and what is wrong.

Running every notebook of the copy would double the suite's time, so the notebooks run here are two
cheap ones (00 and 02, eight exercises between them); every other test reads the sources or the package,
which a learner does not edit, and the browser test runs the exercise notebooks as they are on disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_COPIED = (".git", ".venv", "venv", "backup", "my_parts", "browser-screenshots", "site", "__pycache__",
              ".ipynb_checkpoints", "*.egg-info", "build")
STUB = "# YOUR CODE HERE\n"
GUARDS = "tests/test_build.py"
RUN = ["notebooks/00_how_this_course_works.ipynb", "notebooks/02_attention.ipynb"]


def course_copy(tmp_path: Path) -> Path:
    """The course as a learner has it: the repository's files, without build products or a .git."""
    root = tmp_path / "course"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(*NOT_COPIED))
    return root


def fill_in(root: Path, share: float = 1.0) -> dict[str, int]:
    """Replace the first `share` of each exercise notebook's stubs by the solution's cell; count per notebook."""
    filled = {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        exercise = nbformat.read(str(path), as_version=4)
        answers = {c.id: c.source for c in nbformat.read(str(root / "notebooks/solutions" / path.name), as_version=4).cells}
        stubs = [c for c in exercise.cells if c.cell_type == "code" and STUB in c.source]
        for cell in stubs[: round(len(stubs) * share)]:
            cell.source = answers[cell.id]
        nbformat.write(exercise, str(path))
        filled[path.stem] = round(len(stubs) * share)
    return filled


def pytest_in(root: Path, *args: str, strict: bool) -> subprocess.CompletedProcess:
    """`python -m pytest ARGS` from the copy's root, as the learner runs it (not as the course's CI)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRANSFORMER_COURSE_") and not k.startswith("PYTEST_")}
    env["TRANSFORMER_COURSE_DEVICE"] = "cpu"
    if strict:
        env["TRANSFORMER_COURSE_STRICT"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = course_copy(tmp_path_factory.mktemp("finished"))
    filled = fill_in(root)
    assert sum(filled.values()) >= 38 and filled["02_attention"] == 5, filled
    # notebook 12's exercise is a whole file: the finished learner has written it
    shutil.copy(root / "notebooks/solutions/my_transformer.py", root / "notebooks/my_transformer.py")
    return root


def test_a_finished_learner_passes(finished: Path):
    result = pytest_in(finished, GUARDS, *RUN, "notebooks/test_my_transformer.py", strict=True)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "SKIPPED [1] notebooks/test_my_transformer.py" not in result.stdout, "every piece of 12 is checked"
    # the guards met the learner's notebooks, said so, and compared nothing of theirs
    assert "(your work), so it is not compared with its source" in result.stdout
    assert "NotImplementedError" not in result.stdout


def test_a_half_finished_learner_passes(tmp_path: Path):
    root = course_copy(tmp_path)
    fill_in(root, share=0.5)
    result = pytest_in(root, GUARDS, RUN[1], strict=False)
    assert result.returncode == 0, result.stdout[-6000:]


def test_one_wrong_answer_fails_and_names_the_exercise(finished: Path):
    path = finished / "notebooks/02_attention.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def masked_softmax")]
    right = cell.source
    assert right.count("dim=-1)") == 2, right
    cell.source = right.replace("dim=-1)", "dim=-2)")  # softmax over the queries
    nbformat.write(nb, str(path))
    try:
        result = pytest_in(finished, GUARDS, RUN[1], strict=True)
    finally:
        cell.source = right
        nbformat.write(nb, str(path))
    assert result.returncode != 0
    assert "CheckFailed: masked_softmax:" in result.stdout, result.stdout[-6000:]
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    assert failed and all(line.startswith("FAILED notebooks/02_attention.ipynb::") for line in failed), failed
