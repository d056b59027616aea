"""The solution regions of the notebook sources and the package's reference: the same code, or a known difference.

Each function or class a solution cell defines under a name the package also has is compared with the
package's source as ASTs, after removing what only one side is meant to have: docstrings, type
annotations, the package's input checks (``check_*``/``_check_*`` calls, ``if ...: raise`` and
``assert`` statements), methods the notebook's class does not define (``from_torch``), and the
``tc.`` and ``parts.`` prefixes, and the package's *part arguments*: a class's keyword-only ``__init__``
arguments that default to a part it is made of (``layer_cls=EncoderLayer``, ``split_heads=split_heads``,
through which ``tc.parts.load`` passes in the learner's parts) become that part again, as the notebook writes
it (``EncoderLayer(...)``, ``split_heads(...)``; ``self.split_heads = split_heads`` goes). What is left
must be equal (for the layers in ``FEED_FORWARD_OPTIONAL``, once the package's optional feed-forward
sub-layer is made required), except for the pairs in ``DIFFERENT``, each with the reason the notebook
teaches another formulation; that list must be exact, so that a new drift, or a pair made equal, fails here.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import jupytext
import pytest

import transformer_course as tc
from transformer_course import gpt, tokenizer
from transformer_course.task import ablation, decoding, lm_training, training

ROOT = Path(__file__).resolve().parents[1]
MODULES = [tc, training, decoding, lm_training, ablation, gpt]
MODULES_OF = {"10": [tokenizer]}
"""Notebooks whose names mean something else elsewhere (10's ``train`` trains a tokenizer, not a model)."""

DIFFERENT = {
    ("01", "ResidualBlock"): "the package's update f(x) is a method of its own, which the check compares with",
    ("02", "scaled_dot_product_attention"): "the package's also takes the attention dropout (03 adds it) and, as "
                                            "torch's does, a scale in place of 1/sqrt(d_k) (08's ablation sets 1)",
    ("04", "sinusoidal_encoding"): "the notebook computes pos / 10000^(2i/d_model) as the paper writes it; the "
                                   "package uses exp(-log(10000) 2i/d_model), as most code does",
    ("05", "LayerNorm"): "the notebook uses x.var(unbiased=False); the package the faster centred form",
    ("05", "FeedForward"): "the package looks the activation up with a message for an unknown name",
    ("07", "label_smoothing_loss"): "the package's computes in float32 and survives a batch of padding only",
    ("07", "train_step"): "the package's takes the pad id as an argument and zeroes gradients to None",
    ("07", "Transformer"): "the exercise uses nn.Embedding and scales by sqrt(d_model) in encode and decode; "
                           "the package's Embedding module scales and checks the ids",
    ("07", "greedy_decode"): "the package's takes the special ids, restores the model's mode and never writes "
                             "<pad> or <bos>",
    ("07", "beam_search"): "the package's is batched (every beam of every sentence in one forward), with a "
                           "length penalty",
    ("09", "GPT"): "the package's forward also takes a KV cache, and its Embedding names its ids in errors",
    ("09", "lm_loss"): "the package's computes in float32 and survives a batch with nothing to count",
    ("09", "attend_with_cache"): "the package's passes the attention dropout",
    ("09", "forward_with_cache"): "the package makes the cache's mask with causal_mask_after",
    ("10", "train"): "the package names the tie rule (most_frequent, which its checks also use) and the 256 "
                     "byte ids (N_BYTES); the notebook writes both inline, where the learner meets them",
    ("10", "encode"): "the package puts the loop over one chunk in encode_chunk, which the checks call alone",
    ("10", "decode"): "the notebook builds the vocabulary inline (vocab() is not taught) and decodes through "
                      "the learner's from_bytes",
    ("10", "encode_with_specials"): "the package also takes an empty list of special tokens",
    ("09", "sample_next"): "the package's top-k and top-p filters are functions of their own, and it samples "
                           "in float32",
}

REFERENCE_OF = {("09", "DecoderOnlyBlock"): tc.EncoderLayer}
"""Where the package's object is another one: its decoder-only block is the encoder layer (a subclass)."""

FEED_FORWARD_OPTIONAL = {("05", "EncoderLayer"), ("06", "DecoderLayer"), ("09", "DecoderOnlyBlock")}
"""Pairs that differ in one known way only: the package's layer can leave its feed-forward sub-layer out
(``feed_forward_cls=None``, for notebook 08's ablation), which the notebook's never does. The comparison
takes that option out of the package's code (``X if feed_forward_cls else None`` becomes ``X``, and
``Y if self.feed_forward is not None else x`` becomes ``Y``) and then requires the rest to be equal."""


class _RequiredFeedForward(ast.NodeTransformer):
    """The package's optional feed-forward sub-layer, made the notebook's required one."""

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        test = ast.unparse(node.test)
        if test == "feed_forward_cls" and isinstance(node.orelse, ast.Constant) and node.orelse.value is None:
            return node.body
        if test == "self.feed_forward is not None":
            return node.body
        return node


class _Normalise(ast.NodeTransformer):
    """Remove docstrings, annotations, input checks and the ``tc.`` and ``parts.`` prefixes."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            arg.annotation = None
        node.body = [s for s in node.body if not _docstring_or_check(s)] or [ast.Pass()]
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        self.generic_visit(node)
        return ast.Assign(targets=[node.target], value=node.value or ast.Constant(None), lineno=node.lineno)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id in ("tc", "parts"):  # tc.X, a loaded part
            return ast.Name(id=node.attr, ctx=node.ctx)
        return node


def _docstring_or_check(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True  # a docstring
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        return isinstance(func, ast.Name) and func.id.lstrip("_").startswith("check_")
    if isinstance(statement, ast.Assert):
        return True
    return (isinstance(statement, ast.If) and len(statement.body) == 1 and isinstance(statement.body[0], ast.Raise)
            and not statement.orelse)


class _PartArguments(ast.NodeTransformer):
    """A class's part arguments (``layer_cls=EncoderLayer``) replaced by the part they default to."""

    def __init__(self, parts: dict[str, str]) -> None:
        self.parts = parts  # argument -> the part's name

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(id=self.parts[node.id], ctx=node.ctx) if node.id in self.parts else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in self.parts:
            return ast.Name(id=self.parts[node.attr], ctx=node.ctx)  # self.split_heads(...): split_heads(...)
        return self.generic_visit(node)


def _without_part_arguments(node: ast.ClassDef) -> None:
    """Remove the part arguments of ``node.__init__`` and the statements that keep them; use the parts by name."""
    init = next((s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
    if init is None:
        return
    parts = {arg.arg: default.id for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults)
             if isinstance(default, ast.Name)}
    kept = [(a, d) for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults) if a.arg not in parts]
    init.args.kwonlyargs, init.args.kw_defaults = [a for a, _ in kept], [d for _, d in kept]

    def keeps_a_part(statement: ast.stmt) -> bool:  # self.split_heads, self.merge_heads = split_heads, merge_heads
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            return False
        target, value = statement.targets[0], statement.value
        targets = target.elts if isinstance(target, ast.Tuple) else [target]
        values = value.elts if isinstance(value, ast.Tuple) else [value]
        return len(targets) == len(values) and all(
            isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
            and isinstance(v, ast.Name) and t.attr == v.id and v.id in parts for t, v in zip(targets, values))

    init.body = [s for s in init.body if not keeps_a_part(s)]
    _PartArguments(parts).visit(node)


def normalised(node: ast.AST, methods: set[str] | None = None) -> str:
    """The code of a def or class as compared here (``methods``: keep only these of a class)."""
    if isinstance(node, ast.ClassDef):
        node.body = [s for s in node.body if not _docstring_or_check(s)
                     and (methods is None or not isinstance(s, ast.FunctionDef) or s.name in methods)]
        _without_part_arguments(node)
    return ast.unparse(ast.fix_missing_locations(_Normalise().visit(node)))


def pairs() -> list[tuple[str, str, ast.AST, object]]:
    """(notebook number, name, the solution's definition, the package's object) for every name both define."""
    found = []
    for source in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        notebook = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
        for cell in notebook.cells:
            if cell.cell_type != "code" or "BEGIN SOLUTION" not in cell.source:
                continue
            code = "\n".join(line for line in cell.source.split("\n")
                             if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
            for node in ast.parse(code).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    modules = MODULES_OF.get(source.name[:2], MODULES)
                    reference = next((getattr(m, node.name) for m in modules if hasattr(m, node.name)), None)
                    reference = REFERENCE_OF.get((source.name[:2], node.name), reference)
                    if reference is not None:
                        found.append((source.name[:2], node.name, node, reference))
    return found


def compare(node: ast.AST, reference: object, feed_forward_required: bool = False) -> tuple[str, str]:
    methods = ({s.name for s in node.body if isinstance(s, ast.FunctionDef)}
               if isinstance(node, ast.ClassDef) else None)
    theirs = ast.parse(textwrap.dedent(inspect.getsource(reference))).body[0]
    theirs.name = node.name  # the same for a pair, but for REFERENCE_OF
    if feed_forward_required:
        theirs = _RequiredFeedForward().visit(theirs)
    return normalised(node), normalised(theirs, methods)


@pytest.mark.parametrize("notebook, name, node, reference", pairs(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_solution_is_the_reference_or_a_known_difference(notebook, name, node, reference):
    mine, theirs = compare(node, reference, feed_forward_required=(notebook, name) in FEED_FORWARD_OPTIONAL)
    if (notebook, name) in FEED_FORWARD_OPTIONAL:
        assert compare(node, reference)[1] != theirs, f"{notebook} {name}: no optional feed-forward to take out"
    if (notebook, name) in DIFFERENT:
        assert mine != theirs, f"{notebook} {name} is now the same code as the package's: remove it from DIFFERENT"
    else:
        assert mine == theirs, f"notebook {notebook}'s {name} differs from {reference.__module__}.{name}"


def test_the_known_differences_are_all_pairs():
    names = {(notebook, name) for notebook, name, _, _ in pairs()}
    assert set(DIFFERENT) <= names and FEED_FORWARD_OPTIONAL <= names
    assert len(names) >= 30  # the comparison found the solution cells
