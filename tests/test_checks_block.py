"""Notebook 05's checks: the reference passes, a stub is 'not done yet', and each named mistake is caught."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import transformer_course as tc
from contract import assert_not_done, assert_rng_untouched, passes  # tests/contract.py
from transformer_course import checks
from transformer_course.checks import block as cb

# --- wrong LayerNorms --------------------------------------------------------------------------


def _ln(forward):
    return type("WrongLayerNorm", (tc.LayerNorm,), {"forward": forward})


def _stats(x, dim=-1, unbiased=False):
    return x.mean(dim, keepdim=True), x.var(dim, keepdim=True, unbiased=unbiased)


LAYER_NORM_MISTAKES = {
    "unbiased variance": lambda s, x: (x - _stats(x)[0]) / torch.sqrt(_stats(x, unbiased=True)[1] + s.eps)
    * s.weight + s.bias,
    "over the seq_len axis": lambda s, x: (x - _stats(x, 1)[0]) / torch.sqrt(_stats(x, 1)[1] + s.eps)
    * s.weight + s.bias,
    "over the batch axis": lambda s, x: (x - _stats(x, 0)[0]) / torch.sqrt(_stats(x, 0)[1] + s.eps)
    * s.weight + s.bias,
    "forgets gamma and beta": lambda s, x: (x - _stats(x)[0]) / torch.sqrt(_stats(x)[1] + s.eps),
    "forgets beta": lambda s, x: (x - _stats(x)[0]) / torch.sqrt(_stats(x)[1] + s.eps) * s.weight,
    "forgets gamma": lambda s, x: (x - _stats(x)[0]) / torch.sqrt(_stats(x)[1] + s.eps) + s.bias,
    "does not subtract the mean": lambda s, x: x / torch.sqrt(_stats(x)[1] + s.eps) * s.weight + s.bias,
    "instead of the standard deviation": lambda s, x: (x - _stats(x)[0]) / (_stats(x)[1] + s.eps)
    * s.weight + s.bias,
    "adds eps outside the square root": lambda s, x: (x - _stats(x)[0]) / (torch.sqrt(_stats(x)[1]) + s.eps)
    * s.weight + s.bias,
    "leaves out eps": lambda s, x: (x - _stats(x)[0]) / torch.sqrt(_stats(x)[1]) * s.weight + s.bias,
}


def test_layer_norm_reference_passes(capsys):
    assert passes(checks.block.check_layer_norm, tc.LayerNorm)
    assert "✔ LayerNorm: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", LAYER_NORM_MISTAKES)
def test_layer_norm_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        cb.check_layer_norm(_ln(LAYER_NORM_MISTAKES[message]))


def test_layer_norm_shape_mistake_names_the_axis():
    with pytest.raises(checks.CheckFailed, match=r"axes"):
        cb.check_layer_norm(_ln(lambda s, x: tc.LayerNorm.forward(s, x).transpose(1, 2)))


# --- wrong FeedForwards ------------------------------------------------------------------------


def _ff(forward):
    return type("WrongFeedForward", (tc.FeedForward,), {"forward": forward})


FEED_FORWARD_MISTAKES = {
    "no activation between the two linear layers": lambda s, x: s.linear2(s.dropout(s.linear1(x))),
    "also applied to the output": lambda s, x: s.activation(s.linear2(s.dropout(s.activation(s.linear1(x))))),
    "uses ReLU although activation='gelu'": lambda s, x: s.linear2(s.dropout(F.relu(s.linear1(x)))),
    "never applies dropout": lambda s, x: s.linear2(s.activation(s.linear1(x))),
}


def test_feed_forward_reference_passes(capsys):
    assert passes(cb.check_feed_forward, tc.FeedForward)
    assert "✔ FeedForward: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", FEED_FORWARD_MISTAKES)
def test_feed_forward_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        cb.check_feed_forward(_ff(FEED_FORWARD_MISTAKES[message]))


@pytest.mark.parametrize("message, forward", [
    ("dropout is applied after linear2", lambda s, x: s.dropout(s.linear2(s.activation(s.linear1(x))))),
    ("dropout is applied to the input x", lambda s, x: s.linear2(s.activation(s.linear1(s.dropout(x))))),
    ("dropout is applied twice", lambda s, x: s.dropout(s.linear2(s.dropout(s.activation(s.linear1(x)))))),
    ("drops other numbers than the reference", lambda s, x: s.linear2(s.dropout(s.dropout(s.activation(s.linear1(x)))))),
    ("never applies dropout", lambda s, x: s.linear2(s.activation(s.linear1(x)))),
])
def test_feed_forward_dropout_in_the_wrong_place_is_named(message, forward):
    """Where dropout sits is checked in train mode, with one seed for the reference and the learner."""
    with pytest.raises(checks.CheckFailed, match=message):
        cb.check_feed_forward(_ff(forward))


def test_feed_forward_with_functional_dropout_passes():
    cb.check_feed_forward(_ff(lambda s, x: s.linear2(F.dropout(s.activation(s.linear1(x)), 0.5, s.training))))


def test_feed_forward_returning_the_hidden_layer_names_the_axis():
    with pytest.raises(checks.CheckFailed, match=r"axis 2 \(d_model\) is 32, expected 8"):
        cb.check_feed_forward(_ff(lambda s, x: s.activation(s.linear1(x))))


# --- wrong SublayerConnections -----------------------------------------------------------------


def _sub(post, pre):
    def forward(self, x, sublayer):
        return pre(self, x, sublayer) if self.norm_first else post(self, x, sublayer)
    return type("WrongSublayerConnection", (tc.SublayerConnection,), {"forward": forward})


def _right_post(s, x, f):
    return s.norm(x + s.dropout(f(x)))


def _right_pre(s, x, f):
    return x + s.dropout(f(s.norm(x)))


SUBLAYER_MISTAKES = {
    # post-LN mistakes
    "computes pre-LN": (_right_pre, _right_pre),
    r"residual is missing: it returns LayerNorm\(Sublayer\(x\)\)": (lambda s, x, f: s.norm(s.dropout(f(x))), _right_pre),
    "applied to the sub-layer's output only": (lambda s, x, f: x + s.norm(s.dropout(f(x))), _right_pre),
    r"the sub-layer is missing: LayerNorm\(x\)": (lambda s, x, f: s.norm(s.dropout(x)), _right_pre),
    # pre-LN mistakes
    "computes post-LN": (_right_post, _right_post),
    r"residual is missing: it returns Sublayer\(LayerNorm\(x\)\)": (_right_post, lambda s, x, f: s.dropout(f(s.norm(x)))),
    "residual adds the normalised x": (_right_post, lambda s, x, f: s.norm(x) + s.dropout(f(s.norm(x)))),
    "normalises twice": (_right_post, lambda s, x, f: s.norm(x + s.dropout(f(s.norm(x))))),
    "LayerNorm is missing": (_right_post, lambda s, x, f: x + s.dropout(f(x))),
    "never applies dropout": (lambda s, x, f: s.norm(x + f(x)), lambda s, x, f: x + f(s.norm(x))),
    r"dropout is applied to the residual stream itself, LayerNorm\(dropout": (
        lambda s, x, f: s.norm(s.dropout(x + f(x))), _right_pre),
    r"dropout is applied after the LayerNorm": (lambda s, x, f: s.dropout(s.norm(x + f(x))), _right_pre),
    r"dropout is applied to the sub-layer's input, LayerNorm": (lambda s, x, f: s.norm(x + f(s.dropout(x))), _right_pre),
    r"dropout is applied to the residual stream itself, dropout\(x": (
        _right_post, lambda s, x, f: s.dropout(x + f(s.norm(x)))),
    r"dropout is applied to x as well": (_right_post, lambda s, x, f: s.dropout(x) + s.dropout(f(s.norm(x)))),
}


def test_sublayer_connection_reference_passes(capsys):
    assert passes(cb.check_sublayer_connection, tc.SublayerConnection)
    assert "✔ SublayerConnection: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", SUBLAYER_MISTAKES)
def test_sublayer_connection_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        cb.check_sublayer_connection(_sub(*SUBLAYER_MISTAKES[message]))


def test_post_ln_without_norm_is_named():
    with pytest.raises(checks.CheckFailed, match=r"LayerNorm is missing: x \+ Sublayer\(x\).*norm_first=False"):
        cb.check_sublayer_connection(_sub(lambda s, x, f: x + s.dropout(f(x)), _right_pre))


# --- wrong EncoderLayers -----------------------------------------------------------------------


def _enc(forward):
    return type("WrongEncoderLayer", (tc.EncoderLayer,), {"forward": forward})


def _attn(s, mask):
    return lambda y: s.self_attn(y, y, y, mask)


ENCODER_MISTAKES = {
    "mask is not passed to self-attention":
        lambda s, x, mask=None: s.ff_sublayer(s.attn_sublayer(x, _attn(s, None)), s.feed_forward),
    "feed-forward comes before self-attention":
        lambda s, x, mask=None: s.attn_sublayer(s.ff_sublayer(x, s.feed_forward), _attn(s, mask)),
    "feed-forward sub-layer is missing": lambda s, x, mask=None: s.attn_sublayer(x, _attn(s, mask)),
    "self-attention sub-layer is missing": lambda s, x, mask=None: s.ff_sublayer(x, s.feed_forward),
    "same SublayerConnection":
        lambda s, x, mask=None: s.attn_sublayer(s.attn_sublayer(x, _attn(s, mask)), s.feed_forward),
}


def test_encoder_layer_reference_passes(capsys):
    assert passes(cb.check_encoder_layer, tc.EncoderLayer)
    assert "✔ EncoderLayer: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", ENCODER_MISTAKES)
def test_encoder_layer_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        cb.check_encoder_layer(_enc(ENCODER_MISTAKES[message]))


# --- stubs: not done yet, and strict mode ------------------------------------------------------


def _stub_forward(self, *args, **kwargs):
    raise NotImplementedError


STUBS = [
    (cb.check_layer_norm, tc.LayerNorm, "LayerNorm"),
    (cb.check_feed_forward, tc.FeedForward, "FeedForward"),
    (cb.check_sublayer_connection, tc.SublayerConnection, "SublayerConnection"),
    (cb.check_encoder_layer, tc.EncoderLayer, "EncoderLayer"),
]


@pytest.mark.parametrize("check, reference, name", STUBS)
def test_stub_is_not_done_and_fails_in_strict_mode(check, reference, name, capsys, monkeypatch):
    stub = type("Stub", (reference,), {"forward": _stub_forward})
    assert_not_done(check, stub, reference, name, capsys, monkeypatch)


@pytest.mark.parametrize("check, reference, _", STUBS)
def test_checks_leave_the_global_rng_alone(check, reference, _):
    """On a learner's copy, so the check's body runs (handed the reference itself, it would return at once)."""
    assert_rng_untouched(check, reference)
