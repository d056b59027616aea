"""Checks for notebook 05 (the transformer block): LayerNorm, FeedForward, SublayerConnection, EncoderLayer.

Every check builds the reference module with seeded random weights (LayerNorm's gamma and
beta too, so forgetting them shows), copies those weights into the learner's module, and
compares outputs in eval mode, where dropout does nothing; then, in train mode with one
random seed, that dropout drops exactly what the reference drops (so it sits where the text
puts it), naming the usual wrong places.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import block as ref
from .. import masks
from ._core import (call, case, copy_parameters, exercise, expect_close, expect_dropout_placed,
                    randn, without_grad)

# --- shared helpers (also used by checks.encoder_decoder) -------------------------------------


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Build a module with weights from `seed`, leaving the learner's global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def randomize_norms(module: nn.Module, seed: int) -> nn.Module:
    """Give every LayerNorm random gamma/beta (fresh ones are 1 and 0, which would hide mistakes)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, (ref.LayerNorm, nn.LayerNorm)):
                sub.weight.copy_(1 + 0.5 * torch.randn(sub.weight.shape, generator=generator))
                sub.bias.copy_(0.5 * torch.randn(sub.bias.shape, generator=generator))
    return module


def reference_and_learner(reference_cls: type, learner_cls: type, args: tuple, seed: int,
                          what: str) -> tuple[nn.Module, nn.Module]:
    """The reference module with seeded weights and the learner's with the same weights, both in eval mode."""
    reference = randomize_norms(seeded(lambda: reference_cls(*args), seed), seed)
    learner = seeded(lambda: learner_cls(*args), seed + 1)  # its own initial weights are overwritten below
    copy_parameters(reference, learner, what)
    return reference.eval(), learner.eval()


# --- LayerNorm ---------------------------------------------------------------------------------


def _layer_norm_mistakes(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> dict:
    def norm(centred, std):
        return centred / std * gamma + beta

    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    return {
        "it uses the unbiased variance (dividing by d_model - 1); LayerNorm uses the biased one, "
        "dividing by d_model: x.var(dim=-1, unbiased=False, keepdim=True)":
            lambda: norm(x - mean, torch.sqrt(x.var(-1, keepdim=True, unbiased=True) + eps)),
        "it normalises over the seq_len axis (dim=1); LayerNorm normalises each position's d_model "
        "numbers, over the last axis (dim=-1)":
            lambda: norm(x - x.mean(1, keepdim=True), torch.sqrt(x.var(1, keepdim=True, unbiased=False) + eps)),
        "it normalises over the batch axis (dim=0); normalise over the last axis (dim=-1)":
            lambda: norm(x - x.mean(0, keepdim=True), torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps)),
        "it normalises over the whole tensor at once; normalise each position on its own, over dim=-1":
            lambda: norm(x - x.mean(), torch.sqrt(x.var(unbiased=False) + eps)),
        "it forgets gamma and beta: multiply by self.weight and add self.bias after normalising":
            lambda: (x - mean) / torch.sqrt(var + eps),
        "it forgets beta: add self.bias after multiplying by self.weight":
            lambda: (x - mean) / torch.sqrt(var + eps) * gamma,
        "it forgets gamma: multiply by self.weight before adding self.bias":
            lambda: (x - mean) / torch.sqrt(var + eps) + beta,
        "it does not subtract the mean before dividing":
            lambda: norm(x, torch.sqrt(var + eps)),
        "it divides by the variance instead of the standard deviation (a missing sqrt)":
            lambda: norm(x - mean, var + eps),
        "it adds eps outside the square root; eps belongs inside: sqrt(var + eps)":
            lambda: norm(x - mean, torch.sqrt(var) + eps),
        "it leaves out eps: a (nearly) constant input then divides by (nearly) zero; use sqrt(var + self.eps)":
            lambda: norm(x - mean, torch.sqrt(var)),
    }


def _check_layer_norm(learner_cls: type) -> None:
    # (batch, seq_len, d_model, scale, offset): small scales make eps matter, offsets make the mean matter
    for batch, seq_len, d_model, scale, offset in [(2, 5, 8, 1.0, 0.0), (3, 4, 16, 3.0, 5.0),
                                                   (1, 1, 6, 1.0, 0.0), (2, 3, 8, 1e-3, 0.0)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), "
                  f"values around {offset} with spread {scale}"):
            reference, learner = reference_and_learner(ref.LayerNorm, learner_cls, (d_model,), seed=d_model,
                                                       what="LayerNorm")
            x = randn(batch, seq_len, d_model, seed=seq_len) * scale + offset
            with torch.no_grad():
                expected = reference(x)
                actual = call(learner, x)
            expect_close(actual, expected, "LayerNorm's output", atol=1e-4, rtol=1e-4,
                         axes=("batch", "seq_len", "d_model"),
                         mistakes=_layer_norm_mistakes(x, reference.weight.detach(), reference.bias.detach(),
                                                       reference.eps))


def check_layer_norm(learner: type) -> type:
    """Check the learner's `LayerNorm` class; returns theirs if right, the reference if not done."""
    return exercise("LayerNorm", learner, ref.LayerNorm, _check_layer_norm)


# --- FeedForward -------------------------------------------------------------------------------


def _check_feed_forward(learner_cls: type) -> None:
    for batch, seq_len, d_model, d_ff, activation in [(2, 5, 8, 32, "relu"), (3, 4, 6, 12, "gelu"),
                                                      (1, 1, 8, 16, "relu")]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), d_ff={d_ff}, "
                  f"activation={activation!r}"):
            args = (d_model, d_ff, 0.5, activation)
            reference, learner = reference_and_learner(ref.FeedForward, learner_cls, args, seed=d_ff,
                                                       what="FeedForward")
            x = randn(batch, seq_len, d_model, seed=seq_len)
            with torch.no_grad():
                expected = reference(x)
                actual = call(learner, x)
                l1, l2, act = reference.linear1, reference.linear2, reference.activation
                mistakes = {
                    "there is no activation between the two linear layers, so the two collapse into one "
                    "linear map: linear2(activation(linear1(x)))": l2(l1(x)),
                    "the activation is also applied to the output (after linear2); it goes only between "
                    "the two layers": act(l2(act(l1(x)))),
                    "it uses ReLU although activation='gelu' was asked for: call self.activation":
                        l2(torch.relu(l1(x))),
                }
            expect_close(actual, expected, "the feed-forward output", axes=("batch", "seq_len", "d_model"),
                         mistakes=mistakes)
            drop = reference.dropout
            expect_dropout_placed(learner, reference, lambda m: call(m, x), "FeedForward", {
                "dropout is applied after linear2, to the output; the text puts it on the hidden "
                "activations, between the activation and linear2": lambda: drop(l2(act(l1(x)))),
                "dropout is applied to the input x; the text puts it on the hidden activations, between "
                "the activation and linear2": lambda: l2(act(l1(drop(x)))),
                "dropout is applied before the activation; the text puts it after: "
                "linear2(dropout(activation(linear1(x))))": lambda: l2(act(drop(l1(x)))),
                "dropout is applied twice, on the hidden activations and on the output; only once, "
                "between the activation and linear2": lambda: drop(l2(drop(act(l1(x))))),
            }, where="linear2(dropout(activation(linear1(x))))")


def check_feed_forward(learner: type) -> type:
    """Check the learner's `FeedForward` class; returns theirs if right, the reference if not done."""
    return exercise("FeedForward", learner, ref.FeedForward, _check_feed_forward)


# --- SublayerConnection ------------------------------------------------------------------------


def _sublayer_mistakes(x, sublayer, norm, norm_first: bool) -> dict:
    post = lambda: norm(x + sublayer(x))  # noqa: E731
    pre = lambda: x + sublayer(norm(x))  # noqa: E731
    if norm_first:
        return {
            "it computes post-LN, LayerNorm(x + Sublayer(x)), but norm_first=True asks for pre-LN: "
            "x + Sublayer(LayerNorm(x))": post,
            "the residual is missing: it returns Sublayer(LayerNorm(x)); add x back": lambda: sublayer(norm(x)),
            "the residual adds the normalised x: LayerNorm(x) + Sublayer(LayerNorm(x)); add the raw x, "
            "so the stream itself is never normalised": lambda: norm(x) + sublayer(norm(x)),
            "it normalises twice: LayerNorm(x + Sublayer(LayerNorm(x))); pre-LN has no norm after the sum":
                lambda: norm(x + sublayer(norm(x))),
            "the LayerNorm is missing: x + Sublayer(x)": lambda: x + sublayer(x),
        }
    return {
        "it computes pre-LN, x + Sublayer(LayerNorm(x)), but norm_first=False asks for post-LN (the "
        "paper's): LayerNorm(x + Sublayer(x))": pre,
        "the residual is missing: it returns LayerNorm(Sublayer(x)); add x before the LayerNorm":
            lambda: norm(sublayer(x)),
        "the LayerNorm is applied to the sub-layer's output only: x + LayerNorm(Sublayer(x)); normalise "
        "the sum, LayerNorm(x + Sublayer(x))": lambda: x + norm(sublayer(x)),
        "the LayerNorm is missing: x + Sublayer(x)": lambda: x + sublayer(x),
        "the sub-layer is missing: LayerNorm(x)": lambda: norm(x),
    }


def _sublayer_dropout_mistakes(x, sublayer, norm, drop, norm_first: bool) -> dict:
    """What dropout in the usual wrong places gives (run in train mode, with the reference's seed)."""
    if norm_first:
        return {
            "dropout is applied to the residual stream itself, dropout(x + Sublayer(LayerNorm(x))): it "
            "belongs on the sub-layer's output only, x + dropout(Sublayer(LayerNorm(x)))":
                lambda: drop(x + sublayer(norm(x))),
            "dropout is applied to the sub-layer's input, x + Sublayer(dropout(LayerNorm(x))); it belongs on "
            "its output, x + dropout(Sublayer(LayerNorm(x)))": lambda: x + sublayer(drop(norm(x))),
            "dropout is applied to x as well: the residual path carries x untouched, "
            "x + dropout(Sublayer(LayerNorm(x)))": lambda: drop(x) + drop(sublayer(norm(x))),
        }
    return {
        "dropout is applied to the residual stream itself, LayerNorm(dropout(x + Sublayer(x))): it belongs "
        "on the sub-layer's output only, LayerNorm(x + dropout(Sublayer(x)))":
            lambda: norm(drop(x + sublayer(x))),
        "dropout is applied after the LayerNorm, dropout(LayerNorm(x + Sublayer(x))); it belongs on the "
        "sub-layer's output, LayerNorm(x + dropout(Sublayer(x)))": lambda: drop(norm(x + sublayer(x))),
        "dropout is applied to the sub-layer's input, LayerNorm(x + Sublayer(dropout(x))); it belongs on "
        "its output, LayerNorm(x + dropout(Sublayer(x)))": lambda: norm(x + sublayer(drop(x))),
        "dropout is applied to x as well: the residual path carries x untouched, "
        "LayerNorm(x + dropout(Sublayer(x)))": lambda: norm(drop(x) + drop(sublayer(x))),
    }


def _check_sublayer_connection(learner_cls: type) -> None:
    for batch, seq_len, d_model, norm_first in [(2, 5, 8, False), (2, 5, 8, True), (1, 1, 6, False),
                                                (3, 4, 16, True)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), norm_first={norm_first}"):
            reference, learner = reference_and_learner(ref.SublayerConnection, learner_cls,
                                                       (d_model, 0.5, norm_first), seed=d_model,
                                                       what="SublayerConnection")
            sublayer = seeded(lambda: nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh()), seed=seq_len).eval()
            x = randn(batch, seq_len, d_model, seed=batch) * 2 + 1
            with torch.no_grad():
                expected = reference(x, sublayer)
                actual = call(learner, x, sublayer)
                mistakes = {k: v() for k, v in _sublayer_mistakes(x, sublayer, reference.norm, norm_first).items()}
            expect_close(actual, expected, "the output", axes=("batch", "seq_len", "d_model"), mistakes=mistakes)
            expect_dropout_placed(learner, reference, lambda m: call(m, x, sublayer), "SublayerConnection",
                                  _sublayer_dropout_mistakes(x, sublayer, reference.norm, reference.dropout,
                                                             norm_first),
                                  where="x + dropout(Sublayer(LayerNorm(x))) for pre-LN, "
                                        "LayerNorm(x + dropout(Sublayer(x))) for post-LN")


def check_sublayer_connection(learner: type) -> type:
    """Check the learner's `SublayerConnection` class; returns theirs if right, the reference if not done."""
    return exercise("SublayerConnection", learner, ref.SublayerConnection, _check_sublayer_connection)


# --- EncoderLayer ------------------------------------------------------------------------------


def _encoder_mistakes(layer: ref.EncoderLayer, x: torch.Tensor, mask: torch.Tensor | None) -> dict:
    attn = lambda m: (lambda y: layer.self_attn(y, y, y, m))  # noqa: E731
    return {
        "the mask is not passed to self-attention, so padding tokens are attended to: "
        "self.self_attn(x, x, x, mask)":
            lambda: layer.ff_sublayer(layer.attn_sublayer(x, attn(None)), layer.feed_forward),
        "the feed-forward comes before self-attention; the order is self-attention, then feed-forward":
            lambda: layer.attn_sublayer(layer.ff_sublayer(x, layer.feed_forward), attn(mask)),
        "the feed-forward sub-layer is missing": lambda: layer.attn_sublayer(x, attn(mask)),
        "the self-attention sub-layer is missing": lambda: layer.ff_sublayer(x, layer.feed_forward),
        "the same SublayerConnection (attn_sublayer) wraps both sub-layers; each has its own LayerNorm, "
        "use self.ff_sublayer around the feed-forward":
            lambda: layer.attn_sublayer(layer.attn_sublayer(x, attn(mask)), layer.feed_forward),
        "the feed-forward sub-layer is applied twice; once, after self-attention":
            lambda: layer.ff_sublayer(layer.ff_sublayer(layer.attn_sublayer(x, attn(mask)), layer.feed_forward),
                                      layer.feed_forward),
        "the sub-layer ignores its argument: `lambda y: self.self_attn(x, x, x, mask)` attends over the "
        "raw x, so with norm_first the LayerNorm that SublayerConnection applies to y is lost; write "
        "`lambda y: self.self_attn(y, y, y, mask)`":
            lambda: layer.ff_sublayer(layer.attn_sublayer(x, lambda y: layer.self_attn(x, x, x, mask)),
                                      layer.feed_forward),
    }


def _check_encoder_layer(learner_cls: type) -> None:
    # (batch, seq_len, d_model, n_heads, norm_first, lengths of the real tokens or None for no mask)
    for batch, seq_len, d_model, n_heads, norm_first, lengths in [
        (3, 5, 16, 4, False, [5, 3, 0]),  # the last sequence is all padding
        (2, 6, 16, 2, True, [6, 2]),
        (1, 1, 8, 2, False, None),
    ]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), n_heads={n_heads}, "
                  f"norm_first={norm_first}, " + (f"real lengths {lengths}" if lengths else "no mask")):
            args = (d_model, n_heads, 2 * d_model, 0.1, norm_first, "relu")
            reference, learner = reference_and_learner(ref.EncoderLayer, learner_cls, args, seed=seq_len,
                                                       what="EncoderLayer")
            x = randn(batch, seq_len, d_model, seed=batch)
            mask = None
            if lengths is not None:
                ids = torch.stack([(torch.arange(seq_len) < n).long() for n in lengths])  # 1 = real, 0 = pad
                mask = masks.padding_mask(ids, pad_id=0)  # (B, 1, 1, seq_len)
            with torch.no_grad():
                expected = reference(x, mask)
                actual = call(learner, x, mask)
                mistakes = without_grad(_encoder_mistakes(reference, x, mask))
            expect_close(actual, expected, "the encoder layer's output", atol=1e-4,
                         axes=("batch", "seq_len", "d_model"), mistakes=mistakes)


def check_encoder_layer(learner: type) -> type:
    """Check the learner's `EncoderLayer` class; returns theirs if right, the reference if not done."""
    return exercise("EncoderLayer", learner, ref.EncoderLayer, _check_encoder_layer)
