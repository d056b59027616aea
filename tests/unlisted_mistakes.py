"""Wrong answers written from the notebooks' text, not for any message of the checks (issue 18).

How they were written: for each exercise, only the exercise statement, its hints and the reference
solution in ``notebooks/src/NN_*.py`` were read (not ``transformer_course/checks/``, nor the older
catalogue's messages), and the wrong answers a learner could plausibly hand in were written down:
a wrong axis, a factor missing or doubled, a transpose, an off-by-one, an argument ignored, a step
forgotten or done in the wrong order. Each entry is (check, wrong answer, what the mistake IS), the
last in plain words; the file was written in one go, before any was run through the checks.

``NAMED`` (in test_checks_catalog.py) then records, for each, the fragment of the check's message
that names the mistake: the actual error, or the stage or relation where it sits. A generic
"differs from the reference" does not count.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

import transformer_course as tc
from transformer_course import checks
from transformer_course.task.ablation import SwitchableSublayer
from transformer_course.task.number_words import BOS_ID, EOS_ID, PAD_ID

NEG_INF = float("-inf")


def forward(reference: type, method, name: str = "forward"):
    """A learner's class: the reference's __init__ with `method` as forward (or as `name`)."""
    return type(reference.__name__, (reference,), {name: method})


# --- 00 ---------------------------------------------------------------------------------------------

def _pairwise_diag(a, b):
    return (a * b).sum(-1)


def _chunk_strided(x, chunk_len):
    return rearrange(x, "b (c n) d -> b n c d", c=chunk_len)


def _chunk_with_chunk(x, chunk_len):
    return torch.stack(x.chunk(chunk_len, dim=1), dim=1)  # chunk takes the NUMBER of chunks


def _chunk_reshape_swapped(x, chunk_len):
    return x.reshape(x.shape[0], chunk_len, -1, x.shape[2])


# --- 01 ---------------------------------------------------------------------------------------------

def _softmax_axis0(z):
    e = (z - z.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=0, keepdim=True)


def _softmax_unshifted_denominator(z):
    return torch.exp(z - z.max(dim=-1, keepdim=True).values) / torch.exp(z).sum(dim=-1, keepdim=True)


def _softmax_global_max(z):
    e = (z - z.max()).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _log_softmax(z):
    shifted = z - z.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


def _residual(variant):
    def fwd(self, x):
        if variant == "no_residual":
            return self.linear2(torch.relu(self.linear1(x)))
        if variant == "no_relu":
            return x + self.linear2(self.linear1(x))
        if variant == "relu_after_add":
            return torch.relu(x + self.linear2(self.linear1(x)))
        return x + torch.relu(self.linear2(self.linear1(x)))  # relu_last
    return forward(tc.ResidualBlock, fwd)


# --- 02 ---------------------------------------------------------------------------------------------

def _masked_softmax(variant):
    def masked_softmax(scores, mask=None):
        if mask is None:
            return torch.softmax(scores, dim=-1)
        if variant == "multiply_after":
            return torch.softmax(scores, dim=-1) * mask
        if variant == "fill_zero":
            return torch.softmax(scores.masked_fill(~mask, 0.0), dim=-1)
        if variant == "inverted":
            w = torch.softmax(scores.masked_fill(mask, NEG_INF), dim=-1)
            return w.masked_fill(mask.all(dim=-1, keepdim=True), 0.0)
        if variant == "nan_rows":
            return torch.softmax(scores.masked_fill(~mask, NEG_INF), dim=-1)
        return torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)  # big_negative: masked rows uniform
    return masked_softmax


def _sdpa(variant):
    def scaled_dot_product_attention(q, k, v, mask=None):
        scores = tc.attention_scores(q, k)
        weights = tc.masked_softmax(scores, None if variant == "no_mask" else mask)
        if variant == "returns_scores":
            return weights @ v, scores
        if variant == "weights_transposed":
            return weights.transpose(-2, -1) @ v, weights
        if variant == "no_scale":
            weights = tc.masked_softmax(q @ k.transpose(-2, -1), mask)
        if variant == "only_output":
            return weights @ v
        return weights @ v, weights
    return scaled_dot_product_attention


# --- 03 ---------------------------------------------------------------------------------------------

def _mha(variant):
    def fwd(self, query, key, value, mask=None):
        b, lq = query.shape[:2]
        k_in = query if variant == "keys_from_query" else key
        q = tc.split_heads(self.w_q(query), self.n_heads)
        k = tc.split_heads((self.w_v if variant == "k_v_swapped" else self.w_k)(k_in), self.n_heads)
        v = tc.split_heads((self.w_k if variant == "k_v_swapped" else self.w_v)(value), self.n_heads)
        out, weights = tc.scaled_dot_product_attention(q, k, v, None if variant == "no_mask" else mask, self.dropout)
        self.attn_weights = weights.detach()
        if variant == "merge_no_transpose":
            return self.w_o(out.reshape(b, lq, -1))
        return self.w_o(tc.merge_heads(out))
    return forward(tc.MultiHeadAttention, fwd)


def _loader(variant):
    def load_torch_weights(ours, mha):
        w = list(mha.in_proj_weight.detach().chunk(3))
        b = list(mha.in_proj_bias.detach().chunk(3))
        if variant == "k_q_v":
            w[0], w[1], b[0], b[1] = w[1], w[0], b[1], b[0]
        with torch.no_grad():
            for lin, wi, bi in zip((ours.w_q, ours.w_k, ours.w_v), w, b):
                lin.weight.copy_(wi)
                if variant != "no_bias":
                    lin.bias.copy_(bi)
            if variant != "no_out_proj":
                ours.w_o.weight.copy_(mha.out_proj.weight)
                ours.w_o.bias.copy_(mha.out_proj.bias)
        return ours
    return load_torch_weights


# --- 04 ---------------------------------------------------------------------------------------------

def _sinusoidal(variant):
    def sinusoidal_encoding(max_len, d_model):
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        i = torch.arange(0, d_model, 2, dtype=torch.float32)
        if variant == "i_not_2i":
            i = i / 2
        angle = position * 10000 ** (i / d_model) if variant == "multiply" else position / 10000 ** (i / d_model)
        pe = torch.zeros(max_len, d_model)
        first, second = (torch.cos, torch.sin) if variant == "sin_cos_swapped" else (torch.sin, torch.cos)
        pe[:, 0::2], pe[:, 1::2] = first(angle), second(angle)
        return pe
    return sinusoidal_encoding


def _learned(variant):
    def fwd(self, x):
        start = 1 if variant == "from_one" else 0
        positions = torch.arange(start, x.shape[1] + start, device=x.device)
        if variant == "no_dropout":
            return x + self.embedding(positions)
        if variant == "forgets_x":
            return self.dropout(self.embedding(positions)).expand_as(x)
        return self.dropout(x + self.embedding(positions))
    return forward(tc.LearnedPositionalEmbedding, fwd)


# --- 05 ---------------------------------------------------------------------------------------------

def _layer_norm(variant):
    def fwd(self, x):
        dim = 1 if variant == "positions_axis" else -1
        mean = x.mean(dim=dim, keepdim=True)
        var = x.var(dim=dim, keepdim=True, unbiased=False)
        if variant == "no_sqrt":
            return (x - mean) / (var + self.eps) * self.weight + self.bias
        normalised = (x - mean) / torch.sqrt(var + self.eps)
        if variant == "no_affine":
            return normalised
        return normalised * self.weight + self.bias
    return forward(tc.LayerNorm, fwd)


def _ff(variant):
    def fwd(self, x):
        if variant == "no_activation":
            return self.linear2(self.dropout(self.linear1(x)))
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))  # relu instead of self.activation
    return forward(tc.FeedForward, fwd)


def _sublayer(variant):
    def fwd(self, x, sublayer):
        if variant == "ignores_norm_first":
            return self.norm(x + self.dropout(sublayer(x)))
        if self.norm_first:
            if variant == "adds_normalised_x":
                y = self.norm(x)
                return y + self.dropout(sublayer(y))
            return x + self.dropout(sublayer(self.norm(x)))
        if variant == "norm_on_update":
            return x + self.norm(self.dropout(sublayer(x)))
        return self.norm(x + self.dropout(sublayer(x)))
    return forward(tc.SublayerConnection, fwd)


def _encoder(variant):
    def fwd(self, x, mask=None):
        if variant == "ff_first":
            x = self.ff_sublayer(x, self.feed_forward)
            return self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask))
        x = self.ff_sublayer(x, lambda y: self.self_attn(y, y, y, mask))  # one_sublayer_for_both
        return self.ff_sublayer(x, self.feed_forward)
    return forward(tc.EncoderLayer, fwd)


# --- 06 ---------------------------------------------------------------------------------------------

def _target_mask(variant):
    def target_mask(tgt, pad_id):
        causal = tc.causal_mask(tgt.shape[1], device=tgt.device)
        pad = tc.padding_mask(tgt, pad_id)  # (B, 1, 1, T)
        if variant == "causal_only":
            return causal
        if variant == "rows":
            return pad.transpose(-2, -1) & causal
        return pad & pad.transpose(-2, -1) & causal  # queries_and_keys
    return target_mask


def _decoder(variant):
    def fwd(self, x, memory, src_mask=None, tgt_mask=None):
        def self_attn(y):
            return self.self_attn_sublayer(y, lambda z: self.self_attn(z, z, z, tgt_mask))

        def cross(y):
            return self.cross_attn_sublayer(y, lambda z: self.cross_attn(z, memory, memory, src_mask))

        if variant == "cross_first":
            x = self_attn(cross(x))
        else:
            x = cross(self_attn(x))
        if variant == "no_feed_forward":
            return x
        return self.ff_sublayer(x, self.feed_forward)
    return forward(tc.DecoderLayer, fwd)


def _transformer_forward(variant):
    def transformer_forward(model, src, tgt, pad_id):
        src_mask = tc.padding_mask(src, pad_id)
        tgt_mask = tc.target_mask(tgt, pad_id)
        if variant == "causal_only":
            tgt_mask = tc.causal_mask(tgt.shape[1], device=tgt.device)
        memory = model.encoder(model.pos_encoding(model.src_embed(src)), None if variant == "encoder_no_mask" else src_mask)
        x = model.decoder(model.pos_encoding(model.tgt_embed(tgt)), memory, src_mask, tgt_mask)
        return x if variant == "no_unembed" else model.unembed(x)
    return transformer_forward


def _shift(variant):
    def shift_right(tgt, bos_id):
        bos = torch.full_like(tgt[:, :1], bos_id)
        if variant == "drops_first":
            return torch.cat([bos, tgt[:, 1:]], dim=1)
        if variant == "shift_left":
            return torch.cat([tgt[:, 1:], bos], dim=1)
        return torch.cat([bos, tgt], dim=1)  # one_longer
    return shift_right


# --- 07 ---------------------------------------------------------------------------------------------

def _loss(variant):
    def label_smoothing_loss(logits, target, smoothing=0.1, pad_id=PAD_ID):
        log_probs = F.log_softmax(logits, dim=1 if variant == "axis1" else -1)
        nll = -log_probs.gather(-1, target[..., None]).squeeze(-1)
        uniform = -log_probs.sum(-1) if variant == "sum_not_mean" else -log_probs.mean(-1)
        if variant == "weights_swapped":
            per_token = smoothing * nll + (1 - smoothing) * uniform
        else:
            per_token = (1 - smoothing) * nll + smoothing * uniform
        real = target != pad_id
        return (per_token * real).sum() / real.sum()
    return label_smoothing_loss


def _train_step(variant):
    def train_step(model, batch, optimizer, scheduler=None, smoothing=0.1, pad_id=PAD_ID, clip_norm=1.0):
        src, tgt = batch
        model.train()
        tgt_in, tgt_out = (tgt, tgt) if variant == "no_shift" else (tgt[:, :-1], tgt[:, 1:])
        logits = model(src, tgt_in, tc.padding_mask(src, pad_id), tc.target_mask(tgt_in, pad_id))
        loss = tc.label_smoothing_loss(logits, tgt_out, smoothing, pad_id)
        optimizer.zero_grad()
        loss.backward()
        if clip_norm is not None and variant != "no_clip":
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return loss if variant == "returns_tensor" else loss.item()
    return train_step


class _Assembled(nn.Module):
    """Notebook 07's Transformer as the solution writes it (with the reference's stacks)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.src_embed = nn.Embedding(config.source_vocab_size, d_model)
        self.tgt_embed = nn.Embedding(config.vocab_size, d_model)
        self.pos_encoding = tc.SinusoidalPositionalEncoding(d_model, config.max_len, config.dropout)
        stack = dict(d_model=d_model, n_heads=config.n_heads, d_ff=config.d_ff, dropout=config.dropout,  # noqa: C408
                     norm_first=config.norm_first, activation=config.activation, final_norm=config.final_norm)
        self.encoder = tc.Encoder(config.n_layers, **stack)
        self.decoder = tc.Decoder(config.decoder_layers, **stack)
        self.unembed = nn.Linear(d_model, config.vocab_size)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, src, src_mask=None):
        return self.encoder(self.pos_encoding(self.src_embed(src) * math.sqrt(self.config.d_model)), src_mask)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        x = self.pos_encoding(self.tgt_embed(tgt) * math.sqrt(self.config.d_model))
        return self.unembed(self.decoder(x, memory, src_mask, tgt_mask))

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


def _assembled(variant):
    def encode(self, src, src_mask=None):
        x = self.src_embed(src)
        if variant != "encode_unscaled":
            x = x * math.sqrt(self.config.d_model)
        return self.encoder(self.pos_encoding(x), src_mask)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        x = (self.src_embed if variant == "decode_src_embed" else self.tgt_embed)(tgt)
        x = self.pos_encoding(x * (self.config.d_model if variant == "decode_d_model" else math.sqrt(self.config.d_model)))
        return self.unembed(self.decoder(x, memory, src_mask, tgt_mask))

    return type("Transformer", (_Assembled,), {"encode": encode, "decode": decode})


def _greedy(variant):
    @torch.no_grad()
    def greedy_decode(model, src, max_len=12):
        model.eval()
        src_mask = tc.padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), BOS_ID, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            mask = None if variant == "no_target_mask" else tc.target_mask(ys, PAD_ID)
            logits = model.decode(ys, memory, src_mask, mask)
            position = 0 if variant == "first_position" else -1
            next_token = logits[:, position].argmax(dim=-1).masked_fill(done, PAD_ID)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            done = done | (next_token == EOS_ID)
            if done.all():
                break
        return ys
    return greedy_decode


def _beam(variant):
    @torch.no_grad()
    def beam_search(model, src, beam_width=4, max_len=12):
        model.eval()
        src_mask = tc.padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        beams = [(0.0, [BOS_ID])]
        for _ in range(max_len - 1):
            candidates = []
            for score, tokens in beams:
                if tokens[-1] == EOS_ID and variant != "extends_finished":
                    candidates.append((score, tokens))
                    continue
                ys = torch.tensor([tokens], device=src.device)
                logits = model.decode(ys, memory, src_mask, tc.target_mask(ys, PAD_ID))[0, -1]
                scores = F.softmax(logits, -1) if variant == "adds_probs" else F.log_softmax(logits, -1)
                top = scores.topk(beam_width)
                for s, token in zip(top.values.tolist(), top.indices.tolist()):
                    candidates.append((score + s, tokens + [token]))
            beams = sorted(candidates, key=lambda c: c[0], reverse=True)[:beam_width]
            if all(tokens[-1] == EOS_ID for _, tokens in beams):
                break
        return torch.tensor([max(beams, key=lambda c: c[0])[1]], device=src.device)
    return beam_search


# --- 08 ---------------------------------------------------------------------------------------------

def _switchable(variant):
    def fwd(self, x, sublayer):
        if self.norm_first and variant != "ignores_norm_first":
            update = self.dropout(sublayer(self.norm(x)))
            return x + update if (self.residual or variant == "ignores_residual") else update
        update = self.dropout(sublayer(x))
        return self.norm(x + update if (self.residual or variant == "ignores_residual") else update)
    return forward(SwitchableSublayer, fwd)


# --- 09 ---------------------------------------------------------------------------------------------

def _block(variant):
    def fwd(self, x, mask=None):
        if variant == "ff_twice":
            x = self.ff_sublayer(x, self.feed_forward)
        else:
            x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, None))  # no_mask
        return self.ff_sublayer(x, self.feed_forward)
    return forward(tc.DecoderOnlyBlock, fwd)


def _gpt(variant):
    def fwd(self, tokens, cache=None):
        x = self.tok_embed(tokens)
        if variant != "no_positions":
            x = self.add_positions(x)
        mask = None if variant == "no_mask" else tc.causal_mask(tokens.shape[1], device=tokens.device)
        for block in self.blocks:
            x = block(x, mask)
        if self.norm is not None and variant != "no_final_norm":
            x = self.norm(x)
        return self.unembed(x)
    return forward(tc.GPT, fwd)


def _lm_loss(variant):
    def lm_loss(logits, tokens, loss_mask):
        if variant == "no_shift":
            predictions, labels, counted = logits, tokens, loss_mask
        else:
            predictions, labels = logits[:, :-1], tokens[:, 1:]
            counted = loss_mask[:, :-1] if variant == "mask_unshifted" else loss_mask[:, 1:]
        nll = F.cross_entropy(predictions.transpose(1, 2), labels, reduction="none")
        if variant == "ignores_mask":
            return nll.mean()
        return (nll * counted).sum() / counted.sum()
    return lm_loss


def _attend(variant):
    def attend_with_cache(attn, x, cache, layer, mask=None):
        q = tc.split_heads(attn.w_q(x), attn.n_heads)
        k = tc.split_heads(attn.w_k(x), attn.n_heads)
        v = tc.split_heads(attn.w_v(x), attn.n_heads)
        if variant == "no_append":
            cache.append(layer, k, v)
        else:
            k, v = cache.append(layer, k, v)
        out, weights = tc.scaled_dot_product_attention(q, k, v, mask)
        attn.attn_weights = weights.detach()
        merged = tc.merge_heads(out)
        return merged if variant == "no_w_o" else attn.w_o(merged)
    return attend_with_cache


def _forward_cache(variant):
    def forward_with_cache(model, tokens, cache):
        past, n = cache.length, tokens.shape[1]
        x = model.add_positions(model.tok_embed(tokens), start=0 if variant == "positions_from_zero" else past)
        mask = tc.causal_mask(past + n, device=tokens.device)[past:]
        if variant == "no_mask":
            mask = None
        for layer, block in enumerate(model.blocks):
            x = block.attn_sublayer(x, lambda y: tc.attend_with_cache(block.self_attn, y, cache, layer, mask))  # noqa: B023
            x = block.ff_sublayer(x, block.feed_forward)
        if model.norm is not None and variant != "no_final_norm":
            x = model.norm(x)
        return model.unembed(x)
    return forward_with_cache


def _sample(variant):
    def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
        if temperature == 0:
            return logits.argmax(dim=-1)
        logits = logits * temperature if variant == "multiplies_temperature" else logits / temperature
        if top_k is not None:
            kth = logits.topk(top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits <= kth if variant == "top_k_drops_kth" else logits < kth, NEG_INF)
        if top_p is not None:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(dim=-1)
            drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
            logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), NEG_INF)
        probs = logits.softmax(dim=-1)
        if variant == "no_generator":
            return torch.multinomial(probs, 1)[:, 0]
        return torch.multinomial(probs, 1, generator=generator)[:, 0]
    return sample_next


# (check, wrong answer, what the mistake is)
UNLISTED = [
    (checks.warmup.check_mean_over_positions, lambda x: x.sum(dim=1) / x.shape[2], "divides by d_model, not seq_len"),
    (checks.warmup.check_mean_over_positions, lambda x: x.mean(dim=1, keepdim=True), "keepdim=True: an extra axis"),
    (checks.warmup.check_pairwise_dot, _pairwise_diag, "elementwise product summed: only matching pairs"),
    (checks.warmup.check_pairwise_dot, lambda a, b: b @ a.transpose(-2, -1), "b against a: the result transposed"),
    (checks.warmup.check_chunk_sequence, _chunk_strided, "(c n) instead of (n c): strided, not consecutive chunks"),
    (checks.warmup.check_chunk_sequence, _chunk_with_chunk, "x.chunk(chunk_len) makes chunk_len chunks"),
    (checks.warmup.check_chunk_sequence, _chunk_reshape_swapped, "reshape with n and chunk_len swapped"),
    (checks.residual.check_softmax, _softmax_axis0, "normalised over axis 0"),
    (checks.residual.check_softmax, _softmax_unshifted_denominator, "shifted numerator, unshifted denominator"),
    (checks.residual.check_softmax, _softmax_global_max, "one max over the whole tensor, not each row's"),
    (checks.residual.check_softmax, _log_softmax, "returns log-probabilities"),
    (checks.residual.check_next_token_probs, lambda s, W: tc.softmax(s @ W.T), "W_U transposed"),
    (checks.residual.check_next_token_probs, lambda s, W: torch.softmax(s @ W, dim=1), "softmax over positions"),
    (checks.residual.check_next_token_probs, lambda s, W: torch.log_softmax(s @ W, dim=-1), "log-probabilities"),
    (checks.residual.check_residual_block, _residual("no_residual"), "x is not added back"),
    (checks.residual.check_residual_block, _residual("no_relu"), "no ReLU between the two linears"),
    (checks.residual.check_residual_block, _residual("relu_after_add"), "ReLU applied after the addition"),
    (checks.residual.check_residual_block, _residual("relu_last"), "ReLU after linear2"),
    (checks.attention.check_attention_scores, lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1],
     "divides by d_k, not sqrt(d_k)"),
    (checks.attention.check_attention_scores, lambda q, k: q.transpose(-2, -1) @ k / math.sqrt(q.shape[-1]),
     "q^T k: (d_k, d_k) instead of (q_len, k_len)"),
    (checks.attention.check_attention_scores, lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1]),
     "k q^T: the scores transposed"),
    (checks.attention.check_attention_scores, lambda q, k: q @ k.transpose(-2, -1) * math.sqrt(q.shape[-1]),
     "multiplies by sqrt(d_k)"),
    (checks.attention.check_masked_softmax, _masked_softmax("multiply_after"), "weights times the mask after softmax"),
    (checks.attention.check_masked_softmax, _masked_softmax("fill_zero"), "masked scores set to 0, not -inf"),
    (checks.attention.check_masked_softmax, _masked_softmax("inverted"), "hides the allowed positions"),
    (checks.attention.check_masked_softmax, _masked_softmax("nan_rows"), "fully masked rows become NaN"),
    (checks.attention.check_masked_softmax, _masked_softmax("big_negative"), "fully masked rows uniform, not zero"),
    (checks.attention.check_scaled_dot_product_attention, _sdpa("returns_scores"), "returns the scores as weights"),
    (checks.attention.check_scaled_dot_product_attention, _sdpa("no_mask"), "ignores the mask"),
    (checks.attention.check_scaled_dot_product_attention, _sdpa("weights_transposed"), "weights transposed"),
    (checks.attention.check_scaled_dot_product_attention, _sdpa("no_scale"), "scores not scaled by sqrt(d_k)"),
    (checks.attention.check_scaled_dot_product_attention, _sdpa("only_output"), "returns only the output"),
    (checks.attention.check_causal_mask,
     lambda size, device=None: torch.triu(torch.ones(size, size, dtype=torch.bool, device=device), diagonal=1),
     "True above the diagonal: the future allowed, the past hidden"),
    (checks.attention.check_causal_mask,
     lambda size, device=None: torch.tril(torch.ones(size, size, dtype=torch.bool, device=device), diagonal=-1),
     "a position cannot see itself"),
    (checks.attention.check_causal_mask, lambda size, device=None: torch.tril(torch.ones(size, size, device=device)),
     "float mask, not bool"),
    (checks.attention.check_padding_mask, lambda t, pad_id: (t != pad_id)[:, None, :, None], "padding on the rows"),
    (checks.attention.check_padding_mask, lambda t, pad_id: (t == pad_id)[:, None, None, :], "True at the padding"),
    (checks.attention.check_padding_mask, lambda t, pad_id: t != pad_id, "(B, L): no axes for heads and queries"),
    (checks.multihead.check_split_heads, lambda x, n: x.reshape(x.shape[0], n, x.shape[1], -1),
     "reshape to (B, H, L, d_k) directly: positions and heads mixed"),
    (checks.multihead.check_split_heads, lambda x, n: rearrange(x, "b l (h d) -> b l h d", h=n), "no transpose"),
    (checks.multihead.check_merge_heads, lambda x: rearrange(x, "b h l d -> b l (d h)"), "(d h) not (h d)"),
    (checks.multihead.check_merge_heads, lambda x: x.sum(dim=1), "sums the heads"),
    (checks.multihead.check_multi_head_attention, _mha("keys_from_query"), "keys from the query"),
    (checks.multihead.check_multi_head_attention, _mha("no_mask"), "mask not passed"),
    (checks.multihead.check_multi_head_attention, _mha("merge_no_transpose"), "merge without transpose"),
    (checks.multihead.check_multi_head_attention, _mha("k_v_swapped"), "w_k and w_v swapped"),
    (checks.multihead.check_load_torch_weights, _loader("k_q_v"), "q and k chunks swapped"),
    (checks.multihead.check_load_torch_weights, _loader("no_bias"), "biases not copied"),
    (checks.multihead.check_load_torch_weights, _loader("no_out_proj"), "out_proj not copied"),
    (checks.positional.check_permutation_gap, lambda f, x, perm: (f(x[:, perm]) - f(x)).abs().max(),
     "the output not permuted"),
    (checks.positional.check_permutation_gap, lambda f, x, perm: (f(x[:, perm]) - f(x)[:, perm]).max(),
     "no abs"),
    (checks.positional.check_sinusoidal_encoding, _sinusoidal("i_not_2i"), "i instead of 2i in the exponent"),
    (checks.positional.check_sinusoidal_encoding, _sinusoidal("sin_cos_swapped"), "cos on even, sin on odd"),
    (checks.positional.check_sinusoidal_encoding, _sinusoidal("multiply"), "position times 10000^(2i/d)"),
    (checks.positional.check_learned_positional_embedding, _learned("from_one"), "positions 1..L"),
    (checks.positional.check_learned_positional_embedding, _learned("no_dropout"), "no dropout"),
    (checks.positional.check_learned_positional_embedding, _learned("forgets_x"), "x not added"),
    (checks.block.check_layer_norm, _layer_norm("positions_axis"), "normalises over positions"),
    (checks.block.check_layer_norm, _layer_norm("no_affine"), "weight and bias unused"),
    (checks.block.check_layer_norm, _layer_norm("no_sqrt"), "divides by the variance"),
    (checks.block.check_feed_forward, _ff("no_activation"), "no activation"),
    (checks.block.check_feed_forward, _ff("relu"), "relu, not self.activation"),
    (checks.block.check_sublayer_connection, _sublayer("ignores_norm_first"), "always post-LN"),
    (checks.block.check_sublayer_connection, _sublayer("adds_normalised_x"), "pre-LN adds the normalised x"),
    (checks.block.check_sublayer_connection, _sublayer("norm_on_update"), "post-LN normalises the update only"),
    (checks.block.check_encoder_layer, _encoder("ff_first"), "feed-forward before attention"),
    (checks.block.check_encoder_layer, _encoder("one_sublayer"), "ff_sublayer used for both"),
    (checks.encoder_decoder.check_target_mask, _target_mask("causal_only"), "no padding"),
    (checks.encoder_decoder.check_target_mask, _target_mask("rows"), "padding on the rows"),
    (checks.encoder_decoder.check_target_mask, _target_mask("queries_and_keys"), "pad queries and keys"),
    (checks.encoder_decoder.check_decoder_layer, _decoder("cross_first"), "cross-attention first"),
    (checks.encoder_decoder.check_decoder_layer, _decoder("no_feed_forward"), "no feed-forward"),
    (checks.encoder_decoder.check_transformer_forward, _transformer_forward("encoder_no_mask"),
     "encoder without the source mask"),
    (checks.encoder_decoder.check_transformer_forward, _transformer_forward("no_unembed"), "no unembedding"),
    (checks.encoder_decoder.check_transformer_forward, _transformer_forward("causal_only"), "target mask without padding"),
    (checks.encoder_decoder.check_shift_right, _shift("drops_first"), "drops the first token, not the last"),
    (checks.encoder_decoder.check_shift_right, _shift("shift_left"), "shifted left"),
    (checks.encoder_decoder.check_shift_right, _shift("one_longer"), "one token longer"),
    (checks.training.check_label_smoothing_loss, _loss("axis1"), "log_softmax over axis 1"),
    (checks.training.check_label_smoothing_loss, _loss("sum_not_mean"), "sum over the vocabulary, not mean"),
    (checks.training.check_label_smoothing_loss, _loss("weights_swapped"), "smoothing and 1-smoothing swapped"),
    (checks.training.check_train_step, _train_step("no_shift"), "target not shifted"),
    (checks.training.check_train_step, _train_step("no_clip"), "no gradient clipping"),
    (checks.training.check_train_step, _train_step("returns_tensor"), "returns the loss tensor"),
    (checks.model.check_transformer, _assembled("encode_unscaled"), "encode without sqrt(d_model)"),
    (checks.model.check_transformer, _assembled("decode_src_embed"), "decode with the source embedding"),
    (checks.model.check_transformer, _assembled("decode_d_model"), "decode times d_model, not sqrt"),
    (checks.training.check_greedy_decode, _greedy("first_position"), "argmax of the first position"),
    (checks.training.check_greedy_decode, _greedy("no_target_mask"), "no target mask"),
    (checks.training.check_beam_search, _beam("extends_finished"), "finished hypotheses extended"),
    (checks.training.check_beam_search, _beam("adds_probs"), "adds probabilities, not log-probabilities"),
    (checks.ablation.check_switchable_sublayer, _switchable("ignores_residual"), "residual always on"),
    (checks.ablation.check_switchable_sublayer, _switchable("ignores_norm_first"), "always post-LN"),
    (checks.gpt.check_decoder_only_block, _block("no_mask"), "mask not passed"),
    (checks.gpt.check_decoder_only_block, _block("ff_twice"), "feed-forward twice, no attention"),
    (checks.gpt.check_gpt, _gpt("no_positions"), "no positions"),
    (checks.gpt.check_gpt, _gpt("no_mask"), "no causal mask"),
    (checks.gpt.check_gpt, _gpt("no_final_norm"), "no final norm"),
    (checks.gpt.check_lm_loss, _lm_loss("no_shift"), "no shift"),
    (checks.gpt.check_lm_loss, _lm_loss("mask_unshifted"), "loss_mask not shifted"),
    (checks.gpt.check_lm_loss, _lm_loss("ignores_mask"), "loss_mask ignored"),
    (checks.gpt.check_attend_with_cache, _attend("no_append"), "attends to the new keys only"),
    (checks.gpt.check_attend_with_cache, _attend("no_w_o"), "no w_o"),
    (checks.gpt.check_forward_with_cache, _forward_cache("positions_from_zero"), "positions from 0"),
    (checks.gpt.check_forward_with_cache, _forward_cache("no_mask"), "no mask"),
    (checks.gpt.check_forward_with_cache, _forward_cache("no_final_norm"), "no final norm"),
    (checks.gpt.check_sample_next, _sample("multiplies_temperature"), "multiplies by the temperature"),
    (checks.gpt.check_sample_next, _sample("top_k_drops_kth"), "top-k drops the k-th"),
    (checks.gpt.check_sample_next, _sample("no_generator"), "generator not used"),
]
