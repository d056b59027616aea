"""Your parts travel: a part whose check passed is saved, and later notebooks build on it.

Each notebook runs in its own kernel, so what you write in notebook 03 is gone in
notebook 05. To carry it over, every check of a *travelling* exercise (the model's
parts, listed in :data:`PARTS`) reports its result here:

- passed: your code (the ``def`` or ``class``, as you wrote it in the cell) is
  saved as ``my_parts/<Name>.py`` next to the notebook;
- wrong or not done: that file is removed, so no later notebook uses a part that
  does not pass. (Your cell still holds your code; the file is only a copy.)

:func:`load` gives later notebooks one attribute per part: yours where it is
saved and passes its check again, the reference otherwise, and prints which is
which. Your code runs in a namespace that has the usual imports and the earlier
parts (yours where they passed), so your EncoderLayer uses your MultiHeadAttention.
A reference part is built on your earlier parts too: they are passed in as its keyword-only
part arguments (the reference ``Encoder(..., layer_cls=...)`` is made of your EncoderLayers).

Reset: delete ``my_parts/``. ``$TRANSFORMER_COURSE_PARTS_DIR`` replaces the folder
(tests use it); outside Jupyter nothing is saved unless it is set.
"""

from __future__ import annotations

import __future__
import ast
import builtins
import contextlib
import contextvars
import inspect
import io
import json
import linecache
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .checks import _core

PARTS_DIR_ENV_VAR = "TRANSFORMER_COURSE_PARTS_DIR"
_RESULTS_FILE = ".results.json"  # the last outcome of each part's check: tells "not done" from "not run yet"


@dataclass(frozen=True)
class TravellingPart:
    """A part that travels between notebooks: its name (the exercise's and the reference's), its notebook.

    ``check`` is the check in ``transformer_course.checks`` ("topic.function"); None for a
    part that is not an exercise but is built on ones that are (the stacks, the sinusoidal module).
    ``exercise`` is the name its check reports when it differs from ``name`` (notebook 10's ``train``
    travels as ``bpe_train``, so that it is never taken for another ``train``), and ``reference`` the
    package's version ("module.attribute") when it is not ``transformer_course.<name>``.
    """

    name: str
    notebook: str
    check: str | None = None
    exercise: str | None = None
    reference: str | None = None


PARTS: dict[str, TravellingPart] = {part.name: part for part in [
    TravellingPart("split_heads", "03_multi_head_attention", "multihead.check_split_heads"),
    TravellingPart("merge_heads", "03_multi_head_attention", "multihead.check_merge_heads"),
    TravellingPart("MultiHeadAttention", "03_multi_head_attention", "multihead.check_multi_head_attention"),
    TravellingPart("sinusoidal_encoding", "04_positional_encoding", "positional.check_sinusoidal_encoding"),
    TravellingPart("SinusoidalPositionalEncoding", "04_positional_encoding"),
    TravellingPart("LearnedPositionalEmbedding", "04_positional_encoding",
                   "positional.check_learned_positional_embedding"),
    TravellingPart("LayerNorm", "05_transformer_block", "block.check_layer_norm"),
    TravellingPart("FeedForward", "05_transformer_block", "block.check_feed_forward"),
    TravellingPart("SublayerConnection", "05_transformer_block", "block.check_sublayer_connection"),
    TravellingPart("EncoderLayer", "05_transformer_block", "block.check_encoder_layer"),
    TravellingPart("DecoderLayer", "06_encoder_decoder", "encoder_decoder.check_decoder_layer"),
    TravellingPart("Encoder", "06_encoder_decoder"),
    TravellingPart("Decoder", "06_encoder_decoder"),
    TravellingPart("Transformer", "07_training_a_translator", "model.check_transformer"),
    # notebook 10's tokenizer: the functions a BPETokenizer is made of (train_fn, encode_fn, decode_fn)
    TravellingPart("bpe_train", "10_tokens", "tokens.check_train", "train", "transformer_course.tokenizer.train"),
    TravellingPart("bpe_encode_with_specials", "10_tokens", "tokens.check_encode_with_specials",
                   "encode_with_specials", "transformer_course.tokenizer.encode_with_specials"),
    TravellingPart("bpe_decode", "10_tokens", "tokens.check_decode", "decode", "transformer_course.tokenizer.decode"),
]}
"""Every part that travels, in the order the course teaches them: a part may use only earlier ones."""

TOKENIZER_PARTS = ("bpe_train", "bpe_encode_with_specials", "bpe_decode")
"""Notebook 10's functions that make a tokenizer: ``BPETokenizer.trained(..., train_fn=, encode_fn=, decode_fn=)``."""

MODEL_PARTS = tuple(name for name in PARTS if name not in TOKENIZER_PARTS)
"""The model's parts: ``load(*MODEL_PARTS)`` is everything notebook 07's translator is made of."""

_BY_EXERCISE = {(part.exercise or part.name): part.name for part in PARTS.values() if part.check is not None}
"""The name a check reports -> the part it saves."""


def reference_of(name: str) -> Any:
    """The package's version of the part ``name``: ``transformer_course.<name>``, or its ``reference``."""
    import importlib

    import transformer_course as tc
    where = PARTS[name].reference
    if where is None:
        return getattr(tc, name)
    module, attribute = where.rsplit(".", 1)
    return getattr(importlib.import_module(module), attribute)


def _preamble() -> dict[str, Any]:
    """The names a saved part may use without importing them: what every notebook's setup imports."""
    import math

    import torch
    import torch.nn.functional as F
    from einops import einsum, rearrange
    from torch import nn

    import transformer_course as tc
    return {"math": math, "torch": torch, "nn": nn, "F": F, "rearrange": rearrange, "einsum": einsum, "tc": tc}


PREAMBLE_NAMES = "torch, nn, F, math, rearrange, einsum, tc"


# --- where the parts live ----------------------------------------------------------------------


def parts_dir() -> Path:
    """``$TRANSFORMER_COURSE_PARTS_DIR``, or ``my_parts/`` in the folder the notebook runs in."""
    configured = os.environ.get(PARTS_DIR_ENV_VAR, "").strip()
    return Path(configured) if configured else Path.cwd() / "my_parts"


def _saving_enabled() -> bool:
    """Save only from a notebook (IPython), or where a folder is set: a plain script or test saves nothing."""
    if os.environ.get(PARTS_DIR_ENV_VAR, "").strip():
        return True
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def part_file(name: str) -> Path:
    """my_parts/<name>.py for a part in :data:`PARTS` (no other name ever becomes a path)."""
    if name not in PARTS:
        raise KeyError(f"{name!r} is not a part that travels; the parts are: {', '.join(PARTS)}")
    return parts_dir() / f"{name}.py"


def _read_results() -> dict[str, str]:
    try:
        return json.loads((parts_dir() / _RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_results(name: str, outcome: str) -> None:
    results = _read_results()
    results[name] = outcome
    _atomic_write(parts_dir() / _RESULTS_FILE, json.dumps(results, indent=1, sort_keys=True) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- saving: the source of a def or class, as the learner wrote it --------------------------------


def _code_objects(obj: Any) -> list[types.CodeType]:
    """The code objects that tell where ``obj`` was written: its own, or its methods' for a class."""
    if callable(obj) and not inspect.isclass(obj):
        obj = inspect.unwrap(obj)  # a decorated function (functools.wraps) keeps the original in __wrapped__
    if inspect.isfunction(obj):
        return [obj.__code__]
    if inspect.isclass(obj):
        codes = []
        for value in vars(obj).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                value = value.fget
            if inspect.isfunction(value):
                codes.append(value.__code__)
        return codes
    return []


def source_of(obj: Any) -> str:
    """The text of the ``def``/``class`` that made ``obj`` (decorators included), from its file or notebook cell.

    A notebook cell's text is in ``linecache`` (IPython puts it there), so this works for
    code written in Jupyter as well as in a module. Raises ValueError when it cannot be found.
    """
    name = getattr(obj, "__name__", None)
    codes = _code_objects(obj)
    if not name or not codes:
        raise ValueError(f"{obj!r} is not a function or a class with methods")
    for code in codes:
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        text = "".join(lines)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != name:
                continue
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first <= code.co_firstlineno <= node.end_lineno:
                indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
                body = [line[indent:] if line[:indent].isspace() else line for line in lines[first - 1:node.end_lineno]]
                return "".join(body).rstrip() + "\n"
    raise ValueError(f"the source of {name} was not found (where was it defined?)")


def _is_package_code(obj: Any) -> bool:
    """True for the course's own reference code, which is not the learner's."""
    module = getattr(obj, "__module__", "") or ""
    return module == "transformer_course" or module.startswith("transformer_course.")


def _header(part: TravellingPart) -> str:
    return (
        f"# Your {part.name}, from notebook {part.notebook}: saved when its check passed.\n"
        f"# Generated: edit the notebook, not this file. It is written again each time the check\n"
        f"# passes and removed when the check fails or finds a stub. Later notebooks load it with\n"
        f"# tc.parts.load(\"{part.name}\"), where {PREAMBLE_NAMES} and the earlier parts\n"
        f"# are already defined. Delete this file to use the reference instead (delete my_parts/ to reset all).\n\n"
    )


def _globals_of(obj: Any) -> dict[str, Any]:
    """The namespace ``obj`` was defined in (a notebook's, a module's): where its free names are looked up."""
    if inspect.isclass(obj):
        for value in vars(obj).values():
            value = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            value = value.fget if isinstance(value, property) else value
            if inspect.isfunction(value):
                return value.__globals__
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        return vars(module) if module is not None else {}
    return getattr(inspect.unwrap(obj), "__globals__", {})


def _free_names(source: str) -> list[str]:
    """The names ``source`` reads but never binds, in the order they first appear."""
    tree = ast.parse(source)
    bound: set[str] = set()
    read: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read.append(node.id) if isinstance(node.ctx, ast.Load) else bound.add(node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return list(dict.fromkeys(n for n in read if n not in bound))


_CONSTANTS = (type(None), bool, int, float, complex, str, bytes)


def _is_constant(value: Any) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return all(_is_constant(v) for v in value)
    return isinstance(value, _CONSTANTS)


def _importable_as(value: Any) -> str | None:
    """``from module import name`` for a library's function or class, if that import gives ``value`` back."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if not module or module == "__main__" or module.startswith("<") or "." in qualname or "<" in qualname:
        return None
    try:
        found = getattr(__import__("importlib").import_module(module), qualname, None)
    except Exception:
        return None
    return f"from {module} import {qualname}" if found is value else None


def _needed(part: str, obj: Any, source: str, seen: set[str]) -> list[str]:
    """What ``source`` (the part ``part``, or a helper of it) needs from the cell, as lines of Python to save first.

    Each free name that is not one of the notebooks' usual imports, a travelling part (loaded
    before it) or a builtin is resolved now, in the namespace ``obj`` was defined in: a module
    becomes an import, a library's function or class an import from its module, a plain constant
    an assignment, and a function or class of the learner's (a helper in the cell) its own source,
    with what *it* needs. Anything else cannot be written down: ValueError, naming it.
    """
    namespace, preamble, blocks = _globals_of(obj), _preamble(), []
    for free in _free_names(source):
        if free in seen or free in PARTS or hasattr(builtins, free):
            continue
        if free not in namespace:
            continue  # never defined: the line using it never ran (the check passed), so leave it
        value = namespace[free]
        if free in preamble and value is preamble[free]:
            continue
        seen.add(free)
        if inspect.ismodule(value):
            blocks.append(f"import {value.__name__}" + ("" if value.__name__ == free else f" as {free}") + "\n")
        elif _is_constant(value):
            blocks.append(f"{free} = {value!r}\n")
        elif (line := _importable_as(value)) is not None:
            blocks.append(line + ("" if value.__qualname__ == free else f" as {free}") + "\n")
        elif (inspect.isfunction(value) or inspect.isclass(value)) and not _is_package_code(value):
            try:
                helper = source_of(value)
            except ValueError:
                helper = None
            if helper is None:
                raise ValueError(f"{part} uses `{free}`, whose source cannot be found; move `{free}` inside "
                                 f"{part} (define it in its body) so that later notebooks can use your {part}")
            seen.add(value.__name__)
            blocks.extend(_needed(part, value, helper, seen))
            blocks.append("\n\n" + helper + ("" if value.__name__ == free else f"{free} = {value.__name__}\n"))
        else:
            raise ValueError(f"{part} uses `{free}` ({type(value).__name__}), which is defined outside it; "
                             f"move `{free}` inside {part} (define it in its body) so that later notebooks "
                             f"can use your {part}")
    return blocks


def save(name: str, obj: Any) -> Path:
    """Write ``obj``'s source as ``my_parts/<name>.py`` with a header; returns the path.

    What the definition uses from its cell (helpers, imports, constants) is saved with it, resolved
    now; what cannot be written down raises ValueError, naming the helper to move inside.
    """
    part = PARTS[name]
    source = source_of(obj)
    needed = "".join(_needed(name, obj, source, {obj.__name__}))
    text = _header(part) + (needed.strip("\n") + "\n\n\n" if needed else "") + source
    if obj.__name__ != name:  # e.g. `class MyLayerNorm` checked as LayerNorm: later notebooks look for the name
        text += f"\n\n{name} = {obj.__name__}\n"
    compile(text, str(part_file(name)), "exec", dont_inherit=True)  # never save what cannot be read back
    path = part_file(name)
    _atomic_write(path, text)
    return path


def remove(name: str) -> bool:
    """Delete ``my_parts/<name>.py`` if it is there; True when a file was removed."""
    path = part_file(name)
    if path.exists():
        path.unlink()
        return True
    return False


_not_saving = contextvars.ContextVar("not_saving", default=False)


@contextlib.contextmanager
def not_saving():
    """Inside: checks save and remove nothing (load() re-runs checks; those results are not the learner's new ones)."""
    token = _not_saving.set(True)
    try:
        yield
    finally:
        _not_saving.reset(token)


def _on_check_result(exercise: str, learner: Any, outcome: str) -> None:
    """The hook in ``checks._core.RESULT_HOOKS``: save a travelling part that passed, remove one that did not."""
    name = _BY_EXERCISE.get(exercise)
    if _not_saving.get() or name is None or not _saving_enabled():
        return
    try:
        shown = f"{parts_dir().name}/{name}.py"
        if outcome == "correct" and not _is_package_code(learner):
            save(name, learner)
            _write_results(name, outcome)
            print(f"  (saved as {shown}: later notebooks build on your {exercise})")
            return
        removed = remove(name)
        _write_results(name, "reference" if outcome == "correct" else outcome)
        if removed:
            print(f"  (removed {shown}: later notebooks use the reference {exercise} until this check passes)")
    except Exception as err:  # saving must never break a check
        with contextlib.suppress(Exception):
            remove(name)  # an older copy must not stand in for the code that was just checked
        print(f"  (your {exercise} could not be saved for later notebooks, which will use the reference: "
              f"{type(err).__name__}: {err})")


if not any(getattr(hook, "__module__", None) == __name__ for hook in _core.RESULT_HOOKS):  # once, also on reload
    _core.RESULT_HOOKS.append(_on_check_result)


# --- loading -----------------------------------------------------------------------------------


@dataclass
class Loaded:
    """What :func:`load` found for one part: the object, whose it is, and what it is made of."""

    part: TravellingPart
    obj: Any
    yours: bool
    deps: tuple = ()        # the earlier parts its code uses
    why: str = ""           # for a reference: why yours is not used
    built_on: tuple = ()    # for a reference: which of your parts it is built on

    def describe(self) -> str:
        """"yours", or "reference (why)", and the parts of yours a reference is built on."""
        if self.yours:
            return "yours"
        text = "reference" + (f" ({self.why})" if self.why else " (no exercise)")
        return text + (f", built on your {', '.join(self.built_on)}" if self.built_on else "")


def _deps(name: str, source: str) -> tuple[str, ...]:
    """The earlier parts that ``source`` mentions by name."""
    used = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    order = list(PARTS)
    return tuple(n for n in order[:order.index(name)] if n in used)


def _exec(source: str, filename: str, namespace: dict, name: str) -> Any:
    """Run the learner's saved ``source`` in ``namespace`` (annotations unevaluated, as in the package); its ``name``."""
    code = compile(source, filename, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True)
    exec(code, namespace)
    if name not in namespace:
        raise NameError(f"it does not define {name}")
    return namespace[name]


def check_function(name: str) -> Callable[[Any], Any]:
    """The check of the exercise ``name``, e.g. ``checks.block.check_layer_norm`` for "LayerNorm"."""
    from . import checks
    topic, function = PARTS[name].check.split(".")
    return getattr(getattr(checks, topic), function)


@contextlib.contextmanager
def _quietly():
    """Run a check with no output, no saving, and strict mode off (a stub is a failure here, not an error)."""
    saved = os.environ.pop(_core.STRICT_ENV_VAR, None)
    try:
        with not_saving(), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if saved is not None:
            os.environ[_core.STRICT_ENV_VAR] = saved


def _recheck(name: str, obj: Any) -> str | None:
    """Run the part's check again; None if it passes, else what went wrong."""
    try:
        with _quietly():
            returned = check_function(name)(obj)
    except _core.CheckFailed as failure:
        return f"failed its check again: {failure}"
    except Exception as err:
        return f"failed its check again: {type(err).__name__}: {err}"
    return None if returned is obj else "failed its check again: not done"


def _learners(name: str, resolved: dict[str, Loaded]) -> tuple[Loaded | None, str]:
    """The learner's saved part, run and checked again; or (None, why it cannot be used)."""
    part, path = PARTS[name], part_file(name)
    if not path.exists():
        outcome = _read_results().get(name)
        return None, {"not done": "not done", "wrong": "its check failed",
                      "reference": "the check ran on the reference",
                      "correct": "its saved file was deleted"}.get(outcome, "not run yet")
    try:
        source = path.read_text(encoding="utf-8")
        deps = _deps(name, source)
        namespace = {"__name__": f"my_parts.{name}", **_preamble()}
        namespace.update({dep: _resolve(dep, resolved).obj for dep in deps})
        obj = _exec(source, str(path), namespace, name)
    except Exception as err:
        return None, f"could not be loaded: {type(err).__name__}: {err}"
    why = _recheck(name, obj)
    return (Loaded(part, obj, yours=True, deps=deps), "") if why is None else (None, why)


def part_arguments(cls: Any) -> dict[str, str]:
    """The earlier parts a reference class is made of, and the keyword-only argument that passes each in.

    E.g. ``{"LayerNorm": "norm_cls", "EncoderLayer": "layer_cls"}`` for ``Encoder``: every keyword-only
    argument of its ``__init__`` whose default is a travelling part (the package's own).
    """
    if not inspect.isclass(cls):
        return {}
    import transformer_course as tc
    found = {}
    for parameter in inspect.signature(cls.__init__).parameters.values():
        part = getattr(parameter.default, "__name__", None)
        if parameter.kind is parameter.KEYWORD_ONLY and part in PARTS and parameter.default is getattr(tc, part):
            found[part] = parameter.name
    return found


def built_on(cls: type, parts: dict[str, Any]) -> type:
    """A subclass of the reference ``cls`` whose part arguments default to ``parts`` ({argument: part}).

    Its code is the reference's, unchanged; only the parts it is made of are others (the learner's),
    so ``built_on(tc.Transformer, {...})(config)`` is called as ``tc.Transformer(config)`` is.
    """
    def __init__(self, *args, **kwargs):
        cls.__init__(self, *args, **{**parts, **kwargs})

    return type(cls.__name__, (cls,), {"__init__": __init__, "__doc__": cls.__doc__,
                                       "__module__": cls.__module__, "__qualname__": cls.__qualname__})


def _reference(name: str, resolved: dict[str, Loaded], why: str) -> Loaded:
    """The package's version of the part, built on the learner's earlier parts where it uses any."""
    original = reference_of(name)
    arguments = part_arguments(original)
    deps = tuple(n for n in PARTS if n in arguments)
    built: list[str] = []
    for dep in deps:
        loaded = _resolve(dep, resolved)
        for mine in ([dep] if loaded.yours else list(loaded.built_on)):
            if mine not in built:
                built.append(mine)
    obj = original
    if built:  # the package's own class, with the learner's parts passed in where the references would be
        obj = built_on(original, {arguments[dep]: resolved[dep].obj for dep in deps})
    return Loaded(PARTS[name], obj, yours=False, deps=deps, why=why,
                  built_on=tuple(n for n in PARTS if n in built))


def _resolve(name: str, resolved: dict[str, Loaded]) -> Loaded:
    if name not in resolved:
        mine, why = _learners(name, resolved) if PARTS[name].check is not None else (None, "")
        resolved[name] = mine if mine is not None else _reference(name, resolved, why)
    return resolved[name]


def _involved(names: tuple[str, ...], resolved: dict[str, Loaded]) -> list[Loaded]:
    """The parts ``names`` are made of, them included, in course order."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(resolved[name].deps)
    return [resolved[n] for n in PARTS if n in seen]


def table(loaded: list[Loaded]) -> str:
    """The table load() prints: part, notebook, whose."""
    width = max(len(item.part.name) for item in loaded)
    rows = [f"{'part':<{width}}  notebook  used here", f"{'-' * width}  --------  ---------"]
    rows += [f"{item.part.name:<{width}}  {item.part.notebook[:2]:<8}  {item.describe()}" for item in loaded]
    return "\n".join(rows)


def load(*names: str, quiet: bool = False) -> types.SimpleNamespace:
    """One attribute per part: yours if it is saved and passes its check again, else the reference.

    Prints a table of every part involved (the ones asked for and the earlier parts
    they are made of): its notebook and whether it is yours or the reference, and
    why. With ``$TRANSFORMER_COURSE_STRICT`` set, a part of yours that is missing or
    fails raises :class:`~transformer_course.checks.ExerciseNotDone` naming the notebook to run.
    """
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise KeyError(f"unknown part(s) {', '.join(map(repr, unknown))}; the parts are: {', '.join(PARTS)}")
    resolved: dict[str, Loaded] = {}
    for name in names:
        _resolve(name, resolved)
    involved = _involved(names, resolved)
    if not quiet:
        print(table(involved))
    if _core.strict_mode():
        missing = [item for item in involved if item.part.check is not None and not item.yours]
        if missing:
            raise _core.ExerciseNotDone("; ".join(
                f"{item.part.name}: {item.why} — run notebook {item.part.notebook}, whose check saves it"
                for item in missing) + f" (strict mode, {_core.STRICT_ENV_VAR} is set)")
    return types.SimpleNamespace(**{n: resolved[n].obj for n in names})


__all__ = ["PARTS", "MODEL_PARTS", "TOKENIZER_PARTS", "TravellingPart", "reference_of", "load", "check_function", "parts_dir", "part_file", "save",
           "part_arguments", "built_on",
           "remove", "not_saving", "source_of", "table"]
