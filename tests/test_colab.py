"""The Colab badge and install cell that the build puts into every notebook (tools/colab.py).

- Every generated notebook, exercise and solution, starts with the badge, which opens that very
  notebook in Colab at the fixed tag (v + pyproject's version) of the one repository URL
  (pyproject's [project.urls] Repository), and its first code cell is the install cell.
- The install cell asks for exactly what the notebooks import, with pyproject's lowest versions and
  requirements.txt's pins.
- Outside Colab the cell does nothing: no output, no pip.
- Its Colab branch, run in a fresh virtual environment that has only JupyterLab (and tqdm new
  enough, einops too old, as Colab might have them; the course's own wheel standing in for the
  repository, `google.colab` faked), installs the course and what was missing or too old, keeps
  the rest, says so, and the course then imports; run again, it does nothing. This one installs from
  PyPI (1-2 minutes), so it runs where TRANSFORMER_COURSE_DEV_TOOLS=required (CI) or
  TRANSFORMER_COURSE_COLAB_TEST=on, and is skipped elsewhere with the reason.
Colab itself is not tried from here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from tools import build, colab

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
REQUIREMENTS = dict(re.findall(r"^([\w.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE))


def notebooks() -> list[tuple[Path, str]]:
    return [(build.target_path(src.stem, kind), kind) for src in build.sources() for kind in build.KINDS]


def install_cell(nb) -> str:
    return next(cell for cell in nb.cells if cell.cell_type == "code").source


def test_the_repository_url_is_written_once():
    url = PYPROJECT["urls"]["Repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url)
    for path in [ROOT / "README.md", *(ROOT / "tools").glob("*.py"), *(ROOT / "notebooks" / "src").glob("*.py")]:
        assert url not in path.read_text(encoding="utf-8"), f"{path.name} repeats the repository's URL"


@pytest.mark.parametrize("path,kind", notebooks(), ids=lambda x: getattr(x, "name", x))
def test_every_notebook_opens_in_colab_and_installs_the_course_there(path, kind):
    nb = nbformat.read(str(path), as_version=4)
    rel = path.relative_to(ROOT).as_posix()
    badge = nb.cells[0]
    assert badge.cell_type == "markdown" and badge.id == colab.BADGE_ID
    tag = "v" + PYPROJECT["version"]
    owner_name = PYPROJECT["urls"]["Repository"].removeprefix("https://github.com/")
    assert f'href="https://colab.research.google.com/github/{owner_name}/blob/{tag}/{rel}"' in badge.source
    picture = re.search(r'<img src="([^"]+)"', badge.source).group(1)
    assert (path.parent / picture).resolve() == ROOT / "notebooks" / "images" / colab.BADGE_PICTURE
    code = install_cell(nb)
    assert code.startswith("# In Colab only") and 'if "google.colab" in sys.modules:' in code
    assert f'"transformer-course @ git+{PYPROJECT["urls"]["Repository"]}@{tag}"' in code
    assert "@main" not in code and "@master" not in code


def test_the_install_cell_asks_for_what_the_notebooks_import_at_the_tested_versions():
    code = install_cell(build.build_notebook(build.sources()[0])[0])
    needs = eval(re.search(r"NEEDS = (\{.*?\n    \})", code, re.DOTALL).group(1))  # the literal the build wrote
    imports = [*PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"]["notebooks"]]
    expected = {}
    for spec in imports:
        name, lowest = spec.split(">=")
        if name not in ("jupyterlab", "ipykernel"):
            expected[name] = (lowest, REQUIREMENTS[name])
    assert needs == expected


def run_cell(python: str, code: str, colab_: bool, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the cell's code with `python`, with a stand-in `google.colab` module if `colab_`."""
    fake = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n" if colab_ else ""
    return subprocess.run([python, "-c", fake + code], check=False, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})


def test_outside_colab_the_install_cell_does_nothing(tmp_path):
    code = install_cell(nbformat.read(str(notebooks()[0][0]), as_version=4))
    # pip is made to fail: were the cell to call it, the run would fail.
    guard = "import subprocess\ndef no(*a, **k): raise AssertionError('pip was called')\nsubprocess.run = no\n"
    result = run_cell(sys.executable, guard + code, colab_=False)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stderr


def _colab_test_wanted() -> str | None:
    if os.environ.get("TRANSFORMER_COURSE_DEV_TOOLS", "").strip().lower() == "required":
        return None
    if os.environ.get("TRANSFORMER_COURSE_COLAB_TEST", "").strip().lower() in ("on", "1", "yes"):
        return None
    return ("installs from PyPI into a fresh virtual environment (1-2 minutes): runs in CI "
            "(TRANSFORMER_COURSE_DEV_TOOLS=required) or with TRANSFORMER_COURSE_COLAB_TEST=on")


def test_the_colab_branch_installs_the_course_in_a_venv_with_only_jupyterlab(tmp_path):
    why = _colab_test_wanted()
    if why:
        pytest.skip(why)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(wheels)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("transformer_course-*.whl")
    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    # JupyterLab, and two packages as Colab might have them: tqdm new enough (kept), einops too old (replaced).
    subprocess.run([python, "-m", "pip", "install", "-q", f"jupyterlab=={REQUIREMENTS['jupyterlab']}",
                    "tqdm==4.66.5", "einops==0.6.1"], check=True, capture_output=True, timeout=900)
    code = install_cell(nbformat.read(str(notebooks()[0][0]), as_version=4))
    repository = f"git+{PYPROJECT['urls']['Repository']}@v{PYPROJECT['version']}"
    assert repository in code
    code = code.replace(repository, wheel.as_uri())  # the wheel stands in for the repository at the tag

    first = run_cell(python, code, colab_=True)
    print(first.stdout)  # what a Colab user reads (pytest -s shows it)

    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith(f"Colab: installed transformer-course {PYPROJECT['version']}")
    for name in ("torch", "matplotlib"):  # not in a venv with only JupyterLab
        assert any(line.startswith(f"  and {name} {REQUIREMENTS[name]} (Colab had none;") for line in lines), first.stdout
    assert f"  and einops {REQUIREMENTS['einops']} (Colab had 0.6.1; the course needs >= 0.7)" in lines, first.stdout
    assert "  kept Colab's tqdm 4.66.5" in lines, first.stdout
    kept = next((line for line in lines if line.startswith("  kept Colab's ")), "")
    for name in colab.needs():  # each one either installed or kept, and said so
        assert any(line.startswith(f"  and {name} ") for line in lines) or f" {name} " in kept + " ", first.stdout
    smoke = "import transformer_course as tc, torch, einops, matplotlib, ipywidgets; print(tc.get_device())"
    imported = subprocess.run([python, "-c", smoke], check=False, capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0 and imported.stdout.startswith("cpu"), imported.stderr

    second = run_cell(python, code, colab_=True)
    assert second.returncode == 0 and "already installed" in second.stdout and "nothing to do" in second.stdout


def test_the_readme_links_every_exercise_notebook_to_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next((line for line in readme.splitlines() if "**In Colab**" in line), "")
    for src in build.sources():
        url = colab.colab_url(f"notebooks/{src.stem}.ipynb")
        assert f"[{src.stem[:2]}]({url})" in line, f"README's Colab links: add or correct [{src.stem[:2]}]({url})"
