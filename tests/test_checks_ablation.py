"""Notebook 08's check: the reference passes, a stub is 'not done yet', and each named mistake is caught."""

from __future__ import annotations

import pytest

from contract import assert_not_done, fails_with, passes  # tests/contract.py
from transformer_course import checks
from transformer_course.task.ablation import SwitchableSublayer

check = checks.ablation.check_switchable_sublayer


def _sub(forward):
    return type("WrongSwitchableSublayer", (SwitchableSublayer,), {"forward": forward})


def _update(s, x, f):
    return s.dropout(f(s.norm(x) if s.norm_first else x))


def _ignores_residual_off(s, x, f):  # always adds x back
    return x + _update(s, x, f) if s.norm_first else s.norm(x + _update(s, x, f))


def _never_residual(s, x, f):
    return _update(s, x, f) if s.norm_first else s.norm(_update(s, x, f))


def _always_post(s, x, f):
    update = s.dropout(f(x))
    return s.norm(x + update if s.residual else update)


def _always_pre(s, x, f):
    update = s.dropout(f(s.norm(x)))
    return x + update if s.residual else update


def _no_dropout(s, x, f):
    update = f(s.norm(x)) if s.norm_first else f(x)
    if s.norm_first:
        return x + update if s.residual else update
    return s.norm(x + update if s.residual else update)


def test_reference_passes(capsys):
    assert passes(check, SwitchableSublayer)
    assert "✔ SwitchableSublayer: correct" in capsys.readouterr().out


def test_stub_is_not_done(capsys, monkeypatch):
    def forward(self, x, sublayer):
        raise NotImplementedError
    assert_not_done(check, _sub(forward), SwitchableSublayer, "SwitchableSublayer", capsys, monkeypatch)


@pytest.mark.parametrize("wrong, fragments", [
    (_ignores_residual_off, ["adds x back although residual=False", "residual=False"]),
    (_never_residual, ["the residual is missing although residual=True"]),
    (_always_post, ["it computes post-LN", "norm_first=True asks for pre-LN"]),
    (_always_pre, ["it computes pre-LN", "norm_first=False asks for post-LN"]),
    (_no_dropout, ["never applies dropout"]),
])
def test_mistakes_are_named(wrong, fragments):
    fails_with(check, _sub(wrong), *fragments)


def test_missing_layer_norm_in_init_is_caught():
    """A learner whose __init__ ignores layer_norm=False has a parameter too many."""
    class NormAlways(SwitchableSublayer):
        def __init__(self, d_model, dropout=0.0, residual=True, layer_norm=True, norm_first=False):
            super().__init__(d_model, dropout, residual, True, norm_first)
    fails_with(check, NormAlways, "unexpected: norm.bias, norm.weight")


def test_a_wrong_sublayer_call_is_caught():
    fails_with(check, _sub(lambda s, x, f: s.norm(x + s.dropout(x)) if not s.norm_first else x),
               "the output")



def _dropout_on_the_stream(s, x, f):
    if s.norm_first:
        update = f(s.norm(x))
        return s.dropout(x + update) if s.residual else s.dropout(update)
    update = f(x)
    return s.norm(s.dropout(x + update) if s.residual else s.dropout(update))


def _residual_off_dropout_after_norm(s, x, f):
    if s.norm_first or s.residual:
        return SwitchableSublayer.forward(s, x, f)
    return s.dropout(s.norm(f(x)))


@pytest.mark.parametrize("wrong, fragments", [
    (_dropout_on_the_stream, ["dropout is applied to the stream", "it belongs on the update alone"]),
    (_residual_off_dropout_after_norm, ["dropout is applied after the LayerNorm, dropout(LayerNorm(Sublayer(x)))",
                                        "residual=False, layer_norm=True, norm_first=False"]),
])
def test_dropout_in_the_wrong_place_is_named(wrong, fragments):
    """Both passed the old check, which only asked that dropout change the output in train mode."""
    fails_with(check, _sub(wrong), *fragments)
