"""Checks for notebook 03 (multi-head attention): split and merge heads, the module, torch's weights.

Each check runs the learner's code against the reference in ``transformer_course.multihead``
on several seeded shapes and names the usual mistakes: heads interleaved ``(d h)`` instead
of contiguous ``(h d)``, a reshape without the transpose, a missing W_O, a missing or wrong
1/sqrt(d_k), an ignored mask, keys taken from the query, W_Q/W_K/W_V chunks in the wrong order.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from einops import rearrange
from torch import nn

from .. import multihead as ref
from ..attention import scaled_dot_product_attention
from ._core import CheckFailed, call, case, copy_parameters, exercise, expect_close, expect_dropout_placed, randn

SPLIT_AXES = ("batch", "n_heads", "seq_len", "d_k")
MERGE_AXES = ("batch", "seq_len", "d_model")

# --- split_heads and merge_heads ----------------------------------------------


def _check_split_heads(fn: Callable) -> None:
    for batch, seq_len, n_heads, d_k in [(2, 5, 4, 3), (1, 1, 2, 4), (3, 4, 4, 2), (2, 6, 1, 5)]:
        d_model = n_heads * d_k
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), n_heads={n_heads}"):
            x = randn(batch, seq_len, d_model, seed=seq_len + n_heads)
            expected = ref.split_heads(x, n_heads)
            expect_close(call(fn, x, n_heads), expected, "split_heads(x, n_heads)", axes=SPLIT_AXES, mistakes={
                "the heads are interleaved: head 0 should get the first d_k features (0..d_k-1), a "
                "contiguous block, but it got every n_heads-th feature. In einops write (h d), not (d h)":
                    lambda: rearrange(x, "b s (d h) -> b h s d", h=n_heads),
                "it reshapes straight to (batch, n_heads, seq_len, d_k) without a transpose, which mixes "
                "positions into the heads. Split the last axis into (n_heads, d_k) first, then swap "
                "seq_len and n_heads":
                    lambda: x.reshape(batch, n_heads, seq_len, d_k),
                "the heads axis must come before seq_len, (batch, n_heads, seq_len, d_k); it is "
                "(batch, seq_len, n_heads, d_k) — the transpose is missing":
                    lambda: rearrange(x, "b s (h d) -> b s h d", h=n_heads),
                f"it made d_k={d_k} heads of n_heads={n_heads} features each: the number of heads is "
                "n_heads, and each head has d_k = d_model // n_heads features":
                    lambda: rearrange(x, "b s (h d) -> b h s d", d=n_heads),
            })


def check_split_heads(learner: Callable) -> Callable:
    """Check the learner's `split_heads`; returns theirs if right, the reference if not done."""
    return exercise("split_heads", learner, ref.split_heads, _check_split_heads)


def _check_merge_heads(fn: Callable) -> None:
    for batch, n_heads, seq_len, d_k in [(2, 4, 5, 3), (1, 2, 1, 4), (3, 4, 4, 2), (2, 3, 6, 2)]:
        d_model = n_heads * d_k
        with case(f"x of shape (batch={batch}, n_heads={n_heads}, seq_len={seq_len}, d_k={d_k})"):
            x = randn(batch, n_heads, seq_len, d_k, seed=seq_len + n_heads)
            expected = ref.merge_heads(x)
            expect_close(call(fn, x), expected, "merge_heads(x)", axes=MERGE_AXES, mistakes={
                "it reshapes to (batch, seq_len, d_model) without transposing back first, which mixes "
                "positions into the features. Move n_heads next to d_k again (b h s d -> b s h d), "
                "then join them":
                    lambda: x.reshape(batch, seq_len, d_model),
                "the heads are interleaved instead of concatenated: the result should be head 0's "
                "d_k features, then head 1's, ... In einops write (h d), not (d h)":
                    lambda: rearrange(x, "b h s d -> b s (d h)"),
                "it moves the axes but does not join n_heads and d_k into one d_model axis":
                    lambda: rearrange(x, "b h s d -> b s h d"),
            })


def check_merge_heads(learner: Callable) -> Callable:
    """Check the learner's `merge_heads`; returns theirs if right, the reference if not done."""
    return exercise("merge_heads", learner, ref.merge_heads, _check_merge_heads)


# --- MultiHeadAttention.forward ------------------------------------------------


def _attend(module: ref.MultiHeadAttention, query, key, value, mask, scale: float = 1.0,
            split: str = "h d", merge: str = "h d", transpose_back: bool = True, w_o: bool = True,
            drop: str | None = "weights"):
    """The reference forward with one deliberate change, to recognise a learner's mistake.

    drop: where dropout goes ("weights", right; "out", each head's output; "final", after W_O; None, nowhere).
    """
    h = module.n_heads
    q = rearrange(module.w_q(query), f"b s ({split}) -> b h s d", h=h)
    k = rearrange(module.w_k(key), f"b s ({split}) -> b h s d", h=h)
    v = rearrange(module.w_v(value), f"b s ({split}) -> b h s d", h=h)
    out, _ = scaled_dot_product_attention(q * scale, k, v, mask, module.dropout if drop == "weights" else None)
    if drop == "out":
        out = module.dropout(out)
    if transpose_back:
        out = rearrange(out, f"b h s d -> b s ({merge})")
    else:
        out = out.reshape(out.shape[0], out.shape[2], -1)
    out = module.w_o(out) if w_o else out
    return module.dropout(out) if drop == "final" else out


def _mha_cases():
    """(description, batch, q_len, k_len, d_model, n_heads, mask) for the module checks."""
    lengths = torch.tensor([6, 3, 0])  # the third sequence is all padding: a fully masked row
    padding = (torch.arange(6)[None, :] < lengths[:, None])[:, None, None, :]  # (3, 1, 1, 6)
    return [
        ("self-attention, no mask", 2, 5, 5, 16, 4, None),
        ("cross-attention, q_len=4 != k_len=6, no mask", 2, 4, 6, 12, 3, None),
        ("self-attention with a causal mask", 2, 6, 6, 12, 2, torch.tril(torch.ones(6, 6, dtype=torch.bool))),
        ("cross-attention with a padding mask, one source all padding", 3, 4, 6, 16, 4, padding),
        ("batch of 1, length 1, one head", 1, 1, 1, 8, 1, None),
    ]


def _check_multi_head_attention(cls: Callable) -> None:
    for description, batch, q_len, k_len, d_model, n_heads, mask in _mha_cases():
        with case(f"{description}: batch={batch}, q_len={q_len}, k_len={k_len}, "
                  f"d_model={d_model}, n_heads={n_heads}"):
            with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
                torch.manual_seed(0)
                reference = ref.MultiHeadAttention(d_model, n_heads).eval()
                module = cls(d_model, n_heads)
            copy_parameters(reference, module, "your MultiHeadAttention")
            module.eval()
            cross = description.startswith("cross")
            query = randn(batch, q_len, d_model, seed=1)
            key = randn(batch, k_len, d_model, seed=2) if cross else query
            value = randn(batch, k_len, d_model, seed=3) if cross else query
            with torch.no_grad():
                expected = reference(query, key, value, mask)
                got = call(module, query, key, value, mask)
                d_k = d_model // n_heads
                mistakes = {
                    "the output projection W_O is missing: after merging the heads, apply self.w_o":
                        lambda: _attend(reference, query, key, value, mask, w_o=False),
                    "the scores are not divided by sqrt(d_k) (use the attention function from notebook "
                    "02, which scales them)":
                        lambda: _attend(reference, query, key, value, mask, scale=math.sqrt(d_k)),
                    f"the scores are divided by sqrt(d_model)=sqrt({d_model}); each head's queries and keys "
                    f"have d_k = d_model / n_heads = {d_k} features, so divide by sqrt(d_k)":
                        lambda: _attend(reference, query, key, value, mask, scale=math.sqrt(d_k / d_model)),
                    "the mask is ignored: pass it on to the attention of every head":
                        lambda: _attend(reference, query, key, value, None) if mask is not None else expected,
                    "the heads are interleaved: each head must get a contiguous block of d_k features, "
                    "(h d) in einops, not (d h)":
                        lambda: _attend(reference, query, key, value, mask, split="d h", merge="d h"),
                    "the heads are merged with a reshape but without transposing back from "
                    "(batch, n_heads, seq_len, d_k) to (batch, seq_len, n_heads, d_k) first":
                        lambda: _attend(reference, query, key, value, mask, transpose_back=False),
                    "the keys (or values) were computed from the query: use key for W_K and value for W_V "
                    "(in cross-attention they come from another sequence)":
                        lambda: _attend(reference, query, query, query, None) if cross and mask is None
                        else expected,
                    "W_Q and W_K are swapped: queries come from self.w_q(query), keys from self.w_k(key)":
                        lambda: _attend(_swapped(reference), query, key, value, mask),
                    "the values are computed from `key`: use self.w_v(value) (in cross-attention keys and "
                    "values are two different inputs)":
                        lambda: _attend(reference, query, key, key, mask),
                    "the keys are computed from `value`: use self.w_k(key)":
                        lambda: _attend(reference, query, value, value, mask),
                    "the queries are computed from `key`: queries come from self.w_q(query)":
                        lambda: _attend(reference, key, key, value, mask) if key.shape == query.shape
                        else expected,
                }
                properties = [] if cross or mask is not None else [_equivariant(module, query)]
                expect_close(got, expected, "the output", axes=MERGE_AXES, mistakes=mistakes, properties=properties)
            weights = getattr(module, "attn_weights", None)
            if weights is None:
                raise CheckFailed("the output is right, but self.attn_weights is None: store the attention "
                                  "weights (batch, n_heads, q_len, k_len) there, the plots use them")
            expect_close(weights, reference.attn_weights, "self.attn_weights",
                         axes=("batch", "n_heads", "q_len", "k_len"))
    _check_mha_dropout(cls)


def _check_mha_dropout(cls: Callable) -> None:
    """With dropout=0.5 in train mode, the same seed must drop the same attention weights as the reference."""
    batch, q_len, k_len, d_model, n_heads = 2, 4, 5, 8, 2
    with case(f"train mode with dropout=0.5: batch={batch}, q_len={q_len}, k_len={k_len}, d_model={d_model}, "
              f"n_heads={n_heads}"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            reference = ref.MultiHeadAttention(d_model, n_heads, 0.5)
            module = cls(d_model, n_heads, 0.5)
        copy_parameters(reference, module, "your MultiHeadAttention")
        query, memory = randn(batch, q_len, d_model, seed=4), randn(batch, k_len, d_model, seed=5)
        expect_dropout_placed(
            module, reference, lambda m: call(m, query, memory, memory), "MultiHeadAttention", {
                "dropout is applied to each head's output; the text applies self.dropout to the attention "
                "weights (pass it to scaled_dot_product_attention)":
                    lambda: _attend(reference, query, memory, memory, None, drop="out"),
                "dropout is applied after W_O; the text applies self.dropout to the attention weights (pass "
                "it to scaled_dot_product_attention)":
                    lambda: _attend(reference, query, memory, memory, None, drop="final"),
            }, where="pass self.dropout to scaled_dot_product_attention, which applies it to the weights")


def _equivariant(module, x: torch.Tensor) -> Callable[[torch.Tensor], str | None]:
    """Property: in self-attention without a mask, shuffling the positions of x shuffles the output alike."""
    def check(got: torch.Tensor) -> str | None:
        perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            again = call(module, x, x, x)
            if not torch.equal(again, got):
                return ("two calls on the same input give different outputs, in eval mode: something random is "
                        "left on, e.g. dropout applied with training=True; use self.dropout (an nn.Dropout, off "
                        "after .eval()) or F.dropout(..., training=self.training)")
            shuffled = call(module, x[:, perm], x[:, perm], x[:, perm])
        if torch.allclose(shuffled.float(), got[:, perm], atol=1e-4):
            return None
        return ("shuffling the positions of the input (self-attention, no mask) does not just shuffle the output: "
                "attention without positions treats the sequence as a set, so something mixes positions with "
                "heads or features (a reshape or view where a transpose is needed?)")
    return check


def _swapped(reference: ref.MultiHeadAttention) -> ref.MultiHeadAttention:
    """A copy of `reference` with W_Q and W_K exchanged."""
    swapped = ref.MultiHeadAttention(reference.d_model, reference.n_heads).eval()
    swapped.load_state_dict(reference.state_dict())
    swapped.w_q, swapped.w_k = swapped.w_k, swapped.w_q
    return swapped


def check_multi_head_attention(learner: type) -> type:
    """Check the learner's `MultiHeadAttention` class; returns theirs if right, the reference if not done."""
    return exercise("MultiHeadAttention", learner, ref.MultiHeadAttention, _check_multi_head_attention)


# --- loading torch.nn.MultiheadAttention's weights ----------------------------------


def _check_load_torch_weights(fn: Callable) -> None:
    for d_model, n_heads in [(16, 4), (6, 1)]:
        with case(f"nn.MultiheadAttention({d_model}, {n_heads}, batch_first=True)"):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(d_model)
                mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
                nn.init.normal_(mha.in_proj_bias)  # torch starts these at zero: make a missed copy visible
                nn.init.normal_(mha.out_proj.bias)
                ours = ref.MultiHeadAttention(d_model, n_heads)
                loaded = ref.load_torch_weights(ref.MultiHeadAttention(d_model, n_heads), mha)
            expected = dict(loaded.named_parameters())
            before = {name: p.detach().clone() for name, p in ours.named_parameters()}
            returned = call(fn, ours, mha)
            got = dict(ours.named_parameters())
            w = dict(zip("qkv", mha.in_proj_weight.detach().chunk(3)))
            b = dict(zip("qkv", mha.in_proj_bias.detach().chunk(3)))
            names = {"q": "W_Q", "k": "W_K", "v": "W_V"}
            for x in "qkv":
                mistakes = {
                    f"w_{x}.weight is still the module's own random initial weight: copy {names[x]} into it":
                        before[f"w_{x}.weight"],
                    f"w_{x}.weight holds its chunk transposed ({names[x]}.T): in_proj_weight and nn.Linear "
                    f"both store (out_features, in_features), so copy the chunk as it is, without .T":
                        w[x].T,
                }
                for other in "qkv":
                    if other != x:
                        mistakes[f"w_{x}.weight holds the {names[other]} chunk: in_proj_weight stacks "
                                 f"W_Q, W_K, W_V in that order, so w_{x} gets chunk {'qkv'.index(x)}"] = w[other]
                expect_close(got[f"w_{x}.weight"], expected[f"w_{x}.weight"], f"w_{x}.weight", mistakes=mistakes)
                bias_mistakes = {f"w_{x}.bias was not copied: take chunk {'qkv'.index(x)} of in_proj_bias":
                                 before[f"w_{x}.bias"]}
                bias_mistakes.update({f"w_{x}.bias holds the {names[o]} chunk of in_proj_bias": b[o]
                                      for o in "qkv" if o != x})
                expect_close(got[f"w_{x}.bias"], expected[f"w_{x}.bias"], f"w_{x}.bias", mistakes=bias_mistakes)
            expect_close(got["w_o.weight"], expected["w_o.weight"], "w_o.weight", mistakes={
                "w_o.weight was not copied: W_O is mha.out_proj.weight": before["w_o.weight"],
                "w_o.weight is transposed: out_proj is an nn.Linear like w_o, copy it as it is":
                    mha.out_proj.weight.detach().T,
            })
            expect_close(got["w_o.bias"], expected["w_o.bias"], "w_o.bias", mistakes={
                "w_o.bias was not copied: it is mha.out_proj.bias": before["w_o.bias"],
            })
            torch_memory = {p.untyped_storage().data_ptr(): name for name, p in mha.named_parameters()}
            for name, p in ours.named_parameters():
                if p.untyped_storage().data_ptr() in torch_memory:
                    raise CheckFailed(
                        f"{name} shares its memory with torch's mha.{torch_memory[p.untyped_storage().data_ptr()]}: it "
                        f"is torch's tensor (or a view of it), not a copy, so training either module changes the "
                        f"other. Copy the values into the module's own parameters, {name}.copy_(...) inside "
                        f"torch.no_grad()")
            if returned is not ours:
                raise CheckFailed("it does not return `ours` (it returns "
                                  f"{'None' if returned is None else type(returned).__name__}): the text asks "
                                  "load_torch_weights to return the module it filled, so end with `return ours`")



def check_load_torch_weights(learner: Callable) -> Callable:
    """Check the learner's `load_torch_weights`; returns theirs if right, the reference if not done."""
    return exercise("load_torch_weights", learner, ref.load_torch_weights, _check_load_torch_weights)
