"""The notebook generator: sync with sources, stable output, markers, and never overwriting a learner's work."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools import build

DEMO_SOURCE = textwrap.dedent(
    '''\
    # %% [markdown]
    # # Demo
    # Prose first.

    # %%
    def add_one(x):
        """Add one."""
        ### BEGIN SOLUTION
        y = x + 1
        return y
        ### END SOLUTION


    # %% tags=["solution_only"]
    print("only in the solution")

    # %% [markdown] tags=["exercise_only", "keep-me"]
    # Only in the exercise.

    # %% tags=["nbval-ignore-output"]
    add_one(1)
    '''
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A course tree in a tmp dir holding one source, 01_demo."""
    (tmp_path / "notebooks" / "src").mkdir(parents=True)
    (tmp_path / "notebooks" / "src" / "01_demo.py").write_text(DEMO_SOURCE, encoding="utf-8")
    return tmp_path


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


# --- the committed notebooks --------------------------------------------------


AUTHORS_ENV_VAR = "TRANSFORMER_COURSE_AUTHORS"
GENERATED = [(src, kind) for src in build.sources() for kind in build.KINDS]


def guarding_sources() -> bool:
    """True in the course's own CI (`.ci/run` sets TRANSFORMER_COURSE_AUTHORS=1): no notebook may be edited."""
    return os.environ.get(AUTHORS_ENV_VAR, "").strip() == "1"


def skip_a_learners_edits(path: Path, what: str) -> None:
    """A learner's edited notebook is their work: say so and skip, except where the course guards its sources."""
    reason = build.edited_reason(path) if path.exists() else None
    if reason and not guarding_sources():
        pytest.skip(f"{path.relative_to(build.ROOT)}: {reason} (your work), so it is not {what}; "
                    f"the course's own CI sets {AUTHORS_ENV_VAR}=1 and compares it")


@pytest.mark.parametrize("src, kind", GENERATED, ids=[f"{kind}:{src.stem}" for src, kind in GENERATED])
def test_committed_notebook_matches_its_source(src: Path, kind: str):
    """A generated notebook is what its source builds; a learner's edited notebook is left out, and says so."""
    skip_a_learners_edits(build.target_path(src.stem, kind), "compared with its source")
    nb = build.build_notebook(src)[build.KINDS.index(kind)]
    problem = build.out_of_sync(src, kind, nb)
    assert problem is None, f"{problem}; run python -m tools.build"


def test_an_edited_notebook_is_skipped_for_a_learner_and_compared_in_the_courses_ci(root: Path, monkeypatch):
    build.build(root=root)
    path, src = root / "notebooks/01_demo.ipynb", root / "notebooks/src/01_demo.py"
    nb = read(path)
    nb.cells[1].source = nb.cells[1].source.replace("raise NotImplementedError", "return x + 1")
    nbformat.write(nb, str(path))
    problem = build.out_of_sync(src, "exercise", build.build_notebook(src, root)[0], root)
    assert problem.startswith("out of date") and "a learner's work" in problem
    monkeypatch.setattr(build, "ROOT", root)
    monkeypatch.delenv(AUTHORS_ENV_VAR, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"01_demo.ipynb: its cells were edited .*\(your work\)"):
        skip_a_learners_edits(path, "compared with its source")
    monkeypatch.setenv(AUTHORS_ENV_VAR, "1")
    skip_a_learners_edits(path, "compared with its source")  # no skip: the course's CI compares, and fails
    (root / "notebooks/Untitled.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    assert [p.name for p in build.orphans(root)] == ["Untitled.ipynb"]


def test_every_notebook_has_a_source():
    """No stray notebook beside the course's; one a learner made (no build record) is theirs and is not judged."""
    orphans = build.orphans()
    strays = [path for path in orphans if guarding_sources() or build.edited_reason(path) is None]
    assert not strays, "notebooks that no source in notebooks/src builds: " + ", ".join(map(str, strays))
    if orphans:
        pytest.skip("notebooks of your own, not judged: " + ", ".join(str(p.relative_to(build.ROOT)) for p in orphans))


def test_there_is_at_least_one_source():
    assert build.sources(), "no notebook sources found in notebooks/src"


# --- building -----------------------------------------------------------------


def test_markers_replaced_in_exercise_and_removed_in_solution(root: Path):
    exercise, solution = build.build_notebook(root / "notebooks/src/01_demo.py", root)
    ex_code, sol_code = exercise.cells[1].source, solution.cells[1].source
    assert ex_code == 'def add_one(x):\n    """Add one."""\n    # YOUR CODE HERE\n    raise NotImplementedError'
    assert sol_code == 'def add_one(x):\n    """Add one."""\n    y = x + 1\n    return y'
    for nb in (exercise, solution):
        assert "SOLUTION" not in "".join(cell.source for cell in nb.cells)


def test_solution_only_and_exercise_only_cells(root: Path):
    exercise, solution = build.build_notebook(root / "notebooks/src/01_demo.py", root)
    ex_sources = [cell.source for cell in exercise.cells]
    sol_sources = [cell.source for cell in solution.cells]
    assert 'print("only in the solution")' in sol_sources and 'print("only in the solution")' not in ex_sources
    assert "Only in the exercise." in ex_sources and "Only in the exercise." not in sol_sources
    only_ex = next(cell for cell in exercise.cells if cell.source == "Only in the exercise.")
    assert only_ex.metadata["tags"] == ["keep-me"], "the *_only tag goes, other tags stay"
    assert exercise.cells[-1].metadata["tags"] == ["nbval-ignore-output"]


def test_generated_notebook_shape(root: Path):
    exercise, solution = build.build_notebook(root / "notebooks/src/01_demo.py", root)
    for kind, nb in zip(build.KINDS, (exercise, solution)):
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        record = nb.metadata["transformer_course"]
        assert record == {
            "source": "notebooks/src/01_demo.py",
            "kind": kind,
            "sources_sha256": build.sources_hash(nb),
        }
        for cell in nb.cells:
            assert set(cell.metadata) <= set(build.KEPT_CELL_METADATA), "no jupytext-internal metadata"
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
    # a cell keeps its id in both notebooks; ids are unique
    assert exercise.cells[1].id == solution.cells[1].id
    assert len({cell.id for cell in solution.cells}) == len(solution.cells)


def test_build_is_deterministic_and_idempotent(root: Path):
    src = root / "notebooks/src/01_demo.py"
    first = [build.to_text(nb) for nb in build.build_notebook(src, root)]
    second = [build.to_text(nb) for nb in build.build_notebook(src, root)]
    assert first == second
    assert build.main(["--root", str(root)]) == 0
    written = {p: p.read_bytes() for p in (root / "notebooks").rglob("*.ipynb")}
    assert len(written) == 2
    assert build.build(root=root) == [
        "unchanged  notebooks/01_demo.ipynb",
        "unchanged  notebooks/solutions/01_demo.ipynb",
    ]
    assert {p: p.read_bytes() for p in (root / "notebooks").rglob("*.ipynb")} == written
    assert build.main(["--root", str(root), "--check"]) == 0


@pytest.mark.parametrize(
    "code, error",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without a BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ],
)
def test_malformed_markers_are_errors(code: str, error: str):
    with pytest.raises(build.BuildError, match=error):
        build.render_code(code, "exercise", "demo.py")


def test_markers_in_markdown_are_errors(root: Path):
    src = root / "notebooks/src/01_demo.py"
    src.write_text("# %% [markdown]\n# ### BEGIN SOLUTION\n# secret\n# ### END SOLUTION\n", encoding="utf-8")
    with pytest.raises(build.BuildError, match="only allowed in code cells"):
        build.build_notebook(src, root)


# --- check mode ---------------------------------------------------------------


def test_check_reports_drift_missing_and_orphans(root: Path, capsys):
    assert build.main(["--root", str(root)]) == 0
    assert build.check(root=root) == []
    src = root / "notebooks/src/01_demo.py"
    src.write_text(src.read_text(encoding="utf-8").replace("Prose first.", "Prose changed."), encoding="utf-8")
    (root / "notebooks/solutions/01_demo.ipynb").unlink()
    (root / "notebooks/99_orphan.ipynb").write_text("{}", encoding="utf-8")
    problems = build.check(root=root)
    assert any(p.startswith("out of date") and "notebooks/01_demo.ipynb" in p for p in problems)
    assert any(p.startswith("missing") and "solutions/01_demo.ipynb" in p for p in problems)
    assert any(p.startswith("no source") and "99_orphan.ipynb" in p for p in problems)
    capsys.readouterr()
    assert build.main(["--root", str(root), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


# --- never overwrite a learner's work -----------------------------------------


def test_executed_notebook_is_not_edited_and_is_regenerated(root: Path):
    build.build(root=root)
    path = root / "notebooks/01_demo.ipynb"
    nb = read(path)
    pristine = path.read_text(encoding="utf-8")
    nb.cells[-1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    nb.cells[-1].execution_count = 1
    nbformat.write(nb, str(path))
    assert build.edited_reason(path) is None
    assert build.build(root=root)[0].startswith("wrote")
    assert path.read_text(encoding="utf-8") == pristine


def test_refuses_to_overwrite_an_edited_notebook(root: Path, capsys):
    build.build(root=root)
    src = root / "notebooks/src/01_demo.py"
    src.write_text(src.read_text(encoding="utf-8").replace("Prose first.", "New prose."), encoding="utf-8")
    path = root / "notebooks/01_demo.ipynb"
    nb = read(path)
    nb.cells[1].source = nb.cells[1].source.replace("raise NotImplementedError", "return x + 1")
    nbformat.write(nb, str(path))
    learner_text = path.read_text(encoding="utf-8")

    assert build.main(["--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite notebooks/01_demo.ipynb" in err and "--force" in err
    assert path.read_text(encoding="utf-8") == learner_text, "the learner's notebook is untouched"
    assert "New prose." in read(root / "notebooks/solutions/01_demo.ipynb").cells[0].source, "others still built"

    assert build.main(["--root", str(root), "--force"]) == 0
    out = capsys.readouterr().out
    backups = list((root / "notebooks/backup").glob("01_demo.*.ipynb"))
    assert len(backups) == 1 and backups[0].name in out
    assert backups[0].read_text(encoding="utf-8") == learner_text
    assert "New prose." in read(path).cells[0].source


def test_notebook_without_record_counts_as_edited(root: Path):
    path = root / "notebooks/01_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(path))
    assert "no record" in build.edited_reason(path)
    with pytest.raises(build.BuildError, match="refusing to overwrite"):
        build.build(root=root)


def test_select_by_prefix(root: Path):
    assert [p.stem for p in build.select(["01"], root)] == ["01_demo"]
    with pytest.raises(build.BuildError, match="should name one source"):
        build.select(["02"], root)


# Notebooks whose exercise is a whole file beside the notebook (no stubs in cells): the cell that checks it.
FILE_EXERCISES = {"12_from_a_blank_page": "my = blank_page.run(MY_FILE)"}
CHECK_CELL = re.compile(r"^(\w+) = checks\.\w+\.check_\w+\(\1\)", re.MULTILINE)
# notebooks that are experiments to run and read, with no exercise (the README's map says so)
NO_EXERCISES = {"11_sentences"}


@pytest.mark.parametrize("stem", sorted(p.stem for p in (build.ROOT / "notebooks" / "src").glob("[0-9]*.py")))
def test_every_exercise_is_a_stub_in_the_exercise_notebook_and_complete_in_the_solution(stem: str):
    """A check cell in the exercise notebook follows a stub, so "not done yet" is what a new learner sees;
    the solution notebook has no stub left (and runs in strict mode under pytest, see conftest.py).

    Read from what the source builds, not from the files on disk: a learner's filled-in notebook is
    theirs, and the test above already proves that the committed files are what the sources build."""
    exercise, solution = build.build_notebook(build.ROOT / "notebooks" / "src" / f"{stem}.py")
    if stem in FILE_EXERCISES:  # the exercise is a file of the learner's, checked by a battery cell
        for nb in (exercise, solution):
            assert any(FILE_EXERCISES[stem] in c.source for c in nb.cells if c.cell_type == "code"), stem
        return
    stub_since_last_check, n_checks = False, 0
    for cell in exercise.cells:
        if cell.cell_type != "code":
            continue
        if "# YOUR CODE HERE\n" in cell.source and "raise NotImplementedError" in cell.source:
            stub_since_last_check = True
        for name in CHECK_CELL.findall(cell.source):
            assert stub_since_last_check, f"{stem}: the check of {name} follows no stub in the exercise notebook"
            stub_since_last_check, n_checks = False, n_checks + 1
    assert n_checks > 0 or stem in NO_EXERCISES, f"{stem}: no check cells found"
    assert not any("# YOUR CODE HERE" in c.source for c in solution.cells if c.cell_type == "code"), stem


def test_a_picture_cell_serves_both_notebooks(root: Path):
    """The solution notebook lives in notebooks/solutions/: the build writes its pictures' paths ../images/."""
    source = root / "notebooks" / "src" / "01_demo.py"
    source.write_text(DEMO_SOURCE + '\n# %% [markdown]\n# <img src="images/01_demo.png" alt="x"> and '
                      '![y](images/01_demo.svg), not `notebooks/images/01_demo.pdf`\n', encoding="utf-8")
    exercise, solution = build.build_notebook(source, root)
    assert exercise.cells[-1].source == ('<img src="images/01_demo.png" alt="x"> and ![y](images/01_demo.svg), '
                                         'not `notebooks/images/01_demo.pdf`')
    assert solution.cells[-1].source == ('<img src="../images/01_demo.png" alt="x"> and '
                                         '![y](../images/01_demo.svg), not `notebooks/images/01_demo.pdf`')


def test_no_source_keeps_a_picture_cell_twice():
    """One cell per picture: a cell for each notebook, differing only in images/ vs ../images/, is said twice."""
    for source in build.sources():
        cells = re.split(r"(?m)^(?=# %%)", source.read_text(encoding="utf-8"))
        bodies = [cell.split("\n", 1)[1] for cell in cells if cell.startswith("# %% [markdown]") and "\n" in cell]
        solution_bodies = {build.solution_image_paths(body) for body in bodies} - set(bodies)  # those it changes
        assert not solution_bodies & set(bodies), source.name
