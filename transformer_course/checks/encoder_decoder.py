"""Checks for notebook 06 (encoder and decoder): the decoder layer, the target mask,
shifting the target for teacher forcing, and the full forward pass.

Module checks copy the reference's seeded weights into the learner's module and compare
in eval mode (dropout off). Masks follow the course's convention: bool, True = may attend.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .. import encoder_decoder as ref
from .. import masks
from ..config import ModelConfig
from ._core import CheckFailed, call, case, exercise, expect_close, expect_tensor, randn, without_grad
from ._locate import first_stage, stages
from .block import randomize_norms, reference_and_learner, seeded


def _ids(lengths: list[int], seq_len: int, vocab: int, seed: int, pad_id: int = 0) -> torch.Tensor:
    """(batch, seq_len) random ids in 3..vocab-1 (never a special token), then pad_id after each length."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (len(lengths), seq_len), generator=generator)
    real = torch.arange(seq_len)[None, :] < torch.tensor(lengths)[:, None]
    return torch.where(real, ids, torch.full_like(ids, pad_id))


# --- DecoderLayer ------------------------------------------------------------------------------


def _decoder_mistakes(layer: ref.DecoderLayer, x, memory, src_mask, tgt_mask) -> dict:
    def run(self_mask, cross_q, cross_kv, cross_mask, order=("self", "cross", "ff"), cross_v=None,
            raw_self=False, raw_cross=False):
        """The reference forward with one change; raw_*: the sub-layer's lambda ignores its argument."""
        cross_v = cross_v or cross_kv
        steps = {
            "self": lambda y: layer.self_attn_sublayer(
                y, lambda z: layer.self_attn(*(y, y, y) if raw_self else (z, z, z), self_mask)),
            "cross": lambda y: layer.cross_attn_sublayer(
                y, lambda z: layer.cross_attn(cross_q(y if raw_cross else z), cross_kv(z), cross_v(z), cross_mask)),
            "ff": lambda y: layer.ff_sublayer(y, layer.feed_forward),
        }
        y = x
        for name in order:
            y = steps[name](y)
        return y

    same_len = x.shape[1] == memory.shape[1]
    own = lambda z: z  # noqa: E731
    mem = lambda z: memory  # noqa: E731
    mistakes = {
        "the masked self-attention gets no mask, so each position sees the future (and padding): "
        "self.self_attn(x, x, x, tgt_mask)":
            lambda: run(None, own, mem, src_mask),
        "the source mask is not applied in cross-attention, so padded source tokens are attended to: "
        "self.cross_attn(x, memory, memory, src_mask)":
            lambda: run(tgt_mask, own, mem, None),
        "cross-attention before self-attention; the order is masked self-attention, cross-attention, "
        "feed-forward":
            lambda: run(tgt_mask, own, mem, src_mask, ("cross", "self", "ff")),
        "the cross-attention sub-layer is missing: the decoder never looks at the source":
            lambda: run(tgt_mask, own, mem, src_mask, ("self", "ff")),
        "the feed-forward sub-layer is missing":
            lambda: run(tgt_mask, own, mem, src_mask, ("self", "cross")),
        "the self-attention sub-layer ignores its argument: `lambda y: self.self_attn(x, x, x, tgt_mask)` "
        "attends over the raw x, so with norm_first the LayerNorm applied to y is lost; write "
        "`lambda y: self.self_attn(y, y, y, tgt_mask)`":
            lambda: run(tgt_mask, own, mem, src_mask, raw_self=True),
        "the cross-attention sub-layer ignores its argument: its queries come from the raw x instead of y, "
        "so with norm_first the LayerNorm applied to y is lost; write `lambda y: self.cross_attn(y, memory, "
        "memory, src_mask)`":
            lambda: run(tgt_mask, own, mem, src_mask, raw_cross=True),
    }
    if same_len:  # these only run without a shape error when source and target have the same length
        mistakes.update({
            "cross-attention uses the decoder states as keys and values, so memory (the encoder's "
            "output) is never used: keys and values come from memory, self.cross_attn(x, memory, memory, "
            "src_mask)":
                lambda: run(tgt_mask, own, own, src_mask),
            "cross-attention takes its queries from memory and keys/values from the decoder; it is the "
            "other way round: queries from x, keys and values from memory":
                lambda: layer.ff_sublayer(layer.cross_attn_sublayer(
                    layer.self_attn_sublayer(x, lambda z: layer.self_attn(z, z, z, tgt_mask)),
                    lambda z: layer.cross_attn(memory, z, z, src_mask)), layer.feed_forward),
            "cross-attention gets the target mask: its keys are the source positions, so it needs the "
            "source's padding mask, self.cross_attn(x, memory, memory, src_mask)":
                lambda: run(tgt_mask, own, mem, tgt_mask),
            "the masked self-attention gets the source mask: it needs the target mask (causal and padding), "
            "self.self_attn(x, x, x, tgt_mask)":
                lambda: run(src_mask, own, mem, src_mask),
            "the masks are swapped: self-attention needs tgt_mask, cross-attention src_mask":
                lambda: run(src_mask, own, mem, tgt_mask),
            "cross-attention takes its values from the decoder states: keys AND values come from memory":
                lambda: run(tgt_mask, own, mem, src_mask, cross_v=own),
            "cross-attention takes its keys from the decoder states: keys AND values come from memory":
                lambda: run(tgt_mask, own, own, src_mask, cross_v=mem),
        })
    return mistakes


def _check_decoder_layer(learner_cls: type) -> None:
    # (tgt lengths, T, src lengths, S, d_model, n_heads, norm_first); equal lengths first, so that
    # using x in place of memory is named rather than failing on a mask shape
    for tgt_lengths, T, src_lengths, S, d_model, n_heads, norm_first in [
        ([5, 3], 5, [2, 5], 5, 16, 4, False),
        ([4, 2, 1], 4, [7, 3, 0], 7, 16, 2, False),  # S != T, and a fully padded source row
        ([6, 3], 6, [3, 2], 3, 16, 4, True),
        ([1], 1, [1], 1, 8, 2, True),  # batch of 1, length 1
    ]:
        B = len(tgt_lengths)
        with case(f"x (batch={B}, tgt_len={T}, d_model={d_model}), memory (batch={B}, src_len={S}), "
                  f"n_heads={n_heads}, norm_first={norm_first}, real target lengths {tgt_lengths}, "
                  f"real source lengths {src_lengths}"):
            args = (d_model, n_heads, 2 * d_model, 0.1, norm_first, "relu")
            reference, learner = reference_and_learner(ref.DecoderLayer, learner_cls, args, seed=T + S,
                                                       what="DecoderLayer")
            x, memory = randn(B, T, d_model, seed=1), randn(B, S, d_model, seed=2)
            tgt_mask = masks.target_mask(_ids(tgt_lengths, T, 10, seed=3), pad_id=0)  # (B, 1, T, T)
            src_mask = masks.padding_mask(_ids(src_lengths, S, 10, seed=4), pad_id=0)  # (B, 1, 1, S)
            with torch.no_grad():
                expected = reference(x, memory, src_mask, tgt_mask)
                actual = call(learner, x, memory, src_mask, tgt_mask)
                mistakes = without_grad(_decoder_mistakes(reference, x, memory, src_mask, tgt_mask))
            expect_close(actual, expected, "the decoder layer's output", atol=1e-4,
                         axes=("batch", "tgt_len", "d_model"), mistakes=mistakes)


def check_decoder_layer(learner: type) -> type:
    """Check the learner's `DecoderLayer` class; returns theirs if right, the reference if not done."""
    return exercise("DecoderLayer", learner, ref.DecoderLayer, _check_decoder_layer)


# --- the target mask ---------------------------------------------------------------------------


def _check_target_mask(fn: Callable) -> None:
    for lengths, T, pad_id in [([5, 3, 1], 5, 0), ([4, 0], 4, 0), ([1], 1, 0), ([2, 4], 4, 2)]:
        with case(f"tgt of shape (batch={len(lengths)}, tgt_len={T}), real lengths {lengths}, pad_id={pad_id}"):
            tgt = _ids(lengths, T, 10, seed=T, pad_id=pad_id)
            expected = masks.target_mask(tgt, pad_id)  # (B, 1, T, T)
            actual = expect_tensor(call(fn, tgt, pad_id), "the mask")
            if actual.dtype != torch.bool:
                raise CheckFailed(
                    f"the mask has dtype {actual.dtype} but must be bool (True = may attend): combine bool "
                    f"masks with & and keep them bool")
            keys = (tgt != pad_id)[:, None, None, :]
            rows = (tgt != pad_id)[:, None, :, None]
            causal = masks.causal_mask(T)
            future = torch.triu(torch.ones(T, T, dtype=torch.bool))
            if actual.shape == (T, T) and bool((actual == causal).all()) and not bool(expected.all()):
                raise CheckFailed("the mask is the causal mask alone, (tgt_len, tgt_len): the padding part is "
                                  "missing; combine it with padding_mask(tgt, pad_id) using &, which also gives "
                                  "the (batch, 1, tgt_len, tgt_len) shape")
            expect_close(actual, expected, "the mask", axes=("batch", "1 (heads)", "q_len", "k_len"), mistakes={
                "it treats id 0 as padding instead of the pad_id it is given":
                    (tgt != 0)[:, None, None, :] & causal,
                "the masks are combined with OR (|) instead of AND (&): a key must be a real token AND "
                "not in the future": keys | causal,
                "the polarity is inverted: True must mean 'may attend' (the real, past tokens)": ~expected,
                "only the causal part is there: padding keys are not hidden": causal.expand(len(lengths), 1, T, T),
                "only the padding part is there: the future is not hidden": keys.expand(-1, 1, T, T),
                "the causal part is the wrong triangle: torch.triu lets each position see the future; "
                "torch.tril keeps positions 0..i for row i": keys & future,
                "the rows of the padding positions (as queries) are all False: the target mask hides padding "
                "only as keys (the columns); a padding query keeps seeing the real tokens before it, as "
                "padding_mask(tgt, pad_id) & causal_mask(T, device=tgt.device) gives": rows & causal,
            })


def check_target_mask(learner: Callable) -> Callable:
    """Check the learner's `target_mask(tgt, pad_id)`; returns theirs if right, the reference if not done."""
    return exercise("target_mask", learner, masks.target_mask, _check_target_mask)




# --- shifting the target -----------------------------------------------------------------------


def _check_shift_right(fn: Callable) -> None:
    for lengths, T, bos_id in [([5, 3], 5, 1), ([4, 4, 2], 4, 1), ([1], 1, 1), ([3], 3, 7)]:
        with case(f"target of shape (batch={len(lengths)}, tgt_len={T}), bos_id={bos_id}"):
            tgt = _ids(lengths, T, 10, seed=T + bos_id)
            expected = ref.shift_right(tgt, bos_id)
            actual = expect_tensor(call(fn, tgt, bos_id), "the decoder input")
            if actual.is_floating_point():
                raise CheckFailed(f"the decoder input has dtype {actual.dtype} but must hold integer token "
                                  f"ids like the target ({tgt.dtype})")
            bos = torch.full_like(tgt[:, :1], bos_id)
            expect_close(actual, expected, "the decoder input", axes=("batch", "tgt_len"), mistakes={
                "it is not shifted: position t would read the very token it must predict; prepend <bos> "
                "and drop the last token": tgt,
                "it is shifted the wrong way (left): position t must read target[t-1], so <bos> goes in "
                "front and the last token is dropped": torch.cat([tgt[:, 1:], bos], dim=1),
                "it is rolled: the last target token wrapped around to the front; position 0 must be "
                "<bos> (bos_id)": torch.roll(tgt, 1, dims=1),
                "it is one token too long: after prepending <bos>, drop the last target token "
                "(target[:, :-1]) so the input has tgt_len tokens": torch.cat([bos, tgt], dim=1),
                "it drops the first target token instead of the last: <bos> + target[:, :-1]":
                    torch.cat([bos, tgt[:, 1:]], dim=1),
            })


def check_shift_right(learner: Callable) -> Callable:
    """Check the learner's `shift_right(tgt, bos_id)`; returns theirs if right, the reference if not done."""
    return exercise("shift_right", learner, ref.shift_right, _check_shift_right)


# --- the full forward pass ---------------------------------------------------------------------


def _forward_mistakes(model: ref.Transformer, src, tgt, pad_id) -> dict:
    def run(src_mask_enc, src_mask_dec, tgt_mask, positions="both", memory_from_encoder=True, unembed=True):
        no_pos = lambda y: y  # noqa: E731
        src_pos = model.pos_encoding if positions in ("both", "src") else no_pos
        tgt_pos = model.pos_encoding if positions in ("both", "tgt") else no_pos
        source = src_pos(model.src_embed(src))
        memory = model.encoder(source, src_mask_enc) if memory_from_encoder else source
        x = model.decoder(tgt_pos(model.tgt_embed(tgt)), memory, src_mask_dec, tgt_mask)
        return model.unembed(x) if unembed else x

    src_mask, tgt_mask = masks.padding_mask(src, pad_id), masks.target_mask(tgt, pad_id)
    return {
        "it returns the decoder's states (batch, tgt_len, d_model), not logits: finish with "
        "model.unembed, the unembedding to the vocabulary":
            lambda: run(src_mask, src_mask, tgt_mask, unembed=False),
        "no source mask anywhere: padded source tokens are attended to; pass padding_mask(src, pad_id) "
        "to the encoder and as the decoder's src_mask": lambda: run(None, None, tgt_mask),
        "the source mask is not passed to the decoder, so its cross-attention attends to padded source "
        "tokens": lambda: run(src_mask, None, tgt_mask),
        "the encoder does not get the source mask": lambda: run(None, src_mask, tgt_mask),
        "the decoder's self-attention has no causal mask (padding_mask(tgt) alone lets it see the "
        "future): use target_mask": lambda: run(src_mask, src_mask, masks.padding_mask(tgt, pad_id)),
        "the decoder gets no target mask at all: it sees the future": lambda: run(src_mask, src_mask, None),
        "the decoder's target mask is the causal mask alone: the padding of the target is not hidden; use "
        "target_mask(tgt, pad_id), causal AND padding":
            lambda: run(src_mask, src_mask, masks.causal_mask(tgt.shape[1])),
        "the positional encoding is missing: add model.pos_encoding after each embedding":
            lambda: run(src_mask, src_mask, tgt_mask, positions="none"),
        "the decoder side has no positional encoding: apply model.pos_encoding to model.tgt_embed(tgt) too":
            lambda: run(src_mask, src_mask, tgt_mask, positions="src"),
        "the encoder side has no positional encoding: apply model.pos_encoding to model.src_embed(src) too":
            lambda: run(src_mask, src_mask, tgt_mask, positions="tgt"),
        "the decoder's cross-attention gets the target mask: pass the source mask, padding_mask(src, pad_id), "
        "as its src_mask": lambda: run(src_mask, tgt_mask, tgt_mask),
        "it treats id 0 as padding instead of the pad_id it is given":
            lambda: run(masks.padding_mask(src, 0), masks.padding_mask(src, 0), masks.target_mask(tgt, 0)),
        "the decoder attends to the embedded source instead of the encoder's output: memory = "
        "model.encoder(...)": lambda: run(src_mask, src_mask, tgt_mask, memory_from_encoder=False),
    }


def _causal_property(fn: Callable, model, src, tgt, pad_id: int) -> Callable[[torch.Tensor], str | None]:
    """Property: changing the last target token leaves the logits at every earlier position unchanged."""
    def check(got: torch.Tensor) -> str | None:
        if tgt.shape[1] < 2:
            return None
        changed = tgt.clone()
        changed[:, -1] = torch.where(changed[:, -1] == 3, 4, 3)  # another real token
        with torch.no_grad():
            again = call(fn, model, src, changed, pad_id)
        if torch.allclose(again[:, :-1].float(), got[:, :-1], atol=1e-4):
            return None
        return ("changing the LAST target token changes the logits at earlier positions, so the decoder sees "
                "the future: its self-attention needs target_mask(tgt, pad_id)")
    return check


def _check_transformer_forward(fn: Callable) -> None:
    for src_lengths, S, tgt_lengths, T, norm_first, pad_id in [
        ([6, 4, 2], 6, [3, 4, 2], 4, False, 0),
        ([5, 5], 5, [5, 2], 5, True, 0),
        ([1], 1, [1], 1, False, 0),  # batch of 1, length 1
        ([4, 2], 4, [3, 2], 3, False, 2),  # a pad_id other than 0
    ]:
        B = len(src_lengths)
        with case(f"src (batch={B}, src_len={S}), tgt (batch={B}, tgt_len={T}), norm_first={norm_first}, "
                  f"pad_id={pad_id}"):
            model = seeded(lambda: ref.Transformer(ModelConfig(src_vocab_size=11, vocab_size=13, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                                                   dropout=0.1, norm_first=norm_first)), seed=S + T)
            model = randomize_norms(model, seed=S).eval()
            src = _ids(src_lengths, S, 11, seed=S, pad_id=pad_id)
            tgt = _ids(tgt_lengths, T, 13, seed=T + 1, pad_id=pad_id)
            with torch.no_grad(), stages(model) as theirs:
                expected = ref.transformer_forward(model, src, tgt, pad_id)
            with torch.no_grad(), stages(model) as mine:
                actual: Any = call(fn, model, src, tgt, pad_id)
            mistakes = without_grad(_forward_mistakes(model, src, tgt, pad_id))
            expect_close(actual, expected, "the logits", atol=1e-4, axes=("batch", "tgt_len", "vocab_size"),
                         mistakes=mistakes, properties=[_causal_property(fn, model, src, tgt, pad_id)],
                         locate=lambda: first_stage(theirs.calls, mine.calls, 1e-4, 1e-4))


def check_transformer_forward(learner: Callable) -> Callable:
    """Check the learner's `transformer_forward(model, src, tgt, pad_id)`; returns theirs if right."""
    return exercise("transformer_forward", learner, ref.transformer_forward, _check_transformer_forward)
