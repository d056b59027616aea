"""Notebook 09's checks: the reference passes, a stub is 'not done yet', and each named mistake is caught."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import transformer_course as tc
from contract import assert_not_done, assert_rng_untouched, fails_with, passes  # tests/contract.py
from transformer_course.checks import gpt as cg
from transformer_course.multihead import merge_heads, split_heads
from transformer_course.task import lm_training

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    cg.check_decoder_only_block: (tc.DecoderOnlyBlock, "DecoderOnlyBlock"),
    cg.check_gpt: (tc.GPT, "GPT"),
    cg.check_lm_loss: (lm_training.lm_loss, "lm_loss"),
    cg.check_attend_with_cache: (tc.attend_with_cache, "attend_with_cache"),
    cg.check_forward_with_cache: (tc.forward_with_cache, "forward_with_cache"),
    cg.check_sample_next: (tc.sample_next, "sample_next"),
}


@pytest.mark.parametrize("check", REFERENCES, ids=[name for _, name in REFERENCES.values()])
def test_reference_passes(check, capsys):
    reference, name = REFERENCES[check]
    assert passes(check, reference)
    assert f"✔ {name}: correct" in capsys.readouterr().out


def _stub(*args, **kwargs):
    raise NotImplementedError


class _StubModule(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, *args, **kwargs):
        raise NotImplementedError


@pytest.mark.parametrize("check", REFERENCES, ids=[name for _, name in REFERENCES.values()])
def test_stub_is_not_done(check, capsys, monkeypatch):
    reference, name = REFERENCES[check]
    stub = _StubModule if isinstance(reference, type) else _stub
    if reference is tc.GPT:  # the notebook's GPT stub has the reference's parameters, only forward is missing
        stub = type("StubGPT", (tc.GPT,), {"forward": _StubModule.forward})
    if reference is tc.DecoderOnlyBlock:
        stub = type("StubBlock", (tc.DecoderOnlyBlock,), {"forward": _StubModule.forward})
    assert_not_done(check, stub, reference, name, capsys, monkeypatch)


# --- the block ---------------------------------------------------------------------------------


def _block(forward):
    return type("WrongBlock", (tc.DecoderOnlyBlock,), {"forward": forward})


BLOCK_MISTAKES = {
    "gets no mask": lambda s, x, mask=None: s.ff_sublayer(s.attn_sublayer(x, lambda y: s.self_attn(y, y, y)),
                                                           s.feed_forward),
    "mask is inverted": lambda s, x, mask=None: s.ff_sublayer(
        s.attn_sublayer(x, lambda y: s.self_attn(y, y, y, ~mask)), s.feed_forward),
    "feed-forward sub-layer is missing": lambda s, x, mask=None: s.attn_sublayer(
        x, lambda y: s.self_attn(y, y, y, mask)),
    "self-attention sub-layer is missing": lambda s, x, mask=None: s.ff_sublayer(x, s.feed_forward),
    "feed-forward before self-attention": lambda s, x, mask=None: s.attn_sublayer(
        s.ff_sublayer(x, s.feed_forward), lambda y: s.self_attn(y, y, y, mask)),
}


@pytest.mark.parametrize("message", BLOCK_MISTAKES)
def test_block_mistakes_are_named(message):
    fails_with(cg.check_decoder_only_block, _block(BLOCK_MISTAKES[message]), message)


# --- the GPT -----------------------------------------------------------------------------------


def _gpt_forward(mask="causal", positions=True, final_norm=True, unembed=True, scaled=True):
    def forward(self, tokens):
        L = tokens.shape[1]
        x = self.tok_embed(tokens) if scaled else self.tok_embed.lut(tokens)
        if positions:
            x = self.add_positions(x)
        m = {"causal": tc.causal_mask(L, device=tokens.device), "none": None,
             "triu": torch.triu(torch.ones(L, L, dtype=torch.bool, device=tokens.device))}[mask]
        for block in self.blocks:
            x = block(x, m)
        if final_norm and self.norm is not None:
            x = self.norm(x)
        return self.unembed(x) if unembed else x
    return type("WrongGPT", (tc.GPT,), {"forward": forward})


GPT_MISTAKES = {
    "not logits": _gpt_forward(unembed=False),
    "no causal mask": _gpt_forward(mask="none"),
    "upper triangle": _gpt_forward(mask="triu"),
    "positions are missing": _gpt_forward(positions=False),
    "not scaled by sqrt\\(d_model\\)": _gpt_forward(scaled=False),
    "final LayerNorm is missing": _gpt_forward(final_norm=False),
}


@pytest.mark.parametrize("message", GPT_MISTAKES)
def test_gpt_mistakes_are_named(message):
    with pytest.raises(tc.checks.CheckFailed, match=message):
        cg.check_gpt(GPT_MISTAKES[message])


# --- the loss ----------------------------------------------------------------------------------


def _nll(pred, labels):
    return F.cross_entropy(pred.transpose(1, 2), labels, reduction="none")


LOSS_MISTAKES = {
    "it is not shifted": lambda logits, tokens, m: (_nll(logits, tokens) * m).sum() / m.sum(),
    "shifted the wrong way": lambda logits, tokens, m: (_nll(logits[:, 1:], tokens[:, :-1]) * m[:, :-1]).sum()
    / m[:, :-1].sum(),
    "loss mask is ignored": lambda logits, tokens, m: _nll(logits[:, :-1], tokens[:, 1:]).mean(),
    "loss mask is not shifted": lambda logits, tokens, m: (_nll(logits[:, :-1], tokens[:, 1:]) * m[:, :-1]).sum()
    / m[:, :-1].sum(),
    "it sums over the counted tokens": lambda logits, tokens, m: (_nll(logits[:, :-1], tokens[:, 1:]) * m[:, 1:]).sum(),
    "divides by every position": lambda logits, tokens, m: (_nll(logits[:, :-1], tokens[:, 1:]) * m[:, 1:]).sum()
    / m[:, 1:].numel(),
}


@pytest.mark.parametrize("message", LOSS_MISTAKES)
def test_lm_loss_mistakes_are_named(message):
    fails_with(cg.check_lm_loss, LOSS_MISTAKES[message], message)


def test_lm_loss_per_token_is_refused():
    fails_with(cg.check_lm_loss, lambda logits, tokens, m: _nll(logits[:, :-1], tokens[:, 1:]) * m[:, 1:],
               "should be one number")


# --- attention with a cache --------------------------------------------------------------------


def _attend(append=True, use_all=True, w_o=True, apply_mask=True, replace=False, swap=False, split=True):
    def attend(attn, x, cache, layer, mask=None):
        q = split_heads(attn.w_q(x), attn.n_heads)
        k_new = split_heads(attn.w_k(x), attn.n_heads) if split else attn.w_k(x)
        v_new = split_heads(attn.w_v(x), attn.n_heads) if split else attn.w_v(x)
        k, v = k_new, v_new
        if replace:
            cache.keys[layer], cache.values[layer] = k_new, v_new
        elif append:
            k, v = cache.append(layer, v_new, k_new) if swap else cache.append(layer, k_new, v_new)
            if swap:
                k, v = v, k
        if not use_all:
            k, v = k_new, v_new
            mask = None if mask is None else mask[..., -x.shape[1]:]
        out, _ = tc.scaled_dot_product_attention(q, k, v, mask if apply_mask else None)
        out = merge_heads(out)
        return attn.w_o(out) if w_o else out
    return attend


ATTEND_MISTAKES = {
    "the cache is still empty": _attend(append=False),
    "replaced, not grown": _attend(replace=True),
    "split the heads first": _attend(split=False),
    "attend only to the new tokens": _attend(use_all=False),
    "w_o is missing": _attend(w_o=False),
    "mask is not applied": _attend(apply_mask=False),
    "the values where the keys belong": _attend(swap=True),
}


@pytest.mark.parametrize("message", ATTEND_MISTAKES)
def test_attend_with_cache_mistakes_are_named(message):
    fails_with(cg.check_attend_with_cache, ATTEND_MISTAKES[message], message)


# --- the cached forward: cached generation == uncached -----------------------------------------


def _cached(positions_from_zero=False, mask="right", fresh_cache=False):
    def forward_with_cache(model, tokens, cache):
        return cg.cached_variant(model, tokens, cache, positions_from_zero, mask, fresh_cache)
    return forward_with_cache


def _recomputes_everything(model, tokens, cache):
    """Reads the new tokens with the cache but forgets to return only their logits... by running the
    whole model on them alone: no cache at all (positions from 0, nothing cached)."""
    return model(tokens)


CACHED_MISTAKES = {
    "positions restart at 0": _cached(positions_from_zero=True),
    "the mask still hides cached keys": _cached(mask="top_left"),
    "the cache does not grow": _cached(fresh_cache=True),
    "no causal mask: reading several new tokens": _cached(mask="none"),
}


@pytest.mark.parametrize("message", CACHED_MISTAKES)
def test_forward_with_cache_mistakes_are_named(message):
    fails_with(cg.check_forward_with_cache, CACHED_MISTAKES[message], message)


def test_forward_with_cache_that_ignores_the_cache_fails():
    with pytest.raises(tc.checks.CheckFailed, match="cached generation"):
        cg.check_forward_with_cache(_recomputes_everything)


# --- sampling ----------------------------------------------------------------------------------


def _sampler(temperature_op="divide", greedy_at_zero=True, use_generator=True, sample=True, top_k_extra=0,
             top_p_mode="right"):
    def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
        if temperature == 0 and greedy_at_zero:
            return logits.argmax(dim=-1)
        if temperature_op == "divide":
            logits = logits / temperature
        elif temperature_op == "multiply":
            logits = logits * temperature
        if top_k is not None:
            kth = logits.topk(min(top_k + top_k_extra, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if top_p is not None:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(-1)
            cum = probs.cumsum(-1)
            drop = {"right": cum - probs >= top_p, "no_crossing": cum > top_p - 1e-9,
                    "one_more": cum - probs > top_p + probs}[top_p_mode]
            if top_p_mode == "no_crossing":
                drop[..., 0] = False
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        if not sample:
            return logits.argmax(dim=-1)
        return torch.multinomial(logits.softmax(-1), 1, generator=generator if use_generator else None)[:, 0]
    return sample_next


SAMPLING_MISTAKES = {
    "temperature 0 must be greedy": _sampler(greedy_at_zero=False),
    "the same seed gave different samples": _sampler(use_generator=False),
    "it always picks the most likely token": _sampler(sample=False),
    "multiplies the logits by the temperature": _sampler(temperature_op="multiply"),
    "the temperature is ignored": _sampler(temperature_op="ignore"),
    "not among the 3 most likely": _sampler(top_k_extra=1),
    "the token whose probability crosses p belongs to it": _sampler(top_p_mode="no_crossing"),
    "keep the token that crosses p, drop the ones after it": _sampler(top_p_mode="one_more"),
}


@pytest.mark.parametrize("message", SAMPLING_MISTAKES)
def test_sample_next_mistakes_are_named(message):
    fails_with(cg.check_sample_next, SAMPLING_MISTAKES[message], message)


def test_sampling_check_leaves_the_global_rng_alone():
    """On a learner's copy, so the check's body runs (handed the reference itself, it would return at once)."""
    assert_rng_untouched(cg.check_sample_next, tc.sample_next)


def test_sampling_check_with_a_sampler_that_ignores_the_generator_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    with pytest.raises(tc.checks.CheckFailed, match="the same seed gave different samples"):
        cg.check_sample_next(_sampler(use_generator=False))  # it draws from the global generator
    assert torch.equal(before, torch.random.get_rng_state())


def test_gpt_mask_made_on_the_cpu_is_named():
    """A causal mask made without device= passes on a CPU but breaks on a GPU: the check says so."""
    def forward(self, tokens):
        x = self.add_positions(self.tok_embed(tokens))
        mask = tc.causal_mask(tokens.shape[1])  # the mistake: no device=tokens.device
        for block in self.blocks:
            x = block(x, mask)
        return self.unembed(self.norm(x) if self.norm is not None else x)
    fails_with(cg.check_gpt, type("CPUMaskGPT", (tc.GPT,), {"forward": forward}), "would fail on a GPU")


def test_lm_loss_that_writes_into_its_input_is_named():
    def lm_loss(logits, tokens, loss_mask):
        loss_mask[:, 0] = False  # the mistake: writes into the caller's tensor
        return lm_training.lm_loss(logits, tokens, loss_mask)
    fails_with(cg.check_lm_loss, lm_loss, "in place")


# --- the nucleus: of unsorted logits, after the temperature and top_k --------------------------------


def _nucleus_sampler(where="right"):
    """sample_next with top_p computed right, or "sorted" (the mask built in sorted order, never mapped back),
    "before temperature" (on the raw logits) or "before top_k"."""
    def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
        if temperature == 0:
            return logits.argmax(dim=-1)
        raw, logits = logits, logits / temperature
        if top_p is not None and where == "before top_k":
            logits = tc.gpt.top_p_filter(logits, top_p)
        if top_k is not None:
            logits = tc.gpt.top_k_filter(logits, top_k)
        if top_p is not None and where == "sorted":
            probs = logits.sort(dim=-1, descending=True).values.softmax(dim=-1)
            logits = logits.masked_fill(probs.cumsum(dim=-1) - probs >= top_p, float("-inf"))  # sorted order!
        elif top_p is not None and where == "before temperature":
            logits = logits.masked_fill(tc.gpt.top_p_filter(raw, top_p).isinf(), float("-inf"))
        elif top_p is not None and where == "right":
            logits = tc.gpt.top_p_filter(logits, top_p)
        return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)[:, 0]
    return sample_next


def test_nucleus_sampler_written_out_passes():
    assert passes(cg.check_sample_next, _nucleus_sampler())


@pytest.mark.parametrize("where, message", [
    ("sorted", "the nucleus mask is computed in sorted order and applied to the unsorted logits"),
    ("before temperature", "the nucleus is measured on the logits before the temperature"),
    ("before top_k", "the nucleus is measured before top_k"),
])
def test_nucleus_in_the_wrong_order_is_named(where, message):
    """Each passed the old check, whose logits were sorted and whose top_p cases had temperature 1, no top_k."""
    fails_with(cg.check_sample_next, _nucleus_sampler(where), message)


# --- the cached forward runs under the watch: a mask made on the CPU is named --------------------------


def _forward_with_cache_cpu_mask(model, tokens, cache):
    past, L = cache.length, tokens.shape[1]
    x = model.add_positions(model.tok_embed(tokens), start=past)
    mask = tc.causal_mask(past + L)[past:]  # the mistake: no device=tokens.device
    for layer, block in enumerate(model.blocks):
        x = block.attn_sublayer(x, lambda y, attn=block.self_attn, layer=layer: tc.attend_with_cache(
            attn, y, cache, layer, mask))
        x = block.ff_sublayer(x, block.feed_forward)
    return model.unembed(model.norm(x) if model.norm is not None else x)


def test_forward_with_cache_mask_made_on_the_cpu_is_named():
    """It passed the old check, which called the learner's function directly, outside the watch."""
    fails_with(cg.check_forward_with_cache, _forward_with_cache_cpu_mask, "would fail on a GPU",
               "tc.causal_mask(past + L)[past:]")


def test_forward_with_cache_hints_make_the_mask_on_the_tokens_device():
    fails_with(cg.check_forward_with_cache, _cached(mask="top_left"), "tc.causal_mask(past + L, device=tokens.device)")
    fails_with(cg.check_forward_with_cache, _cached(mask="none"), "tc.causal_mask(past + L, device=tokens.device)")


# --- a cached forward's mistake no message lists is located: the first stage that differs ------------------


def _cached_forward(feed_forward=True, start=lambda past: past):
    def forward_with_cache(model, tokens, cache):
        past, n = cache.length, tokens.shape[1]
        x = model.add_positions(model.tok_embed(tokens), start=start(past))
        mask = tc.causal_mask(past + n, device=tokens.device)[past:]
        for layer, block in enumerate(model.blocks):
            x = block.attn_sublayer(x, lambda y: tc.attend_with_cache(block.self_attn, y, cache, layer, mask))  # noqa: B023
            if feed_forward:
                x = block.ff_sublayer(x, block.feed_forward)
        return model.unembed(model.norm(x) if model.norm is not None else x)
    return forward_with_cache


def test_a_cached_forward_without_its_feed_forward_is_located():
    fails_with(cg.check_forward_with_cache, _cached_forward(feed_forward=False),
               "the first stage that differs: your code never calls `blocks.0.feed_forward`",
               "in the call that reads positions 0..4 with 0 tokens in the cache")


def test_a_cached_forward_is_located_in_the_first_call_that_differs():
    """Positions one too far once the cache holds something: the first call is right, the next one is not."""
    model = cg.seeded_gpt(cg.gpt_config(True, vocab_size=17, d_model=16, n_layers=2), seed=0)
    pieces = [torch.randint(3, 17, (2, 4), generator=torch.Generator().manual_seed(0)), torch.tensor([[5], [6]])]
    assert cg._first_cached_stage(_cached_forward(), model, pieces) is None  # the right one: nothing to locate
    found = cg._first_cached_stage(_cached_forward(start=lambda past: past + 1 if past else 0), model, pieces)
    assert found.startswith("the first stage that differs is the input of `blocks.0.") and \
        found.endswith("(in the call that reads positions 4..4 with 4 tokens in the cache)"), found
