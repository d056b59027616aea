"""Checks for notebook 09 (decoder-only): the block, the GPT's forward pass, the causal language-model
loss, attention with a KV cache, the cached forward pass (cached generation == uncached, token for
token), and sampling (checked as properties: greedy at temperature 0, top-k, top-p, seeds).

Module checks copy the reference's seeded weights into the learner's module and compare in eval
mode (dropout off). Masks: bool, True = may attend.
"""

from __future__ import annotations

import re

from typing import Callable

import torch
import torch.nn.functional as F

from .. import gpt as ref
from ..config import ModelConfig
from ..masks import causal_mask, target_mask
from ..multihead import MultiHeadAttention, merge_heads, split_heads
from ..task import lm_training
from ._core import (CheckFailed, LearnerError, call, case, copy_parameters, exercise, expect_close, expect_tensor,
                    is_close, randn)
from ._locate import first_stage, stages
from .block import randomize_norms, reference_and_learner, seeded


def _ids(batch: int, length: int, vocab: int, seed: int) -> torch.Tensor:
    """(batch, length) random ids in 3..vocab-1 (never a special token)."""
    return torch.randint(3, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


# --- the decoder-only block --------------------------------------------------------------------


def _block_mistakes(block: ref.DecoderOnlyBlock, x: torch.Tensor, mask: torch.Tensor) -> dict:
    attend = lambda m: (lambda y: block.self_attn(y, y, y, m))  # noqa: E731
    return {
        "the self-attention gets no mask, so each position sees the future: self.self_attn(y, y, y, mask)":
            lambda: block.ff_sublayer(block.attn_sublayer(x, attend(None)), block.feed_forward),
        "the mask is inverted: True means 'may attend' (the past), pass mask as it is":
            lambda: block.ff_sublayer(block.attn_sublayer(x, attend(~mask)), block.feed_forward),
        "the feed-forward sub-layer is missing: after self-attention comes self.ff_sublayer(x, self.feed_forward)":
            lambda: block.attn_sublayer(x, attend(mask)),
        "the self-attention sub-layer is missing":
            lambda: block.ff_sublayer(x, block.feed_forward),
        "feed-forward before self-attention: the order is masked self-attention, then feed-forward":
            lambda: block.attn_sublayer(block.ff_sublayer(x, block.feed_forward), attend(mask)),
    }


def _check_block(learner_cls: type) -> None:
    # (batch, seq_len, d_model, n_heads, norm_first, padded lengths or None)
    for B, L, d_model, n_heads, norm_first, lengths in [(2, 6, 16, 4, False, None), (2, 5, 16, 2, True, None),
                                                        (3, 4, 8, 2, False, [4, 2, 1]), (1, 1, 8, 2, True, None)]:
        with case(f"x (batch={B}, seq_len={L}, d_model={d_model}), n_heads={n_heads}, norm_first={norm_first}, "
                  + (f"target_mask with real lengths {lengths}" if lengths else "causal mask")):
            args = (d_model, n_heads, 2 * d_model, 0.1, norm_first, "relu")
            reference, learner = reference_and_learner(ref.DecoderOnlyBlock, learner_cls, args, seed=L + d_model,
                                                       what="DecoderOnlyBlock")
            x = randn(B, L, d_model, seed=L)
            if lengths:
                tokens = torch.where(torch.arange(L)[None] < torch.tensor(lengths)[:, None], 5, 0)
                mask = target_mask(tokens, pad_id=0)  # (B, 1, L, L)
            else:
                mask = causal_mask(L)  # (L, L)
            with torch.no_grad():
                expected = reference(x, mask)
                actual = call(learner, x, mask)
                mistakes = {k: v() for k, v in _block_mistakes(reference, x, mask).items()}
            expect_close(actual, expected, "the block's output", atol=1e-4, axes=("batch", "seq_len", "d_model"),
                         mistakes=mistakes)


def check_decoder_only_block(learner: type) -> type:
    """Check the learner's `DecoderOnlyBlock` class; returns theirs if right, the reference if not done."""
    return exercise("DecoderOnlyBlock", learner, ref.DecoderOnlyBlock, _check_block)


# --- the GPT's forward pass --------------------------------------------------------------------


def gpt_config(norm_first: bool = True, vocab_size: int = 13, d_model: int = 16, n_layers: int = 2,
               max_len: int = 64) -> ModelConfig:
    """A tiny GPT's size for the checks."""
    return ModelConfig(vocab_size=vocab_size, d_model=d_model, n_heads=2, n_layers=n_layers, d_ff=2 * d_model,
                       dropout=0.1, max_len=max_len, norm_first=norm_first)


def seeded_gpt(config: ModelConfig, seed: int) -> ref.GPT:
    """A reference GPT with seeded weights (LayerNorms random too), in eval mode."""
    return randomize_norms(seeded(lambda: ref.GPT(config), seed), seed).eval()


def _gpt_mistakes(model: ref.GPT, tokens: torch.Tensor) -> dict:
    def run(mask="causal", positions=True, final_norm=True, unembed=True, scaled=True):
        L = tokens.shape[1]
        x = model.tok_embed(tokens) if scaled else model.tok_embed.lut(tokens)
        x = model.add_positions(x) if positions else x
        m = {"causal": causal_mask(L), "none": None, "triu": torch.triu(torch.ones(L, L, dtype=torch.bool))}[mask]
        for block in model.blocks:
            x = block(x, m)
        if final_norm and model.norm is not None:
            x = model.norm(x)
        return model.unembed(x) if unembed else x

    mistakes = {
        "it returns the last block's states (batch, seq_len, d_model), not logits: finish with "
        "self.unembed": lambda: run(unembed=False),
        "no causal mask: every position sees the future, so it can read the token it must predict; "
        "pass tc.causal_mask(seq_len, device=tokens.device) to every block": lambda: run(mask="none"),
        "the mask is the upper triangle (torch.triu): position t must see 0..t, the lower triangle "
        "(tc.causal_mask)": lambda: run(mask="triu"),
        "the positions are missing: add them with self.add_positions(x) after the token embedding":
            lambda: run(positions=False),
        "the token embedding is not scaled by sqrt(d_model): use self.tok_embed(tokens), not its lookup table":
            lambda: run(scaled=False),
    }
    if model.norm is not None:
        mistakes["the final LayerNorm is missing: with pre-LN the stream is never normalised, so apply "
                 "self.norm before self.unembed"] = lambda: run(final_norm=False)
    return mistakes


def _check_gpt(learner_cls: type) -> None:
    for B, L, norm_first in [(2, 7, True), (3, 5, False), (1, 1, True)]:
        with case(f"tokens (batch={B}, seq_len={L}), norm_first={norm_first} "
                  f"({'with' if norm_first else 'without'} a final LayerNorm)"):
            config = gpt_config(norm_first)
            reference = seeded_gpt(config, seed=L)
            learner = seeded(lambda: learner_cls(config), L + 1)
            copy_parameters(reference, learner, "GPT")
            learner.eval()
            tokens = _ids(B, L, config.vocab_size, seed=L)
            with torch.no_grad():
                expected = reference(tokens)
                actual = call(learner, tokens)
                mistakes = {k: v() for k, v in _gpt_mistakes(reference, tokens).items()}
            expect_close(actual, expected, "the logits", atol=1e-4, axes=("batch", "seq_len", "vocab_size"),
                         mistakes=mistakes)


def check_gpt(learner: type) -> type:
    """Check the learner's `GPT` class (its forward); returns theirs if right, the reference if not done."""
    return exercise("GPT", learner, ref.GPT, _check_gpt)


# --- the causal language-model loss ------------------------------------------------------------


def _loss_mistakes(logits: torch.Tensor, tokens: torch.Tensor, loss_mask: torch.Tensor) -> dict:
    def ce(pred, labels, counted, reduce="mean"):
        nll = F.cross_entropy(pred.transpose(1, 2), labels, reduction="none")
        if counted is None:
            return nll.mean()
        if reduce == "sum":
            return (nll * counted).sum()
        if reduce == "all":
            return (nll * counted).sum() / counted.numel()
        return (nll * counted).sum() / counted.sum()

    return {
        "it is not shifted: position t is scored against token t, which it has just read; score "
        "logits[:, :-1] against tokens[:, 1:]": lambda: ce(logits, tokens, loss_mask),
        "it is shifted the wrong way: position t predicts token t + 1, so logits[:, :-1] go with "
        "tokens[:, 1:] (not logits[:, 1:] with tokens[:, :-1])":
            lambda: ce(logits[:, 1:], tokens[:, :-1], loss_mask[:, :-1]),
        "the loss mask is ignored: every position counts, the prompt and the padding too; average only "
        "where loss_mask[:, 1:] is True": lambda: ce(logits[:, :-1], tokens[:, 1:], None),
        "the loss mask is not shifted with the labels: the mask of label tokens[:, 1:] is loss_mask[:, 1:]":
            lambda: ce(logits[:, :-1], tokens[:, 1:], loss_mask[:, :-1]),
        "it sums over the counted tokens instead of averaging: divide by loss_mask[:, 1:].sum()":
            lambda: ce(logits[:, :-1], tokens[:, 1:], loss_mask[:, 1:], "sum"),
        "it divides by every position instead of the counted ones: divide by loss_mask[:, 1:].sum()":
            lambda: ce(logits[:, :-1], tokens[:, 1:], loss_mask[:, 1:], "all"),
    }


def _check_lm_loss(fn: Callable) -> None:
    for B, L, V, starts, ends in [(2, 8, 11, [3, 5], [8, 7]), (3, 6, 7, [2, 1, 4], [6, 6, 5]), (1, 2, 5, [1], [2])]:
        with case(f"logits (batch={B}, seq_len={L}, vocab_size={V}), loss counted on positions "
                  f"{[f'{s}..{e - 1}' for s, e in zip(starts, ends)]}"):
            logits = randn(B, L, V, seed=L) * 2
            tokens = _ids(B, L, V, seed=L + 1)
            pos = torch.arange(L)[None]
            loss_mask = (pos >= torch.tensor(starts)[:, None]) & (pos < torch.tensor(ends)[:, None])
            tokens = tokens.masked_fill(pos >= torch.tensor(ends)[:, None], 0)  # padding after the end
            expected = lm_training.lm_loss(logits, tokens, loss_mask)
            actual = call(fn, logits, tokens, loss_mask)
            actual = expect_tensor(actual, "the loss")
            if actual.dim() != 0:
                raise CheckFailed(f"the loss should be one number (a 0-d tensor) but has shape "
                                  f"{tuple(actual.shape)}: average over the counted tokens")
            expect_close(actual, expected, "the loss", atol=1e-5, mistakes=_loss_mistakes(logits, tokens, loss_mask))


def check_lm_loss(learner: Callable) -> Callable:
    """Check the learner's `lm_loss(logits, tokens, loss_mask)`; returns theirs if right."""
    return exercise("lm_loss", learner, lm_training.lm_loss, _check_lm_loss)


# --- attention with a KV cache -----------------------------------------------------------------


def _cache_state(cache: ref.KVCache, layer: int, B: int, H: int, tokens: int, d_k: int, when: str) -> None:
    """Fail unless layer `layer` of the cache holds keys and values (B, H, tokens, d_k)."""
    k = cache.keys[layer]
    if k is None:
        raise CheckFailed(f"the cache is still empty after {when}: the new keys and values must go into it, "
                          f"k, v = cache.append(layer, k, v)")
    if k.dim() != 4 or k.shape[-1] != d_k and k.shape[-1] == H * d_k:
        raise CheckFailed(f"the cached keys have shape {tuple(k.shape)}: split the heads first, the cache "
                          f"holds (batch, n_heads, tokens, d_k) = ({B}, {H}, {tokens}, {d_k})")
    want = (B, H, tokens, d_k)
    if tuple(k.shape) != want:
        names = ("batch", "n_heads", "tokens", "d_k")
        grown = [i for i in range(min(k.dim(), 4)) if k.shape[i] > want[i] and i != 2]
        if grown and k.dim() == 4:  # it grew, along another axis than the tokens'
            how = (f"it grew along axis {grown[0]} ({names[grown[0]]}) instead of the tokens axis 2: new keys go "
                   f"after the old ones along the tokens, torch.cat([old, new], dim=2) (or k, v = "
                   f"cache.append(layer, k, v), which does it)")
        elif k.dim() == 4 and k.shape[2] < tokens:
            how = "it was replaced, not grown: cache.append(layer, k, v) adds the new tokens to the old ones"
        else:
            how = "it grew by more than the new tokens" if k.dim() == 4 and k.shape[2] > tokens else "wrong shape"
        raise CheckFailed(f"after {when} the cache should hold keys of shape {want} (batch, n_heads, tokens, d_k) "
                          f"but holds {tuple(k.shape)}: {how}")


def _attend_mistakes(attn, x, k_all, v_all, k_new, v_new, mask) -> dict:
    q = split_heads(attn.w_q(x), attn.n_heads)
    mask_new = None if mask is None else mask[..., -x.shape[1]:]
    out = lambda k, v, m, w_o=True: (attn.w_o if w_o else (lambda y: y))(  # noqa: E731
        merge_heads(ref.scaled_dot_product_attention(q, k, v, m)[0]))
    return {
        "the queries attend only to the new tokens' keys and values: attend to what cache.append returns, "
        "every key cached so far": lambda: out(k_new, v_new, mask_new),
        "the output projection w_o is missing: finish with attn.w_o(merge_heads(out))":
            lambda: out(k_all, v_all, mask, w_o=False),
        "the mask is not applied: pass mask to the attention": lambda: out(k_all, v_all, None),
    }


def _check_attend_with_cache(fn: Callable) -> None:
    # (batch, d_model, n_heads, chunks of new tokens fed one call after another)
    for B, d_model, n_heads, chunks in [(2, 16, 4, [4, 1, 1]), (1, 8, 2, [1, 1, 1]), (2, 16, 2, [3, 2, 1])]:
        with case(f"batch={B}, d_model={d_model}, n_heads={n_heads}, new tokens per call {chunks}"):
            attn = seeded(lambda: MultiHeadAttention(d_model, n_heads, 0.1), seed=d_model).eval()
            ours, theirs = ref.KVCache(2), ref.KVCache(2)
            layer, past = 1, 0
            for i, new in enumerate(chunks):
                when = f"call {i + 1} ({past} tokens cached, {new} new)"
                x = randn(B, new, d_model, seed=10 * i + new)
                mask = ref.causal_mask_after(past, new) if new > 1 else None
                with torch.no_grad():
                    k_new = split_heads(attn.w_k(x), n_heads)
                    v_new = split_heads(attn.w_v(x), n_heads)
                    expected = ref.attend_with_cache(attn, x, theirs, layer, mask)
                    try:
                        actual = call(fn, attn, x, ours, layer, mask)
                    except NotImplementedError:  # a stub: "not done yet"
                        raise
                    except (RuntimeError, ValueError) as error:  # a shape error: say what is wrong with the cache
                        held = ours.keys[layer]
                        if (held is None and past == 0) or (held is not None and held.dim() == 4
                                                             and held.shape[2] == past):
                            joined = re.search(r"except in dimension (-?\d+)", str(error))
                            hint = (f"; torch.cat joins along axis {joined.group(1)}, but the cache grows along "
                                    f"the tokens, axis 2 of (batch, n_heads, tokens, d_k): torch.cat([old, new], "
                                    f"dim=2), or k, v = cache.append(layer, k, v)"
                                    if joined and joined.group(1) not in ("2", "-2") else "")
                            raise LearnerError(f"your code raised {type(error).__name__} ({when}){hint}",
                                               error) from None  # its own error, where it happened
                        _cache_state(ours, layer, B, n_heads, past + new, d_model // n_heads, when)
                        raise
                    _cache_state(ours, layer, B, n_heads, past + new, d_model // n_heads, when)
                    mistakes = _attend_mistakes(attn, x, theirs.keys[layer], theirs.values[layer], k_new, v_new, mask)
                    with case(when):
                        expect_close(ours.keys[layer], theirs.keys[layer], "the cached keys", atol=1e-5,
                                     mistakes={"the cache holds the values where the keys belong (or the other "
                                               "way round): cache.append(layer, k, v)": theirs.values[layer]})
                        expect_close(ours.values[layer], theirs.values[layer], "the cached values", atol=1e-5)
                        expect_close(actual, expected, "the output", atol=1e-5, axes=("batch", "new tokens", "d_model"),
                                     mistakes=mistakes)
                past += new


def check_attend_with_cache(learner: Callable) -> Callable:
    """Check the learner's `attend_with_cache(attn, x, cache, layer, mask)`; returns theirs if right."""
    return exercise("attend_with_cache", learner, ref.attend_with_cache, _check_attend_with_cache)


# --- the cached forward pass: cached generation == uncached ------------------------------------


def cached_variant(model: ref.GPT, tokens: torch.Tensor, cache: ref.KVCache, positions_from_zero=False,
                   mask="right", fresh_cache=False) -> torch.Tensor:
    """The reference cached forward, or one with a typical mistake (for the diagnoses)."""
    if fresh_cache:
        cache = ref.KVCache(len(model.blocks))
    past, new = cache.length, tokens.shape[1]
    x = model.add_positions(model.tok_embed(tokens), start=0 if positions_from_zero else past)
    m = {"right": ref.causal_mask_after(past, new), "top_left": causal_mask(past + new)[:new], "none": None}[mask]
    for layer, block in enumerate(model.blocks):
        x = block.attn_sublayer(x, lambda y: ref.attend_with_cache(block.self_attn, y, cache, layer, m))
        x = block.ff_sublayer(x, block.feed_forward)
    if model.norm is not None:
        x = model.norm(x)
    return model.unembed(x)


def _generate_cached(step: Callable, model, prompt_chunks: list[torch.Tensor], n_new: int
                     ) -> tuple[torch.Tensor, torch.Tensor, ref.KVCache]:
    """Greedy generation with a cache, the prompt fed in chunks: -> (tokens (B, P + n), last logits (B, n, V), cache)."""
    cache = ref.KVCache(len(model.blocks))
    for chunk in prompt_chunks:
        logits = expect_tensor(step(model, chunk, cache), "the logits")
    tokens, steps = torch.cat(prompt_chunks, dim=1), []
    for i in range(n_new):
        steps.append(logits[:, -1])
        next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
        tokens = torch.cat([tokens, next_token], dim=1)
        if i < n_new - 1:
            logits = expect_tensor(step(model, next_token, cache), "the logits")
    return tokens, torch.stack(steps, dim=1), cache


def _generate_uncached(model, prompt: torch.Tensor, n_new: int) -> tuple[torch.Tensor, torch.Tensor]:
    tokens, steps = prompt, []
    for _ in range(n_new):
        last = model(tokens)[:, -1]  # (B, V)
        steps.append(last)
        tokens = torch.cat([tokens, last.argmax(dim=-1, keepdim=True)], dim=1)
    return tokens, torch.stack(steps, dim=1)


def _check_forward_with_cache(fn: Callable) -> None:
    # (batch, prompt fed in chunks of these lengths, new tokens, norm_first)
    for B, chunks, n_new, norm_first in [(2, [5], 8, True), (1, [1], 6, False), (2, [3, 2], 6, True)]:
        with case(f"a GPT with norm_first={norm_first}, batch={B}, the prompt fed in chunks of {chunks} "
                  f"tokens, then {n_new} tokens generated one by one"):
            config = gpt_config(norm_first, vocab_size=17, d_model=16, n_layers=2)
            model = seeded_gpt(config, seed=sum(chunks) + n_new)
            prompt = _ids(B, sum(chunks), config.vocab_size, seed=n_new)
            pieces = list(prompt.split(chunks, dim=1))
            with torch.no_grad():
                first = expect_tensor(call(fn, model, pieces[0], ref.KVCache(len(model.blocks))), "the logits")
                no_mask = cached_variant(model, pieces[0], ref.KVCache(len(model.blocks)), mask="none")
                expect_close(first, model(pieces[0]), f"the logits of the first {chunks[0]} prompt tokens "
                             f"(empty cache)", atol=1e-4, axes=("batch", "seq_len", "vocab_size"),
                             mistakes={"no causal mask: reading several new tokens at once, each must not see "
                                       "the ones after it; use tc.causal_mask(past + L, device=tokens.device)"
                                       "[past:]": no_mask},
                             locate=lambda: _first_cached_stage(fn, model, pieces[:1]))
                want_tokens, want_steps = _generate_uncached(model, prompt, n_new)
                got_tokens, got_steps, cache = _generate_cached(lambda *args: call(fn, *args), model, pieces, n_new)
                variants = {
                    "the positions restart at 0 for the new tokens: they sit at positions cache.length .. "
                    "cache.length + L - 1, so use model.add_positions(x, start=cache.length)":
                        dict(positions_from_zero=True),
                    "the mask still hides cached keys: the new token at position past + i must see keys "
                    "0..past + i, the LAST rows of the causal mask, "
                    "tc.causal_mask(past + L, device=tokens.device)[past:] (not its first rows)": dict(mask="top_left"),
                    "the cache does not grow across calls (a new KVCache each time?): use the cache you are "
                    "given, so the new tokens attend to every token read before": dict(fresh_cache=True),
                }
                mistakes = {d: _generate_cached(lambda m, t, c, kw=kw: cached_variant(m, t, c, **kw), model,
                                                pieces, n_new)[1] for d, kw in variants.items()}
            new_tokens = list(want_tokens[:, sum(chunks):-1].split(1, dim=1))  # what each generation step reads
            expect_close(got_steps, want_steps, "the next-token logits of cached generation", atol=1e-4,
                         axes=("batch", "generation step", "vocab_size"), mistakes=mistakes,
                         locate=lambda: _first_cached_stage(fn, model, pieces + new_tokens))
            if cache.length != want_tokens.shape[1] - 1:
                raise CheckFailed(f"after reading {want_tokens.shape[1] - 1} tokens the cache holds {cache.length}: "
                                  f"each call must add its tokens' keys and values to every layer's cache")
            if not torch.equal(got_tokens, want_tokens):
                step = int((got_tokens != want_tokens).any(dim=0).nonzero()[0])
                raise CheckFailed(f"cached generation wrote a different token than uncached generation at "
                                  f"position {step}")


def _first_cached_stage(fn: Callable, model, pieces: list[torch.Tensor]) -> str | None:
    """Feed the same pieces to the reference forward_with_cache and to ``fn``, each with its own cache.

    In the first call whose logits differ, the first of the model's stages that differs (the sub-modules'
    calls are recorded: the embedding, each block's w_q, w_k, w_v, w_o, norms and feed-forward, the final
    norm, the unembedding), and which positions that call reads; None when nothing can be located.
    """
    try:
        with torch.no_grad():
            theirs_cache, mine_cache = ref.KVCache(len(model.blocks)), ref.KVCache(len(model.blocks))
            past = 0
            for piece in pieces:
                with stages(model) as theirs:
                    want = ref.forward_with_cache(model, piece, theirs_cache)
                with stages(model) as mine:
                    got = call(fn, model, piece, mine_cache)
                if not is_close(got, want, 1e-4, 1e-4):
                    found = first_stage(theirs.calls, mine.calls, 1e-4, 1e-4)
                    return found and (f"{found} (in the call that reads positions {past}..{past + piece.shape[1] - 1}"
                                      f" with {past} tokens in the cache)")
                past += piece.shape[1]
    except Exception:  # noqa: BLE001 (a run that cannot be compared here says nothing rather than something wrong)
        return None
    return None


def check_forward_with_cache(learner: Callable) -> Callable:
    """Check the learner's `forward_with_cache(model, tokens, cache)` by generating with and without it."""
    return exercise("forward_with_cache", learner, ref.forward_with_cache, _check_forward_with_cache)


# --- sampling ----------------------------------------------------------------------------------


def _samples(fn: Callable, logits: torch.Tensor, n: int, seed: int, **kwargs) -> torch.Tensor:
    """n samples from fn for ONE row of logits (V,), drawn in one call on n copies of the row -> (n,) ids."""
    out = call(fn, logits.expand(n, -1), generator=torch.Generator().manual_seed(seed), **kwargs)
    out = expect_tensor(out, "the sampled tokens")
    if tuple(out.shape) != (n,):
        raise CheckFailed(f"the sampled tokens have shape {tuple(out.shape)} but should be (batch,) = ({n},): "
                          f"one token id per row (torch.multinomial(probs, 1)[:, 0])")
    if out.is_floating_point():
        raise CheckFailed(f"the sampled tokens have dtype {out.dtype}: they must be integer token ids")
    return out


def _frequencies(samples: torch.Tensor, V: int) -> torch.Tensor:
    return torch.bincount(samples, minlength=V).float() / len(samples)


def _expect_distribution(freq: torch.Tensor, want: torch.Tensor, what: str, wrong: dict) -> None:
    """Fail unless the sample frequencies match `want` (5 standard errors), naming a matching wrong one."""
    tol = 0.035  # about 5 standard errors for 4000 samples
    if (freq - want).abs().max() <= tol:
        return
    for diagnosis, w in wrong.items():
        if (freq - w).abs().max() <= tol:
            raise CheckFailed(f"{what}: {diagnosis}")
    raise CheckFailed(f"{what}: sampled frequencies {[round(f, 2) for f in freq.tolist()]} but the probabilities "
                      f"are {[round(p, 2) for p in want.tolist()]}")


def _check_sample_next(fn: Callable) -> None:
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5, 1.5])  # (V,)
    V, n = logits.shape[0], 4000
    with case("temperature 0 on a batch of 3 rows"):
        batch = randn(3, 7, seed=1) * 3
        try:
            out = call(fn, batch, temperature=0.0, generator=torch.Generator().manual_seed(0))
        except NotImplementedError:
            raise
        except (RuntimeError, ZeroDivisionError) as err:
            raise CheckFailed(f"temperature 0 must be greedy, but it raised {type(err).__name__}: {err}. Return "
                              f"logits.argmax(dim=-1) when temperature == 0 (dividing by 0 gives inf and NaN)") from None
        out = expect_tensor(out, "the sampled tokens")
        if not torch.equal(out.long(), batch.argmax(dim=-1)):
            raise CheckFailed(f"temperature 0 must be greedy: the most likely token of each row, "
                              f"{batch.argmax(dim=-1).tolist()}, but it gave {out.tolist()} (return "
                              f"logits.argmax(dim=-1) when temperature == 0: dividing by 0 is not defined)")
    with case("the same seed, twice"):
        a = _samples(fn, logits, 50, seed=7, temperature=1.0)
        b = _samples(fn, logits, 50, seed=7, temperature=1.0)
        if not torch.equal(a, b):
            raise CheckFailed("the same seed gave different samples: draw with the generator you are given, "
                              "torch.multinomial(probs, 1, generator=generator)")
    for temperature in (1.0, 2.0, 0.5):
        with case(f"{n} samples at temperature {temperature}"):
            freq = _frequencies(_samples(fn, logits, n, seed=1, temperature=temperature), V)
            greedy = F.one_hot(logits.argmax(), V).float()
            _expect_distribution(freq, (logits / temperature).softmax(-1), "the samples do not follow "
                                 f"softmax(logits / {temperature})", {
                "it always picks the most likely token: sample with torch.multinomial": greedy,
                "it multiplies the logits by the temperature; divide them: logits / temperature":
                    (logits * temperature).softmax(-1),
                "the temperature is ignored: divide the logits by it": logits.softmax(-1),
            })
    with case("temperature 1e-4: nearly greedy"):
        out = _samples(fn, logits, 200, seed=0, temperature=1e-4)
        if not (out == logits.argmax()).all():
            raise CheckFailed("as temperature -> 0 sampling must become greedy, but at temperature 1e-4 it picked "
                              f"tokens other than the most likely one: {sorted(set(out.tolist()))}")
    for k in (3, 1):
        with case(f"top_k={k}, {n} samples at temperature 1"):
            samples = _samples(fn, logits, n, seed=2, temperature=1.0, top_k=k)
            allowed = set(logits.topk(k).indices.tolist())
            outside = sorted(set(samples.tolist()) - allowed)
            if outside:
                raise CheckFailed(f"with top_k={k} it picked token(s) {outside}, which are not among the {k} most "
                                  f"likely {sorted(allowed)}")
            kept = torch.full_like(logits, float("-inf"))
            kept[list(allowed)] = logits[list(allowed)]
            _expect_distribution(_frequencies(samples, V), kept.softmax(-1), f"with top_k={k} the samples do "
                                 "not follow the softmax over the k most likely tokens", {})
    probs = torch.tensor([0.40, 0.25, 0.15, 0.10, 0.06, 0.04])
    for p, size in ((0.6, 2), (0.75, 3), (0.3, 1), (1.0, 6)):
        with case(f"top_p={p} on probabilities {probs.tolist()} (the smallest set with mass >= {p} is the "
                  f"{size} most likely)"):
            samples = _samples(fn, probs.log(), n, seed=3, temperature=1.0, top_p=p)
            picked = set(samples.tolist())
            if picked - set(range(size)):
                raise CheckFailed(f"with top_p={p} it picked token(s) {sorted(picked - set(range(size)))}: the "
                                  f"nucleus is the smallest set of most likely tokens whose probabilities add up "
                                  f"to >= p, here tokens {list(range(size))} (mass {probs[:size].sum():.2f}); "
                                  f"keep the token that crosses p, drop the ones after it")
            if len(picked) < size:
                raise CheckFailed(f"with top_p={p} it only ever picked tokens {sorted(picked)}: the nucleus must "
                                  f"reach mass >= p, here tokens {list(range(size))} (mass {probs[:size].sum():.2f}); "
                                  f"the token whose probability crosses p belongs to it")
            want = torch.zeros(V)
            want[:size] = probs[:size] / probs[:size].sum()
            _expect_distribution(_frequencies(samples, V), want, f"with top_p={p} the samples do not follow the "
                                 "probabilities renormalised over the nucleus", {})
    _check_nucleus_order(fn, probs, n)


def _nucleus_in_sorted_order(logits: torch.Tensor, p: float) -> torch.Tensor:
    """A mistake: the nucleus mask computed on the sorted logits and applied to the unsorted ones."""
    sorted_probs = logits.sort(dim=-1, descending=True).values.softmax(dim=-1)
    return logits.masked_fill(sorted_probs.cumsum(dim=-1) - sorted_probs >= p, float("-inf"))


def _check_nucleus_order(fn: Callable, probs: torch.Tensor, n: int) -> None:
    """top_p on logits that are not sorted, and after the temperature and top_k, as sample_next applies them."""
    order = torch.tensor([2, 0, 5, 1, 4, 3])  # token order[i] gets the i-th largest probability
    logits = torch.empty_like(probs).index_copy_(0, order, probs.log())  # (V,), not sorted
    V = logits.shape[0]
    for temperature, top_k, p in ((1.0, None, 0.6), (2.0, None, 0.6), (1.0, 3, 0.7)):
        scaled = logits / temperature
        keep_k = (lambda z: z) if top_k is None else (lambda z, k=top_k: ref.top_k_filter(z, k))
        want = ref.top_p_filter(keep_k(scaled), p).softmax(-1)
        # with top_k at temperature 1 the last two give the same samples (measured before the temperature, it
        # fails the temperature-2 case first)
        wrong = {
            "the nucleus mask is computed in sorted order and applied to the unsorted logits: map it back to "
            "the vocabulary's order (drop.scatter(-1, order, drop) with the order from logits.sort)":
                _nucleus_in_sorted_order(keep_k(scaled), p).softmax(-1),
            "the nucleus is measured before top_k: keep the top_k tokens first, then the nucleus of what is "
            "left (its probabilities renormalised)": keep_k(ref.top_p_filter(scaled, p)).softmax(-1),
            "the nucleus is measured on the logits before the temperature: divide by the temperature first, "
            "then keep the nucleus of softmax(logits / temperature)":
                keep_k(scaled.masked_fill(ref.top_p_filter(logits, p).isinf(), float("-inf"))).softmax(-1),
        }
        with case(f"top_p={p}" + (f", top_k={top_k}" if top_k else "") + f" at temperature {temperature} on "
                  f"logits that are not sorted, probabilities {[round(q, 2) for q in logits.softmax(-1).tolist()]}"):
            samples = _samples(fn, logits, n, seed=4, temperature=temperature, top_k=top_k, top_p=p)
            _expect_distribution(_frequencies(samples, V), want, f"with top_p={p} the samples do not follow the "
                                 f"probabilities renormalised over the nucleus", wrong)


def check_sample_next(learner: Callable) -> Callable:
    """Check the learner's `sample_next(logits, temperature, top_k, top_p, generator)` by its properties."""
    def check(fn: Callable) -> None:
        with torch.random.fork_rng(devices=[]):  # a sampler that ignores the generator must not move the learner's RNG
            _check_sample_next(fn)
    return exercise("sample_next", learner, ref.sample_next, check)
