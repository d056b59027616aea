"""The number task with German as it is written, one word per number, cut into pieces by BPE (notebook 10).

Notebook 07's German side is pre-split by hand into morphemes
("drei hundert ein und zwanzig"). Here the target is the real spelling,
"dreihunderteinundzwanzig", and a byte-level BPE tokenizer
(:mod:`transformer_course.tokenizer`) learned from German number words cuts it
into pieces. The English side, the model and the training are 07's.

Ids: the tokenizer puts its specials last (bytes 0..255, merges, then
``<pad>``, ``<bos>``, ``<eos>``); the model keeps the course's convention
``PAD_ID, BOS_ID, EOS_ID = 0, 1, 2``. :func:`to_model_ids` shifts every id by
the number of specials (modulo the vocabulary size), which moves the three
specials to 0, 1, 2 and byte b to b + 3; :func:`from_model_ids` undoes it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import replace

import torch
from torch import nn

from ..masks import padding_mask, target_mask
from ..tokenizer import BPETokenizer
from .decoding import EvalMode, greedy_decode
from .number_words import (
    EN_VOCAB,
    PAD_ID,
    batches_of,
    english_tokens,
    german_written,
    pad_sequences,
    trim_padding,
)
from .training import CapstoneConfig, History, train


def tokenizer_corpus(numbers: Sequence[int]) -> str:
    """The German words of ``numbers``, one per line: what the tokenizer learns its merges from."""
    return "\n".join(german_written(n) for n in numbers)


def to_model_ids(ids: Sequence[int], tokenizer: BPETokenizer) -> list[int]:
    """Tokenizer ids -> model ids: specials (last in the tokenizer) become 0, 1, 2; every other id moves up."""
    return [(i + len(tokenizer.specials)) % tokenizer.vocab_size for i in ids]


def from_model_ids(ids: Sequence[int], tokenizer: BPETokenizer) -> list[int]:
    """Model ids -> tokenizer ids (the inverse of :func:`to_model_ids`)."""
    return [(i - len(tokenizer.specials)) % tokenizer.vocab_size for i in ids]


def target_ids(n: int, tokenizer: BPETokenizer) -> list[int]:
    """The model's target for ``n``: ``<bos>`` + the pieces of its German word + ``<eos>``, as model ids."""
    return list(_target_ids(n, tokenizer))


@functools.lru_cache(maxsize=200_000)
def _target_ids(n: int, tokenizer: BPETokenizer) -> tuple[int, ...]:
    """:func:`target_ids`, remembered: encoding in plain Python is slow and each number is asked for often."""
    return tuple(to_model_ids(tokenizer.encode(f"<bos>{german_written(n)}<eos>"), tokenizer))


def make_spelling_batch(numbers: Sequence[int], tokenizer: BPETokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """Numbers -> padded ``src`` (B, S) English ids and ``tgt`` (B, T) model ids of the German pieces."""
    src = pad_sequences([EN_VOCAB.encode(english_tokens(n)) for n in numbers])
    tgt = pad_sequences([target_ids(n, tokenizer) for n in numbers])
    return src, tgt


def spelling_batches(numbers: Sequence[int], tokenizer: BPETokenizer, batch_size: int, seed: int = 0
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless shuffled batches ``(src (B, S), tgt (B, T))``, like ``batch_iterator(..., epochs=None)``."""
    src_all, tgt_all = make_spelling_batch(numbers, tokenizer)   # encoded once
    return batches_of(src_all, tgt_all, batch_size, seed, epochs=None)


def max_target_len(tokenizer: BPETokenizer, numbers: Sequence[int]) -> int:
    """The longest target (with ``<bos>`` and ``<eos>``) among ``numbers``, in tokens."""
    return max(len(target_ids(n, tokenizer)) for n in numbers)


def spelling_config(tokenizer: BPETokenizer, max_len: int, config: CapstoneConfig | None = None) -> CapstoneConfig:
    """Notebook 07's settings with the German vocabulary (and length) of ``tokenizer``."""
    config = config or CapstoneConfig()
    return replace(config, model=replace(config.model, vocab_size=tokenizer.vocab_size, max_len=max_len), n_val=0)


def train_spelling(tokenizer: BPETokenizer, config: CapstoneConfig, device: torch.device | str = "cpu",
                   progress: bool = True) -> tuple[nn.Module, History, dict]:
    """Train 07's translator on the real spelling through ``tokenizer``; step-bounded, seeded. -> (model, history, splits)."""
    torch.manual_seed(config.seed)
    model = config.make_model().to(device)
    train_numbers, val_numbers, test_numbers = config.splits()
    optimizer, scheduler = config.make_optimizer(model)
    batches = spelling_batches(train_numbers, tokenizer, config.batch_size, seed=config.seed)
    history = train(model, batches, optimizer, scheduler, max_steps=config.max_steps,
                    smoothing=config.label_smoothing, clip_norm=config.clip_norm, progress=progress)
    return model, history, {"train": train_numbers, "val": val_numbers, "test": test_numbers}


def translate_spelling(model: nn.Module, numbers: Sequence[int], tokenizer: BPETokenizer, max_len: int,
                       batch_size: int = 1000) -> list[str]:
    """The model's German word for each number (greedy decoding, pieces joined by the tokenizer)."""
    words = []
    for start in range(0, len(numbers), batch_size):
        src, _ = make_spelling_batch(numbers[start:start + batch_size], tokenizer)
        for row in greedy_decode(model, src, max_len=max_len).cpu().tolist():
            ids = row[1:row.index(2)] if 2 in row else row[1:]        # drop <bos>, stop at <eos> (model id 2)
            words.append(tokenizer.decode(from_model_ids([i for i in ids if i != PAD_ID], tokenizer)))
    return words


def spelling_exact_match(model: nn.Module, families: dict[str, Sequence[int]], tokenizer: BPETokenizer,
                         max_len: int) -> dict[str, float]:
    """Per family, the fraction of numbers whose whole German word is exactly right."""
    return {name: sum(w == german_written(n) for w, n in zip(translate_spelling(model, numbers, tokenizer, max_len),
                                                            numbers)) / len(numbers)
            for name, numbers in families.items()}


def spelling_attention(model: nn.Module, number: int, tokenizer: BPETokenizer, max_len: int) -> dict:
    """The cross-attention of the model's own translation of ``number``: source words, output pieces, weights.

    Returns ``"source"`` (S,), ``"output"`` (T,) the pieces written (the last usually ``<eos>``) and
    ``"cross"`` (n_layers, n_heads, T, S), row t being the step that wrote ``output[t]``.
    """
    src, _ = make_spelling_batch([number], tokenizer)                             # (1, S)
    ys = trim_padding(greedy_decode(model, src, max_len=max_len).cpu(), PAD_ID)   # (1, T + 1)
    device = next(model.parameters()).device
    src, tgt_in = src.to(device), ys[:, :-1].to(device)
    with EvalMode(model):
        model(src, tgt_in, padding_mask(src, PAD_ID), target_mask(tgt_in, PAD_ID))
    cross = torch.stack([layer.cross_attn.attn_weights[0].float().cpu() for layer in model.decoder.layers])
    return {"source": english_tokens(number),
            "output": tokenizer.pieces(from_model_ids(ys[0, 1:].tolist(), tokenizer)),
            "cross": cross}
