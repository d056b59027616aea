"""A plain, non-editable install of the package imports, and declares every third-party module it imports."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "transformer_course"


def third_party_imports() -> tuple[set[str], set[str]]:
    """Top-level names of the third-party modules the package imports: (at module level, inside functions).

    Module-level imports run on `import transformer_course`; an import inside a function runs only
    when that function is called (e.g. matplotlib, to draw the whiteboard in a notebook).
    """
    eager, lazy = set(), set()

    def names(node) -> set[str]:
        if isinstance(node, ast.Import):
            return {alias.name.split(".")[0] for alias in node.names}
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            return {node.module.split(".")[0]}
        return set()

    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(f)}
        for node in ast.walk(tree):
            (lazy if id(node) in in_functions else eager).update(names(node))
    own = set(sys.stdlib_module_names) | {"transformer_course", "__future__"}
    return eager - own, lazy - own - eager


def declared_requirements(extra: str | None = None) -> set[str]:
    """Distribution names in pyproject.toml's [project] dependencies, or in one of its extras."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return {re.split(r"[<>=!~ \[;]", req, maxsplit=1)[0].lower() for req in reqs}


def test_every_runtime_import_is_declared():
    """What `import transformer_course` imports is a dependency; what a function imports later is at least an extra."""
    distributions = metadata.packages_distributions()
    eager, lazy = third_party_imports()
    for modules, declared, where in [(eager, declared_requirements(), "dependencies"),
                                     (lazy, declared_requirements() | declared_requirements("notebooks"),
                                      "dependencies or the 'notebooks' extra")]:
        missing = {m: sorted(dists) for m in sorted(modules)
                   if not (dists := {d.lower() for d in distributions.get(m, [m])}) & declared}
        assert not missing, f"imported by transformer_course but not in pyproject's {where}: {missing}"


def test_non_editable_install_imports(tmp_path: Path):
    """pip install . (a wheel, not a link to the checkout) into a fresh venv; then import it from elsewhere.

    The dependencies come from this environment's site-packages through a plain path entry, so
    nothing is downloaded and the editable install of this checkout (a .pth hook there) is not seen.
    """
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "Scripts" / "python.exe" if os.name == "nt" else env / "bin" / "python"
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
