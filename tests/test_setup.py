"""What the README's set-up promises, checked where it can be checked here.

- The learner's CI workflow (.github/workflows/) is valid for GitHub Actions (check-jsonschema's
  copy of the schema GitHub's workflows follow) and has no finding from zizmor, a linter for
  workflows (both from requirements-dev.txt; skipped without them unless CI requires them); the
  linters reject a broken workflow, so passing means something; and the workflow is in step
  with the course: the same torch pin, the same Python, the README's test command in strict mode
  on exactly the exercise notebooks.
- environment.yml parses, names the Python the README was tested with, and takes every version
  from requirements.txt. (Creating the conda environment is not tried here: no conda.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools import command

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
LEARNER_WORKFLOW = WORKFLOWS / "exercises.yml"
README = (ROOT / "README.md").read_text(encoding="utf-8")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def requirement_pin(name: str) -> str:
    """The exact version requirements.txt pins for `name`."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    return re.search(rf"^{name}==(\S+)", text, flags=re.M).group(1)


def readme_python() -> str:
    """The Python version the README says the course is tested with."""
    return re.search(r"tested with (?:Python )?(3\.\d+)", README).group(1)


def lint(tool: str, *paths: Path) -> subprocess.CompletedProcess:
    args = {"check-jsonschema": ["--builtin-schema", "vendor.github-workflows"],
            "zizmor": ["--offline", "--persona", "pedantic", "--no-progress"]}[tool]
    return subprocess.run([command(tool), *args, *map(str, paths)], capture_output=True, text=True, timeout=120)


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


@pytest.mark.parametrize("tool", ["check-jsonschema", "zizmor"])
def test_workflows_lint_clean(tool):
    assert workflow_files(), "no workflow in .github/workflows/"
    result = lint(tool, *workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr


BROKEN_SCHEMA = """\
name: broken
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    step:
      - run: echo the key is 'steps', so GitHub would reject this file
"""
UNSAFE = """\
name: unsafe
on: pull_request_target
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def test_linters_reject_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_SCHEMA, encoding="utf-8")
    result = lint("check-jsonschema", broken)
    assert result.returncode != 0 and "steps" in result.stdout + result.stderr, result.stdout
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text(UNSAFE, encoding="utf-8")
    result = lint("zizmor", unsafe)
    assert result.returncode != 0, result.stdout
    for finding in ("unpinned-uses", "template-injection", "excessive-permissions"):
        assert finding in result.stdout, f"zizmor did not report {finding}:\n{result.stdout}"


def learner_workflow() -> dict:
    workflow = yaml.safe_load(LEARNER_WORKFLOW.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def steps() -> list[dict]:
    (job,) = learner_workflow()["jobs"].values()
    return job["steps"]


def test_learner_workflow_runs_on_push_pull_request_and_by_hand():
    assert set(learner_workflow()["on"]) == {"push", "pull_request", "workflow_dispatch"}


def test_learner_workflow_installs_the_pinned_cpu_torch_and_the_requirements():
    runs = [step.get("run", "") for step in steps()]
    torch_step = next(run for run in runs if "torch" in run)
    assert f"torch=={requirement_pin('torch')}" in torch_step
    assert f"--index-url {CPU_INDEX}" in torch_step
    assert runs.index(torch_step) < runs.index("python -m pip install -r requirements.txt")


def test_learner_workflow_uses_the_readme_python_with_a_pip_cache():
    setup = next(step for step in steps() if "actions/setup-python" in step.get("uses", ""))
    assert str(setup["with"]["python-version"]) == readme_python()
    assert setup["with"]["cache"] == "pip"


def test_learner_workflow_runs_the_readme_test_command_in_strict_mode_on_the_exercise_notebooks():
    test_step = steps()[-1]
    assert test_step["env"] == {"TRANSFORMER_COURSE_STRICT": "1"}
    assert test_step["run"] == "python -m pytest notebooks/[0-9][0-9]_*.ipynb"
    assert ".venv/bin/python -m pytest" in README  # the README's test command, here with the runner's Python
    matched = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    exercise_notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert matched == exercise_notebooks and matched, "the glob must match every exercise notebook"


def test_readme_tells_how_to_turn_the_workflow_on_and_what_red_means():
    section = README.split("## Your own CI", 1)[1].split("\n## ", 1)[0]
    assert ".github/workflows/exercises.yml" in section
    assert "Actions" in section and "EXERCISES_CI" in section
    assert "not done or not right" in section


def test_environment_yml_names_the_readme_python_and_delegates_to_requirements():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert environment["name"] == "transformer-course"
    dependencies = environment["dependencies"]
    assert f"python={readme_python()}" in dependencies
    pip_entries = [d["pip"] for d in dependencies if isinstance(d, dict)]
    assert pip_entries == [["-r requirements.txt"]], "versions live in requirements.txt alone"
    assert "pip" in dependencies
    assert set(d for d in dependencies if isinstance(d, str)) == {f"python={readme_python()}", "pip"}


def test_readme_set_up_names_the_cpu_index_and_allow_root():
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert f"--extra-index-url {CPU_INDEX}" in quickstart
    assert "--allow-root" in quickstart
    assert f"torch=={requirement_pin('torch')}" in quickstart
