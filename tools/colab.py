"""The two cells the build puts into every notebook so that it opens and runs in Google Colab.

- At the top, a badge that opens the notebook in Colab from the course's repository.
- Before the notebook's first code cell, a cell that, only when it runs in Colab, installs the
  course and what the notebooks need that Colab does not already have; anywhere else it does nothing.

Both name the course's repository (``[project.urls] Repository`` in pyproject.toml, the one place
it is written: a fork sets its own there and rebuilds) at a fixed tag, ``v`` + the version in
pyproject.toml (``v0.1.0``), never a branch: the notebook opened in Colab and the course it
installs are the same commit, whatever is pushed later. A release therefore bumps the version,
rebuilds the notebooks and pushes the tag.

What counts as "Colab already has it": a package the notebooks import (pyproject.toml's
dependencies and its ``notebooks`` extra, less JupyterLab and ipykernel, which Colab replaces)
installed at a version pyproject.toml accepts is kept (Colab's own torch, with its GPU build, for
one); one missing or too old is installed at the version requirements.txt pins.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BADGE_PICTURE = "colab-badge.svg"  # in notebooks/images/
BADGE_ID, INSTALL_ID = "colab-badge", "colab-install"
NOT_IN_COLAB = {"jupyterlab", "ipykernel"}  # Colab is its own front end and kernel


def project(root: Path = ROOT) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def repository(root: Path = ROOT) -> tuple[str, str]:
    """(owner, name) of the course's GitHub repository, from pyproject.toml's [project.urls] Repository."""
    url = project(root)["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise ValueError(f"pyproject.toml: [project.urls] Repository = {url!r} is not https://github.com/OWNER/NAME")
    return match.group(1), match.group(2)


def tag(root: Path = ROOT) -> str:
    """The fixed git tag the notebooks point at: v + the project's version."""
    return "v" + project(root)["version"]


def colab_url(notebook: str, root: Path = ROOT) -> str:
    """Colab's address for `notebook` (a path in the repository, e.g. notebooks/00_x.ipynb) at the tag."""
    owner, name = repository(root)
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{tag(root)}/{notebook}"


def needs(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Package -> (lowest version pyproject.toml accepts, version requirements.txt pins), for what the notebooks import."""
    meta = project(root)
    wanted = [*meta["dependencies"], *meta["optional-dependencies"]["notebooks"]]
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (root / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE))
    out = {}
    for spec in wanted:
        name, lowest = re.fullmatch(r"([A-Za-z0-9_.-]+)>=(\S+)", spec).groups()
        if name not in NOT_IN_COLAB:
            out[name] = (lowest, pins[name])
    return out


def badge_source(notebook: str, picture: str, root: Path = ROOT) -> str:
    return (f'<a href="{colab_url(notebook, root)}"><img src="{picture}" alt="Open in Colab"></a>')


INSTALL_TEMPLATE = '''\
# In Colab only: install the course ({tag} of {url}) and what Colab lacks. Elsewhere this does nothing.
import sys

if "google.colab" in sys.modules:
    import importlib.metadata
    import subprocess

    from packaging.version import Version

    COURSE = "transformer-course @ git+{url}@{tag}"
    # package: (the lowest version the course accepts, the version it was tested with)
    NEEDS = {needs}

    def installed(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    have = {{name: installed(name) for name in NEEDS}}
    missing = {{name: tested for name, (lowest, tested) in NEEDS.items()
               if have[name] is None or Version(have[name]) < Version(lowest)}}
    if installed("transformer-course") == "{version}" and not missing:
        print("Colab: the course is already installed (transformer-course {version}); nothing to do.")
    else:
        pins = [f"{{name}}=={{tested}}" for name, tested in missing.items()]
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", COURSE, *pins], check=True)
        print("Colab: installed transformer-course {version} ({tag} of {url})")
        for name, tested in missing.items():
            print(f"  and {{name}} {{tested}} (Colab had {{have[name] or 'none'}}; the course needs >= {{NEEDS[name][0]}})")
        kept = [f"{{name}} {{have[name]}}" for name in NEEDS if name not in missing]
        if kept:
            print("  kept Colab's " + ", ".join(kept))
        restart = [name for name in missing if have[name] and name in sys.modules]
        if restart:
            print(f"  {{', '.join(restart)}} had been imported already: Runtime > Restart session, then run all again.")
'''


def install_source(root: Path = ROOT) -> str:
    owner, name = repository(root)
    url = f"https://github.com/{owner}/{name}"
    table = "{\n" + "".join(f"        {key!r}: {value!r},\n" for key, value in needs(root).items()) + "    }"
    return INSTALL_TEMPLATE.format(tag=tag(root), url=url, needs=table, version=project(root)["version"]).rstrip("\n")


def add_cells(nb: nbformat.NotebookNode, stem: str, kind: str, root: Path = ROOT) -> None:
    """Put the badge at the top of `nb` and the install cell before its first code cell (in place).

    Only in a project with a repository to point at: a tree without pyproject.toml (the build's
    tests build such toy notebooks) gets neither.
    """
    if not (root / "pyproject.toml").is_file():
        return
    notebook = f"notebooks/{stem}.ipynb" if kind == "exercise" else f"notebooks/solutions/{stem}.ipynb"
    picture = f"images/{BADGE_PICTURE}" if kind == "exercise" else f"../images/{BADGE_PICTURE}"
    first_code = next((k for k, cell in enumerate(nb.cells) if cell.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, nbformat.v4.new_code_cell(install_source(root), id=INSTALL_ID))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(badge_source(notebook, picture, root), id=BADGE_ID))
