"""A plain, non-editable install of the package imports, and declares every third-party module it imports."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "transformer_course"


def third_party_imports() -> set[str]:
    """Top-level names of every module the package imports that is neither its own nor the standard library."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("transformer_course", "__future__")}


def declared_requirements() -> set[str]:
    """Distribution names in pyproject.toml's [project] dependencies (not the extras)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[<>=!~ \[;]", req, maxsplit=1)[0].lower() for req in project["dependencies"]}


def test_every_runtime_import_is_declared():
    distributions = metadata.packages_distributions()
    declared = declared_requirements()
    missing = {}
    for module in sorted(third_party_imports()):
        dists = {d.lower() for d in distributions.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported by transformer_course but not in pyproject's dependencies: {missing}"


def test_non_editable_install_imports(tmp_path: Path):
    """pip install . (a wheel, not a link to the checkout) into a fresh venv; then import it from elsewhere.

    The dependencies come from this environment's site-packages through a plain path entry, so
    nothing is downloaded and the editable install of this checkout (a .pth hook there) is not seen.
    """
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    (Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  text=True).strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(ROOT)],
                   check=True, cwd=tmp_path, capture_output=True)
    probe = ("import transformer_course as tc, pathlib; "
             "print(pathlib.Path(tc.__file__).resolve()); "
             "print(tc.Transformer(tc.ModelConfig(vocab_size=7, d_model=8, n_heads=2, n_layers=1, d_ff=16)).config.d_k); "
             "import transformer_course.checks.attention, transformer_course.task.training")
    out = subprocess.run([python, "-I", "-c", probe], check=True, cwd=tmp_path, capture_output=True, text=True).stdout
    where, d_k = out.split()
    assert Path(where).is_relative_to(env), f"imported from {where}, not from the installed copy"
    assert d_k == "4"
