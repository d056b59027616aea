"""The machinery every exercise check uses: run the learner's code, compare, explain.

A topic module (``checks/attention.py``, ...) writes one ``check_<name>(learner)``
per exercise on top of :func:`exercise`::

    from ._core import CheckFailed, call, case, exercise, expect_close, randn
    from .. import attention as ref

    def _check_scores(scores_fn):
        for b, t, d in [(2, 5, 8), (1, 1, 4)]:              # several seeded cases
            with case(f"batch={b}, seq_len={t}, d_k={d}"):   # names the case on failure
                q, k = randn(b, t, d, seed=1), randn(b, t, d, seed=2)
                expected = ref.attention_scores(q, k)
                expect_close(call(scores_fn, q, k), expected, "scores", mistakes={
                    "you forgot to divide by sqrt(d_k)": lambda: expected * d ** 0.5,
                })

    def check_attention_scores(learner):
        return exercise("attention_scores", learner, ref.attention_scores, _check_scores)

and the notebook's check cell rebinds the name to what the check returns::

    attention_scores = checks.attention.check_attention_scores(attention_scores)

:func:`exercise` prints ``✔ attention_scores: correct`` and returns the learner's
object, or raises :class:`CheckFailed` (shown in Jupyter as its message alone).
If the learner's code raises ``NotImplementedError`` anywhere (a function stub, or
``__init__``/``forward`` of an ``nn.Module`` stub) it prints ``… not done yet`` and
returns the reference, so "Run All" completes; with ``TRANSFORMER_COURSE_STRICT=1``
it raises :class:`ExerciseNotDone` instead. When the check is handed the reference
itself (the check cell run again after an untouched stub) it says so: not done yet.

:func:`call` runs the learner's code the way the notebooks will: on copies of the
inputs (an in-place change to an input fails the check, naming the operation), as if
the inputs lived on a GPU (a tensor made on the CPU without ``device=`` that meets
them fails the check, naming the line that made it). Any other exception from the
learner's code becomes a :class:`LearnerError`: a one-line summary (exercise, case,
input shapes) and the learner's own frames, without the check's internals.
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import os
import traceback
import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch.overrides import TorchFunctionMode
from torch.utils import _pytree as pytree

from . import _locate

STRICT_ENV_VAR = "TRANSFORMER_COURSE_STRICT"


class _ShortTraceback:
    """Mixin: IPython shows ``_render_traceback_()`` (a list of lines) instead of the traceback."""

    mark = "✘"

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{self.mark} {type(self).__name__}: {self}\x1b[0m"]


class CheckFailed(_ShortTraceback, AssertionError):
    """The learner's code ran but is wrong; the message says what is wrong."""


class ExerciseNotDone(_ShortTraceback, Exception):
    """Strict mode only: an exercise is still a stub."""

    mark = "…"


# --- where code lives: the learner's frames, the check's, the libraries' ---------------------------

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # transformer_course/
_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(m.__file__))
    for m in (torch, contextlib, __import__("einops"))
)


def _is_library(filename: str) -> bool:
    """Code of torch, einops or Python itself: neither the learner's nor the course's."""
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    return path.startswith(_LIBRARY_DIRS) and not path.startswith(_PACKAGE_DIR)


def _is_course(filename: str) -> bool:
    return not filename.startswith("<") and os.path.abspath(filename).startswith(_PACKAGE_DIR)


def _learner_line() -> str | None:
    """'line N (`code`)' of the innermost learner frame calling torch now; None if the course's code is."""
    frame = inspect.currentframe()
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_library(filename) and filename != __file__:
            if _is_course(filename):
                if "device" in frame.f_code.co_varnames and frame.f_locals.get("device", 0) is None:
                    frame = frame.f_back  # a course helper (causal_mask) called without device=: its caller's line
                    continue
                return None  # the reference (or the check) made it: not the learner's doing
            code = linecache.getline(filename, frame.f_lineno, frame.f_globals).strip()
            where = f"line {frame.f_lineno}" + (f" of {frame.f_code.co_name}" if frame.f_code.co_name != "<module>"
                                                 and not frame.f_code.co_name.startswith("<") else "")
            return f"{where}: `{code}`" if code else where
        frame = frame.f_back
    return None


class LearnerError(CheckFailed):
    """The learner's code raised: a summary line, then only the learner's frames and the error."""

    def __init__(self, summary: str, error: BaseException):
        self.summary, self.error = summary, error
        super().__init__(summary)

    def learner_frames(self) -> list[str]:
        """The traceback of `error` without the check's frames and torch's internals."""
        frames = traceback.extract_tb(self.error.__traceback__)
        mine = [f for f in frames if not f.filename.startswith(_CHECKS_DIR) and not _is_library(f.filename)]
        return traceback.format_list(mine)

    def error_line(self) -> str:
        return "".join(traceback.format_exception_only(type(self.error), self.error)).rstrip()

    def __str__(self) -> str:
        return f"{self.summary}\n{''.join(self.learner_frames())}{self.error_line()}"

    def _render_traceback_(self) -> list[str]:
        frames = "".join(self.learner_frames()).rstrip("\n")
        lines = [f"\x1b[31m✘ {self.summary}\x1b[0m", "Traceback (your code only):"]
        return lines + ([frames] if frames else []) + [f"\x1b[31m{self.error_line()}\x1b[0m"]


def strict_mode() -> bool:
    """True when $TRANSFORMER_COURSE_STRICT asks for unfinished exercises to fail."""
    return os.environ.get(STRICT_ENV_VAR, "").strip().lower() not in ("", "0", "false", "no")


RESULT_HOOKS: list[Callable[[str, Any, str], None]] = []
"""Called as ``hook(name, learner, outcome)`` after every check, outcome "correct", "not done" or "wrong".

This is how a part that passed its check travels to later notebooks (see ``transformer_course.parts``)."""


def _report(name: str, learner: Any, outcome: str) -> None:
    for hook in RESULT_HOOKS:
        hook(name, learner, outcome)


def _not_done(name: str, learner: Any, reference: Any, why: str) -> Any:
    _report(name, learner, "not done")
    if strict_mode():
        raise ExerciseNotDone(f"{name}: not done yet (strict mode, {STRICT_ENV_VAR} is set)") from None
    print(f"… {name}: not done yet — {why}")
    return reference


def exercise(name: str, learner: Any, reference: Any, check: Callable[[Any], None]) -> Any:
    """Run ``check(learner)``; return the learner's object if it passes, the reference if not done yet."""
    if learner is reference:
        return _not_done(name, learner, reference,
                         f"`{name}` is still the reference implementation this check put in place when "
                         f"your cell was a stub. Fill in the cell above and run it, then this check again")
    try:
        check(learner)
    except NotImplementedError:
        return _not_done(name, learner, reference, "the reference implementation is used from here on")
    except LearnerError as failure:
        _report(name, learner, "wrong")
        raise LearnerError(f"{name}: {failure.summary}", failure.error) from None
    except CheckFailed as failure:
        _report(name, learner, "wrong")
        raise CheckFailed(f"{name}: {failure}") from None
    except Exception as error:  # raised outside any case()
        _report(name, learner, "wrong")
        raise LearnerError(f"{name}: your code raised {type(error).__name__}", error) from None
    _report(name, learner, "correct")
    print(f"✔ {name}: correct")
    return learner


@contextlib.contextmanager
def case(description: str) -> Iterator[None]:
    """Add ``(case: description)`` to a CheckFailed raised inside, so the learner knows which input failed.

    Another exception from the learner's code (not NotImplementedError) becomes a LearnerError naming the case.
    """
    try:
        yield
    except NotImplementedError:
        raise
    except LearnerError:
        raise
    except CheckFailed as failure:
        raise CheckFailed(f"{failure} (case: {description})") from None
    except Exception as error:
        inputs = getattr(error, "_tc_inputs", "")
        raise LearnerError(f"your code raised {type(error).__name__} (case: {description}"
                           f"{'; called with ' + inputs if inputs else ''})", error) from None


# --- running the learner's code: copies of the inputs, a pretend GPU, forbidden calls ------------------

_FACTORIES = {"arange", "ones", "zeros", "full", "empty", "tensor", "eye", "rand", "randn", "randint",
              "linspace", "logspace", "as_tensor", "tril_indices", "triu_indices", "randperm"}
_DEVICE_FREE = {"__getitem__", "__setitem__", "__get__", "__set__", "size", "dim", "shape", "numel",
                "item", "tolist", "__len__", "__bool__", "__format__", "__repr__", "__iter__", "__contains__",
                "is_floating_point", "dtype", "device", "data_ptr", "untyped_storage"}
_IN_PLACE_DUNDERS = {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__ior__", "__iand__",
                     "__ixor__", "__ipow__", "__setitem__"}
_METADATA_ONLY = {"requires_grad_", "retain_grad", "share_memory_", "record_stream"}  # write no values
_MADE = "_tc_made_on_cpu"  # attribute on a tensor the learner made on the CPU: where it was made
_WHY = "_tc_on_cpu_because"  # and why it is on the CPU ("no device= given", ...)
_NO_DEVICE = "no device= given"
_NUMPY = "a NumPy array is always on the CPU, and so is the tensor made from it"
_LEGACY = "torch.LongTensor, torch.FloatTensor and the like always make CPU tensors"
_LEGACY_CONSTRUCTORS = ("FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor",
                        "ShortTensor", "IntTensor", "LongTensor", "BoolTensor")


def _tensors(tree: Any) -> list[torch.Tensor]:
    """The tensors in `tree` (a tensor, or nested tuples, lists and dicts of them)."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, dict):
        tree = tuple(tree.values())
    if isinstance(tree, (tuple, list)):
        found = []
        for item in tree:
            if isinstance(item, torch.Tensor):
                found.append(item)
            elif isinstance(item, (tuple, list, dict)):
                found.extend(_tensors(item))
        return found
    return []


def made_on_cpu(t: torch.Tensor) -> str | None:
    """Where the learner's code made ``t`` on the CPU (while a check watched), or None."""
    return getattr(t, _MADE, None)


def on_cpu_because(t: torch.Tensor) -> str:
    """Why a tensor :func:`made_on_cpu` is on the CPU: "no device= given", ..."""
    return getattr(t, _WHY, None) or _NO_DEVICE


def _mark(tree: Any, where: str | None, why: str | None = None) -> None:
    for t in _tensors(tree):
        try:
            setattr(t, _MADE, where)
            setattr(t, _WHY, why)
        except Exception:  # e.g. a tensor subclass that refuses attributes
            pass


class _MarksWhatItMakes(type):
    """Stands in for a legacy constructor (torch.LongTensor) while a watch runs: what it makes is marked.

    ``isinstance(x, torch.LongTensor)`` and its attributes still answer as the original's.
    """

    def __call__(cls, *args, **kwargs):
        return cls._watch.mark_made_on_cpu(cls._original(*args, **kwargs), f"torch.{cls.__name__}", _LEGACY)

    def __instancecheck__(cls, instance):
        return isinstance(instance, cls._original)

    def __subclasscheck__(cls, subclass):
        return issubclass(subclass, cls._original)

    def __getattr__(cls, name):
        return getattr(cls._original, name)


class _Watch(TorchFunctionMode):
    """While the learner's code runs: pretend the inputs live on a GPU, note in-place writes and forbidden calls.

    A tensor the learner's own line makes on the CPU is marked: ``torch.arange(n)``, ``torch.ones(...)``
    without ``device=``; anything made with ``device="cpu"`` (``torch.zeros_like(x, device="cpu")``);
    ``torch.from_numpy(...)``; the legacy constructors (``torch.LongTensor([...])``), which are not torch
    functions, so that while the watch runs ``torch.from_numpy`` and ``torch.LongTensor`` & co. are
    stand-ins that mark what they make (a name imported before, ``from torch import from_numpy``, is not
    watched). When a marked tensor with at least one axis meets an unmarked one (an input, a parameter,
    or anything computed from them), a GPU would raise: the first such meeting is noted. Not seen:
    ``device=torch.device("cpu")``, which on this machine cannot be told from ``device=x.device``, and
    ``torch.Tensor([...])`` (the class itself cannot be stood in for).
    """

    def __init__(self, inputs: list[torch.Tensor], forbidden: Mapping[str, str]):
        super().__init__()
        self.storages = {t.untyped_storage().data_ptr() for t in inputs if t.numel()}
        self.mismatch: tuple[str, str] | None = None  # (where the CPU tensor was made, the operation)
        self.in_place: list[tuple[str, str]] = []  # (operation, line)
        self.forbidden = forbidden
        self.called: list[tuple[str, str]] = []  # forbidden calls made: (name, line)
        self.marked = False  # whether any tensor was made on the CPU yet
        self.batch_t: str | None = None  # where `.T` was used on a tensor that is not 2-D
        self.replaced: list[tuple[str, Any]] = []  # (name in torch, the original) while the watch runs

    def __enter__(self):
        def from_numpy(array):
            return self.mark_made_on_cpu(original_from_numpy(array), "torch.from_numpy", _NUMPY)

        original_from_numpy = torch.from_numpy
        stand_ins: dict[str, Any] = {"from_numpy": from_numpy}
        for name in _LEGACY_CONSTRUCTORS:
            original = getattr(torch, name)
            stand_ins[name] = _MarksWhatItMakes(name, (), {"_original": original, "_watch": self})
        for name, stand_in in stand_ins.items():
            self.replaced.append((name, getattr(torch, name)))
            setattr(torch, name, stand_in)
        try:
            return super().__enter__()
        except BaseException:
            self._restore()
            raise

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self._restore()

    def _restore(self) -> None:
        while self.replaced:
            name, original = self.replaced.pop()
            setattr(torch, name, original)

    def mark_made_on_cpu(self, result: Any, what: str, why: str) -> Any:
        """Mark ``result``, made by ``what`` on the CPU, when the learner's own line made it; return it."""
        where = _learner_line()
        if where is not None:
            _mark(result, f"`{what}(...)` at {where}", why)
            self.marked = True
        return result

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name == "__get__" and getattr(func, "__self__", None) is torch.Tensor.T and self.batch_t is None \
                and args and isinstance(args[0], torch.Tensor) and args[0].dim() > 2:
            self.batch_t = _learner_line() or "your code"
        if name in self.forbidden:
            line = _learner_line()
            if line is not None:
                self.called.append((name, line))
        if self.storages and ((name[-1:] == "_" and name[:2] != "__") or name in _IN_PLACE_DUNDERS) \
                and name not in _METADATA_ONLY and args and isinstance(args[0], torch.Tensor):
            if args[0].numel() and args[0].untyped_storage().data_ptr() in self.storages:
                self.in_place.append((name, _learner_line() or "inside a function it calls"))
        result = func(*args, **kwargs)
        if name in _FACTORIES and kwargs.get("device") is None and not _tensors((args, kwargs)):
            return self.mark_made_on_cpu(result, f"torch.{name}", _NO_DEVICE)
        device = kwargs.get("device")
        if isinstance(device, str) and device.split(":")[0] == "cpu" and name not in ("to", "cpu"):
            return self.mark_made_on_cpu(result, f"torch.{name}" if hasattr(torch, name) else f".{name}",
                                         'device="cpu" was given: on a GPU machine that is not where the inputs are')
        if not self.marked and name not in ("cpu", "to"):
            return result  # nothing made on the CPU so far: nothing to follow (the common, fast case)
        tensors = _tensors((args, kwargs))
        if not tensors:
            return result
        if name in ("to", "cuda", "type_as", "cpu"):
            wants = [a for a in (*args[1:], kwargs.get("device")) if a is not None]
            cpu = name == "cpu" or any(str(a) == "cpu" and isinstance(a, str) for a in wants)
            moves = name in ("cuda", "type_as") or any(isinstance(a, (str, torch.device, torch.Tensor)) for a in wants)
            if cpu and not any(r is t for r in _tensors(result) for t in tensors):
                _mark(result, f"`.{name}(...)` at {_learner_line() or 'your code'}", "moved to the CPU")
                self.marked = True
                return result
            if moves:
                _mark(result, None)
                return result
        on_cpu = [t for t in tensors if made_on_cpu(t) and t.dim() > 0]
        on_device = [t for t in tensors if not made_on_cpu(t)]
        if on_cpu and on_device and self.mismatch is None and name not in _DEVICE_FREE:
            self.mismatch = (made_on_cpu(on_cpu[0]), on_cpu_because(on_cpu[0]), name)
        elif not on_device:
            _mark(result, made_on_cpu(tensors[0]), on_cpu_because(tensors[0]))
        return result


def _describe(args: tuple, kwargs: dict, fn: Callable) -> list[tuple[str, Any]]:
    """(name, value) of each argument, named as in fn's signature where it can be bound."""
    try:
        bound = inspect.signature(fn.forward if isinstance(fn, torch.nn.Module) else fn).bind(*args, **kwargs)
        return list(bound.arguments.items())
    except (TypeError, ValueError):
        return [(f"argument_{i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())


def _fmt_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{fmt_shape(value.shape)} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return "(" + ", ".join(_fmt_value(v) for v in value) + ")"
    if isinstance(value, torch.nn.Module):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 30 else type(value).__name__


def call(fn: Callable, *args: Any, forbidden: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """Run the learner's ``fn(*args, **kwargs)`` on copies of the tensor inputs, watching what it does.

    Fails (CheckFailed) when it writes into an input, when a tensor it made on the CPU meets the inputs
    (which on a GPU raises), when its output is made on the CPU from such a tensor, or when it calls a
    function in ``forbidden`` (name -> what to say).
    """
    copies = pytree.tree_map(lambda a: a.clone() if isinstance(a, torch.Tensor) else a, (args, kwargs))
    named = _describe(*copies, fn)
    watch = _Watch(_tensors(copies), forbidden or {})
    warned: list = []
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            with watch:
                result = fn(*copies[0], **copies[1])
    except NotImplementedError:
        raise
    except Exception as error:
        if watch.batch_t is not None:
            raise CheckFailed(
                f"`.T` at {watch.batch_t} is used on a tensor with more than 2 axes: `.T` reverses ALL the "
                f"axes, so a batch of matrices (batch, m, d) becomes (d, m, batch), not (batch, d, m). To "
                f"transpose each matrix of a batch, swap the last two axes: x.transpose(-2, -1) (or x.mT)"
            ) from None
        error._tc_inputs = ", ".join(  # type: ignore[attr-defined]
            f"{n} {_fmt_value(v)}" if isinstance(v, (torch.Tensor, tuple, list)) else f"{n}={_fmt_value(v)}"
            for n, v in named)
        raise
    finally:
        _pass_on(warned)  # outside catch_warnings: shown as they would have been
    if watch.called:
        name, line = watch.called[0]
        raise CheckFailed(f"it calls {name} at {line}; {watch.forbidden[name]}")
    if watch.mismatch is not None:
        made, why, op = watch.mismatch
        raise CheckFailed(
            f"it would fail on a GPU: the tensor made by {made} is on the CPU ({why}), and `{op}` "
            f"combines it with tensors on the inputs' device. Make it where the inputs are: pass "
            f"device=x.device for an input x (or build it with torch.*_like / x.new_*, or move it there with "
            f".to(x.device))")
    for (name, value), (_, original) in zip(named, _describe(args, kwargs, fn)):
        changed = [a is not b and not (a.shape == b.shape and torch.equal(a, b)) for a, b in
                   zip(_tensors(value), _tensors(original))]
        if any(changed) or (watch.in_place and _touches(watch, value)):
            op = f" (`{watch.in_place[0][0]}` at {watch.in_place[0][1]})" if watch.in_place else ""
            raise CheckFailed(
                f"it changes its input `{name}` in place{op}: the caller's tensor is overwritten, which "
                f"breaks the cells after this one. Compute a new tensor instead (x = x - m, not x -= m or "
                f"x.sub_(m); torch.cat or torch.where, not writing into x[...])")
    for t in _tensors(result):
        if made_on_cpu(t) and any(v.dim() > 0 for v in _tensors(copies)):
            raise CheckFailed(
                f"its output would be on the CPU on a GPU machine: it is made by {made_on_cpu(t)} "
                f"({on_cpu_because(t)}). Make it on the inputs' device (device=x.device for an input x)")
    return result


_BATCH_T = "The use of `x.T` on tensors of dimension other than 2"


_SHOWN: set[tuple] = set()  # the learner's warnings already shown: each once, as Python's default does


def _pass_on(warned: list) -> None:
    """Show again the warnings the learner's code raised, except `.T` on a batch (the check explains it)."""
    for w in warned:
        key = (w.filename, w.lineno, w.category, str(w.message))
        if not str(w.message).startswith(_BATCH_T) and key not in _SHOWN:
            _SHOWN.add(key)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _touches(watch: _Watch, value: Any) -> bool:
    """Whether one of the in-place writes the watch saw went into the storage of `value`'s tensors."""
    return any(t.numel() and t.untyped_storage().data_ptr() in watch.storages for t in _tensors(value))


# --- comparing -------------------------------------------------------------------------------------


def fmt_shape(shape: Sequence[int]) -> str:
    """(2, 5, 8) as a string, also for torch.Size."""
    return str(tuple(int(n) for n in shape))


def _plural(what: str) -> bool:
    """Whether `what` ("the logits", "the parameters after one step", "w_q.bias") names a plural."""
    head = what.replace("`", "").split(" after ")[0].split(" of ")[0].split()[-1]
    return head.endswith("s") and not head.endswith(("ss", "bias", "is", "us"))


def verb(what: str, singular: str, plural: str) -> str:
    """`what` followed by the verb agreeing with it: verb("the logits", "is", "are") -> "the logits are"."""
    return f"{what} {plural if _plural(what) else singular}"


def randn(*shape: int, seed: int = 0, device: torch.device | str | None = None) -> torch.Tensor:
    """A standard-normal float32 tensor, made on the CPU from its own seeded generator, then moved."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=generator)
    return x if device is None else x.to(device)


def expect_tensor(actual: Any, what: str) -> torch.Tensor:
    """Fail unless ``actual`` is a tensor (catches a forgotten ``return``)."""
    if isinstance(actual, torch.Tensor):
        return actual
    hint = " — did you forget to `return` it?" if actual is None else ""
    raise CheckFailed(f"{verb(what, 'should', 'should')} be a torch.Tensor but {'is' if not _plural(what) else 'are'} "
                      f"{type(actual).__name__}{hint}")


def expect_shape(
    actual: Any, expected: Sequence[int], what: str, axes: Sequence[str] | None = None
) -> None:
    """Fail unless ``actual`` (a tensor or a shape) has shape ``expected``; names the wrong axis.

    ``axes`` optionally names the axes, e.g. ``("batch", "seq_len", "d_model")``.
    """
    got = tuple(actual.shape) if isinstance(actual, torch.Tensor) else tuple(actual)
    want = tuple(expected)
    if got == want:
        return
    head = f"{verb(what, 'has', 'have')} shape {fmt_shape(got)} but should have shape {fmt_shape(want)}"
    layout = f" = ({', '.join(axes)})" if axes else ""
    if len(got) != len(want):
        raise CheckFailed(f"{head}{layout}: it has {len(got)} axes instead of {len(want)}")
    if sorted(got) == sorted(want):
        raise CheckFailed(f"{head}{layout}: the right sizes in the wrong order — axes swapped?")
    wrong = [
        f"axis {i}{f' ({axes[i]})' if axes else ''} is {g}, expected {w}"
        for i, (g, w) in enumerate(zip(got, want))
        if g != w
    ]
    raise CheckFailed(f"{head}: {'; '.join(wrong)}")


def expect_dtype(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """Fail when a float result has another float dtype than the reference's, or floats stand for integers."""
    if actual.dtype == expected.dtype:
        return
    if expected.is_floating_point() and actual.is_floating_point():
        raise CheckFailed(
            f"{verb(what, 'has', 'have')} dtype {actual.dtype} but should be {expected.dtype}, like the "
            f"reference: the next layer's float32 weights would refuse a {actual.dtype} input (make the "
            f"tensors as float32, torch's default, or convert with .float() at the end)")
    if not expected.is_floating_point() and expected.dtype != torch.bool and actual.is_floating_point():
        raise CheckFailed(f"{verb(what, 'has', 'have')} dtype {actual.dtype} but should hold integer token ids "
                          f"({expected.dtype}); keep ids as torch.long")


def is_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Same shape and values equal within tolerance (NaN equal to NaN), compared in float32 on the CPU."""
    return actual.shape == expected.shape and torch.allclose(
        actual.detach().float().cpu(), expected.detach().float().cpu(), atol=atol, rtol=rtol, equal_nan=True
    )


def expect_close(
    actual: Any,
    expected: torch.Tensor,
    what: str,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    mistakes: Mapping[str, torch.Tensor | Callable[[], torch.Tensor]] | None = None,
    axes: Sequence[str] | None = None,
    properties: Sequence[Callable[[torch.Tensor], str | None]] = (),
    factors: Mapping[str, float] | None = None,
    locate: Callable[[], str | None] | None = None,
) -> None:
    """Fail unless ``actual`` matches ``expected``; say which known mistake it matches, if any.

    ``mistakes`` maps a diagnosis ("softmax over the wrong axis") to what that mistake
    would produce (a tensor, or a function making one, called only when needed; a list
    of tensors for several ways of making the same mistake).
    The first one ``actual`` matches becomes the message (one that raises, or that
    equals the right answer on this input, is skipped). Otherwise the message gives
    shape problems, a wrong dtype, NaNs, a broken property (each of ``properties``
    returns what is wrong with ``actual``, or None: rows that do not sum to 1, ...),
    a simple relation to the right answer (a constant factor, named from ``factors`` such as
    ``{"sqrt(d_k)": 2.83}`` or from the shape, a transpose, a shift, ...: see ``_locate.relate``),
    the first stage of a module that differs (``_locate.locate``, for modules paired by
    :func:`copy_parameters`, or ``locate()``, e.g. ``_locate.first_stage`` of two recorded runs),
    or the largest difference and where it is.
    """
    actual = expect_tensor(actual, what)
    if is_close(actual, expected, atol, rtol):  # right: no mistake can match (each differs from expected)
        expect_dtype(actual, expected, what)
        return
    wrong = match_mistake(actual, expected, mistakes, atol, rtol)
    if wrong is not None:
        raise CheckFailed(f"{verb(what, 'is', 'are')} wrong: {wrong}")
    expect_shape(actual, expected.shape, what, axes)
    expect_dtype(actual, expected, what)
    got, want = actual.detach().float().cpu(), expected.detach().float().cpu()
    bad_nan = torch.isnan(got) & ~torch.isnan(want)
    if bad_nan.any():
        raise CheckFailed(f"{verb(what, 'contains', 'contain')} NaN at {int(bad_nan.sum())} of {got.numel()} positions")
    if is_close(got, want, atol, rtol):
        return
    related = _locate.relate(actual, expected, axes, atol, rtol, factors=factors)
    if related is not None:
        raise CheckFailed(f"{verb(what, 'is', 'are')} wrong: {related}")
    for prop in properties:
        broken = prop(got)
        if broken:
            raise CheckFailed(f"{verb(what, 'is', 'are')} wrong: {broken}")
    located = locate() if locate is not None else _locate.locate(actual, expected, atol, rtol)
    if located is not None:
        raise CheckFailed(f"{verb(what, 'is', 'are')} wrong: {located}")
    diff = torch.nan_to_num((got - want).abs(), nan=float("inf"))
    index = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    raise CheckFailed(
        f"{verb(what, 'differs', 'differ')} from the reference: largest difference {diff.max().item():.3g} at "
        f"index {index} (got {got[index].item():.4g}, expected {want[index].item():.4g})"
    )


def match_mistake(actual: torch.Tensor, expected: torch.Tensor,
                  mistakes: Mapping[str, torch.Tensor | Callable[[], torch.Tensor]] | None,
                  atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """The first diagnosis whose wrong output ``actual`` matches (and the right answer does not), or None."""
    for diagnosis, wrong in (mistakes or {}).items():
        try:
            wrong = wrong() if callable(wrong) else wrong
        except Exception:  # that mistake cannot be made on this input (e.g. shapes do not fit)
            continue
        for one in (wrong if isinstance(wrong, (list, tuple)) else [wrong]):  # ways of making the same mistake
            if (isinstance(one, torch.Tensor) and not is_close(expected, one, atol, rtol)
                    and is_close(actual, one, atol, rtol)):
                return diagnosis
    return None


def without_grad(mistakes: Mapping[str, Callable[[], torch.Tensor]]) -> dict:
    """The same mistakes, each computed under torch.no_grad() when (and only when) it is needed."""
    def lazily(make):
        def run():
            with torch.no_grad():
                return make()
        return run
    return {diagnosis: lazily(make) for diagnosis, make in mistakes.items()}


def copy_parameters(source: torch.nn.Module, target: torch.nn.Module, what: str) -> None:
    """Load ``source``'s parameters into ``target`` (same names and shapes), so outputs can be compared."""
    have = dict(target.named_parameters())
    want = dict(source.named_parameters())
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or extra:
        raise CheckFailed(
            f"{what} should have parameters {sorted(want)} but has {sorted(have)}"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + (f" (unexpected: {', '.join(extra)})" if extra else "")
        )
    with torch.no_grad():
        for name, param in want.items():
            expect_shape(have[name], param.shape, f"{what}.{name}")
            have[name].copy_(param)
    _locate.pair(source, target)  # from now on, a wrong output is located stage by stage


def rows_sum_to_one(got: torch.Tensor, zero_rows: bool = False) -> str | None:
    """Property: every row (last axis) is a probability distribution (or, with zero_rows, all zero)."""
    if (got < -1e-6).any():
        return "some entries are negative, but probabilities (weights) are never below 0"
    sums = got.sum(dim=-1)
    ok = (sums - 1).abs() < 1e-4
    if zero_rows:
        ok |= sums.abs() < 1e-6
    if bool(ok.all()):
        return None
    head = (f"each row (over the last axis) must sum to 1, but {int((~ok).sum())} of {ok.numel()} rows do "
            f"not (one sums to {sums[~ok][0].item():.4g})")
    for axis in range(got.dim() - 1):  # normalised over another axis: say which
        if got.shape[axis] > 1 and bool(((got.sum(dim=axis) - 1).abs() < 1e-4).all()):
            return f"{head}: it is normalised over axis {axis} instead; normalise over the last axis, keepdim=True"
    return (f"{head}: the division does not make each row's entries add up to 1; divide each row by the sum "
            f"of that same row's numerators (over the last axis, keepdim=True)")


def _in_train_mode(module: torch.nn.Module, run: Callable[[], Any], seed: int = 0) -> Any:
    """run() with `module` in train mode and the random generator seeded (restored afterwards)."""
    module.train()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return run()
    finally:
        module.eval()


def expect_dropout_placed(learner: torch.nn.Module, reference: torch.nn.Module,
                          run: Callable[[torch.nn.Module], torch.Tensor], what: str,
                          mistakes: Mapping[str, Callable[[], torch.Tensor]], where: str) -> None:
    """In train mode with one seed, ``learner`` must drop exactly what ``reference`` drops.

    ``run(module)`` computes the output; ``mistakes`` compute (with the reference's modules, in train mode,
    same seed) what dropout in a wrong place gives; ``where`` says where it belongs.
    """
    expected = _in_train_mode(reference, lambda: run(reference))
    actual = expect_tensor(_in_train_mode(learner, lambda: run(learner)), f"{what}'s output in train mode")
    if is_close(actual, expected, 1e-4, 1e-4):
        return
    with torch.no_grad():
        evaluated = run(learner.eval())
    if is_close(actual, evaluated, 0, 0):
        raise CheckFailed(f"{what} never applies dropout: in train mode (dropout=0.5) its output equals the "
                          f"eval-mode output. Use self.dropout: {where}")
    trained = {diagnosis: (lambda wrong=wrong: _in_train_mode(reference, wrong)) for diagnosis, wrong in mistakes.items()}
    wrong = match_mistake(actual, expected, trained, 1e-4, 1e-4)
    if wrong is not None:
        raise CheckFailed(f"in train mode (dropout=0.5) {what}'s output is wrong: {wrong}")
    raise CheckFailed(f"in train mode (dropout=0.5) {what} drops other numbers than the reference with the same "
                      f"random seed, so its dropout is in another place (or applied twice): {where}")
