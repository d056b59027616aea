"""The GPT's data (notebook 09): the number translation as ONE sequence, and counting in words.

Translation: ``<bos> three hundred twenty one = drei hundert ein und zwanzig <eos>``, in one
vocabulary (``LM_VOCAB``: the English words, ``=``, the German morphemes). A decoder-only model
reads it left to right; the loss counts only the tokens after ``=`` (the German and ``<eos>``):
the English prompt is given, not predicted. The numbers and their splits are those of notebook 07.

Counting: ``<bos> seventeen , nineteen , twenty one , twenty three , twenty five <eos>``: a count
of ``COUNT_NUMBERS`` numbers below 100, by ones, twos or threes, from a random start. Given only
its first number, the continuation is uncertain (which step?), so sampling matters; after two
numbers it is determined.

Everything is generated here; nothing is downloaded.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch

from .number_words import (BOS_ID, EOS_ID, PAD_ID, Vocab, english_tokens, german_tokens, pad_sequences,
                           trim_padding)

SEP = "="

# One vocabulary for both languages: <pad> <bos> <eos>, the English words, "=", the German morphemes.
LM_VOCAB = Vocab([t for n in range(1001) for t in english_tokens(n)] + [SEP]
                 + [t for n in range(1001) for t in german_tokens(n)])
SEP_ID = LM_VOCAB.stoi[SEP]
# the longest sequence, 777,777: <bos> + 9 English + "=" + 11 German + <eos>
MAX_LM_LEN = 1 + 9 + 1 + 11 + 1


def lm_sequence(source: Sequence[int], target: Sequence[int], sep_id: int) -> tuple[list[int], list[bool]]:
    """``<bos> source sep target <eos>`` as ids and, per token, whether the loss counts it (the target and <eos>).

    Any translation task as one sequence for a decoder-only model: the source is the prompt, given
    and never predicted; the loss is on what comes after the separator.
    """
    ids = [BOS_ID, *source, sep_id, *target, EOS_ID]
    loss_mask = [False] * (1 + len(source) + 1) + [True] * (len(target) + 1)
    return ids, loss_mask


def encode_lm(n: int) -> tuple[list[int], list[bool]]:
    """The ids of ``<bos> English = German <eos>`` and, per token, whether the loss counts it (the German and <eos>)."""
    return lm_sequence(LM_VOCAB.encode(english_tokens(n)), LM_VOCAB.encode(german_tokens(n)), SEP_ID)


def pack_lm(sequences: Sequence[tuple[Sequence[int], Sequence[bool]]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, loss_mask)`` pairs -> ``tokens`` (B, L) right-padded with <pad>, and ``loss_mask`` (B, L) bool."""
    tokens = pad_sequences([ids for ids, _ in sequences], PAD_ID)
    loss_mask = pad_sequences([[int(m) for m in mask] for _, mask in sequences], 0).bool()
    return tokens, loss_mask


def make_lm_batch(numbers: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Numbers -> ``tokens`` (B, L) ids right-padded with <pad>, and ``loss_mask`` (B, L) bool, True on German/<eos>."""
    return pack_lm([encode_lm(n) for n in numbers])


def lm_batches(tokens_all: torch.Tensor, mask_all: torch.Tensor, batch_size: int, seed: int = 0,
               epochs: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(tokens (B, L), loss_mask (B, L))`` batches of the rows of a packed set (:func:`pack_lm`).

    Reshuffled each epoch, the order from ``seed``; each batch cut to its own longest row.
    """
    generator = torch.Generator().manual_seed(seed)
    epoch = 0
    while epochs is None or epoch < epochs:
        order = torch.randperm(len(tokens_all), generator=generator)
        for start in range(0, len(tokens_all), batch_size):
            idx = order[start:start + batch_size]
            tokens = trim_padding(tokens_all[idx])
            yield tokens, mask_all[idx][:, :tokens.shape[1]]
        epoch += 1


def lm_batch_iterator(numbers: Sequence[int], batch_size: int, seed: int = 0, epochs: int | None = None
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(tokens (B, L), loss_mask (B, L))`` batches of ``numbers``, reshuffled each epoch (order from ``seed``)."""
    return lm_batches(*make_lm_batch(numbers), batch_size, seed=seed, epochs=epochs)


def prompt_ids(n: int) -> list[int]:
    """What the model is given to translate n: ``<bos> English =``."""
    return [BOS_ID] + LM_VOCAB.encode(english_tokens(n)) + [SEP_ID]


# --------------------------------------------------------------------------
# Counting in words
# --------------------------------------------------------------------------

COMMA = ","
COUNT_VOCAB = Vocab([t for n in range(100) for t in english_tokens(n)] + [COMMA])
COMMA_ID = COUNT_VOCAB.stoi[COMMA]
COUNT_NUMBERS = 5  # numbers per count
COUNT_STEPS = (1, 2, 3)
COUNT_MAX_LEN = 1 + COUNT_NUMBERS * 2 + (COUNT_NUMBERS - 1) + 1  # <bos>, two words each, commas, <eos>


def count_tokens(start: int, step: int, length: int = COUNT_NUMBERS) -> list[str]:
    """A count in words: (17, 2) -> ['seventeen', ',', 'nineteen', ',', 'twenty', 'one', ...]."""
    words: list[str] = []
    for i in range(length):
        words += ([COMMA] if i else []) + english_tokens(start + i * step)
    return words


def count_batch_iterator(batch_size: int, seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(tokens (B, L), loss_mask (B, L))`` batches of random counts; the loss counts every token after <bos>."""
    rng = random.Random(seed)
    while True:
        seqs = []
        for _ in range(batch_size):
            step = rng.choice(COUNT_STEPS)
            start = rng.randrange(0, 100 - (COUNT_NUMBERS - 1) * step)
            seqs.append([BOS_ID] + COUNT_VOCAB.encode(count_tokens(start, step)) + [EOS_ID])
        tokens = pad_sequences(seqs, PAD_ID)
        yield tokens, tokens != PAD_ID


def count_prompt(start: int) -> list[int]:
    """The prompt of a count that starts at ``start``: ``<bos> start ,``."""
    return [BOS_ID] + COUNT_VOCAB.encode(english_tokens(start)) + [COMMA_ID]


_WORD_TO_NUMBER = {" ".join(english_tokens(n)): n for n in range(100)}


def read_count(ids: Sequence[int] | torch.Tensor) -> list[int | None]:
    """The numbers of a generated count, up to its <eos>; a piece between commas that is no number gives None."""
    words = COUNT_VOCAB.decode(ids.tolist() if isinstance(ids, torch.Tensor) else ids)
    pieces: list[list[str]] = [[]]
    for word in words:
        if word == COMMA:
            pieces.append([])
        else:
            pieces[-1].append(word)
    return [_WORD_TO_NUMBER.get(" ".join(piece)) for piece in pieces] if words else []


def is_valid_count(numbers: Sequence[int | None]) -> bool:
    """True for COUNT_NUMBERS numbers that go up by the same step, 1, 2 or 3."""
    if len(numbers) != COUNT_NUMBERS or any(n is None for n in numbers):
        return False
    steps = {b - a for a, b in zip(numbers, numbers[1:])}
    return len(steps) == 1 and steps.pop() in COUNT_STEPS
