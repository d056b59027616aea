"""Notebook 03's checks: the reference passes, a stub is "not done", and each named mistake is caught."""

import math

import pytest
import torch
from einops import rearrange
from torch import nn

import transformer_course as tc
from contract import assert_not_done, fails_with, passes  # tests/contract.py
from transformer_course.checks import multihead as mh

# --- the reference passes; a stub is not done (and fails in strict mode) ----------

REFERENCES = [
    (mh.check_split_heads, tc.split_heads),
    (mh.check_merge_heads, tc.merge_heads),
    (mh.check_multi_head_attention, tc.MultiHeadAttention),
    (mh.check_load_torch_weights, tc.load_torch_weights),
]


def stub_function(*args, **kwargs):
    raise NotImplementedError


class StubMultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attn_weights = None

    def forward(self, query, key, value, mask=None):
        raise NotImplementedError


STUBS = [stub_function, stub_function, StubMultiHeadAttention, stub_function]


@pytest.mark.parametrize("check, reference", REFERENCES)
def test_reference_passes(check, reference, capsys):
    assert passes(check, reference)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("check, reference, stub", [(*r, s) for r, s in zip(REFERENCES, STUBS)])
def test_stub_is_not_done_and_fails_in_strict_mode(check, reference, stub, capsys, monkeypatch):
    assert_not_done(check, stub, reference, None, capsys, monkeypatch)


# --- split_heads and merge_heads ------------------------------------------------------

@pytest.mark.parametrize("wrong, message", [
    (lambda x, h: rearrange(x, "b s (d h) -> b h s d", h=h), "the heads are interleaved"),
    (lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "without a transpose"),
    (lambda x, h: rearrange(x, "b s (h d) -> b s h d", h=h), "the transpose is missing"),
    (lambda x, h: rearrange(x, "b s (h d) -> b h s d", d=h), "heads of n_heads="),
    (lambda x, h: x, "split_heads(x, n_heads) has shape"),
    (lambda x, h: None, "did you forget to `return` it?"),
])
def test_split_heads_mistakes(wrong, message):
    fails_with(mh.check_split_heads, wrong, "split_heads:", message)


@pytest.mark.parametrize("wrong, message", [
    (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "without transposing back"),
    (lambda x: rearrange(x, "b h s d -> b s (d h)"), "interleaved instead of concatenated"),
    (lambda x: rearrange(x, "b h s d -> b s h d"), "does not join n_heads and d_k"),
    (lambda x: x[:, 0], "axis 2 (d_model)"),
])
def test_merge_heads_mistakes(wrong, message):
    fails_with(mh.check_merge_heads, wrong, "merge_heads:", message)


# --- the module ------------------------------------------------------------------------

class Tweakable(StubMultiHeadAttention):
    """A forward with switches for each mistake."""

    scale, split, merge, transpose_back, project, use_mask, kv_from_query, swap_qk, store, drop = (
        "d_k", "h d", "h d", True, True, True, False, False, True, "weights")

    def forward(self, query, key, value, mask=None):
        if self.kv_from_query:
            key = value = query
        w_q, w_k = (self.w_k, self.w_q) if self.swap_qk else (self.w_q, self.w_k)
        q = rearrange(w_q(query), f"b s ({self.split}) -> b h s d", h=self.n_heads)
        k = rearrange(w_k(key), f"b s ({self.split}) -> b h s d", h=self.n_heads)
        v = rearrange(self.w_v(value), f"b s ({self.split}) -> b h s d", h=self.n_heads)
        scores = q @ k.transpose(-2, -1)
        scores = scores / math.sqrt({"d_k": self.d_k, "d_model": self.d_model, "none": 1}[self.scale])
        if mask is not None and self.use_mask:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        weights = torch.nan_to_num(weights, nan=0.0)  # a fully padded row: no weights
        if self.drop == "weights":
            weights = self.dropout(weights)
        if self.store:
            self.attn_weights = weights
        out = weights @ v
        if self.drop == "out":
            out = self.dropout(out)
        if self.transpose_back:
            out = rearrange(out, f"b h s d -> b s ({self.merge})")
        else:
            out = out.reshape(out.shape[0], out.shape[2], -1)
        out = self.w_o(out) if self.project else out
        return self.dropout(out) if self.drop == "final" else out


def variant(**switches):
    return type("Variant", (Tweakable,), switches)


def test_tweakable_without_switches_is_right(capsys):
    mh.check_multi_head_attention(variant())
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("switches, message", [
    (dict(project=False), "the output projection W_O is missing"),
    (dict(scale="none"), "not divided by sqrt(d_k)"),
    (dict(scale="d_model"), "divided by sqrt(d_model)"),
    (dict(use_mask=False), "the mask is ignored"),
    (dict(split="d h", merge="d h"), "the heads are interleaved"),
    (dict(transpose_back=False), "without transposing back"),
    (dict(kv_from_query=True), "computed from the query"),
    (dict(swap_qk=True), "W_Q and W_K are swapped"),
    (dict(store=False), "self.attn_weights is None"),
])
def test_multi_head_attention_mistakes(switches, message):
    fails_with(mh.check_multi_head_attention, variant(**switches), "MultiHeadAttention:", message)


def test_multi_head_attention_wrong_output_shape_names_the_axis():
    class NoMerge(Tweakable):
        def forward(self, query, key, value, mask=None):
            q = tc.split_heads(self.w_q(query), self.n_heads)
            k = tc.split_heads(self.w_k(key), self.n_heads)
            v = tc.split_heads(self.w_v(value), self.n_heads)
            out, self.attn_weights = tc.scaled_dot_product_attention(q, k, v, mask)
            return out  # (B, h, q_len, d_k): never merged
    fails_with(mh.check_multi_head_attention, NoMerge, "it has 4 axes instead of 3")


def test_multi_head_attention_with_other_parameter_names():
    class Renamed(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.query_proj = nn.Linear(d_model, d_model)
    fails_with(mh.check_multi_head_attention, Renamed, "missing: w_k.bias, w_k.weight")


# --- loading torch's weights -------------------------------------------------------------

def loader(order="qkv", transpose=False, biases=True, out_proj=True, out_transposed=False, bias_order=None,
           out_bias=True):
    def load(ours, mha):
        chunks = dict(zip("qkv", mha.in_proj_weight.detach().chunk(3)))
        bias_chunks = dict(zip("qkv", mha.in_proj_bias.detach().chunk(3)))
        with torch.no_grad():
            for name, source in zip("qkv", order):
                lin = getattr(ours, f"w_{name}")
                lin.weight.copy_(chunks[source].T if transpose else chunks[source])
                if biases:
                    lin.bias.copy_(bias_chunks[(bias_order or order)["qkv".index(name)]])
            if out_proj:
                ours.w_o.weight.copy_(mha.out_proj.weight.T if out_transposed else mha.out_proj.weight)
                if out_bias:
                    ours.w_o.bias.copy_(mha.out_proj.bias)
        return ours
    return load


def test_loader_without_mistakes_is_right(capsys):
    mh.check_load_torch_weights(loader())
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    (dict(order="kqv"), "w_q.weight holds the W_K chunk"),
    (dict(order="qvk"), "w_k.weight holds the W_V chunk"),
    (dict(transpose=True), "holds its chunk transposed (W_Q.T)"),
    (dict(biases=False), "w_q.bias was not copied"),
    (dict(out_proj=False), "w_o.weight was not copied"),
    (dict(out_transposed=True), "w_o.weight is transposed"),
    (dict(bias_order="qvk"), "w_k.bias holds the W_V chunk of in_proj_bias"),
    (dict(out_bias=False), "w_o.bias was not copied"),
])
def test_load_torch_weights_mistakes(kwargs, message):
    fails_with(mh.check_load_torch_weights, loader(**kwargs), "load_torch_weights:", message)


def test_load_torch_weights_that_does_nothing():
    fails_with(mh.check_load_torch_weights, lambda ours, mha: None, "still the module's own random initial weight")


def _aliasing_loader(ours, mha):
    """Puts torch's own tensors (views of in_proj_weight) into ours instead of copying their values."""
    for lin, w, b in zip((ours.w_q, ours.w_k, ours.w_v), mha.in_proj_weight.chunk(3), mha.in_proj_bias.chunk(3)):
        lin.weight, lin.bias = nn.Parameter(w.detach()), nn.Parameter(b.detach())
    ours.w_o.weight, ours.w_o.bias = mha.out_proj.weight, mha.out_proj.bias
    return ours


def _aliasing_data_loader(ours, mha):
    d_model = ours.w_q.weight.shape[0]
    for i, lin in enumerate((ours.w_q, ours.w_k, ours.w_v)):
        lin.weight.data = mha.in_proj_weight.data[i * d_model:(i + 1) * d_model]
        lin.bias.data = mha.in_proj_bias.data[i * d_model:(i + 1) * d_model]
    ours.w_o.weight.data, ours.w_o.bias.data = mha.out_proj.weight.data, mha.out_proj.bias.data
    return ours


def test_an_aliasing_loader_shares_memory_with_torch():
    """Why it is wrong: one optimizer step on ours changes torch's module too."""
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    ours = _aliasing_loader(tc.MultiHeadAttention(8, 2), mha)
    before = mha.in_proj_weight.detach().clone()
    ours.w_q.weight.sum().backward()
    torch.optim.SGD(ours.parameters(), lr=0.1).step()
    assert not torch.equal(before, mha.in_proj_weight.detach())


@pytest.mark.parametrize("load", [_aliasing_loader, _aliasing_data_loader])
def test_load_torch_weights_that_aliases_instead_of_copying_is_named(load):
    """Its values are right, so it passed the old check."""
    fails_with(mh.check_load_torch_weights, load, "w_q.weight shares its memory with torch's mha.in_proj_weight",
               ".copy_(")
