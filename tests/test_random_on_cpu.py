"""Random tensors are made on the CPU and then moved, in every notebook source and in the package.

The blueprint's rule, so that a seed gives the same inputs on every device: torch's random
generators differ between the CPU, CUDA and Apple's MPS, so `torch.randn(..., device=device)` would
give a GPU learner other numbers than the page shows. Made on the CPU and moved with `.to(device)`,
they are the same everywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py")) + sorted((ROOT / "transformer_course").rglob("*.py"))
RANDOM = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "poisson", "Generator"}
RANDOM_LIKE = {"rand_like", "randn_like", "randint_like"}  # these take the device of the tensor they copy


def random_on_device(source: str) -> list[str]:
    """Lines that make a random tensor (or a generator) on a device other than the CPU's default."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        on_device = name in RANDOM and any(k.arg == "device" for k in node.keywords)
        if on_device or name in RANDOM_LIKE:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:100]}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_random_tensors_are_made_on_the_cpu(path):
    assert random_on_device(path.read_text(encoding="utf-8")) == [], "make it on the CPU, then .to(device)"


def test_the_scan_finds_random_tensors_made_on_a_device():
    source = "x = torch.randn(2, 3, device=device)\ny = torch.rand_like(x)\nz = torch.randn(2, 3).to(device)\n"
    assert random_on_device(source) == ["line 1: torch.randn(2, 3, device=device)", "line 2: torch.rand_like(x)"]
