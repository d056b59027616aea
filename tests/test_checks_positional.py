"""Notebook 04's checks: the reference passes, a stub is "not done", and each named mistake is caught."""

import math

import pytest
import torch
from torch import nn

import transformer_course as tc
from contract import assert_not_done, fails_with, passes  # tests/contract.py
from transformer_course.checks import positional as pc


def stub_function(*args, **kwargs):
    raise NotImplementedError


class StubLearnedPositionalEmbedding(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        raise NotImplementedError


CASES = [
    (pc.check_permutation_gap, pc.permutation_gap, stub_function),
    (pc.check_sinusoidal_encoding, tc.sinusoidal_encoding, stub_function),
    (pc.check_learned_positional_embedding, tc.LearnedPositionalEmbedding, StubLearnedPositionalEmbedding),
]


@pytest.mark.parametrize("check, reference, stub", CASES)
def test_reference_passes(check, reference, stub, capsys):
    assert passes(check, reference)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, stub", CASES)
def test_stub_is_not_done_and_fails_in_strict_mode(check, reference, stub, capsys, monkeypatch):
    assert_not_done(check, stub, reference, None, capsys, monkeypatch)


# --- permutation_gap ---------------------------------------------------------------------

def test_permutation_gap_as_a_float_passes(capsys):
    pc.check_permutation_gap(lambda f, x, perm: (f(x[:, perm]) - f(x)[:, perm]).abs().max().item())
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda f, x, p: (f(x[:, p]) - f(x)).abs().max(), "with the UNshuffled f(x)"),
    (lambda f, x, p: (f(x[:, p]) - f(x)[:, torch.argsort(p)]).abs().max(), "inverse permutation"),
    (lambda f, x, p: (f(x[..., p]) - f(x)[..., p]).abs().max(), "wrong axis"),
    (lambda f, x, p: (f(x[:, p]) - f(x)[:, p]).abs().mean(), "returns the mean difference"),
    (lambda f, x, p: (f(x[:, p]) - f(x)[:, p]).max(), "take .abs() first"),
    (lambda f, x, p: (f(x[:, p]) - f(x)[:, p]).abs().amax(dim=(1, 2)), "should be one number"),
    (lambda f, x, p: None, "did you forget to `return` it?"),
])
def test_permutation_gap_mistakes(wrong, message):
    fails_with(pc.check_permutation_gap, wrong, "permutation_gap:", message)


# --- sinusoidal_encoding -----------------------------------------------------------------

def encoding(first=0, exponent="2i", layout="interleaved", swap=False, invert=False, transpose=False):
    """A learner's version written the way a learner would, with one mistake switched on."""
    def sinusoidal_encoding(max_len, d_model):
        pe = torch.zeros(max_len, d_model)
        for pos in range(max_len):
            for i in range(d_model // 2):
                e_sin = (2 * i if exponent in ("2i", "j") else i) / d_model
                e_cos = (2 * i + 1) / d_model if exponent == "j" else e_sin
                f_sin, f_cos = (10000 ** e_sin, 10000 ** e_cos) if invert else (10000 ** -e_sin, 10000 ** -e_cos)
                p = pos + first
                a, b = math.sin(p * f_sin), math.cos(p * f_cos)
                if swap:
                    a, b = math.cos(p * f_sin), math.sin(p * f_cos)
                if layout == "interleaved":
                    pe[pos, 2 * i], pe[pos, 2 * i + 1] = a, b
                else:
                    pe[pos, i], pe[pos, d_model // 2 + i] = a, b
        return pe.T if transpose else pe
    return sinusoidal_encoding


def test_loop_encoding_without_mistakes_is_right(capsys):
    pc.check_sinusoidal_encoding(encoding())
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    (dict(layout="concatenated"), "sin and cos are concatenated"),
    (dict(swap=True), "sin and cos are swapped"),
    (dict(exponent="i"), "uses i instead of 2i"),
    (dict(exponent="j"), "uses exponent (2i+1)/d_model"),
    (dict(invert=True), "the frequencies are inverted"),
    (dict(first=1), "positions start at 1"),
    (dict(transpose=True), "it is transposed"),
])
def test_sinusoidal_encoding_mistakes(kwargs, message):
    fails_with(pc.check_sinusoidal_encoding, encoding(**kwargs), "sinusoidal_encoding:", message)


# --- LearnedPositionalEmbedding ----------------------------------------------------------

def learned(forward):
    return type("Learned", (StubLearnedPositionalEmbedding,), {"forward": forward})


def positions(x):
    return torch.arange(x.shape[1], device=x.device)


@pytest.mark.parametrize("forward, message", [
    (lambda self, x: self.embedding(positions(x)).expand_as(x), "returns the position vectors alone; add"),
    (lambda self, x: self.embedding(positions(x)), "returns the position vectors alone, (seq_len, d_model)"),
    (lambda self, x: x + self.embedding(positions(x) + 1), "positions start at 1"),
    (lambda self, x: x + self.embedding(torch.arange(x.shape[0]))[:, None, :], "each batch element"),
    (lambda self, x: x + self.embedding.weight[0], "first row"),
    (lambda self, x: x, "your code never calls `embedding`"),
])
def test_learned_positional_embedding_mistakes(forward, message):
    fails_with(pc.check_learned_positional_embedding, learned(forward), "LearnedPositionalEmbedding:", message)


def test_learned_positional_embedding_right_forward_passes(capsys):
    pc.check_learned_positional_embedding(learned(lambda self, x: self.dropout(x + self.embedding(positions(x)))))
    assert "correct" in capsys.readouterr().out
