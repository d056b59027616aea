"""Notebook 07's assembly check: the reference and the solution pass, a stub is not done, each mistake is named."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import transformer_course as tc
from contract import assert_not_done, fails_with, passes  # tests/contract.py
from transformer_course import checks
from transformer_course.checks import model as cm


class Assembled(nn.Module):
    """The exercise's solution (notebook 07), with the reference's stacks and positional encoding."""

    def __init__(self, config: tc.ModelConfig):
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.src_embed = nn.Embedding(config.source_vocab_size, d_model)
        self.tgt_embed = nn.Embedding(config.vocab_size, d_model)
        self.pos_encoding = tc.SinusoidalPositionalEncoding(d_model, config.max_len, config.dropout)
        stack = dict(d_model=d_model, n_heads=config.n_heads, d_ff=config.d_ff, dropout=config.dropout,
                     norm_first=config.norm_first, activation=config.activation, final_norm=config.final_norm)
        self.encoder = tc.Encoder(config.n_layers, **stack)
        self.decoder = tc.Decoder(config.decoder_layers, **stack)
        self.unembed = nn.Linear(d_model, config.vocab_size)

    def scale(self):
        return math.sqrt(self.config.d_model)

    def encode(self, src, src_mask=None):
        return self.encoder(self.pos_encoding(self.src_embed(src) * self.scale()), src_mask)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        x = self.pos_encoding(self.tgt_embed(tgt) * self.scale())
        return self.unembed(self.decoder(x, memory, src_mask, tgt_mask))

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


class Stub(Assembled):
    def __init__(self, config):
        nn.Module.__init__(self)
        raise NotImplementedError


def wrong(**methods):
    return type("WrongTransformer", (Assembled,), methods)


def test_the_reference_and_the_solution_pass(capsys):
    assert passes(checks.model.check_transformer, tc.Transformer)  # a copy: the reference itself is "not done"
    assert checks.model.check_transformer(Assembled) is Assembled
    assert "✔ Transformer: correct" in capsys.readouterr().out


def test_a_stub_is_not_done_and_fails_in_strict_mode(capsys, monkeypatch):
    assert_not_done(checks.model.check_transformer, Stub, tc.Transformer, "Transformer", capsys, monkeypatch)


def test_the_check_leaves_the_global_random_state_alone():
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    checks.model.check_transformer(Assembled)
    assert torch.equal(before, torch.random.get_rng_state())


# --- the wiring: encode and decode ----------------------------------------------------------------

def _no_scale_encode(self, src, src_mask=None):
    return self.encoder(self.pos_encoding(self.src_embed(src)), src_mask)


def _no_scale_decode(self, tgt, memory, src_mask=None, tgt_mask=None):
    return self.unembed(self.decoder(self.pos_encoding(self.tgt_embed(tgt)), memory, src_mask, tgt_mask))


def _decode_with(embed="tgt_embed", positions=True, masks=("src", "tgt"), unembed=True, softmax=False):
    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        x = getattr(self, embed)(tgt) * self.scale()
        x = self.pos_encoding(x) if positions else x
        given = {"src": src_mask, "tgt": tgt_mask, None: None, "pad": tc.padding_mask(tgt, 0)}
        x = self.decoder(x, memory, given[masks[0]], given[masks[1]])
        logits = self.unembed(x) if unembed else x
        return logits.softmax(-1) if softmax else logits
    return decode


def _encode_with(embed="src_embed", positions=True, mask=True, scale_after=False):
    def encode(self, src, src_mask=None):
        x = getattr(self, embed)(src)
        if scale_after:
            return self.encoder(self.pos_encoding(x) * self.scale(), src_mask if mask else None)
        x = x * self.scale()
        return self.encoder(self.pos_encoding(x) if positions else x, src_mask if mask else None)
    return encode


@pytest.mark.parametrize("learner, fragments", [
    # missing sqrt(d_model) scaling, on either side
    (wrong(encode=_no_scale_encode), ["encode(src, src_mask) is wrong", "not multiplied by sqrt(d_model)"]),
    (wrong(decode=_no_scale_decode), ["decode(", "target embeddings are not multiplied by sqrt(d_model)"]),
    (wrong(encode=_encode_with(scale_after=True)), ["after the positional encoding"]),
    # positional encoding on one side only
    (wrong(encode=_encode_with(positions=False)), ["the source gets no positional encoding", "both sides"]),
    (wrong(decode=_decode_with(positions=False)), ["the target gets no positional encoding", "one side only"]),
    # shared instead of separate embeddings, in use or in __init__
    (wrong(encode=_encode_with(embed="tgt_embed")), ["the source is embedded with tgt_embed"]),
    (wrong(decode=_decode_with(embed="src_embed")), ["the target is embedded with src_embed"]),
    # wrong masks passed
    (wrong(encode=_encode_with(mask=False)), ["src_mask is not passed to the encoder"]),
    (wrong(decode=_decode_with(masks=("tgt", "src"))), ["the masks are swapped"]),
    (wrong(decode=_decode_with(masks=(None, "tgt"))), ["cross-attention gets no src_mask"]),
    (wrong(decode=_decode_with(masks=("src", None))), ["the decoder gets no tgt_mask"]),
    (wrong(decode=_decode_with(masks=("src", "pad"))), ["only the padding mask"]),
    # no unembedding, or probabilities instead of logits
    (wrong(decode=_decode_with(unembed=False)), ["returns the decoder's states", "self.unembed"]),
    (wrong(decode=_decode_with(softmax=True)), ["returns probabilities"]),
])
def test_each_wiring_mistake_is_named(learner, fragments):
    fails_with(checks.model.check_transformer, learner, "Transformer:", *fragments)


def test_a_wrong_forward_is_caught():
    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, None), src_mask, tgt_mask)
    fails_with(checks.model.check_transformer, wrong(forward=forward), "forward(src, tgt, src_mask, tgt_mask)")


# --- the structure: __init__ ----------------------------------------------------------------------

def _init_then(change):
    def __init__(self, config):
        Assembled.__init__(self, config)
        change(self, config)
    return __init__


def _shared(self, config):
    self.tgt_embed = self.src_embed


def _swapped_vocabularies(self, config):
    self.src_embed = nn.Embedding(config.vocab_size, config.d_model)
    self.tgt_embed = nn.Embedding(config.source_vocab_size, config.d_model)


@pytest.mark.parametrize("change, fragments", [
    (lambda self, config: delattr(self, "unembed"),
     ["no attribute `unembed`", "nn.Linear(d_model, config.vocab_size)"]),
    (_shared, ["share one embedding", "each side needs its own"]),
    (_swapped_vocabularies, ["self.src_embed has a table of shape (11, 16) but should have (13, 16)"]),
    (lambda self, config: setattr(self, "unembed", nn.Linear(config.d_model, config.source_vocab_size)),
     ["self.unembed should be nn.Linear(d_model, config.vocab_size)"]),
    (lambda self, config: setattr(self, "decoder", tc.Decoder(config.n_layers + 1, config.d_model, config.n_heads,
                                                              config.d_ff)),
     ["self.decoder should have"]),
    (lambda self, config: setattr(self, "encoder", tc.Encoder(config.n_layers, config.d_model, config.n_heads,
                                                              2 * config.d_ff)),
     ["self.encoder has", "parameters but should have", "every setting"]),
    # norm_first not passed on: the pre-LN case lacks the stacks' final LayerNorms
    (lambda self, config: setattr(self, "decoder", tc.Decoder(config.decoder_layers, config.d_model,
                                                              config.n_heads, config.d_ff)),
     ["self.decoder has", "norm_first"]),
    (lambda self, config: setattr(self, "extra", nn.Linear(2, 2)), ["anything besides the six parts"]),
])
def test_each_structure_mistake_is_named(change, fragments):
    fails_with(checks.model.check_transformer, wrong(__init__=_init_then(change)), "Transformer:", *fragments)


# --- dropout the config asks for; encode and decode run under the watch too --------------------------


class NoPositionalDropout(Assembled):
    def __init__(self, config):
        super().__init__(config)
        self.pos_encoding = tc.SinusoidalPositionalEncoding(config.d_model, config.max_len)  # no config.dropout


class FixedPositionalDropout(Assembled):
    def __init__(self, config):
        super().__init__(config)
        self.pos_encoding = tc.SinusoidalPositionalEncoding(config.d_model, config.max_len, 0.5)


@pytest.mark.parametrize("learner, message", [
    (NoPositionalDropout, "self.pos_encoding applies no dropout in train mode, but config.dropout is 0.1"),
    (FixedPositionalDropout, ("drops other numbers than SinusoidalPositionalEncoding(d_model, config.max_len, "
                              "config.dropout)")),
])
def test_positional_encoding_without_the_configs_dropout_is_named(learner, message):
    """Both passed the old check, which compared in eval mode only."""
    fails_with(cm.check_transformer, learner, message)


class CPUScaleEncode(Assembled):
    """encode makes its scale on the CPU; forward does not go through encode, so only a watched encode sees it."""

    def encode(self, src, src_mask=None):
        scale = torch.full((self.config.d_model,), self.scale())  # the mistake: no device=src.device
        return self.encoder(self.pos_encoding(self.src_embed(src) * scale), src_mask)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        memory = Assembled.encode(self, src, src_mask)
        return self.decode(tgt, memory, src_mask, tgt_mask)


def test_encode_runs_under_the_watch():
    """The old check called model.encode directly, outside the watch: this passed."""
    fails_with(cm.check_transformer, CPUScaleEncode, "encode", "would fail on a GPU", "torch.full")


# --- a mistake no message lists is located: the first stage of the model that differs ------------------------
# Written as a learner could: each is in none of the check's lists, so the message comes from the stages the
# check records (the model's sub-modules, called by the right wiring and by the learner's).

def _positions_twice(self, src, src_mask=None):
    return self.encoder(self.pos_encoding(self.pos_encoding(self.src_embed(src) * self.scale())), src_mask)


def _forward_encodes_the_target(self, src, tgt, src_mask=None, tgt_mask=None):
    return self.decode(tgt, self.encode(tgt, src_mask), src_mask, tgt_mask)


def _decoder_layers_without_the_stack(self, tgt, memory, src_mask=None, tgt_mask=None):
    x = self.pos_encoding(self.tgt_embed(tgt) * self.scale())
    for layer in self.decoder.layers:  # the stack's final norm (pre-LN) is left out
        x = layer(x, memory, src_mask, tgt_mask)
    return self.unembed(x)


@pytest.mark.parametrize("learner, fragments", [
    (wrong(encode=_positions_twice),
     ["encode(src, src_mask) is wrong: the first stage that differs is the input of "
      "`encoder.layers.0.self_attn.w_q`", "it should be the output of the stage before it, `pos_encoding`"]),
    (wrong(forward=_forward_encodes_the_target),
     ["forward(src, tgt, src_mask, tgt_mask) is wrong: the first stage that differs is the input of `src_embed`"]),
    (wrong(decode=_decoder_layers_without_the_stack),
     ["decode(tgt, memory, src_mask, tgt_mask) is wrong: the first stage that differs: your code never calls "
      "`decoder` (Decoder: the decoder layers in order, then the final norm if any)", "norm_first=True"]),
], ids=["positions twice", "forward encodes the target", "decoder layers without the stack"])
def test_an_unlisted_assembly_mistake_is_located(learner, fragments):
    fails_with(checks.model.check_transformer, learner, *fragments)
