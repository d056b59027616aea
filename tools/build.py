"""Generate the exercise and solution notebooks from their one source.

    python -m tools.build            # build every notebook
    python -m tools.build 00 03      # build some (a stem or its number prefix)
    python -m tools.build --check    # exit 1 if a committed notebook is stale
    python -m tools.build --force    # overwrite edited notebooks, after a backup

Sources are ``notebooks/src/NN_name.py`` in jupytext's percent format. Each builds
``notebooks/NN_name.ipynb`` (exercises) and ``notebooks/solutions/NN_name.ipynb``.

What a source may contain:

- Solution regions inside code cells, nbgrader-style::

      def f(x):
          ### BEGIN SOLUTION
          return x + 1
          ### END SOLUTION

  In the exercise notebook the region becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError`` at the marker's indentation; in the solution
  notebook only the two marker lines go. Regions may not nest.
- Pictures: a Markdown cell's ``images/...`` (``<img src="images/...">`` or
  ``![...](images/...)``) is written ``../images/...`` in the solution notebook,
  which lives one folder down, so one cell serves both.
- Whole cells for one notebook only: ``# %% tags=["solution_only"]`` or
  ``# %% tags=["exercise_only"]`` (also on ``# %% [markdown]`` cells). These two
  tags are removed from the output; other tags (e.g. nbval's) are kept.

Every generated notebook has no outputs, ``execution_count`` None, kernelspec
python3, cell ids derived from the stem and the cell's index in the source (a
cell keeps its id in both notebooks), and ``metadata["transformer_course"]`` =
``{"source": "notebooks/src/NN_name.py", "kind": "exercise"|"solution",
"sources_sha256": <hash of the cells' types and sources>}``. Rebuilding an
unchanged source rewrites nothing.

A learner's work is never overwritten: if a target's cell sources no longer hash
to the recorded value (or it has no record), the build refuses and exits 1.
``--force`` first copies it to ``notebooks/backup/<stem>.<timestamp>.ipynb``
(``<stem>.solution.<timestamp>.ipynb`` for a solution). A notebook that was only
run (outputs added, sources unchanged) is not edited and is simply regenerated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import jupytext
import nbformat
from nbformat import NotebookNode

from tools import colab

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("exercise", "solution")
META_KEY = "transformer_course"
ONLY_TAG = {"exercise": "solution_only", "solution": "exercise_only"}  # the tag that drops a cell
KEPT_CELL_METADATA = ("tags", "jupyter", "editable", "deletable", "collapsed", "scrolled", "slideshow")
BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$", re.MULTILINE)
END = re.compile(r"^\s*#+\s*END SOLUTION\s*$", re.MULTILINE)
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class BuildError(Exception):
    """A source is malformed, or a target holds a learner's edits."""


# --- paths -------------------------------------------------------------------


def src_dir(root: Path = ROOT) -> Path:
    """Where the notebook sources live."""
    return root / "notebooks" / "src"


def target_path(stem: str, kind: str, root: Path = ROOT) -> Path:
    """notebooks/<stem>.ipynb for an exercise, notebooks/solutions/<stem>.ipynb for a solution."""
    notebooks = root / "notebooks"
    return notebooks / f"{stem}.ipynb" if kind == "exercise" else notebooks / "solutions" / f"{stem}.ipynb"


def backup_path(stem: str, kind: str, root: Path = ROOT) -> Path:
    """A fresh notebooks/backup/<stem>[.solution].<timestamp>.ipynb path."""
    base = f"{stem}.solution" if kind == "solution" else stem
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = root / "notebooks" / "backup" / f"{base}.{stamp}.ipynb", 1
    while path.exists():
        path, n = path.with_name(f"{base}.{stamp}-{n}.ipynb"), n + 1
    return path


def sources(root: Path = ROOT) -> list[Path]:
    """Every notebook source, in order."""
    return sorted(src_dir(root).glob("[0-9]*.py"))


# --- building ----------------------------------------------------------------


def render_code(code: str, kind: str, where: str = "") -> str:
    """Replace (exercise) or unwrap (solution) the solution regions in one code cell."""
    out: list[str] = []
    inside = False
    for n, line in enumerate(code.split("\n"), 1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise BuildError(f"{where} line {n}: BEGIN SOLUTION inside another solution region")
            inside = True
            if kind == "exercise":
                out += [f"{begin.group(1)}# YOUR CODE HERE", f"{begin.group(1)}raise NotImplementedError"]
        elif END.match(line):
            if not inside:
                raise BuildError(f"{where} line {n}: END SOLUTION without a BEGIN SOLUTION")
            inside = False
        elif not inside or kind == "solution":
            out.append(line)
    if inside:
        raise BuildError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out)


IMAGE_PATH = re.compile(r'(src="|\]\()images/')


def solution_image_paths(markdown: str) -> str:
    """``images/x.png`` -> ``../images/x.png``: the solution notebooks are in notebooks/solutions/."""
    return IMAGE_PATH.sub(r"\1../images/", markdown)


def sources_hash(nb: NotebookNode) -> str:
    """sha256 of the notebook's cell types and sources: what a learner's edit changes."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def cell_id(stem: str, index: int) -> str:
    """A stable cell id from the notebook stem and the cell's index in the source."""
    return hashlib.sha1(f"{stem}:{index}".encode()).hexdigest()[:12]


def _build(src_path: Path, kind: str, source_nb: NotebookNode, rel_source: str, root: Path = ROOT) -> NotebookNode:
    stem = src_path.stem
    nb = nbformat.v4.new_notebook()
    for index, cell in enumerate(source_nb.cells):
        tags = list(cell.metadata.get("tags", []))
        if ONLY_TAG[kind] in tags:
            continue
        metadata = {key: cell.metadata[key] for key in KEPT_CELL_METADATA if key in cell.metadata}
        tags = [tag for tag in tags if tag not in ONLY_TAG.values()]
        metadata.pop("tags", None)
        if tags:
            metadata["tags"] = tags
        where = f"{rel_source} (cell {index})"
        text = cell.source
        if cell.cell_type == "code":
            text = render_code(text, kind, where)
            new = nbformat.v4.new_code_cell(text, id=cell_id(stem, index), metadata=metadata)
        elif BEGIN.search(text) or END.search(text):
            raise BuildError(f"{where}: solution markers are only allowed in code cells")
        elif cell.cell_type == "markdown":
            text = solution_image_paths(text) if kind == "solution" else text
            new = nbformat.v4.new_markdown_cell(text, id=cell_id(stem, index), metadata=metadata)
        else:
            new = nbformat.v4.new_raw_cell(text, id=cell_id(stem, index), metadata=metadata)
        nb.cells.append(new)
    colab.add_cells(nb, stem, kind, root)  # the Colab badge on top, the Colab-only install cell (tools/colab.py)
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        META_KEY: {"source": rel_source, "kind": kind, "sources_sha256": sources_hash(nb)},
    }
    nbformat.validate(nb)
    return nb


def build_notebook(src_path: Path | str, root: Path = ROOT) -> tuple[NotebookNode, NotebookNode]:
    """Build (exercise notebook, solution notebook) from one percent-format source, in memory."""
    src_path = Path(src_path)
    try:
        rel_source = src_path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        rel_source = src_path.as_posix()
    source_nb = jupytext.reads(src_path.read_text(encoding="utf-8"), fmt="py:percent")
    exercise_nb, solution_nb = (_build(src_path, kind, source_nb, rel_source, root) for kind in KINDS)
    return exercise_nb, solution_nb


def to_text(nb: NotebookNode) -> str:
    """The notebook as Jupyter writes it (sorted keys, indent 1), ending in a newline."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


# --- writing, never over a learner's work -------------------------------------


def edited_reason(path: Path) -> str | None:
    """Why the notebook at `path` counts as edited by a learner, or None if it does not."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # unreadable: treat as precious
        return f"it cannot be read as a notebook ({err})"
    record = nb.metadata.get(META_KEY, {})
    if "sources_sha256" not in record:
        return "it carries no record of having been generated"
    if sources_hash(nb) != record["sources_sha256"]:
        return "its cells were edited since it was generated"
    return None


def write_notebook(path: Path, nb: NotebookNode, kind: str, force: bool = False, root: Path = ROOT) -> str:
    """Write `nb` to `path` unless a learner edited it; return what happened, in words."""
    text = to_text(nb)
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return f"unchanged  {rel}"
        reason = edited_reason(path)
        if reason and not force:
            raise BuildError(
                f"refusing to overwrite {rel}: {reason}.\n"
                f"  Your work is kept. To regenerate it anyway, run\n"
                f"  python -m tools.build --force {path.stem}\n"
                f"  which first copies your notebook to notebooks/backup/."
            )
        if reason:
            backup = backup_path(path.stem, kind, root)
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, backup)
            path.write_text(text, encoding="utf-8", newline="\n")
            return f"overwrote  {rel} (your version is saved as {backup.relative_to(root)})"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return f"wrote      {rel}"


def select(stems: Sequence[str], root: Path = ROOT) -> list[Path]:
    """The sources named by `stems` (a full stem like 00_how_this_course_works, or its prefix like 00)."""
    all_sources = sources(root)
    if not stems:
        return all_sources
    chosen = []
    for stem in stems:
        stem = Path(stem).stem
        matches = [p for p in all_sources if p.stem == stem] or [p for p in all_sources if p.stem.startswith(stem)]
        if len(matches) != 1:
            names = ", ".join(p.stem for p in matches) or "none"
            raise BuildError(f"{stem!r} should name one source in {src_dir(root)}; it matches {names}")
        chosen += matches
    return chosen


def build(stems: Sequence[str] = (), force: bool = False, root: Path = ROOT) -> list[str]:
    """Build and write the chosen notebooks; return one line per file. Raises BuildError listing refusals."""
    lines, refusals = [], []
    for src_path in select(stems, root):
        for kind, nb in zip(KINDS, build_notebook(src_path, root)):
            try:
                lines.append(write_notebook(target_path(src_path.stem, kind, root), nb, kind, force, root))
            except BuildError as err:
                refusals.append(str(err))
    if refusals:
        raise BuildError("\n".join(lines + refusals))
    return lines


def out_of_sync(src_path: Path, kind: str, nb: NotebookNode, root: Path = ROOT) -> str | None:
    """What is wrong with the `kind` notebook of `src_path` on disk, given what the source builds (`nb`)."""
    path = target_path(src_path.stem, kind, root)
    rel = path.relative_to(root)
    if not path.exists():
        return f"missing      {rel} (run python -m tools.build)"
    if path.read_text(encoding="utf-8") != to_text(nb):
        edited = edited_reason(path)
        why = f"; {edited}: a learner's work, which the build never overwrites" if edited else ""
        return f"out of date  {rel} (differs from what {src_path.relative_to(root)} builds{why})"
    return None


def orphans(root: Path = ROOT) -> list[Path]:
    """Notebooks in notebooks/ or notebooks/solutions/ that no source builds."""
    known = {p.stem for p in sources(root)}
    notebooks = root / "notebooks"
    found = sorted([*notebooks.glob("*.ipynb"), *(notebooks / "solutions").glob("*.ipynb")])
    return [path for path in found if path.stem not in known]


def check(stems: Sequence[str] = (), root: Path = ROOT) -> list[str]:
    """Every problem with the notebooks on disk: stale, missing, or without a source. Empty if in sync."""
    problems = []
    for src_path in select(stems, root):
        for kind, nb in zip(KINDS, build_notebook(src_path, root)):
            problem = out_of_sync(src_path, kind, nb, root)
            if problem:
                problems.append(problem)
    if not stems:
        for path in orphans(root):
            problems.append(f"no source    {path.relative_to(root)} (expected notebooks/src/{path.stem}.py)")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.build",
        description="Generate exercise and solution notebooks from notebooks/src/*.py.",
    )
    parser.add_argument("stems", nargs="*", help="sources to build, e.g. 00 or 00_how_this_course_works (default: all)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    parser.add_argument("--force", action="store_true", help="overwrite edited notebooks after backing them up")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.check:
            problems = check(args.stems, root)
            for line in problems:
                print(line)
            if problems:
                print(f"{len(problems)} notebook(s) out of sync with notebooks/src; "
                      "run python -m tools.build", file=sys.stderr)
                return 1
            print("all notebooks match their sources")
            return 0
        for line in build(args.stems, args.force, root):
            print(line)
        return 0
    except BuildError as err:
        print(err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
