"""The course's own workflows, beside the learner's: the web book on GitHub Pages, and the README's
commands on Linux, macOS and Windows. Both are linted with the others (tests/test_setup.py runs
check-jsonschema and zizmor on every file in .github/workflows/); here they are held to the course:
the same Python and torch pin as the README, `python -m tools.site` published from site/, the
README's two commands on each system, the browser tests off only where there is no Chromium.
Neither has run on GitHub from here (the machine the course is tested on cannot reach it).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
README = (ROOT / "README.md").read_text(encoding="utf-8")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def torch_pin() -> str:
    return re.search(r"^torch==(\S+)", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE).group(1)


def readme_python() -> str:
    return re.search(r"tested with (?:Python )?(3\.\d+)", README).group(1)


def test_pages_builds_the_web_book_and_publishes_site():
    workflow = load("pages.yml")
    assert set(workflow["on"]) == {"push", "workflow_dispatch"} and workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    steps = build["steps"]
    runs = [step.get("run", "") for step in steps]
    assert f"python -m pip install torch=={torch_pin()} --index-url {CPU_INDEX}" in runs
    assert runs.index("python -m pip install -r requirements.txt") < runs.index("python -m tools.site")
    python = next(step for step in steps if "actions/setup-python" in step.get("uses", ""))
    assert str(python["with"]["python-version"]) == readme_python()
    upload = next(step for step in steps if "actions/upload-pages-artifact" in step.get("uses", ""))
    assert upload["with"]["path"] == "site"
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert "actions/deploy-pages" in deploy["steps"][-1]["uses"]


def readme_commands() -> tuple[str, str]:
    """The README's set-up command (without the final `jupyter lab`) and its test command."""
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    setup = re.search(r"^(python3 -m venv \.venv && \.venv/bin/pip install -r requirements\.txt)", quickstart, re.MULTILINE)
    assert setup and ".venv/bin/python -m pytest" in quickstart
    return setup.group(1), ".venv/bin/python -m pytest"


def test_course_workflow_runs_the_readme_commands_on_three_systems():
    job = load("course.yml")["jobs"]["test"]
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-latest", "macos-latest", "windows-latest"]
    assert job["strategy"]["fail-fast"] is False
    steps = {step.get("name", step.get("uses", "")): step for step in job["steps"]}
    setup, test = readme_commands()
    runs = {name: step.get("run", "") for name, step in steps.items()}
    linux = next(run for name, run in runs.items() if "step 1" in name and "Linux" in name)
    assert linux == f"{setup} --extra-index-url {CPU_INDEX}"  # the README's note for Linux without a GPU
    assert next(run for name, run in runs.items() if "step 1" in name and "macOS" in name) == setup
    windows = next(run for name, run in runs.items() if "step 1" in name and "Windows" in name)
    assert windows == r"python -m venv .venv; .venv\Scripts\pip install -r requirements.txt"
    tests = {name: step for name, step in steps.items() if "step 2" in name}
    assert len(tests) == 3
    for name, step in tests.items():
        expected = test if "Windows" not in name else r".venv\Scripts\python -m pytest"
        assert step["run"] == expected, name
        browser_off = step.get("env", {}).get("TRANSFORMER_COURSE_BROWSER") == "off"
        assert browser_off == ("Linux" not in name), f"{name}: the browser tests are off only where there is no Chromium"
        if "Linux" in name:  # there every maintainers' tool is installed: nothing may skip
            assert step["env"]["TRANSFORMER_COURSE_DEV_TOOLS"] == "required"
    python = next(step for step in job["steps"] if "actions/setup-python" in step.get("uses", ""))
    assert str(python["with"]["python-version"]) == readme_python()
