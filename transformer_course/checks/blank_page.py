"""The test battery of notebook 12: a whole transformer, written by the learner in one file, checked piece by piece.

The learner's file (``my_transformer.py``) defines the names of :data:`PIECES`, in the order a person
builds them. Each piece is checked by behaviour: loaded with the reference's weights it must give the
reference's outputs, and properties that hold for any correct implementation must hold (rows of
attention weights sum to 1, a masked key gets no weight, padding never changes a real token's output,
a later target token never changes an earlier logit, the encoder without positions is
permutation-equivariant). A failure names the piece and, where it can, the mistake.

    from transformer_course.checks import blank_page
    my = blank_page.run("my_transformer.py")      # in the notebook: one line per piece

From a terminal the same battery is a pytest file, ``notebooks/test_my_transformer.py``.
Most pieces reuse the checks of the notebook that taught them (02 attention and masks, 03
multi-head attention, 05 LayerNorm, 06 the target mask, 07 the loss and greedy decoding).
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import block as ref_block
from .. import encoder_decoder as ref_ed
from .. import masks as ref_masks
from ..config import ModelConfig
from ..positional import SinusoidalPositionalEncoding
from ..task import decoding as ref_decoding
from ..task import training as ref_training
from ..task.number_words import DE_VOCAB, EN_VOCAB, make_batch
from . import _core
from . import attention as attention_checks
from . import block as block_checks
from . import encoder_decoder as ed_checks
from . import model as model_checks
from . import multihead as multihead_checks
from . import positional as positional_checks
from . import training as training_checks
from ._core import (CheckFailed, LearnerError, call, case, copy_parameters, expect_close, expect_dropout_placed,
                    expect_tensor, randn, rows_sum_to_one, without_grad)

FILE_NAME = "my_transformer.py"
LEARNER_ENV_VAR = "TRANSFORMER_COURSE_MY_TRANSFORMER"

# What the file may not use: the point is to write these. (nn.Linear, nn.Embedding, nn.Dropout and
# torch.optim.Adam are allowed.)
FORBIDDEN_ATTRIBUTES = {
    "Transformer": "nn.Transformer", "TransformerEncoder": "nn.TransformerEncoder",
    "TransformerDecoder": "nn.TransformerDecoder", "TransformerEncoderLayer": "nn.TransformerEncoderLayer",
    "TransformerDecoderLayer": "nn.TransformerDecoderLayer", "MultiheadAttention": "nn.MultiheadAttention",
    "LayerNorm": "nn.LayerNorm", "layer_norm": "F.layer_norm",
    "scaled_dot_product_attention": "F.scaled_dot_product_attention",
    "multi_head_attention_forward": "F.multi_head_attention_forward",
}
FORBIDDEN_MODULES = (nn.Transformer, nn.TransformerEncoder, nn.TransformerDecoder, nn.TransformerEncoderLayer,
                     nn.TransformerDecoderLayer, nn.MultiheadAttention, nn.LayerNorm)
# --- the learner's file ----------------------------------------------------------------------------


def learner_path(beside: str | Path | None = None) -> Path:
    """$TRANSFORMER_COURSE_MY_TRANSFORMER, or my_transformer.py in `beside`'s folder (default: the current one)."""
    configured = os.environ.get(LEARNER_ENV_VAR, "").strip()
    if configured:
        return Path(configured)
    folder = Path(beside).resolve().parent if beside is not None else Path.cwd()
    return folder / FILE_NAME


HEADER = '''"""My transformer, written from a blank page (notebook 12_from_a_blank_page).

The notebook's specification lists every name to define here. Only torch: nn.Linear, nn.Embedding,
nn.Dropout and torch.optim.Adam are the ready-made parts you may use.
Run the battery: the notebook's check cell, or `python -m pytest notebooks/test_my_transformer.py`.
"""
'''


def create_if_missing(path: str | Path = FILE_NAME) -> str:
    """Create the learner's file with only a header if there is none; never touches an existing file."""
    path = Path(path)
    if path.exists():
        return f"{path} exists ({len(path.read_text(encoding='utf-8').splitlines())} lines): it is yours, left as it is"
    path.write_text(HEADER, encoding="utf-8")
    return f"{path} created with only a header: open it in JupyterLab's editor and write your transformer there"


def load(path: str | Path = FILE_NAME) -> ModuleType:
    """Import the learner's file afresh (edits since the last run are seen); a missing file is an empty module."""
    path = Path(path)
    module = ModuleType("my_transformer")
    module.__file__ = str(path)
    if not path.exists():
        return module
    spec = importlib.util.spec_from_file_location("my_transformer", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("my_transformer")
    sys.modules["my_transformer"] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise LearnerError(f"{path.name} does not import: it raised {type(error).__name__}", error) from None
    finally:
        if saved is None:
            sys.modules.pop("my_transformer", None)
        else:
            sys.modules["my_transformer"] = saved
    return module


# --- piece 1: the rules ----------------------------------------------------------------------------


def _check_rules(my: ModuleType) -> None:
    path = Path(my.__file__)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m == "transformer_course" or m.startswith("transformer_course.") for m in modules):
                raise CheckFailed(f"line {node.lineno} imports transformer_course: the file must stand on its own, "
                                  f"with only torch (and math); write every piece yourself")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch"):
                for alias in node.names:
                    if alias.name in FORBIDDEN_ATTRIBUTES:
                        raise CheckFailed(f"line {node.lineno} imports {alias.name} from {node.module}: "
                                          f"{FORBIDDEN_ATTRIBUTES[alias.name]} is what you write here yourself")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            base = node.value
            if not (isinstance(base, ast.Name) and base.id == "self"):
                raise CheckFailed(f"line {node.lineno} uses {ast.unparse(node)}: {FORBIDDEN_ATTRIBUTES[node.attr]} "
                                  f"is what you write here yourself (only nn.Linear, nn.Embedding, nn.Dropout "
                                  f"and torch.optim.Adam are given)")
    for name, value in vars(my).items():
        origin = getattr(value, "__module__", None) or (value.__name__ if isinstance(value, ModuleType) else "")
        if isinstance(origin, str) and origin.split(".")[0] == "transformer_course":
            raise CheckFailed(f"`{name}` in the file comes from {origin}: the file must not use the course's code")
    if hasattr(my, "Transformer"):
        try:
            with torch.random.fork_rng(devices=[]):
                model = my.Transformer(11, 13, d_model=8, n_heads=2, n_layers=1, d_ff=16, dropout=0.0, max_len=8)
        except Exception:  # noqa: BLE001  a model that cannot be built yet is piece 13's to report, not the rules'
            return
        for sub_name, sub in model.named_modules():
            if isinstance(sub, FORBIDDEN_MODULES) or type(sub).__module__.split(".")[0] == "transformer_course":
                raise CheckFailed(f"the model's sub-module `{sub_name}` is a {type(sub).__module__}."
                                  f"{type(sub).__name__}: write it yourself")


# --- pieces 2-3: the embedding and the positional encoding -------------------------------------------


def _check_embedding(cls: type) -> None:
    for vocab, d_model, lengths in [(11, 16, (2, 5)), (7, 9, (1, 1))]:
        with case(f"vocab_size={vocab}, d_model={d_model}, token ids of shape {lengths}"):
            reference = block_checks.seeded(lambda: ref_ed.Embedding(vocab, d_model), seed=vocab)
            learner = cls(vocab, d_model)
            copy_parameters(reference, learner, "your Embedding")
            ids = torch.randint(0, vocab, lengths, generator=torch.Generator().manual_seed(d_model))
            table = reference.lut.weight.detach()
            with torch.no_grad():
                expected = reference(ids)
                got = call(learner, ids)
            expect_close(got, expected, "the embedded tokens", axes=("batch", "seq_len", "d_model"), mistakes={
                "the vectors are not multiplied by sqrt(d_model): scale the embedding itself (the paper, "
                "notebook 07), before the positional encoding is added": lambda: table[ids],
                "the vectors are divided by sqrt(d_model); multiply by it": lambda: table[ids] / math.sqrt(d_model),
                "the vectors are multiplied by d_model; multiply by its square root": lambda: table[ids] * d_model,
            })


def _check_positional(cls: type) -> None:
    for batch, seq_len, d_model, max_len in [(2, 5, 16, 12), (1, 12, 8, 12), (1, 1, 4, 3)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), max_len={max_len}"):
            reference = SinusoidalPositionalEncoding(d_model, max_len, 0.0).eval()
            learner = cls(d_model, max_len, 0.0)
            copy_parameters(reference, learner, "your PositionalEncoding (fixed sinusoids: no parameters)")
            learner.eval()
            x = randn(batch, seq_len, d_model, seed=seq_len)
            with torch.no_grad():
                got = call(learner, x)

            def variant(**kw):
                return x + positional_checks._sinusoids(seq_len, d_model, **kw)
            expect_close(got, reference(x), "x plus the positional encoding", axes=("batch", "seq_len", "d_model"),
                         mistakes={
                "sin and cos are concatenated (all sines, then all cosines); they alternate: sin in the even "
                "dimensions 0, 2, 4, ..., cos in the odd ones (notebook 04)": lambda: variant(layout="concatenated"),
                "sin and cos are swapped: sin goes in the even dimensions, cos in the odd ones":
                    lambda: variant(swap=True),
                "the positions start at 1; they start at 0": lambda: variant(first_position=1),
                "the exponent is i/d_model; it is 2i/d_model, the same for a sin and its cos":
                    lambda: variant(exponent="i"),
                "each dimension j uses j/d_model in the exponent; a pair (sin, cos) shares 2i/d_model":
                    lambda: variant(exponent="j"),
                "the frequencies are inverted: pos / 10000^(2i/d_model), a division":
                    lambda: variant(invert=True),
                "it returns the encoding alone; add it to x": lambda: positional_checks._sinusoids(seq_len, d_model)
                    .expand(batch, -1, -1),
                "x is scaled by sqrt(d_model) here; the scale belongs to the embedding, before the positions "
                "are added": lambda: (x * math.sqrt(d_model) + positional_checks._sinusoids(seq_len, d_model)),
                "x is scaled by sqrt(d_model) after the positions are added; scale the embedding, then add "
                "the positions": lambda: variant() * math.sqrt(d_model),
            })
    with case("train mode, dropout=0.5"):
        module = cls(8, 6, 0.5)
        x = randn(2, 6, 8, seed=3)
        reference = SinusoidalPositionalEncoding(8, 6, 0.5)
        expect_dropout_placed(module, reference, lambda m: call(m, x), "PositionalEncoding", {
            "dropout is applied to x before the positions are added; it goes after the sum, "
            "dropout(x + PE)": lambda: reference.dropout(x) + reference.pe[:6],
        }, where="self.dropout(x + pe)")


def _check_attention(fn: Callable) -> None:
    attention_checks._check_attention(fn)  # notebook 02's check: equality, rows summing to 1, named mistakes
    with case("q (2, 3, 8), k, v (2, 6, 8), padding mask (2, 1, 6) with 4 and 2 real keys: a masked key gets no weight"):
        mask = _real([4, 2], 6)[:, None, :]
        _, weights = call(fn, randn(2, 3, 8, seed=21), 5 * randn(2, 6, 8, seed=22), randn(2, 6, 8, seed=23), mask)
        leaked = weights.detach().float().masked_select(~mask.expand_as(weights)).abs().max()
        if leaked > 1e-6:
            raise CheckFailed(f"a masked key gets weight {leaked.item():.3g}; it must get exactly 0 (fill its score "
                              f"with -inf before the softmax)")


# --- pieces 6-8: feed-forward and the residual sub-layer -------------------------------------------


def _check_feed_forward(cls: type) -> None:
    for batch, seq_len, d_model, d_ff in [(2, 5, 8, 32), (1, 1, 6, 12)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model}), d_ff={d_ff}"):
            reference, learner = block_checks.reference_and_learner(
                lambda *a: ref_block.FeedForward(*a), cls, (d_model, d_ff, 0.5), seed=d_ff, what="FeedForward")
            x = randn(batch, seq_len, d_model, seed=seq_len)
            l1, l2 = reference.linear1, reference.linear2
            with torch.no_grad():
                expect_close(call(learner, x), reference(x), "FeedForward's output",
                             axes=("batch", "seq_len", "d_model"), mistakes=without_grad({
                    "there is no ReLU between the two linear layers, so they collapse into one linear map":
                        lambda: l2(l1(x)),
                    "the ReLU is also applied to the output; it goes only between linear1 and linear2":
                        lambda: torch.relu(l2(torch.relu(l1(x)))),
                    "it uses GELU; the paper (and this specification) uses ReLU": lambda: l2(F.gelu(l1(x))),
                    "linear1 and linear2 are swapped in order": lambda: l1(torch.relu(l2(x))) if d_ff == d_model
                        else reference(x),
                }))
            drop = reference.dropout
            expect_dropout_placed(learner, reference, lambda m: call(m, x), "FeedForward", {
                "dropout is applied to the output; it goes on the hidden activations, between the ReLU and "
                "linear2 (notebook 05)": lambda: drop(l2(torch.relu(l1(x)))),
                "dropout is applied to the input x; it goes between the ReLU and linear2":
                    lambda: l2(torch.relu(l1(drop(x)))),
            }, where="linear2(dropout(relu(linear1(x))))")


def _check_sublayer(cls: type) -> None:
    for batch, seq_len, d_model in [(2, 5, 8), (1, 1, 6)]:
        with case(f"x of shape (batch={batch}, seq_len={seq_len}, d_model={d_model})"):
            reference, learner = block_checks.reference_and_learner(
                lambda d, p: ref_block.SublayerConnection(d, p, False), cls, (d_model, 0.5), seed=d_model,
                what="SublayerConnection")
            x = randn(batch, seq_len, d_model, seed=seq_len)
            weight = randn(d_model, d_model, seed=11) / math.sqrt(d_model)
            sublayer = lambda y: torch.tanh(y @ weight)  # noqa: E731  any function of the stream will do
            with torch.no_grad():
                mistakes = {k: v() for k, v in block_checks._sublayer_mistakes(x, sublayer, reference.norm,
                                                                               False).items()}
                expect_close(call(learner, x, sublayer), reference(x, sublayer), "the output",
                             axes=("batch", "seq_len", "d_model"), mistakes=mistakes)
            expect_dropout_placed(
                learner, reference, lambda m: call(m, x, sublayer), "SublayerConnection",
                block_checks._sublayer_dropout_mistakes(x, sublayer, reference.norm, reference.dropout, False),
                where="LayerNorm(x + dropout(sublayer(x)))")


# --- pieces 9-12: layers and stacks ---------------------------------------------------------------


def _padding_property(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, real: torch.Tensor,
                      what: str) -> Callable[[torch.Tensor], str | None]:
    """Property: changing x at padded positions (real False, (B, L)) leaves the real positions' output alone."""
    def check(got: torch.Tensor) -> str | None:
        noise = randn(*x.shape, seed=99) * (~real)[..., None]
        with torch.no_grad():
            again = run(x + 3 * noise)
        if torch.allclose(again[real].float(), got[real], atol=1e-4):
            return None
        return (f"changing the PADDED positions of the input changes the output at real positions: {what} must "
                f"hide padding (the mask is True for keys that may be attended to)")
    return check


def _causal_property(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
                     ) -> Callable[[torch.Tensor], str | None]:
    """Property: changing the last position of x leaves every earlier position's output alone."""
    def check(got: torch.Tensor) -> str | None:
        if x.shape[1] < 2:
            return None
        changed = x.clone()
        changed[:, -1] += 3 * randn(x.shape[0], x.shape[2], seed=98)
        with torch.no_grad():
            again = run(changed)
        if torch.allclose(again[:, :-1].float(), got[:, :-1], atol=1e-4):
            return None
        return ("changing the LAST target position changes the output at earlier positions: the decoder sees "
                "the future (its self-attention needs tgt_mask, the causal target mask)")
    return check


def _equivariant(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
                 ) -> Callable[[torch.Tensor], str | None]:
    """Property: without a mask and without positions, shuffling the positions of x only shuffles the output."""
    def check(got: torch.Tensor) -> str | None:
        perm = torch.tensor([2, 0, 4, 1, 3])[: x.shape[1]] if x.shape[1] == 5 else torch.arange(x.shape[1]).flip(0)
        with torch.no_grad():
            shuffled = run(x[:, perm])
        if torch.allclose(shuffled.float(), got[:, perm], atol=1e-4):
            return None
        return ("shuffling the positions of the input (no mask, no positional encoding) does not just shuffle the "
                "output: something mixes positions (a reshape or view where a transpose is needed?)")
    return check


def _real(lengths: list[int], length: int) -> torch.Tensor:
    return torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]  # (B, L)


def _check_encoder_layer(cls: type) -> None:
    for batch, S, d_model, n_heads, lengths in [(2, 5, 16, 4, None), (3, 6, 16, 2, [6, 4, 2]), (1, 1, 8, 2, [1])]:
        with case(f"x of shape (batch={batch}, src_len={S}, d_model={d_model}), n_heads={n_heads}, "
                  + (f"real lengths {lengths}" if lengths else "no mask")):
            reference, learner = block_checks.reference_and_learner(
                lambda d, h, f, p: ref_block.EncoderLayer(d, h, f, p), cls, (d_model, n_heads, 2 * d_model, 0.1),
                seed=S, what="EncoderLayer")
            x = randn(batch, S, d_model, seed=S)
            mask = None if lengths is None else _real(lengths, S)[:, None, None, :]
            with torch.no_grad():
                expected = reference(x, mask)
                run = lambda y: call(learner, y, mask)  # noqa: E731
                properties = [_equivariant(run, x)] if mask is None else [
                    _padding_property(run, x, _real(lengths, S), "self-attention")]
                expect_close(run(x), expected, "the encoder layer's output", atol=1e-4,
                             axes=("batch", "src_len", "d_model"), properties=properties,
                             mistakes=without_grad(block_checks._encoder_mistakes(reference, x, mask)))


def _check_decoder_layer(cls: type) -> None:
    # equal lengths first, so that using x in place of memory (or the wrong mask) is named, not a shape error
    for tgt_lengths, T, src_lengths, S in [([5, 3], 5, [2, 5], 5), ([4, 2, 1], 4, [7, 3, 5], 7), ([1], 1, [1], 1)]:
        B, d_model = len(tgt_lengths), 16
        with case(f"x (batch={B}, tgt_len={T}, d_model={d_model}), memory (batch={B}, src_len={S}), real target "
                  f"lengths {tgt_lengths}, real source lengths {src_lengths}"):
            reference, learner = block_checks.reference_and_learner(
                lambda d, h, f, p: ref_ed.DecoderLayer(d, h, f, p), cls, (d_model, 4, 2 * d_model, 0.1),
                seed=T + S, what="DecoderLayer")
            x, memory = randn(B, T, d_model, seed=1), randn(B, S, d_model, seed=2)
            tgt_mask = ref_masks.target_mask(ed_checks._ids(tgt_lengths, T, 10, seed=3), 0)  # (B, 1, T, T)
            src_mask = _real(src_lengths, S)[:, None, None, :]  # (B, 1, 1, S)
            with torch.no_grad():
                expected = reference(x, memory, src_mask, tgt_mask)
                run = lambda y: call(learner, y, memory, src_mask, tgt_mask)  # noqa: E731
                expect_close(run(x), expected, "the decoder layer's output", atol=1e-4,
                             axes=("batch", "tgt_len", "d_model"),
                             properties=[_causal_property(run, x),
                                         _memory_padding_property(learner, x, memory, src_mask, tgt_mask)],
                             mistakes=without_grad(ed_checks._decoder_mistakes(reference, x, memory, src_mask,
                                                                               tgt_mask)))


def _memory_padding_property(layer: nn.Module, x, memory, src_mask, tgt_mask) -> Callable[[torch.Tensor], str | None]:
    """Property: changing memory at the source's padded positions leaves the decoder's output alone."""
    def check(got: torch.Tensor) -> str | None:
        padded = ~src_mask[:, 0, 0]  # (B, S)
        with torch.no_grad():
            again = call(layer, x, memory + 3 * randn(*memory.shape, seed=97) * padded[..., None], src_mask, tgt_mask)
        if torch.allclose(again.float(), got, atol=1e-4):
            return None
        return ("changing the encoder's output at PADDED source positions changes the decoder's output: "
                "cross-attention must hide them with src_mask")
    return check


def _same_layer_repeated(stack: nn.Module, what: str) -> None:
    layers = list(getattr(stack, "layers", []))
    if len({id(layer) for layer in layers}) < len(layers):
        raise CheckFailed(f"{what}.layers holds the same layer object several times ([layer] * n_layers): every "
                          f"layer needs weights of its own; build a new one for each (nn.ModuleList of a loop)")


def _check_encoder(cls: type) -> None:
    for batch, S, n_layers, lengths in [(2, 5, 2, None), (3, 6, 3, [6, 4, 2])]:
        with case(f"x of shape (batch={batch}, src_len={S}, d_model=16), n_layers={n_layers}, "
                  + (f"real lengths {lengths}" if lengths else "no mask (and no positions)")):
            args = (n_layers, 16, 4, 32, 0.1)
            with torch.random.fork_rng(devices=[]):
                learner = cls(*args)
            _same_layer_repeated(learner, "the encoder")
            reference, learner = block_checks.reference_and_learner(
                lambda *a: ref_ed.Encoder(*a), cls, args, seed=S + n_layers, what="Encoder")
            x = randn(batch, S, 16, seed=S)
            mask = None if lengths is None else _real(lengths, S)[:, None, None, :]
            with torch.no_grad():
                run = lambda y: call(learner, y, mask)  # noqa: E731
                properties = [_equivariant(run, x)] if mask is None else [
                    _padding_property(run, x, _real(lengths, S), "the encoder")]
                first = reference.layers[0]
                expect_close(run(x), reference(x, mask), "the encoder's output", atol=1e-4,
                             axes=("batch", "src_len", "d_model"), properties=properties, mistakes=without_grad({
                    "only the first layer is used (n_layers times): each layer gets the previous one's output":
                        lambda: _repeat(first, n_layers, x, mask),
                    "the mask is not passed on to the layers": lambda: reference(x, None),
                    "only one layer is applied; run x through every layer, in order":
                        lambda: first(x, mask),
                    "every layer reads the encoder's input x instead of the previous layer's output":
                        lambda: reference.layers[-1](x, mask),
                }))


def _repeat(layer: nn.Module, n: int, x: torch.Tensor, *rest: Any) -> torch.Tensor:
    for _ in range(n):
        x = layer(x, *rest)
    return x


def _check_decoder(cls: type) -> None:
    # equal lengths first, so that swapped masks are named rather than failing on a shape
    for tgt_lengths, T, src_lengths, S, n_layers in [([5, 3], 5, [2, 5], 5, 2), ([4, 4, 1], 4, [3, 2, 1], 3, 3)]:
        B = len(tgt_lengths)
        with case(f"x (batch={B}, tgt_len={T}, d_model=16), memory (batch={B}, src_len={S}), n_layers={n_layers}"):
            args = (n_layers, 16, 4, 32, 0.1)
            with torch.random.fork_rng(devices=[]):
                learner = cls(*args)
            _same_layer_repeated(learner, "the decoder")
            reference, learner = block_checks.reference_and_learner(
                lambda *a: ref_ed.Decoder(*a), cls, args, seed=T + S, what="Decoder")
            x, memory = randn(B, T, 16, seed=1), randn(B, S, 16, seed=2)
            tgt_mask = ref_masks.target_mask(ed_checks._ids(tgt_lengths, T, 10, seed=3), 0)
            src_mask = _real(src_lengths, S)[:, None, None, :]
            first = reference.layers[0]
            with torch.no_grad():
                run = lambda y: call(learner, y, memory, src_mask, tgt_mask)  # noqa: E731
                expect_close(run(x), reference(x, memory, src_mask, tgt_mask), "the decoder's output", atol=1e-4,
                             axes=("batch", "tgt_len", "d_model"), properties=[_causal_property(run, x)],
                             mistakes=without_grad({
                    "only the first layer is used (n_layers times)":
                        lambda: _repeat(first, n_layers, x, memory, src_mask, tgt_mask),
                    "only one layer is applied; run x through every layer, in order":
                        lambda: first(x, memory, src_mask, tgt_mask),
                    "the masks are passed to the layers in the wrong order: a DecoderLayer takes "
                    "(x, memory, src_mask, tgt_mask)": lambda: reference(x, memory, tgt_mask, src_mask)
                        if S == T else reference(x, memory, src_mask, tgt_mask),
                    "the layers get no tgt_mask": lambda: reference(x, memory, src_mask, None),
                    "the layers get no src_mask": lambda: reference(x, memory, None, tgt_mask),
                }))


# --- piece 13: the model ---------------------------------------------------------------------------


def _check_transformer(cls: type) -> None:
    src_vocab, tgt_vocab = 13, 11  # different sizes, like English and German
    for src_lengths, S, tgt_lengths, T in [([5, 3, 2], 5, [5, 4, 2], 5), ([6, 2], 6, [3, 4], 4), ([1], 1, [1], 1)]:
        B = len(src_lengths)
        with case(f"src (batch={B}, src_len={S}), tgt (batch={B}, tgt_len={T}), src_vocab_size={src_vocab}, "
                  f"tgt_vocab_size={tgt_vocab}, d_model=16, n_heads=2, n_layers=2, d_ff=32"):
            config = ModelConfig(vocab_size=tgt_vocab, src_vocab_size=src_vocab, d_model=16, n_heads=2, n_layers=2,
                                 d_ff=32, dropout=0.1, max_len=12)
            reference = block_checks.randomize_norms(block_checks.seeded(lambda: ref_ed.Transformer(config),
                                                                         S + T), S + T).eval()
            with torch.random.fork_rng(devices=[]):
                learner = cls(src_vocab, tgt_vocab, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.1,
                              max_len=12)
            src_embed, tgt_embed = getattr(learner, "src_embed", None), getattr(learner, "tgt_embed", None)
            if src_embed is not None and (src_embed is tgt_embed or getattr(src_embed, "lut", 0) is getattr(
                    tgt_embed, "lut", 1)):
                raise CheckFailed("the source and the target share one embedding: English and German have "
                                  "vocabularies of their own (src_vocab_size, tgt_vocab_size), so src_embed and "
                                  "tgt_embed are two Embeddings")
            copy_parameters(reference, learner, "your Transformer")
            learner.eval()
            src = ed_checks._ids(src_lengths, S, src_vocab, seed=S)
            tgt = ed_checks._ids(tgt_lengths, T, tgt_vocab, seed=T + 7)
            src_mask, tgt_mask = ref_masks.padding_mask(src, 0), ref_masks.target_mask(tgt, 0)
            memory = randn(B, S, 16, seed=B + S)
            with torch.no_grad():
                expect_close(call(learner.encode, src, src_mask), reference.encode(src, src_mask),
                             "encode(src, src_mask)", atol=1e-4, axes=("batch", "src_len", "d_model"),
                             mistakes=model_checks._encode_mistakes(reference, src, src_mask))
                expect_close(call(learner.decode, tgt, memory, src_mask, tgt_mask),
                             reference.decode(tgt, memory, src_mask, tgt_mask),
                             "decode(tgt, memory, src_mask, tgt_mask)", atol=1e-4,
                             axes=("batch", "tgt_len", "vocab_size"),
                             mistakes=model_checks._decode_mistakes(reference, tgt, memory, src_mask, tgt_mask))

                def logits_for(new_src: torch.Tensor) -> torch.Tensor:
                    return call(learner, new_src, tgt, src_mask, tgt_mask)

                def padding_ignored(got: torch.Tensor) -> str | None:
                    """Property: other ids in the source's padding (its mask unchanged) leave the logits alone."""
                    changed = torch.where(src == 0, torch.full_like(src, 5), src)
                    again = call(learner, changed, tgt, src_mask, tgt_mask)
                    return None if torch.allclose(again.float(), got, atol=1e-4) else (
                        "the logits depend on what stands in the source's padding: src_mask must hide it "
                        "from the encoder's self-attention and from the decoder's cross-attention")
                expect_close(logits_for(src), reference(src, tgt, src_mask, tgt_mask),
                             "forward(src, tgt, src_mask, tgt_mask)", atol=1e-4,
                             axes=("batch", "tgt_len", "vocab_size"), properties=[padding_ignored])


# --- pieces 14-16: the masks ------------------------------------------------------------------------


def _check_padding_mask(fn: Callable) -> None:
    attention_checks._check_padding_mask(fn)


def _check_causal_mask(fn: Callable) -> None:
    attention_checks._check_causal_mask(fn)


def _check_target_mask(fn: Callable) -> None:
    ed_checks._check_target_mask(fn)
    with case("a later target token never changes an earlier position's weights"):
        tgt = torch.tensor([[1, 5, 6, 7, 2]])
        mask = expect_tensor(call(fn, tgt, 0), "the mask")
        if bool(mask[0, 0].triu(1).any()):
            raise CheckFailed("the mask lets position i attend to positions after i")


# --- pieces 17-21: training and decoding ---------------------------------------------------------------


def _reference_lr(step: int, peak_lr: float, warmup: int, max_steps: int) -> float:
    return peak_lr * ref_training.warmup_cosine_schedule(warmup, max_steps)(step - 1)


def _check_learning_rate(fn: Callable) -> None:
    for peak, warmup, max_steps in [(5e-3, 60, 900), (1e-3, 4, 20), (0.5, 1, 3)]:
        with case(f"peak_lr={peak}, warmup={warmup}, max_steps={max_steps}, steps 1..{max_steps}"):
            steps = range(1, max_steps + 1)
            got = torch.tensor([float(call(fn, s, peak, warmup, max_steps)) for s in steps], dtype=torch.float64)
            expected = torch.tensor([_reference_lr(s, peak, warmup, max_steps) for s in steps], dtype=torch.float64)
            rise = [peak * min(s / warmup, 1.0) for s in steps]
            expect_close(got, expected, "the rates of steps 1..max_steps", atol=1e-9, rtol=1e-6, mistakes={
                "after the warm-up the rate never decays: it must fall along a cosine from peak_lr at step "
                "`warmup` to 0 at max_steps": lambda: torch.tensor(rise, dtype=torch.float64),
                "there is no warm-up: the rate must rise linearly from peak_lr / warmup at step 1 to peak_lr at "
                "step `warmup`": lambda: torch.tensor([peak * 0.5 * (1 + math.cos(math.pi * (s - 1) / max_steps))
                                                       for s in steps], dtype=torch.float64),
                "the steps are counted from 0: step 1 is the first and gets peak_lr / warmup": lambda: torch.tensor(
                    [_reference_lr(s + 1, peak, warmup, max_steps + 1) for s in steps], dtype=torch.float64),
                "the warm-up starts from 0: step 1 gets peak_lr / warmup (not 0) and step `warmup` gets peak_lr":
                    lambda: torch.tensor([peak * (s - 1) / warmup if s <= warmup else _reference_lr(
                        s, peak, warmup, max_steps) for s in steps], dtype=torch.float64),
                "the decay is linear; it follows half a cosine, 0.5 * (1 + cos(pi * progress))": lambda: torch.tensor(
                    [peak * min(s / warmup, 1.0) if s <= warmup else peak * (1 - (s - warmup) / max(
                        max_steps - warmup, 1)) for s in steps], dtype=torch.float64),
            })


def _check_make_optimizer(fn: Callable) -> None:
    model = training_checks._tiny_model(0)
    optimizer = fn(model)
    if not isinstance(optimizer, torch.optim.Adam):
        raise CheckFailed(f"make_optimizer should return a torch.optim.Adam, got {type(optimizer).__name__}")
    group = optimizer.param_groups[0]
    if tuple(group["betas"]) != (0.9, 0.98) or group["eps"] != 1e-9:
        raise CheckFailed(f"Adam needs the paper's betas=(0.9, 0.98) and eps=1e-9, got betas={group['betas']}, "
                          f"eps={group['eps']}")
    given = {id(p) for g in optimizer.param_groups for p in g["params"]}
    missing = [name for name, p in model.named_parameters() if id(p) not in given]
    if missing:
        raise CheckFailed(f"the optimizer does not get every parameter of the model (missing: {missing[:3]} ...): "
                          f"pass model.parameters()")


def _spy(model: nn.Module) -> list[tuple]:
    """Record the arguments of every forward call of `model`."""
    calls: list[tuple] = []
    model.register_forward_pre_hook(lambda m, args, kwargs: calls.append((args, kwargs)) and None,
                                    with_kwargs=True)
    return calls


def _reference_steps(model: nn.Module, batches, lrs, smoothing=0.1, clip_norm=1.0, zero_grad=True, clip=True,
                     shift=True) -> tuple[list[float], torch.Tensor]:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)
    losses = []
    for (src, tgt), lr in zip(batches, lrs):
        tgt_in, tgt_out = (tgt[:, :-1], tgt[:, 1:]) if shift else (tgt, tgt)
        model.train()
        logits = model(src, tgt_in, ref_masks.padding_mask(src, 0), ref_masks.target_mask(tgt_in, 0))
        loss = ref_training.label_smoothing_loss(logits, tgt_out, smoothing, 0)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        losses.append(loss.item())
    return losses, _params(model)


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [make_batch([7, 21, 1001, 345_678]), make_batch([99, 100_000, 5, 12_345, 70])]


def _check_train_step(fn: Callable) -> None:
    batches, lrs = _batches(), [3e-2, 2e-2]
    with case("a reference model (d_model=16, dropout 0), two steps on batches of 4 and 5 numbers, lr 3e-2 "
              "then 2e-2"):
        model = training_checks._tiny_model(1)
        calls = _spy(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.123, betas=(0.9, 0.98), eps=1e-9)
        losses = [call(fn, model, optimizer, src, tgt, lr) for (src, tgt), lr in zip(batches, lrs)]
        src, tgt = batches[0]
        if not calls:
            raise CheckFailed("train_step never calls the model: logits = model(src, tgt_in, src_mask, tgt_mask)")
        args, kwargs = calls[0]
        given = list(args) + list(kwargs.values())
        if len(given) < 4:
            raise CheckFailed(f"the model gets {len(given)} arguments; give it (src, tgt_in, src_mask, tgt_mask)")
        tgt_in, src_mask, tgt_mask = given[1], given[2], given[3]
        if tgt_in.shape == tgt.shape and torch.equal(tgt_in, tgt):
            raise CheckFailed("the decoder input is not shifted: the decoder reads tgt whole, so at each position "
                              "it sees the token it must predict. Feed tgt[:, :-1] (<bos> ..., no last token) and "
                              "score the logits against tgt[:, 1:] (notebook 06, teacher forcing)")
        if not (tgt_in.shape == tgt[:, :-1].shape and torch.equal(tgt_in, tgt[:, :-1])):
            raise CheckFailed("the decoder input should be tgt[:, :-1], <bos> and the target without its last token")
        if not isinstance(src_mask, torch.Tensor) or src_mask.shape != (4, 1, 1, src.shape[1]) or not torch.equal(
                src_mask, ref_masks.padding_mask(src, 0)):
            raise CheckFailed("the model's src_mask is not padding_mask(src, pad_id) of shape (batch, 1, 1, src_len)")
        if not isinstance(tgt_mask, torch.Tensor) or not torch.equal(
                tgt_mask.expand(4, 1, tgt_in.shape[1], tgt_in.shape[1]), ref_masks.target_mask(tgt_in, 0)):
            raise CheckFailed("the model's tgt_mask is not target_mask(tgt_in, pad_id): causal and padding, made "
                              "from the decoder input")
        expected_first = _reference_steps(training_checks._tiny_model(1), batches[:1], lrs[:1])[0]
        expect_close(torch.tensor([float(losses[0])]), torch.tensor(expected_first), "the loss of the first step",
                     atol=1e-4, mistakes={
            "the loss is scored against the decoder input tgt[:, :-1]; the labels are tgt[:, 1:], the next tokens":
                lambda: torch.tensor(_loss_against_input(batches)[:1]),
        })
        if not math.isclose(optimizer.param_groups[0]["lr"], lrs[-1]):
            raise CheckFailed(f"the optimizer's learning rate is {optimizer.param_groups[0]['lr']} after a step "
                              f"with lr={lrs[-1]}: set every param group's 'lr' before optimizer.step()")
        expected_losses, expected = _reference_steps(training_checks._tiny_model(1), batches, lrs)
        expect_close(_params(model), expected, "the parameters after two steps", atol=1e-5, mistakes={
            "the gradients are never zeroed, so each step adds the previous step's gradients: call "
            "optimizer.zero_grad() before loss.backward()":
                lambda: _reference_steps(training_checks._tiny_model(1), batches, lrs, zero_grad=False)[1],
            "the gradients are not clipped: nn.utils.clip_grad_norm_(model.parameters(), clip_norm) after "
            "backward, before the step": lambda: _reference_steps(training_checks._tiny_model(1), batches, lrs,
                                                                  clip=False)[1],
        })
        expect_close(torch.tensor([float(loss) for loss in losses]), torch.tensor(expected_losses),
                     "the losses returned", atol=1e-4)


def _loss_against_input(batches) -> list[float]:
    model = training_checks._tiny_model(1)
    with torch.no_grad():
        src, tgt = batches[0]
        tgt_in = tgt[:, :-1]
        logits = model(src, tgt_in, ref_masks.padding_mask(src, 0), ref_masks.target_mask(tgt_in, 0))
        return [ref_training.label_smoothing_loss(logits, tgt_in, 0.1, 0).item(), float("nan")]


def _check_train(fn: Callable) -> None:
    batches = [make_batch([n, n + 7, 3 * n + 1]) for n in (5, 40, 300, 2_000, 64_000, 512)]
    with case("a reference model (d_model=16, dropout 0), max_steps=5, peak_lr=2e-2, warmup=2"):
        model = training_checks._tiny_model(2)
        seen: list[tuple[int, float]] = []
        losses = call(fn, model, iter(batches), 5, peak_lr=2e-2, warmup=2,
                      on_step=lambda step, loss: seen.append((step, float(loss))))
        if losses is None:
            raise CheckFailed("train returns None; return the list of the losses, one per step")
        losses = [float(loss) for loss in losses]
        if len(losses) != 5:
            raise CheckFailed(f"train returned {len(losses)} losses for max_steps=5; run exactly max_steps steps")
        if [s for s, _ in seen] != [1, 2, 3, 4, 5]:
            raise CheckFailed(f"on_step was called with the steps {[s for s, _ in seen]}; call on_step(step, loss) "
                              f"after every step, steps counted from 1")
        lrs = [_reference_lr(s, 2e-2, 2, 5) for s in range(1, 6)]
        expected_losses, expected = _reference_steps(training_checks._tiny_model(2), batches, lrs)
        off_by_one = [_reference_lr(s, 2e-2, 2, 5) for s in range(0, 5)]
        expect_close(_params(model), expected, "the parameters after 5 steps", atol=1e-5, mistakes={
            "the rate of step s is taken for step s - 1 (the loop counts from 0): step 1 gets "
            "learning_rate(1, ...)": lambda: _reference_steps(training_checks._tiny_model(2), batches,
                                                              off_by_one)[1],
            "every step uses peak_lr: use learning_rate(step, peak_lr, warmup, max_steps)":
                lambda: _reference_steps(training_checks._tiny_model(2), batches, [2e-2] * 5)[1],
        })
        expect_close(torch.tensor(losses), torch.tensor(expected_losses), "the losses returned", atol=1e-4)


def _check_greedy(fn: Callable) -> None:
    numbers, max_len, seed = (16, 1001, 70_000, 999_999), 13, 1  # rows that end after different numbers of steps
    with case(f"a random model (seed {seed}), the numbers {list(numbers)}, max_len={max_len}"):
        model = training_checks.decoding_model(seed, eos_bias=2.0)
        src, _ = make_batch(list(numbers))
        expected = training_checks._trimmed(training_checks._greedy_of(numbers, max_len, seed))
        got = expect_tensor(call(fn, model, src, max_len), "the output ids")
        if got.dim() == 2 and got.shape[0] == src.shape[0] and got.shape[1] < expected.shape[1] and torch.equal(
                got.long().cpu(), expected[:, :got.shape[1]]):
            raise CheckFailed(f"it stops after {got.shape[1]} tokens, when the first row has written <eos>, but other "
                              f"rows go on to {expected.shape[1]}: stop only when every row is done (done.all())")
    training_checks._check_greedy(fn)
    with case("a model in train mode: greedy decoding must switch it to eval mode (no dropout)"):
        model = copy.deepcopy(training_checks.decoding_model(1, eos_bias=2.0))
        for sub in model.modules():
            if isinstance(sub, nn.Dropout):
                sub.p = 0.5
        model.train()
        src, _ = make_batch([21, 7, 321])
        expected = ref_decoding.greedy_decode(model, src, 13)
        got = expect_tensor(call(fn, model, src, 13), "the output ids")
        if not torch.equal(training_checks._trimmed(got.cpu()), training_checks._trimmed(expected)):
            raise CheckFailed("with a model in train mode the output differs from eval mode's: call model.eval() "
                              "first (dropout must be off while decoding)")


# --- the battery -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One piece of the file: the name it defines, its check, and the notebook that taught it."""

    name: str
    check: Callable[[Any], None]
    taught_in: str


PIECES: list[Piece] = [
    Piece("rules", _check_rules, "this notebook's rules"),
    Piece("Embedding", _check_embedding, "07 (the embedding and its sqrt(d_model))"),
    Piece("PositionalEncoding", _check_positional, "04"),
    Piece("attention", _check_attention, "02"),
    Piece("MultiHeadAttention", multihead_checks._check_multi_head_attention, "03"),
    Piece("LayerNorm", block_checks._check_layer_norm, "05"),
    Piece("FeedForward", _check_feed_forward, "05"),
    Piece("SublayerConnection", _check_sublayer, "05"),
    Piece("EncoderLayer", _check_encoder_layer, "05"),
    Piece("Encoder", _check_encoder, "06"),
    Piece("DecoderLayer", _check_decoder_layer, "06"),
    Piece("Decoder", _check_decoder, "06"),
    Piece("Transformer", _check_transformer, "06 and 07"),
    Piece("padding_mask", _check_padding_mask, "02"),
    Piece("causal_mask", _check_causal_mask, "02"),
    Piece("target_mask", _check_target_mask, "06"),
    Piece("label_smoothing_loss", training_checks._check_loss, "07"),
    Piece("learning_rate", _check_learning_rate, "07 (and 08, warm-up)"),
    Piece("make_optimizer", _check_make_optimizer, "07"),
    Piece("train_step", _check_train_step, "07"),
    Piece("train", _check_train, "07"),
    Piece("greedy_decode", _check_greedy, "07"),
]
PIECE_NAMES = [piece.name for piece in PIECES]


def _label(piece: Piece) -> str:
    return f"piece {PIECE_NAMES.index(piece.name) + 1}, {piece.name}"


def _missing(my: ModuleType, piece: Piece) -> str | None:
    """Why the piece is not there yet, or None."""
    if not Path(getattr(my, "__file__", "") or FILE_NAME).exists():
        return f"there is no {FILE_NAME} yet"
    if piece.name == "rules":
        return None if any(hasattr(my, p.name) for p in PIECES[1:]) else f"{FILE_NAME} defines none of the names yet"
    if not hasattr(my, piece.name):
        return f"{FILE_NAME} has no `{piece.name}` yet (taught in notebook {piece.taught_in})"
    return None


def check_piece(my: ModuleType, name: str) -> str:
    """Check one piece; returns "correct" or "not done" (strict mode: ExerciseNotDone); raises CheckFailed if wrong."""
    piece = PIECES[PIECE_NAMES.index(name)]
    label = _label(piece)
    why = _missing(my, piece)
    if why is not None:
        _core._not_done(label, None, None, why)
        return "not done"
    learner = my if piece.name == "rules" else getattr(my, piece.name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        result = _core.exercise(label, learner, object(), piece.check)
    return "correct" if result is learner else "not done"


def run(path: str | Path = FILE_NAME) -> ModuleType:
    """Check every piece of the learner's file in build order; stops at the first wrong one. Returns the module."""
    my = load(path)
    outcomes = [check_piece(my, name) for name in PIECE_NAMES]
    done = outcomes.count("correct")
    print(f"{done} of {len(PIECES)} pieces correct" + ("" if done == len(PIECES) else
                                                      f"; not done yet: {[n for n, o in zip(PIECE_NAMES, outcomes) if o != 'correct']}"))
    my.battery_passed = done == len(PIECES)
    return my


def first_failure(path: str | Path) -> tuple[str, str] | None:
    """(piece name, message) of the first piece that fails or is not done, or None when all pass (for tests)."""
    import contextlib
    import io
    my = load(path)
    with contextlib.redirect_stdout(io.StringIO()):
        for name in PIECE_NAMES:
            try:
                if check_piece(my, name) != "correct":
                    return name, "not done"
            except (CheckFailed, _core.ExerciseNotDone) as failure:
                return name, str(failure)
    return None


# --- the target ----------------------------------------------------------------------------------------

TARGET = 0.99


def check_target(scores: dict[str, float], target: float = TARGET) -> None:
    """Exact match per family (and on the test numbers) of the learner's trained model: every one >= target."""
    name = "training to the target"
    if not scores:
        _core._not_done(name, None, None, "every piece must pass the battery, then your model trains")
        return
    below = {family: score for family, score in scores.items() if score < target}
    if below:
        raise CheckFailed(f"{name}: below {target:.0%} exact match on " + ", ".join(
            f"{family} ({score:.1%})" for family, score in below.items()) + ". Every piece passed, so look at what "
            "the battery cannot see: dropout and initial weights, and that train uses all max_steps")
    print(f"✔ {name}: at least {target:.0%} exact match on the test numbers and on every family "
          f"(lowest {min(scores.values()):.1%})")


# --- the learner's exact match -----------------------------------------------------------------------


def exact_match(greedy_decode: Callable, model: nn.Module, numbers: list[int], max_len: int = 13,
                batch_size: int = 1000) -> float:
    """The fraction of `numbers` translated exactly right by `greedy_decode(model, src, max_len)`."""
    from ..task.number_words import german_tokens
    right = 0
    for start in range(0, len(numbers), batch_size):
        chunk = numbers[start:start + batch_size]
        src, _ = make_batch(chunk)
        ys = greedy_decode(model, src, max_len).cpu()
        right += sum(DE_VOCAB.decode(row) == german_tokens(n) for row, n in zip(ys, chunk))
    return right / len(numbers)


__all__ = ["PIECES", "PIECE_NAMES", "FILE_NAME", "LEARNER_ENV_VAR", "load", "run", "check_piece", "first_failure",
           "create_if_missing", "learner_path", "exact_match", "check_target", "EN_VOCAB", "DE_VOCAB", "rows_sum_to_one"]
