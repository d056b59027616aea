"""Checks for notebook 08 (do we need it?): the switchable sub-layer the ablations are built from.

The learner's ``SwitchableSublayer`` is compared with the reference in every combination of its
three switches (residual on/off, LayerNorm on/off, post-LN/pre-LN), with the reference's seeded
weights (random gamma and beta) copied in, in eval mode; in train mode with one seed, dropout must
drop what the reference drops (on the update, never on the stream).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ..task import ablation as ref
from ._core import call, case, exercise, expect_close, expect_dropout_placed, randn
from .block import reference_and_learner, seeded


def _mistakes(x, sublayer, norm, residual: bool, norm_first: bool) -> dict:
    """What each known mistake would return for this combination of switches."""
    post, pre = (lambda: norm(x + sublayer(x))), (lambda: x + sublayer(norm(x)))
    post_alone, pre_alone = (lambda: norm(sublayer(x))), (lambda: sublayer(norm(x)))
    if residual and norm_first:
        return {"it computes post-LN, LayerNorm(x + Sublayer(x)), but norm_first=True asks for pre-LN: "
                "x + Sublayer(LayerNorm(x))": post,
                "the residual is missing although residual=True: it returns Sublayer(LayerNorm(x))": pre_alone}
    if residual:
        return {"it computes pre-LN, x + Sublayer(LayerNorm(x)), but norm_first=False asks for post-LN: "
                "LayerNorm(x + Sublayer(x))": pre,
                "the residual is missing although residual=True: it returns LayerNorm(Sublayer(x))": post_alone}
    if norm_first:
        return {"it adds x back although residual=False: x + Sublayer(LayerNorm(x)); return the update alone":
                pre,
                "it computes post-LN without residual, LayerNorm(Sublayer(x)), but norm_first=True asks for "
                "Sublayer(LayerNorm(x))": post_alone}
    return {"it adds x back although residual=False: LayerNorm(x + Sublayer(x)); return LayerNorm(Sublayer(x))":
            post,
            "it computes pre-LN without residual, Sublayer(LayerNorm(x)), but norm_first=False asks for "
            "LayerNorm(Sublayer(x))": pre_alone}


def _dropout_mistakes(x, sublayer, norm, drop, residual: bool, norm_first: bool) -> dict:
    """What dropout in the usual wrong places gives (run in train mode, with the reference's seed)."""
    if norm_first and residual:
        return {"dropout is applied to the stream, dropout(x + Sublayer(LayerNorm(x))): it belongs on the "
                "update alone, x + dropout(Sublayer(LayerNorm(x)))": lambda: drop(x + sublayer(norm(x))),
                "dropout is applied to the sub-layer's input, x + Sublayer(dropout(LayerNorm(x))); it belongs "
                "on its output, x + dropout(Sublayer(LayerNorm(x)))": lambda: x + sublayer(drop(norm(x)))}
    if norm_first:
        return {"dropout is applied to the sub-layer's input, Sublayer(dropout(LayerNorm(x))); it belongs on "
                "its output, dropout(Sublayer(LayerNorm(x)))": lambda: sublayer(drop(norm(x)))}
    if residual:
        return {"dropout is applied to the stream, LayerNorm(dropout(x + Sublayer(x))): it belongs on the "
                "update alone, LayerNorm(x + dropout(Sublayer(x)))": lambda: norm(drop(x + sublayer(x))),
                "dropout is applied after the LayerNorm, dropout(LayerNorm(x + Sublayer(x))); it belongs on "
                "the update, LayerNorm(x + dropout(Sublayer(x)))": lambda: drop(norm(x + sublayer(x)))}
    return {"dropout is applied after the LayerNorm, dropout(LayerNorm(Sublayer(x))); with residual=False it "
            "still belongs on the update, LayerNorm(dropout(Sublayer(x)))": lambda: drop(norm(sublayer(x))),
            "dropout is applied to the sub-layer's input, LayerNorm(Sublayer(dropout(x))); it belongs on its "
            "output, LayerNorm(dropout(Sublayer(x)))": lambda: norm(sublayer(drop(x)))}


def _check_switchable_sublayer(learner_cls: type) -> None:
    shapes = itertools.cycle([(2, 5, 8), (1, 1, 6), (3, 4, 16)])
    for (residual, layer_norm, norm_first), (batch, seq_len, d_model) in zip(
            itertools.product([True, False], repeat=3), shapes):
        switches = f"residual={residual}, layer_norm={layer_norm}, norm_first={norm_first}"
        with case(f"{switches}, x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model})"):
            reference, learner = reference_and_learner(ref.SwitchableSublayer, learner_cls,
                                                       (d_model, 0.5, residual, layer_norm, norm_first),
                                                       seed=d_model, what="SwitchableSublayer")
            sublayer = seeded(lambda: nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh()), seed=seq_len).eval()
            x = randn(batch, seq_len, d_model, seed=batch) * 2 + 1
            with torch.no_grad():
                expected = reference(x, sublayer)
                actual = call(learner, x, sublayer)
                mistakes = {k: v() for k, v in _mistakes(x, sublayer, reference.norm, residual, norm_first).items()}
            expect_close(actual, expected, "the output", axes=("batch", "seq_len", "d_model"), mistakes=mistakes)
            expect_dropout_placed(learner, reference, lambda m: call(m, x, sublayer), "SwitchableSublayer",
                                  _dropout_mistakes(x, sublayer, reference.norm, reference.dropout, residual,
                                                    norm_first),
                                  where="on the update alone: x + dropout(Sublayer(LayerNorm(x))) for pre-LN, "
                                        "LayerNorm(x + dropout(Sublayer(x))) for post-LN, without the x + when "
                                        "residual=False")


def check_switchable_sublayer(learner: type) -> type:
    """Check the learner's `SwitchableSublayer` class; returns theirs if right, the reference if not done."""
    return exercise("SwitchableSublayer", learner, ref.SwitchableSublayer, _check_switchable_sublayer)
