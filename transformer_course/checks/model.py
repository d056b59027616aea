"""Check for notebook 07's first exercise: assembling the encoder-decoder from its parts.

The check builds the learner's ``Transformer`` from small ``ModelConfig``s and compares
its ``encode``, ``decode`` and ``forward`` with the same wiring computed from the
learner's own modules: token embedding times sqrt(d_model), positional encoding, the
stack with the right masks, and (decoding) the unembedding. So it checks how the
parts are put together; the parts themselves had their own checks. Comparisons run
in eval mode (dropout off); the positional encoding's dropout is compared in train mode.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import encoder_decoder as ref
from .. import masks
from ..config import ModelConfig
from ..positional import SinusoidalPositionalEncoding
from ._core import (
    CheckFailed,
    _in_train_mode,
    call,
    case,
    exercise,
    expect_close,
    is_close,
    randn,
)
from ._locate import first_stage, stages

ATTRIBUTES = {
    "src_embed": "the source token embedding, nn.Embedding(config.source_vocab_size, d_model)",
    "tgt_embed": "the target token embedding, nn.Embedding(config.vocab_size, d_model)",
    "pos_encoding": "the positional encoding, SinusoidalPositionalEncoding(d_model, config.max_len, config.dropout)",
    "encoder": "the encoder stack, Encoder(config.n_layers, ...)",
    "decoder": "the decoder stack, Decoder(config.decoder_layers, ...)",
    "unembed": "the unembedding, nn.Linear(d_model, config.vocab_size): the decoder's states -> logits",
}


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Build with weights from ``seed``, leaving the learner's global random state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _table(embed: nn.Module, what: str) -> torch.Tensor:
    """The (vocab, d_model) table of an nn.Embedding (or of the reference's Embedding, which wraps one)."""
    if isinstance(embed, nn.Embedding):
        return embed.weight
    if isinstance(getattr(embed, "lut", None), nn.Embedding):
        return embed.lut.weight
    raise CheckFailed(f"{what} should be an nn.Embedding but is {type(embed).__name__}")


def _ids(lengths: list[int], seq_len: int, vocab: int, seed: int) -> torch.Tensor:
    """(batch, seq_len) random ids in 3..vocab-1, then padding (0) after each row's length."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (len(lengths), seq_len), generator=generator)
    real = torch.arange(seq_len)[None, :] < torch.tensor(lengths)[:, None]
    return torch.where(real, ids, torch.zeros_like(ids))


def _check_structure(model: nn.Module, config: ModelConfig) -> None:
    """The parts are there, each once, of the right sizes; as many parameters as the reference."""
    for name, what in ATTRIBUTES.items():
        if getattr(model, name, None) is None:
            raise CheckFailed(f"the model has no attribute `{name}`: set self.{name} to {what}")
    if model.tgt_embed is model.src_embed:
        raise CheckFailed("the source and the target share one embedding (self.tgt_embed is self.src_embed): "
                          "English and German have different vocabularies, so each side needs its own "
                          "nn.Embedding")
    for name, rows, vocab in [("src_embed", config.source_vocab_size, "config.source_vocab_size"),
                              ("tgt_embed", config.vocab_size, "config.vocab_size")]:
        table = _table(getattr(model, name), f"self.{name}")
        if tuple(table.shape) != (rows, config.d_model):
            raise CheckFailed(f"self.{name} has a table of shape {tuple(table.shape)} but should have "
                              f"({rows}, {config.d_model}) = ({vocab}, d_model)")
    if not isinstance(model.unembed, nn.Linear) or model.unembed.out_features != config.vocab_size:
        raise CheckFailed(f"self.unembed should be nn.Linear(d_model, config.vocab_size) = "
                          f"nn.Linear({config.d_model}, {config.vocab_size}), but is {model.unembed}")
    for name, n_layers, setting in [("encoder", config.n_layers, "config.n_layers"),
                                    ("decoder", config.decoder_layers, "config.decoder_layers")]:
        layers = getattr(getattr(model, name), "layers", None)
        if layers is None or len(layers) != n_layers:
            raise CheckFailed(f"self.{name} should have {n_layers} layers ({setting}) in `.layers`, "
                              f"has {'none' if layers is None else len(layers)}")
    reference = _seeded(lambda: ref.Transformer(config), 0)
    for name in ("encoder", "decoder"):
        want, have = (sum(p.numel() for p in getattr(m, name).parameters()) for m in (reference, model))
        if have != want:
            raise CheckFailed(f"self.{name} has {have:,} parameters but should have {want:,}, like the reference's "
                              f"made from the same config: pass it every setting (d_model, n_heads, d_ff, "
                              f"dropout, norm_first, activation, final_norm) from the config")
    want, have = (sum(p.numel() for p in m.parameters()) for m in (reference, model))
    if have != want:
        raise CheckFailed(f"the model has {have:,} parameters but should have {want:,}, like the reference "
                          f"made from the same config: does it hold anything besides the six parts?")


def _check_positional_dropout(model: nn.Module, config: ModelConfig) -> None:
    """In train mode self.pos_encoding drops what the reference's, built with config.dropout, drops (same seed)."""
    x = randn(2, 4, config.d_model, seed=config.d_model)
    reference = SinusoidalPositionalEncoding(config.d_model, config.max_len, config.dropout)
    want = _in_train_mode(reference, lambda: reference(x))
    got = _in_train_mode(model.pos_encoding, lambda: call(model.pos_encoding, x))
    if is_close(got, want):
        return
    build = "SinusoidalPositionalEncoding(d_model, config.max_len, config.dropout)"
    with torch.no_grad():
        evaluated = call(model.pos_encoding.eval(), x)
    if is_close(got, evaluated, 0, 0):
        raise CheckFailed(f"self.pos_encoding applies no dropout in train mode, but config.dropout is "
                          f"{config.dropout}: build it with the config's dropout, {build}")
    raise CheckFailed(f"in train mode self.pos_encoding drops other numbers than {build} with the same random "
                      f"seed: give it the config's dropout, config.dropout = {config.dropout}")


def _embedded(embed: nn.Module, ids: torch.Tensor, table: torch.Tensor | None, what: str) -> torch.Tensor:
    """The rows of ``table`` (by default ``embed``'s), not yet scaled: through ``embed`` itself when it is a
    plain nn.Embedding, so that the stages a wrong result is located by include it, as the learner's run does."""
    if table is None and isinstance(embed, nn.Embedding) and embed.max_norm is None:
        return embed(ids)  # (B, L, d_model)
    return F.embedding(ids, _table(embed, what) if table is None else table)  # (B, L, d_model)


def _encode(model: nn.Module, src, src_mask, table=None, scaled=True, positions=True, scale_after=False):
    """encoder(pos_encoding(src_embed(src) * sqrt(d_model)), src_mask), or that with one thing changed."""
    scale = math.sqrt(_table(model.src_embed, "self.src_embed").shape[1])
    x = _embedded(model.src_embed, src, table, "self.src_embed")  # (B, S, d_model)
    x = x * scale if scaled and not scale_after else x
    x = model.pos_encoding(x) if positions else x
    x = x * scale if scale_after else x
    return model.encoder(x, src_mask)  # (B, S, d_model)


def _decode(model: nn.Module, tgt, memory, src_mask, tgt_mask, table=None, scaled=True, positions=True,
            unembed=True, softmax=False):
    """unembed(decoder(pos_encoding(tgt_embed(tgt) * sqrt(d_model)), memory, src_mask, tgt_mask)), or a variant."""
    x = _embedded(model.tgt_embed, tgt, table, "self.tgt_embed")  # (B, T, d_model)
    x = x * math.sqrt(_table(model.tgt_embed, "self.tgt_embed").shape[1]) if scaled else x
    x = model.pos_encoding(x) if positions else x
    x = model.decoder(x, memory, src_mask, tgt_mask)  # (B, T, d_model)
    logits = model.unembed(x) if unembed else x  # (B, T, vocab_size)
    return logits.softmax(dim=-1) if softmax else logits


def _encode_mistakes(model: nn.Module, src: torch.Tensor, src_mask: torch.Tensor) -> dict[str, Callable]:
    def run(mask=src_mask, **change):
        return _encode(model, src, mask, **change)

    return {
        "the token embeddings are not multiplied by sqrt(d_model), as the paper does: without it, "
        "small embedding weights are easily drowned by the positional encoding": lambda: run(scaled=False),
        "the embeddings are multiplied by sqrt(d_model) after the positional encoding is added; scale "
        "the embeddings first, then add the positions": lambda: run(scale_after=True),
        "the source gets no positional encoding: the encoder then sees a bag of words (notebook 04); "
        "add self.pos_encoding on both sides": lambda: run(positions=False),
        "the source is embedded with tgt_embed: the source has its own embedding, src_embed":
            lambda: run(table=_table(model.tgt_embed, "self.tgt_embed")),
        "src_mask is not passed to the encoder, so it attends to padding": lambda: run(mask=None),
    }


def _decode_mistakes(model: nn.Module, tgt, memory, src_mask, tgt_mask) -> dict[str, Callable]:
    def run(cross_mask=src_mask, self_mask=tgt_mask, **change):
        return _decode(model, tgt, memory, cross_mask, self_mask, **change)

    return {
        "it returns the decoder's states (batch, tgt_len, d_model), not logits: finish with self.unembed, "
        "the unembedding to the vocabulary": lambda: run(unembed=False),
        "it returns probabilities (a softmax of the logits); return the logits, the loss does the softmax":
            lambda: run(softmax=True),
        "the target embeddings are not multiplied by sqrt(d_model)": lambda: run(scaled=False),
        "the target gets no positional encoding (positional encoding on one side only): add "
        "self.pos_encoding in decode too": lambda: run(positions=False),
        "the target is embedded with src_embed (the source's embedding): the target has its own, tgt_embed":
            lambda: run(table=_table(model.src_embed, "self.src_embed")),
        "the masks are swapped: the decoder takes (x, memory, src_mask, tgt_mask); src_mask goes to "
        "cross-attention and tgt_mask to self-attention": lambda: run(cross_mask=tgt_mask, self_mask=src_mask),
        "cross-attention gets no src_mask, so it attends to the source's padding: pass src_mask to "
        "self.decoder": lambda: run(cross_mask=None),
        "the decoder gets no tgt_mask, so it sees the future: pass tgt_mask to self.decoder":
            lambda: run(self_mask=None),
        "the decoder's self-attention gets only the padding mask, so it sees the future: tgt_mask is "
        "target_mask(tgt), causal and padding": lambda: run(self_mask=masks.padding_mask(tgt, 0)),
    }


def _check_transformer(learner_cls: type) -> None:
    src_vocab, tgt_vocab = 13, 11  # different sizes, like English and German; ids stay below both
    for src_lengths, S, tgt_lengths, T, norm_first, n_decoder_layers in [
        ([5, 3, 2], 5, [5, 4, 2], 5, False, None),  # src_len == tgt_len: swapped masks still run, and are named
        ([6, 2], 6, [3, 4], 4, True, 1),            # pre-LN (final norms), one decoder layer
        ([1], 1, [1], 1, False, None),              # batch of 1, length 1
    ]:
        B = len(src_lengths)
        config = ModelConfig(vocab_size=tgt_vocab, src_vocab_size=src_vocab, d_model=16, n_heads=2, n_layers=2,
                             n_decoder_layers=n_decoder_layers, d_ff=32, dropout=0.1, max_len=12,
                             norm_first=norm_first)
        with case(f"src (batch={B}, src_len={S}), tgt (batch={B}, tgt_len={T}), norm_first={norm_first}, "
                  f"{config.decoder_layers} decoder layer(s)"):
            model = _seeded(lambda: learner_cls(config), seed=S + T)
            _check_structure(model, config)
            _check_positional_dropout(model, config)
            model.eval()
            src, tgt = _ids(src_lengths, S, tgt_vocab, seed=S), _ids(tgt_lengths, T, tgt_vocab, seed=T + 7)
            src_mask, tgt_mask = masks.padding_mask(src, 0), masks.target_mask(tgt, 0)
            memory = randn(B, S, config.d_model, seed=B + S)
            with torch.no_grad():
                # each comparison records the sub-modules' calls of the right wiring and of the learner's, so a
                # wrong result that matches no listed mistake is located: the first stage that differs
                with stages(model) as theirs:
                    expected_memory = _encode(model, src, src_mask)
                with stages(model) as mine:
                    actual: Any = call(model.encode, src, src_mask)
                expect_close(actual, expected_memory, "encode(src, src_mask)", atol=1e-4,
                             axes=("batch", "src_len", "d_model"), mistakes=_encode_mistakes(model, src, src_mask),
                             locate=_first_stage(theirs, mine))
                with stages(model) as theirs:
                    expected = _decode(model, tgt, memory, src_mask, tgt_mask)
                with stages(model) as mine:
                    actual = call(model.decode, tgt, memory, src_mask, tgt_mask)
                expect_close(actual, expected, "decode(tgt, memory, src_mask, tgt_mask)", atol=1e-4,
                             axes=("batch", "tgt_len", "vocab_size"),
                             mistakes=_decode_mistakes(model, tgt, memory, src_mask, tgt_mask),
                             locate=_first_stage(theirs, mine))
                with stages(model) as theirs:
                    expected = _decode(model, tgt, _encode(model, src, src_mask), src_mask, tgt_mask)
                with stages(model) as mine:
                    actual = call(model, src, tgt, src_mask, tgt_mask)
                expect_close(actual, expected, "forward(src, tgt, src_mask, tgt_mask)", atol=1e-4,
                             axes=("batch", "tgt_len", "vocab_size"), locate=_first_stage(theirs, mine))


def _first_stage(theirs: stages, mine: stages) -> Callable[[], str | None]:
    """For expect_close: the first of the model's stages where the learner's run departs from the right wiring's."""
    return lambda: first_stage(theirs.calls, mine.calls, 1e-4, 1e-4)


def check_transformer(learner: type) -> type:
    """Check the learner's `Transformer` class (the whole model, assembled); returns theirs if right."""
    return exercise("Transformer", learner, ref.Transformer, _check_transformer)
