"""A catalogue of realistic wrong answers to every checked exercise, run through the checks as the notebooks call them.

Each entry is (kind, exercise, wrong implementation, what the message must say). The kinds are those
of issue 9: a tensor made on the CPU (device), an in-place change of an input, dropout in the wrong
place or never used, a wrong dtype or an ignored argument, mistakes that used to be caught without
being explained, look-alike mistakes that used to be named wrongly, and the loop itself (the
reference handed back, an error in the learner's code, what the text forbids or asks). A second
list holds unusual but right answers, which must pass. (Wrong and right answers that the topic
tests already hold, e.g. most beam-search and train_step mistakes, are not repeated here.)

A third list, ``UNLISTED`` (tests/unlisted_mistakes.py, issue 18), holds wrong answers written from
the notebooks' exercise text alone, not for any message of the checks; ``NAMED`` below records, for
each, the fragment of the message that names it (None: caught, but the message does not name it).

Run as a script to measure: ``python tests/test_checks_catalog.py`` prints, per kind, how many
wrong answers are caught and how many of the catches name the mistake, then the same for UNLISTED.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

import transformer_course as tc
from transformer_course import checks
from transformer_course.checks import training as ct
from transformer_course.checks import warmup
from transformer_course.task.number_words import BOS_ID, EOS_ID, PAD_ID

sys.path.insert(0, str(Path(__file__).parent))
from contract import learner_copy  # noqa: E402  (tests/contract.py)
from unlisted_mistakes import UNLISTED  # noqa: E402  (tests/unlisted_mistakes.py: written from the notebooks' text)

NEG_INF = float("-inf")


def forward(reference: type, method):
    """A learner's class: the reference's __init__ with `method` as forward."""
    return type(reference.__name__, (reference,), {"forward": method})


def zero_full_rows(weights, mask):
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


# --- wrong answers -------------------------------------------------------------------------------


def _softmax_in_place(z):
    z -= z.max(dim=-1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


def _softmax_no_keepdim(z):
    e = (z - z.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1)


def _softmax_no_max(z):
    return z.exp() / z.exp().sum(-1, keepdim=True)


def _residual_in_place(self, x):
    x += self.linear2(torch.relu(self.linear1(x)))
    return x


def _masked_softmax_in_place(scores, mask):
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores.masked_fill_(~mask, NEG_INF)
    return zero_full_rows(torch.softmax(scores, dim=-1), mask)


def _masked_softmax_tilde_none(scores, mask):
    return zero_full_rows(torch.softmax(scores.masked_fill(~mask, NEG_INF), dim=-1), mask)


def _masked_softmax_cpu_zeros(scores, mask):
    weights = torch.softmax(scores if mask is None else scores.masked_fill(~mask, NEG_INF), dim=-1)
    return torch.where(torch.isnan(weights), torch.zeros(weights.shape), weights)


def _mha(drop="weights", value_from="value", w_o=True):
    def fwd(self, query, key, value, mask=None):
        value = {"value": value, "key": key}[value_from]
        q = tc.split_heads(self.w_q(query), self.n_heads)
        k = tc.split_heads(self.w_k(key), self.n_heads)
        v = tc.split_heads(self.w_v(value), self.n_heads)
        out, weights = tc.scaled_dot_product_attention(q, k, v, mask, self.dropout if drop == "weights" else None)
        self.attn_weights = weights.detach()
        out = tc.merge_heads(self.dropout(out) if drop == "out" else out)
        return self.w_o(out) if w_o else out
    return forward(tc.MultiHeadAttention, fwd)


def _loader(transpose=False, returns=True):
    def load(ours, mha):
        chunks = mha.in_proj_weight.detach().chunk(3)
        biases = mha.in_proj_bias.detach().chunk(3)
        with torch.no_grad():
            for lin, w, b in zip((ours.w_q, ours.w_k, ours.w_v), chunks, biases):
                lin.weight.copy_(w.T if transpose else w)
                lin.bias.copy_(b)
            ours.w_o.weight.copy_(mha.out_proj.weight)
            ours.w_o.bias.copy_(mha.out_proj.bias)
        return ours if returns else None
    return load


def _gap_roll(f, x, perm):
    return (f(torch.roll(x, 1, dims=1)) - torch.roll(f(x), 1, dims=1)).abs().max()


def _sinusoidal(dtype=torch.float32, layout="interleaved"):
    def sinusoidal_encoding(max_len, d_model):
        pos = torch.arange(max_len, dtype=dtype)[:, None]
        rate = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=dtype) / d_model)
        if layout == "concatenated":
            return torch.cat([torch.sin(pos * rate), torch.cos(pos * rate)], dim=1)
        pe = torch.zeros(max_len, d_model, dtype=dtype)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * rate), torch.cos(pos * rate)
        return pe
    return sinusoidal_encoding


def _learned(device=True, drop="sum"):
    def fwd(self, x):
        positions = torch.arange(x.shape[1], device=x.device if device else None)
        if drop == "table":
            return x + self.dropout(self.embedding(positions))
        return self.dropout(x + self.embedding(positions))
    return forward(tc.LearnedPositionalEmbedding, fwd)


def _layer_norm(in_place=False, unbiased=False):
    def fwd(self, x):
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=unbiased)
        if in_place:
            x.sub_(mean)
            return x / torch.sqrt(var + self.eps) * self.weight + self.bias
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
    return forward(tc.LayerNorm, fwd)


def _ff(place):
    def fwd(self, x):
        if place == "output":
            return self.dropout(self.linear2(self.activation(self.linear1(x))))
        if place == "input":
            return self.linear2(self.activation(self.linear1(self.dropout(x))))
        return self.linear2(self.activation(self.linear1(x)))
    return forward(tc.FeedForward, fwd)


def _sublayer(place):
    def fwd(self, x, sublayer):
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x))) if place != "none" else x + sublayer(self.norm(x))
        if place == "stream":
            return self.norm(self.dropout(x + sublayer(x)))
        return self.norm(x + sublayer(x))
    return forward(tc.SublayerConnection, fwd)


def _encoder(closure=False, mask=True):
    def fwd(self, x, m=None):
        m = m if mask else None
        if closure:
            x = self.attn_sublayer(x, lambda y: self.self_attn(x, x, x, m))
        else:
            x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, m))
        return self.ff_sublayer(x, self.feed_forward)
    return forward(tc.EncoderLayer, fwd)


def _target_mask_cpu(tgt, pad_id):
    return tc.padding_mask(tgt, pad_id) & tc.causal_mask(tgt.shape[1])


def _target_mask_or(tgt, pad_id):
    return tc.padding_mask(tgt, pad_id) | tc.causal_mask(tgt.shape[1], device=tgt.device)


def _decoder(cross_mask="src", kv="memory", v_from="memory", self_mask="tgt", closure=False):
    def fwd(self, x, memory, src_mask=None, tgt_mask=None):
        sm = {"src": src_mask, "tgt": tgt_mask}[self_mask]
        if closure:
            x = self.self_attn_sublayer(x, lambda y: self.self_attn(x, x, x, sm))
        else:
            x = self.self_attn_sublayer(x, lambda y: self.self_attn(y, y, y, sm))
        m = {"src": src_mask, "tgt": tgt_mask}[cross_mask]
        x = self.cross_attn_sublayer(x, lambda y: self.cross_attn(
            y, memory if kv == "memory" else y, memory if v_from == "memory" else y, m))
        return self.ff_sublayer(x, self.feed_forward)
    return forward(tc.DecoderLayer, fwd)


def _mha_keys_from_value(self, query, key, value, mask=None):
    q, k, v = (tc.split_heads(w(t), self.n_heads) for w, t in ((self.w_q, query), (self.w_k, value), (self.w_v, value)))
    out, weights = tc.scaled_dot_product_attention(q, k, v, mask, self.dropout)
    self.attn_weights = weights.detach()
    return self.w_o(tc.merge_heads(out))


def _forward_no_causal(model, src, tgt, pad_id):
    src_mask = tc.padding_mask(src, pad_id)
    memory = model.encoder(model.pos_encoding(model.src_embed(src)), src_mask)
    x = model.decoder(model.pos_encoding(model.tgt_embed(tgt)), memory, src_mask, tc.padding_mask(tgt, pad_id))
    return model.unembed(x)


def _forward_future_by_cumsum(model, src, tgt, pad_id):
    """Right logits plus a term that reads the NEXT token: the future leaks in a way no listed mistake has."""
    logits = tc.transformer_forward(model, src, tgt, pad_id)
    nxt = torch.cat([tgt[:, 1:], tgt[:, :1]], dim=1).float()
    return logits + 0.01 * nxt[..., None]


def _forward(tgt_positions=True, pad_zero=False):
    def transformer_forward(model, src, tgt, pad_id):
        pad = 0 if pad_zero else pad_id
        src_mask, tgt_mask = tc.padding_mask(src, pad), tc.target_mask(tgt, pad)
        memory = model.encoder(model.pos_encoding(model.src_embed(src)), src_mask)
        y = model.tgt_embed(tgt)
        y = model.pos_encoding(y) if tgt_positions else y
        return model.unembed(model.decoder(y, memory, src_mask, tgt_mask))
    return transformer_forward


def _shift_in_place(tgt, bos_id):
    tgt[:, 1:] = tgt[:, :-1].clone()
    tgt[:, 0] = bos_id
    return tgt


def _loss(pad="given"):
    def label_smoothing_loss(logits, target, smoothing, pad_id):
        pad_id = 0 if pad == "zero" else pad_id
        log_probs = F.log_softmax(logits, dim=-1)
        nll = -log_probs.gather(-1, target[..., None]).squeeze(-1)
        per_token = (1 - smoothing) * nll + smoothing * -log_probs.mean(-1)
        if pad == "counted":
            return per_token.mean()
        real = target != pad_id
        return (per_token * real).sum() / real.sum()
    return label_smoothing_loss


def _train_step(order="right", shift="slices"):
    def train_step(model, batch, optimizer, scheduler=None, smoothing=0.1, pad_id=PAD_ID, clip_norm=1.0):
        src, tgt = batch
        if shift == "shift_right":
            tgt_in, tgt_out = tc.shift_right(tgt, BOS_ID), tgt
        else:
            tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        model.train()
        logits = model(src, tgt_in, tc.padding_mask(src, pad_id), tc.target_mask(tgt_in, pad_id))
        loss = tc.label_smoothing_loss(logits, tgt_out, smoothing, pad_id)
        if order == "right":
            optimizer.zero_grad()
        loss.backward()
        if order == "zero_grad_late":
            optimizer.zero_grad()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        if order == "scheduler_first" and scheduler is not None:
            scheduler.step()
        optimizer.step()
        if order != "scheduler_first" and scheduler is not None:
            scheduler.step()
        return loss.item()
    return train_step


def _greedy(device=True, done_flag=True):
    def greedy_decode(model, src, max_len):
        dev = src.device if device else None
        src_mask = tc.padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), BOS_ID, dtype=torch.long, device=dev)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=dev)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, tc.target_mask(ys, PAD_ID))
            next_token = logits[:, -1].argmax(-1)
            if done_flag:
                next_token = next_token.masked_fill(done, PAD_ID)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            done = done | (next_token == EOS_ID)
            if done.all():
                break
        return ys
    return greedy_decode


def _beam(float_ids=False, **mistake):
    def beam_search(model, src, beam_width, max_len):
        ids = ct.beam_variant(model, src, beam_width, max_len, **mistake)
        return ids.float() if float_ids else ids
    return beam_search


# (kind, check, wrong, fragment of the message)
CATALOG = [
    # --- device: a tensor made on the CPU ----------------------------------------------------------
    ("device", checks.warmup.check_pairwise_dot,
     lambda a, b: (a @ b.transpose(-2, -1)) * torch.ones(a.shape[1], b.shape[1]), "`torch.ones(...)` at line"),
    ("device", checks.attention.check_masked_softmax, _masked_softmax_cpu_zeros, "`torch.zeros(...)` at line"),
    ("device", checks.attention.check_causal_mask,
     lambda n, device=None: torch.tril(torch.ones(n, n, dtype=torch.bool)), "it ignores its `device` argument"),
    ("device", checks.positional.check_learned_positional_embedding, _learned(device=False),
     "`torch.arange(...)` at line"),
    ("device", checks.encoder_decoder.check_target_mask, _target_mask_cpu, "tc.causal_mask(tgt.shape[1])` is on the CPU"),
    ("device", checks.training.check_greedy_decode, _greedy(device=False), "`torch.full(...)` at line"),
    # --- in-place changes of an input ----------------------------------------------------------------
    ("in-place", checks.warmup.check_mean_over_positions, lambda x: x.div_(x.shape[1]).sum(dim=1),
     "changes its input `x` in place (`div_`"),
    ("in-place", checks.residual.check_softmax, _softmax_in_place, "changes its input `z` in place"),
    ("in-place", checks.residual.check_residual_block, forward(tc.ResidualBlock, _residual_in_place),
     "changes its input `x` in place"),
    ("in-place", checks.attention.check_masked_softmax, _masked_softmax_in_place,
     "changes its input `scores` in place (`masked_fill_`"),
    ("in-place", checks.block.check_layer_norm, _layer_norm(in_place=True), "changes its input `x` in place (`sub_`"),
    ("in-place", checks.encoder_decoder.check_shift_right, _shift_in_place, "changes its input `tgt` in place"),
    # --- dropout ----------------------------------------------------------------------------------------
    ("dropout", checks.multihead.check_multi_head_attention, _mha(drop="out"), "dropout is applied to each head's output"),
    ("dropout", checks.multihead.check_multi_head_attention, _mha(drop=None), "never applies dropout"),
    ("dropout", checks.positional.check_learned_positional_embedding, _learned(drop="table"),
     "dropout is applied to the position vectors only"),
    ("dropout", checks.block.check_feed_forward, _ff("output"), "dropout is applied after linear2"),
    ("dropout", checks.block.check_feed_forward, _ff("input"), "dropout is applied to the input x"),
    ("dropout", checks.block.check_feed_forward, _ff("none"), "never applies dropout"),
    ("dropout", checks.block.check_sublayer_connection, _sublayer("stream"),
     "dropout is applied to the residual stream itself"),
    ("dropout", checks.block.check_sublayer_connection, _sublayer("none"), "never applies dropout"),
    # --- dtypes and ignored arguments ---------------------------------------------------------------------
    ("dtype/argument", checks.warmup.check_chunk_sequence,
     lambda x, c: rearrange(x.double(), "b (n c) d -> b n c d", c=c), "dtype torch.float64 but should be torch.float32"),
    ("dtype/argument", checks.positional.check_sinusoidal_encoding, _sinusoidal(torch.float64),
     "dtype torch.float64 but should be torch.float32"),
    ("dtype/argument", checks.training.check_beam_search, _beam(float_ids=True), "must hold integer token ids"),
    ("dtype/argument", checks.attention.check_padding_mask, lambda t, pad: (t != 0)[:, None, None, :],
     "compares with 0 instead of pad_id"),
    ("dtype/argument", checks.encoder_decoder.check_transformer_forward, _forward(pad_zero=True),
     "treats id 0 as padding instead of the pad_id"),
    ("dtype/argument", checks.training.check_label_smoothing_loss, _loss("zero"), "treats id 0 as padding"),
    ("dtype/argument", checks.positional.check_permutation_gap, _gap_roll, "rolls the positions by one"),
    # --- caught, now explained -------------------------------------------------------------------------------
    ("explained", checks.residual.check_softmax, _softmax_no_keepdim, "without keepdim=True"),
    ("explained", checks.residual.check_softmax, _softmax_no_max, "subtract each row's maximum"),
    ("explained", checks.residual.check_next_token_probs, lambda s, W: s @ W, "it returns the logits"),
    ("explained", checks.encoder_decoder.check_transformer_forward, _forward(tgt_positions=False),
     "the decoder side has no positional encoding"),
    ("explained", checks.encoder_decoder.check_decoder_layer, _decoder(cross_mask="tgt"),
     "cross-attention gets the target mask"),
    ("explained", checks.encoder_decoder.check_decoder_layer, _decoder(kv="x", v_from="x"),
     "memory (the encoder's output) is never used"),
    ("explained", checks.encoder_decoder.check_decoder_layer, _decoder(v_from="x"),
     "cross-attention takes its values from the decoder states"),
    ("explained", checks.multihead.check_multi_head_attention, _mha(value_from="key"), "the values are computed from `key`"),
    ("explained", checks.multihead.check_multi_head_attention, forward(tc.MultiHeadAttention, _mha_keys_from_value),
     "the keys are computed from `value`"),
    ("explained", checks.encoder_decoder.check_decoder_layer, _decoder(closure=True),
     "the self-attention sub-layer ignores its argument"),
    ("explained", checks.encoder_decoder.check_decoder_layer, _decoder(self_mask="src"),
     "the masked self-attention gets the source mask"),
    ("explained", checks.encoder_decoder.check_transformer_forward, _forward_no_causal, "has no causal mask"),
    ("explained", checks.encoder_decoder.check_transformer_forward, _forward_future_by_cumsum,
     "changing the LAST target token changes the logits at earlier positions"),
    ("explained", checks.multihead.check_multi_head_attention, _mha(w_o=False), "W_O is missing"),
    ("explained", checks.block.check_encoder_layer, _encoder(closure=True), "the sub-layer ignores its argument"),
    ("explained", checks.block.check_encoder_layer, _encoder(mask=False), "the mask is not passed to self-attention"),
    ("explained", checks.block.check_encoder_layer, forward(tc.EncoderLayer, lambda self, x, mask=None: self.ff_sublayer(
        self.ff_sublayer(self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask)), self.feed_forward),
        self.feed_forward)), "the feed-forward sub-layer is applied twice"),
    ("explained", checks.attention.check_scaled_dot_product_attention,
     lambda q, k, v, mask=None: (lambda w: (w @ v, w))(tc.masked_softmax(q @ k.transpose(-2, -1) / k.shape[-2] ** 0.5,
                                                                          mask)),
     "the scores are divided by sqrt(k_len)"),
    ("explained", checks.training.check_train_step, _train_step(shift="shift_right"),
     "notebook 06's shift_right adds a second one"),
    ("explained", checks.training.check_label_smoothing_loss, _loss("counted"), "the padding is counted"),
    ("explained", checks.training.check_greedy_decode, _greedy(done_flag=False), "keeps writing words"),
    ("explained", checks.encoder_decoder.check_target_mask, _target_mask_or, "combined with OR"),
    ("explained", checks.encoder_decoder.check_shift_right, lambda t, b: torch.roll(t, 1, dims=1), "it is rolled"),
    ("explained", checks.attention.check_attention_scores, lambda q, k: q @ k.transpose(-2, -1),
     "the scaling 1/sqrt(d_k) is missing"),
    ("explained", checks.attention.check_scaled_dot_product_attention,
     lambda q, k, v, mask=None: (lambda w: (w @ k, w))(tc.masked_softmax(tc.attention_scores(q, k), mask)),
     "it averages the keys"),
    ("explained", checks.multihead.check_split_heads, lambda x, h: rearrange(x, "b s (d h) -> b h s d", h=h),
     "the heads are interleaved"),
    ("explained", checks.multihead.check_merge_heads, lambda x: x.reshape(x.shape[0], x.shape[2], -1),
     "without transposing back"),
    ("explained", checks.positional.check_sinusoidal_encoding, _sinusoidal(layout="concatenated"),
     "sin and cos are concatenated"),
    ("explained", checks.block.check_layer_norm, _layer_norm(unbiased=True), "unbiased variance"),
    # --- look-alikes, named rightly ----------------------------------------------------------------------------
    ("look-alike", checks.training.check_beam_search, _beam(pick="normalised"), "length-normalised score"),
    ("look-alike", checks.training.check_beam_search, _beam(rank="normalised"), "prunes the beam on the length-normalised"),
    ("look-alike", checks.training.check_beam_search, _beam(pick="worst"), "the LOWEST score"),
    ("look-alike", checks.training.check_beam_search, _beam(pick="first"), "the first hypothesis to write <eos>"),
    ("look-alike", checks.training.check_train_step, _train_step(order="zero_grad_late"),
     "zero_grad() comes between loss.backward() and optimizer.step()"),
    ("look-alike", checks.training.check_train_step, _train_step(order="scheduler_first"),
     "scheduler.step() comes before optimizer.step()"),
    ("look-alike", checks.warmup.check_chunk_sequence, lambda x, c: rearrange(x, "b (n c) d -> b n c d", n=c),
     "it makes chunk_len = 4 chunks of 3 positions"),
    ("look-alike", checks.multihead.check_load_torch_weights, _loader(transpose=True), "holds its chunk transposed"),
    # --- the loop ---------------------------------------------------------------------------------------------------
    ("loop", checks.residual.check_softmax, lambda z: torch.softmax(z, dim=-1), "without softmax"),
    ("loop", checks.multihead.check_load_torch_weights, _loader(returns=False), "end with `return ours`"),
    ("loop", checks.attention.check_masked_softmax, _masked_softmax_tilde_none,
     "your code raised TypeError (case: no mask"),
    ("loop", checks.positional.check_learned_positional_embedding,
     forward(tc.LearnedPositionalEmbedding, lambda self, x: x + self.embedding.weight[: x.shape[0]]),
     "your code raised RuntimeError"),
]

CORRECT = [  # unusual but right answers: they must pass
    (checks.attention.check_attention_scores, lambda q, k: q @ k.transpose(-2, -1) / torch.sqrt(torch.tensor(q.shape[-1]))),
    (checks.residual.check_softmax, lambda z: (z - z.logsumexp(-1, keepdim=True)).exp()),
    (checks.block.check_feed_forward, forward(tc.FeedForward, lambda s, x: s.linear2(
        F.dropout(s.activation(s.linear1(x)), s.dropout.p, s.training)))),
    (checks.encoder_decoder.check_shift_right, lambda t, b: torch.cat([torch.full_like(t[:, :1], b), t[:, :-1]], 1)),
    (checks.warmup.check_pairwise_dot, lambda a, b: torch.einsum("bnd,bmd->bnm", a, b)),
    (checks.warmup.check_mean_over_positions, lambda x: x.sum(dim=1) / x.shape[1]),
]

# (check's name, what the unlisted mistake is) -> the fragment of the message that names it, or None
NAMED = {
    ('check_mean_over_positions', 'divides by d_model, not seq_len'): 'it is the right result times a constant, 1.667 times too sma',
    ('check_mean_over_positions', 'keepdim=True: an extra axis'): 'it keeps the averaged axis (keepdim=True); the result should',
    ('check_pairwise_dot', 'elementwise product summed: only matching pairs'): None,
    ('check_pairwise_dot', 'b against a: the result transposed'): "it is transposed: row i should hold a's row i dotted with ev",
    ('check_chunk_sequence', '(c n) instead of (n c): strided, not consecutive chunks'): 'the chunks are interleaved, not consecutive: chunk 0 should',
    ('check_chunk_sequence', 'x.chunk(chunk_len) makes chunk_len chunks'): 'it makes chunk_len = 4 chunks of 3 positions, but chunk_len',
    ('check_chunk_sequence', 'reshape with n and chunk_len swapped'): 'it makes chunk_len = 4 chunks of 3 positions, but chunk_len',
    ('check_softmax', 'normalised over axis 0'): 'each row (over the last axis) must sum to 1, but 4 of 4 rows',
    ('check_softmax', 'shifted numerator, unshifted denominator'): 'each row (over the last axis) is the right row times its own',
    ('check_softmax', "one max over the whole tensor, not each row's"): 'it subtracts one maximum over the whole tensor: a row far be',
    ('check_softmax', 'returns log-probabilities'): 'it is the log-softmax (log-probabilities, all <= 0); the sof',
    ('check_next_token_probs', 'W_U transposed'): None,
    ('check_next_token_probs', 'softmax over positions'): "softmax over the positions (axis 1, seq_len): each position'",
    ('check_next_token_probs', 'log-probabilities'): 'it is the log-softmax (log-probabilities, all <= 0); use the',
    ('check_residual_block', 'x is not added back'): 'it returns f(x), the update alone: the residual connection i',
    ('check_residual_block', 'no ReLU between the two linears'): 'the ReLU between linear1 and linear2 is missing (case: Resid',
    ('check_residual_block', 'ReLU applied after the addition'): 'the first stage that differs is the input of `linear2` (Line',
    ('check_residual_block', 'ReLU after linear2'): "the ReLU is applied to the update's output, x + relu(linear2",
    ('check_attention_scores', 'divides by d_k, not sqrt(d_k)'): 'it divides by d_k = 8; divide by its square root, sqrt(d_k)',
    ('check_attention_scores', 'q^T k: (d_k, d_k) instead of (q_len, k_len)'): 'the result has shape (2, 8, 8) but should have shape (2, 5,',
    ('check_attention_scores', 'k q^T: the scores transposed'): 'it is transposed, k @ q^T: entry [i, j] must compare query i',
    ('check_attention_scores', 'multiplies by sqrt(d_k)'): 'it multiplies by sqrt(d_k); divide by it (case: q (batch=2,',
    ('check_masked_softmax', 'weights times the mask after softmax'): 'the mask is applied after the softmax: zeroing weights after',
    ('check_masked_softmax', 'masked scores set to 0, not -inf'): 'masked scores were set to 0 instead of -inf, but exp(0) = 1',
    ('check_masked_softmax', 'hides the allowed positions'): "the mask has the wrong polarity: True means 'may attend', so",
    ('check_masked_softmax', 'fully masked rows become NaN'): 'a fully masked row (a query with nothing to attend to) gives',
    ('check_masked_softmax', 'fully masked rows uniform, not zero'): 'a fully masked row gets uniform weights 1/k_len: filling wit',
    ('check_scaled_dot_product_attention', 'returns the scores as weights'): 'it is the values BEFORE the softmax (logits or scores): the',
    ('check_scaled_dot_product_attention', 'ignores the mask'): 'the mask is ignored: pass it on to the masked softmax (case:',
    ('check_scaled_dot_product_attention', 'weights transposed'): 'the weights are transposed, weights^T @ v: query i must aver',
    ('check_scaled_dot_product_attention', 'scores not scaled by sqrt(d_k)'): 'the scaling 1/sqrt(d_k) is missing from the scores (case: se',
    ('check_scaled_dot_product_attention', 'returns only the output'): 'it should return a tuple (output, weights) but returned Tens',
    ('check_causal_mask', 'True above the diagonal: the future allowed, the past hidden'): "the mask has the wrong polarity: True means 'may attend', so",
    ('check_causal_mask', 'a position cannot see itself'): 'the diagonal is missing: position i may attend to itself as',
    ('check_causal_mask', 'float mask, not bool'): 'the mask has dtype torch.float32 but must be a bool tensor (',
    ('check_padding_mask', 'padding on the rows'): 'it hides queries, shape (batch, 1, seq_len, 1); padding is h',
    ('check_padding_mask', 'True at the padding'): "the mask has the wrong polarity: True means 'may attend', so",
    ('check_padding_mask', '(B, L): no axes for heads and queries'): 'it has shape (batch, seq_len); add a heads axis and a query',
    ('check_split_heads', 'reshape to (B, H, L, d_k) directly: positions and heads mixed'): 'it reshapes straight to (batch, n_heads, seq_len, d_k) witho',
    ('check_split_heads', 'no transpose'): 'the heads axis must come before seq_len, (batch, n_heads, se',
    ('check_merge_heads', '(d h) not (h d)'): 'the heads are interleaved instead of concatenated: the resul',
    ('check_merge_heads', 'sums the heads'): 'merge_heads(x) has shape (2, 5, 3) but should have shape (2,',
    ('check_multi_head_attention', 'keys from the query'): 'your code raised ValueError (case: cross-attention, q_len=4',
    ('check_multi_head_attention', 'mask not passed'): 'the mask is ignored: pass it on to the attention of every he',
    ('check_multi_head_attention', 'merge without transpose'): 'the heads are merged with a reshape but without transposing',
    ('check_multi_head_attention', 'w_k and w_v swapped'): 'the first stage that differs is the input of `w_o` (Linear:',
    ('check_load_torch_weights', 'q and k chunks swapped'): 'w_q.weight holds the W_K chunk: in_proj_weight stacks W_Q, W',
    ('check_load_torch_weights', 'biases not copied'): 'w_q.bias was not copied: take chunk 0 of in_proj_bias (case:',
    ('check_load_torch_weights', 'out_proj not copied'): 'w_o.weight was not copied: W_O is mha.out_proj.weight (case:',
    ('check_permutation_gap', 'the output not permuted'): 'it compares f(shuffled x) with the UNshuffled f(x): if f is',
    ('check_permutation_gap', 'no abs'): 'it takes the max of the signed difference; take .abs() first',
    ('check_sinusoidal_encoding', 'i instead of 2i in the exponent'): 'the frequency exponent uses i instead of 2i: dimension pair',
    ('check_sinusoidal_encoding', 'cos on even, sin on odd'): 'sin and cos are swapped: even dimensions (2i) get sin, odd d',
    ('check_sinusoidal_encoding', 'position times 10000^(2i/d)'): 'along axis 1 (d_model) the entries at 0, 1 are right and tho',
    ('check_learned_positional_embedding', 'positions 1..L'): 'positions start at 1; the first position is 0, row 0 of the',
    ('check_learned_positional_embedding', 'no dropout'): 'LearnedPositionalEmbedding never applies dropout: in train m',
    ('check_learned_positional_embedding', 'x not added'): 'it returns the position vectors alone; add them to x (case:',
    ('check_layer_norm', 'normalises over positions'): 'it normalises over the seq_len axis (dim=1); LayerNorm norma',
    ('check_layer_norm', 'weight and bias unused'): 'it forgets gamma and beta: multiply by self.weight and add s',
    ('check_layer_norm', 'divides by the variance'): 'it divides by the variance instead of the standard deviation',
    ('check_feed_forward', 'no activation'): 'there is no activation between the two linear layers, so the',
    ('check_feed_forward', 'relu, not self.activation'): "it uses ReLU although activation='gelu' was asked for: call",
    ('check_sublayer_connection', 'always post-LN'): 'it computes post-LN, LayerNorm(x + Sublayer(x)), but norm_fi',
    ('check_sublayer_connection', 'pre-LN adds the normalised x'): 'the residual adds the normalised x: LayerNorm(x) + Sublayer(',
    ('check_sublayer_connection', 'post-LN normalises the update only'): "the LayerNorm is applied to the sub-layer's output only: x +",
    ('check_encoder_layer', 'feed-forward before attention'): 'the feed-forward comes before self-attention; the order is s',
    ('check_encoder_layer', 'ff_sublayer used for both'): 'the first stage that differs: your code never calls `attn_su',
    ('check_target_mask', 'no padding'): 'the mask is the causal mask alone, (tgt_len, tgt_len): the p',
    ('check_target_mask', 'padding on the rows'): 'the rows of the padding positions (as queries) are all False',
    ('check_target_mask', 'pad queries and keys'): 'the rows of the padding positions (as queries) are all False',
    ('check_decoder_layer', 'cross-attention first'): 'cross-attention before self-attention; the order is masked s',
    ('check_decoder_layer', 'no feed-forward'): 'the feed-forward sub-layer is missing (case: x (batch=2, tgt',
    ('check_transformer_forward', 'encoder without the source mask'): 'the encoder does not get the source mask (case: src (batch=3',
    ('check_transformer_forward', 'no unembedding'): "it returns the decoder's states (batch, tgt_len, d_model), n",
    ('check_transformer_forward', 'target mask without padding'): "the decoder's target mask is the causal mask alone: the padd",
    ('check_shift_right', 'drops the first token, not the last'): 'it drops the first target token instead of the last: <bos> +',
    ('check_shift_right', 'shifted left'): 'it is shifted the wrong way (left): position t must read tar',
    ('check_shift_right', 'one token longer'): 'it is one token too long: after prepending <bos>, drop the l',
    ('check_label_smoothing_loss', 'log_softmax over axis 1'): 'log_softmax over the wrong axis: the vocabulary is the last',
    ('check_label_smoothing_loss', 'sum over the vocabulary, not mean'): 'smoothing is added as a sum over the vocabulary instead of a',
    ('check_label_smoothing_loss', 'smoothing and 1-smoothing swapped'): 'the two weights are swapped: 1 - smoothing goes with -log p[',
    ('check_train_step', 'target not shifted'): 'the target is not shifted: the decoder reads tgt and is scor',
    ('check_train_step', 'no gradient clipping'): 'the gradients are not clipped: call nn.utils.clip_grad_norm_',
    ('check_train_step', 'returns the loss tensor'): 'train_step returns the loss tensor with its graph attached;',
    ('check_transformer', 'encode without sqrt(d_model)'): 'the token embeddings are not multiplied by sqrt(d_model), as',
    ('check_transformer', 'decode with the source embedding'): "the target is embedded with src_embed (the source's embeddin",
    ('check_transformer', 'decode times d_model, not sqrt'): 'is the input of `pos_encoding` (SinusoidalPositionalEncoding',
    ('check_greedy_decode', 'argmax of the first position'): 'every token is predicted from <bos> alone: either the chosen',
    ('check_greedy_decode', 'no target mask'): 'the decoder gets no causal mask: pass target_mask(ys, PAD) t',
    ('check_beam_search', 'finished hypotheses extended'): 'a finished hypothesis keeps growing after <eos>: once it has',
    ('check_beam_search', 'adds probabilities, not log-probabilities'): 'it adds up probabilities instead of log-probabilities: a seq',
    ('check_switchable_sublayer', 'residual always on'): 'it adds x back although residual=False: x + Sublayer(LayerNo',
    ('check_switchable_sublayer', 'always post-LN'): 'it computes post-LN, LayerNorm(x + Sublayer(x)), but norm_fi',
    ('check_decoder_only_block', 'mask not passed'): 'the self-attention gets no mask, so each position sees the f',
    ('check_decoder_only_block', 'feed-forward twice, no attention'): 'the first stage that differs: your code never calls `self_at',
    ('check_gpt', 'no positions'): 'the positions are missing: add them with self.add_positions(',
    ('check_gpt', 'no causal mask'): 'no causal mask: every position sees the future, so it can re',
    ('check_gpt', 'no final norm'): 'the final LayerNorm is missing: with pre-LN the stream is ne',
    ('check_lm_loss', 'no shift'): 'it is not shifted: position t is scored against token t, whi',
    ('check_lm_loss', 'loss_mask not shifted'): 'the loss mask is not shifted with the labels: the mask of la',
    ('check_lm_loss', 'loss_mask ignored'): 'the loss mask is ignored: every position counts, the prompt',
    ('check_attend_with_cache', 'attends to the new keys only'): "the queries attend only to the new tokens' keys and values:",
    ('check_attend_with_cache', 'no w_o'): 'the output projection w_o is missing: finish with attn.w_o(m',
    ('check_forward_with_cache', 'positions from 0'): 'the positions restart at 0 for the new tokens: they sit at p',
    ('check_forward_with_cache', 'no mask'): 'no causal mask: reading several new tokens at once, each mus',
    ('check_forward_with_cache', 'no final norm'): 'your code never calls `norm` (LayerNorm',
    ('check_sample_next', 'multiplies by the temperature'): 'the samples do not follow softmax(logits / 2.0): it multipli',
    ('check_sample_next', 'top-k drops the k-th'): 'with top_k=3 the samples do not follow the softmax over the',
    ('check_sample_next', 'generator not used'): 'the same seed gave different samples: draw with the generato',

}

THE_REFERENCES = [  # the check cell run again after an untouched stub hands the reference back
    (checks.residual.check_softmax, tc.softmax),
    (checks.block.check_layer_norm, tc.LayerNorm),
    (checks.attention.check_causal_mask, tc.causal_mask),
    (checks.warmup.check_chunk_sequence, warmup.chunk_sequence),
]


def outcome(check, wrong) -> tuple[bool, str]:
    """(caught, message) for one wrong answer; what the check prints is dropped."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check(wrong)
    except checks.CheckFailed as failure:
        return True, str(failure)
    return False, ""


@pytest.mark.parametrize("kind, check, wrong, fragment", CATALOG,
                         ids=[f"{k}:{c.__name__}:{f[:40]}" for k, c, _, f in CATALOG])
def test_each_wrong_answer_is_caught_and_named(kind, check, wrong, fragment):
    caught, message = outcome(check, wrong)
    assert caught, "not caught: the check said it is correct"
    assert fragment in message, message


@pytest.mark.parametrize("check, right", CORRECT, ids=[c.__name__ for c, _ in CORRECT])
def test_unusual_right_answers_pass(check, right, capsys):
    check(right)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("check, reference", THE_REFERENCES, ids=[c.__name__ for c, _ in THE_REFERENCES])
def test_the_reference_handed_back_is_not_done(check, reference, capsys, monkeypatch):
    monkeypatch.delenv(checks.STRICT_ENV_VAR, raising=False)
    assert check(reference) is reference
    out = capsys.readouterr().out
    assert "not done yet" in out and "still the reference implementation" in out and "correct" not in out
    assert check(learner_copy(reference)) is not reference  # the same code, written by the learner, passes
    assert "correct" in capsys.readouterr().out


def test_the_catalogue_covers_every_kind_and_many_exercises():
    kinds = Counter(kind for kind, *_ in CATALOG)
    assert set(kinds) == {"device", "in-place", "dropout", "dtype/argument", "explained", "look-alike", "loop"}
    assert len({check for _, check, _, _ in CATALOG}) >= 28


@pytest.mark.parametrize("check, wrong, what", UNLISTED, ids=[f"{c.__name__}:{w}" for c, _, w in UNLISTED])
def test_each_unlisted_mistake_is_caught_and_named_as_recorded(check, wrong, what):
    caught, message = outcome(check, wrong)
    assert caught, "not caught: the check said it is correct"
    fragment = NAMED[check.__name__, what]
    if fragment is not None:
        assert fragment in message, message
    assert "differs from the reference" not in message or fragment is None, message


def test_the_unlisted_mistakes_are_many_and_at_least_90_percent_named():
    assert len(UNLISTED) >= 60 and set(NAMED) == {(c.__name__, w) for c, _, w in UNLISTED}
    assert sum(f is not None for f in NAMED.values()) >= 0.9 * len(UNLISTED)


def measure_unlisted() -> None:
    """Print caught / named for the mistakes written from the notebooks' text."""
    caught = named = 0
    for check, wrong, what in UNLISTED:
        got, message = outcome(check, wrong)
        fragment = NAMED.get((check.__name__, what))
        caught += got
        named += got and fragment is not None and fragment in message
        if not (got and fragment is not None and fragment in message):
            print(f"  {'not named' if got else 'NOT caught'}: {check.__name__} ({what}): {message[:160]}")
    print(f"{'unlisted':16s} {caught:3d}/{len(UNLISTED):3d} caught, {named:3d} named")


def measure() -> None:
    """Print caught / named per kind."""
    caught, named, total = Counter(), Counter(), Counter()
    for kind, check, wrong, fragment in CATALOG:
        got, message = outcome(check, wrong)
        total[kind] += 1
        caught[kind] += got
        named[kind] += got and fragment in message
        if got and fragment not in message:
            print(f"  named otherwise: {kind} {check.__name__}: {message[:200]}")
        if not got:
            print(f"  NOT caught: {kind} {check.__name__}: {fragment}")
    for kind in total:
        print(f"{kind:16s} {caught[kind]:3d}/{total[kind]:3d} caught, {named[kind]:3d} named")
    print(f"{'all':16s} {sum(caught.values()):3d}/{sum(total.values()):3d} caught, {sum(named.values()):3d} named")


if __name__ == "__main__":
    torch.set_num_threads(1)
    measure()
    measure_unlisted()


# --- issue 18: messages that sent the learner the wrong way, and right answers that were refused ----------


def _sdpa_mask_after_softmax(q, k, v, mask=None):
    weights = torch.softmax(tc.attention_scores(q, k), dim=-1)
    weights = weights if mask is None else weights * mask
    return weights @ v, weights


def _mha_dropout_always_on(self, query, key, value, mask=None):
    q, k, v = (tc.split_heads(w(t), self.n_heads) for w, t in ((self.w_q, query), (self.w_k, key), (self.w_v, value)))
    weights = F.dropout(tc.masked_softmax(tc.attention_scores(q, k), mask), 0.1)  # training=True even in eval
    self.attn_weights = weights.detach()
    return self.w_o(tc.merge_heads(weights @ v))


def _cache_cat_on_heads(attn, x, cache, layer, mask=None):
    q, k, v = (tc.split_heads(w(x), attn.n_heads) for w in (attn.w_q, attn.w_k, attn.w_v))
    if cache.keys[layer] is not None:
        k = torch.cat([cache.keys[layer], k], dim=1)  # the heads axis, not the tokens
        v = torch.cat([cache.values[layer], v], dim=1)
    cache.keys[layer], cache.values[layer] = k, v
    return attn.w_o(tc.merge_heads(tc.scaled_dot_product_attention(q, k, v, mask)[0]))


def _target_mask_queries_and_keys(tgt, pad_id):
    pad = tc.padding_mask(tgt, pad_id)  # (B, 1, 1, T)
    return pad & pad.transpose(-2, -1) & tc.causal_mask(tgt.shape[1], device=tgt.device)  # hides pad queries too


WRONG_WAY = [  # (check, wrong answer, what the message must say, what it must no longer say)
    (checks.residual.check_softmax,
     lambda z: torch.exp(z - z.max(dim=-1, keepdim=True).values) / torch.exp(z).sum(dim=-1, keepdim=True),
     "the right row times its own factor", "normalise over the last axis"),
    (checks.attention.check_scaled_dot_product_attention, _sdpa_mask_after_softmax,
     "the mask is applied after the softmax", "normalise over the last axis"),
    (checks.multihead.check_multi_head_attention, forward(tc.MultiHeadAttention, _mha_dropout_always_on),
     "two calls on the same input give different outputs", "reshape"),
    (checks.warmup.check_chunk_sequence, lambda x, c: torch.stack(x.chunk(c, dim=1), dim=1),
     "x.chunk(k) makes k chunks", "it binds n="),
    (checks.encoder_decoder.check_target_mask, _target_mask_queries_and_keys,
     "the rows of the padding positions (as queries) are all False", "instead of the columns"),
    (checks.gpt.check_attend_with_cache, _cache_cat_on_heads,
     "torch.cat joins along axis 1, but the cache grows along the tokens, axis 2", "replaced, not grown"),
]


@pytest.mark.parametrize("check, wrong, says, not_any_more", WRONG_WAY, ids=[w[2][:40] for w in WRONG_WAY])
def test_messages_that_sent_the_learner_the_wrong_way(check, wrong, says, not_any_more):
    caught, message = outcome(check, wrong)
    assert caught and says in message and not_any_more not in message, message


def test_the_cache_error_shows_the_learners_own_line():
    with pytest.raises(checks.CheckFailed) as info:
        checks.gpt.check_attend_with_cache(_cache_cat_on_heads)
    assert "k = torch.cat([cache.keys[layer], k], dim=1)" in "".join(info.value.learner_frames())


def test_attention_returning_a_list_passes(capsys):
    def scaled_dot_product_attention(q, k, v, mask=None):
        return list(tc.scaled_dot_product_attention(q, k, v, mask))  # [output, weights] unpacks like a tuple
    checks.attention.check_scaled_dot_product_attention(scaled_dot_product_attention)
    assert "correct" in capsys.readouterr().out


def test_dot_T_on_a_batch_is_explained_without_torch_s_warning():
    import warnings
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        caught, message = outcome(checks.warmup.check_pairwise_dot, lambda a, b: a @ b.T)
    assert caught and "`.T` reverses ALL the axes" in message and "x.transpose(-2, -1)" in message, message
    assert "RuntimeError" not in message
    assert not [w for w in warned if "x.T" in str(w.message)]  # torch's deprecation warning is not shown
