"""The machinery every exercise check uses: run the learner's code, compare, explain.

A topic module (``checks/attention.py``, ...) writes one ``check_<name>(learner)``
per exercise on top of :func:`exercise`::

    from ._core import CheckFailed, case, exercise, expect_close, randn
    from .. import attention as ref

    def _check_scores(scores_fn):
        for b, t, d in [(2, 5, 8), (1, 1, 4)]:              # several seeded cases
            with case(f"batch={b}, seq_len={t}, d_k={d}"):   # names the case on failure
                q, k = randn(b, t, d, seed=1), randn(b, t, d, seed=2)
                expected = ref.attention_scores(q, k)
                expect_close(scores_fn(q, k), expected, "scores", mistakes={
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
it raises :class:`ExerciseNotDone` instead. Any other exception from the learner's
code propagates with its full traceback, because it points at their own line.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

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


def strict_mode() -> bool:
    """True when $TRANSFORMER_COURSE_STRICT asks for unfinished exercises to fail."""
    return os.environ.get(STRICT_ENV_VAR, "").strip().lower() not in ("", "0", "false", "no")


RESULT_HOOKS: list[Callable[[str, Any, str], None]] = []
"""Called as ``hook(name, learner, outcome)`` after every check, outcome "correct", "not done" or "wrong".

This is how a part that passed its check travels to later notebooks (see ``transformer_course.parts``)."""


def _report(name: str, learner: Any, outcome: str) -> None:
    for hook in RESULT_HOOKS:
        hook(name, learner, outcome)


def exercise(name: str, learner: Any, reference: Any, check: Callable[[Any], None]) -> Any:
    """Run ``check(learner)``; return the learner's object if it passes, the reference if not done yet."""
    try:
        check(learner)
    except NotImplementedError:
        _report(name, learner, "not done")
        if strict_mode():
            raise ExerciseNotDone(
                f"{name}: not done yet (strict mode, {STRICT_ENV_VAR} is set)"
            ) from None
        print(f"… {name}: not done yet — the reference implementation is used from here on")
        return reference
    except CheckFailed as failure:
        _report(name, learner, "wrong")
        raise CheckFailed(f"{name}: {failure}") from None
    _report(name, learner, "correct")
    print(f"✔ {name}: correct")
    return learner


@contextlib.contextmanager
def case(description: str) -> Iterator[None]:
    """Add ``(case: description)`` to a CheckFailed raised inside, so the learner knows which input failed."""
    try:
        yield
    except CheckFailed as failure:
        raise CheckFailed(f"{failure} (case: {description})") from None


def fmt_shape(shape: Sequence[int]) -> str:
    """(2, 5, 8) as a string, also for torch.Size."""
    return str(tuple(int(n) for n in shape))


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
    raise CheckFailed(f"{what} should be a torch.Tensor but is {type(actual).__name__}{hint}")


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
    head = f"{what} has shape {fmt_shape(got)} but should have shape {fmt_shape(want)}"
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


def is_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Same shape and values equal within tolerance (NaN equal to NaN)."""
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
) -> None:
    """Fail unless ``actual`` matches ``expected``; say which known mistake it matches, if any.

    ``mistakes`` maps a diagnosis ("softmax over the wrong axis") to what that mistake
    would produce (a tensor, or a function making one, called only when needed).
    The first one ``actual`` matches becomes the message (one that raises, or that
    equals the right answer on this input, is skipped). Otherwise the message gives
    shape problems, NaNs, or the largest difference and where it is.
    """
    actual = expect_tensor(actual, what)
    for diagnosis, wrong in (mistakes or {}).items():
        try:
            wrong = wrong() if callable(wrong) else wrong
        except Exception:  # that mistake cannot be made on this input (e.g. shapes do not fit)
            continue
        if not is_close(expected, wrong, atol, rtol) and is_close(actual, wrong, atol, rtol):
            raise CheckFailed(f"{what} is wrong: {diagnosis}")
    expect_shape(actual, expected.shape, what, axes)
    got, want = actual.detach().float().cpu(), expected.detach().float().cpu()
    bad_nan = torch.isnan(got) & ~torch.isnan(want)
    if bad_nan.any():
        raise CheckFailed(f"{what} contains NaN at {int(bad_nan.sum())} of {got.numel()} positions")
    if is_close(got, want, atol, rtol):
        return
    diff = torch.nan_to_num((got - want).abs(), nan=float("inf"))
    index = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    raise CheckFailed(
        f"{what} differs from the reference: largest difference {diff.max().item():.3g} at index "
        f"{index} (got {got[index].item():.4g}, expected {want[index].item():.4g})"
    )


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
