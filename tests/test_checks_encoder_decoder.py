"""Notebook 06's checks: the reference passes, a stub is 'not done yet', and each named mistake is caught."""

from __future__ import annotations

import pytest
import torch

import transformer_course as tc
from contract import assert_not_done, passes  # tests/contract.py
from transformer_course import checks
from transformer_course.checks import encoder_decoder as ce

# --- wrong DecoderLayers -----------------------------------------------------------------------


def _dec(forward):
    return type("WrongDecoderLayer", (tc.DecoderLayer,), {"forward": forward})


def _self(s, mask):
    return lambda y: s.self_attn(y, y, y, mask)


def _cross(s, memory, mask):
    return lambda y: s.cross_attn(y, memory, memory, mask)


def _decoder(self_mask_used=True, src_mask_used=True, keys_from_memory=True, order=("self", "cross", "ff"),
             queries_from_memory=False):
    def forward(s, x, memory, src_mask=None, tgt_mask=None):
        kv = memory if keys_from_memory else None
        steps = {
            "self": lambda y: s.self_attn_sublayer(y, _self(s, tgt_mask if self_mask_used else None)),
            "cross": lambda y: s.cross_attn_sublayer(
                y, (lambda z: s.cross_attn(memory, z, z, src_mask)) if queries_from_memory else
                (lambda z: s.cross_attn(z, z if kv is None else kv, z if kv is None else kv,
                                        src_mask if src_mask_used else None))),
            "ff": lambda y: s.ff_sublayer(y, s.feed_forward),
        }
        for name in order:
            x = steps[name](x)
        return x
    return _dec(forward)


DECODER_MISTAKES = {
    "memory \\(the encoder's output\\) is never used": _decoder(keys_from_memory=False),
    "masked self-attention gets no mask": _decoder(self_mask_used=False),
    "source mask is not applied in cross-attention": _decoder(src_mask_used=False),
    "cross-attention before self-attention": _decoder(order=("cross", "self", "ff")),
    "cross-attention sub-layer is missing": _decoder(order=("self", "ff")),
    "feed-forward sub-layer is missing": _decoder(order=("self", "cross")),
    "queries from memory": _decoder(queries_from_memory=True),
}


def test_decoder_layer_reference_passes(capsys):
    assert passes(ce.check_decoder_layer, tc.DecoderLayer)
    assert "✔ DecoderLayer: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", DECODER_MISTAKES)
def test_decoder_layer_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ce.check_decoder_layer(DECODER_MISTAKES[message])


# --- wrong target masks ------------------------------------------------------------------------


def _keys(tgt, pad_id):
    return (tgt != pad_id)[:, None, None, :]


def _causal(tgt):
    return torch.tril(torch.ones(tgt.shape[1], tgt.shape[1], dtype=torch.bool, device=tgt.device))


TARGET_MASK_MISTAKES = {
    r"combined with OR \(\|\) instead of AND": lambda tgt, pad_id: _keys(tgt, pad_id) | _causal(tgt),
    "polarity is inverted": lambda tgt, pad_id: ~(_keys(tgt, pad_id) & _causal(tgt)),
    "only the causal part": lambda tgt, pad_id: _causal(tgt).expand(tgt.shape[0], 1, -1, -1),
    "only the padding part": lambda tgt, pad_id: _keys(tgt, pad_id).expand(-1, 1, tgt.shape[1], -1),
    "wrong triangle": lambda tgt, pad_id: _keys(tgt, pad_id) & _causal(tgt).T,
    r"the rows of the padding positions \(as queries\) are all False": lambda tgt, pad_id: (tgt != pad_id)[:, None, :, None] & _causal(tgt),
    "treats id 0 as padding": lambda tgt, pad_id: _keys(tgt, 0) & _causal(tgt),
    "must be bool": lambda tgt, pad_id: (_keys(tgt, pad_id) & _causal(tgt)).float(),
    r"it has 3 axes instead of 4": lambda tgt, pad_id: (_keys(tgt, pad_id) & _causal(tgt))[:, 0],
}


def test_target_mask_reference_passes(capsys):
    assert passes(ce.check_target_mask, tc.target_mask)
    assert "✔ target_mask: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", TARGET_MASK_MISTAKES)
def test_target_mask_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ce.check_target_mask(TARGET_MASK_MISTAKES[message])


# --- wrong shifts ------------------------------------------------------------------------------


def _bos(tgt, bos_id):
    return torch.full_like(tgt[:, :1], bos_id)


SHIFT_MISTAKES = {
    "it is not shifted": lambda tgt, bos_id: tgt,
    r"shifted the wrong way \(left\)": lambda tgt, bos_id: torch.cat([tgt[:, 1:], _bos(tgt, bos_id)], 1),
    "it is rolled": lambda tgt, bos_id: torch.roll(tgt, 1, dims=1),
    "one token too long": lambda tgt, bos_id: torch.cat([_bos(tgt, bos_id), tgt], 1),
    "drops the first target token": lambda tgt, bos_id: torch.cat([_bos(tgt, bos_id), tgt[:, 1:]], 1),
    "must hold integer token ids": lambda tgt, bos_id: tc.shift_right(tgt, bos_id).float(),
}


def test_shift_right_reference_passes(capsys):
    assert passes(ce.check_shift_right, tc.shift_right)
    assert "✔ shift_right: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", SHIFT_MISTAKES)
def test_shift_right_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ce.check_shift_right(SHIFT_MISTAKES[message])


def test_shift_right_reference_is_right():
    tgt = torch.tensor([[5, 6, 7, 2], [8, 2, 0, 0]])
    assert tc.shift_right(tgt, bos_id=1).tolist() == [[1, 5, 6, 7], [1, 8, 2, 0]]


# --- wrong forward passes ----------------------------------------------------------------------


def _forward(src_mask_enc=True, src_mask_dec=True, tgt_mask="target", positions=True, memory_from_encoder=True,
             unembed=True):
    def forward(model, src, tgt, pad_id):
        src_mask = tc.padding_mask(src, pad_id)
        masks = {"target": tc.target_mask(tgt, pad_id), "padding": tc.padding_mask(tgt, pad_id), None: None}
        pos = model.pos_encoding if positions else (lambda y: y)
        source = pos(model.src_embed(src))
        memory = model.encoder(source, src_mask if src_mask_enc else None) if memory_from_encoder else source
        x = model.decoder(pos(model.tgt_embed(tgt)), memory, src_mask if src_mask_dec else None, masks[tgt_mask])
        return model.unembed(x) if unembed else x
    return forward


FORWARD_MISTAKES = {
    "not logits: finish with model.unembed": _forward(unembed=False),
    "no source mask anywhere": _forward(src_mask_enc=False, src_mask_dec=False),
    "source mask is not passed to the decoder": _forward(src_mask_dec=False),
    "encoder does not get the source mask": _forward(src_mask_enc=False),
    "has no causal mask": _forward(tgt_mask="padding"),
    "no target mask at all": _forward(tgt_mask=None),
    "positional encoding is missing": _forward(positions=False),
    "embedded source instead of the encoder's output": _forward(memory_from_encoder=False),
}


def test_transformer_forward_reference_passes(capsys):
    assert passes(ce.check_transformer_forward, tc.transformer_forward)
    assert "✔ transformer_forward: correct" in capsys.readouterr().out


@pytest.mark.parametrize("message", FORWARD_MISTAKES)
def test_transformer_forward_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ce.check_transformer_forward(FORWARD_MISTAKES[message])


def test_transformer_forward_shape_mistake_names_the_axis():
    with pytest.raises(checks.CheckFailed, match=r"axes swapped"):
        ce.check_transformer_forward(lambda *args: tc.transformer_forward(*args).transpose(0, 1))


# --- stubs: not done yet, and strict mode ------------------------------------------------------


def _stub(*args, **kwargs):
    raise NotImplementedError


STUBS = [
    (ce.check_decoder_layer, type("Stub", (tc.DecoderLayer,), {"forward": _stub}), tc.DecoderLayer, "DecoderLayer"),
    (ce.check_target_mask, _stub, tc.target_mask, "target_mask"),
    (ce.check_shift_right, _stub, tc.shift_right, "shift_right"),
    (ce.check_transformer_forward, _stub, tc.transformer_forward, "transformer_forward"),
]


@pytest.mark.parametrize("check, stub, reference, name", STUBS)
def test_stub_is_not_done_and_fails_in_strict_mode(check, stub, reference, name, capsys, monkeypatch):
    assert_not_done(check, stub, reference, name, capsys, monkeypatch)
