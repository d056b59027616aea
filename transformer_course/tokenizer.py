"""Byte-pair encoding (BPE), byte-level: text -> token ids -> text (notebook 10).

A model reads integers. Byte-level BPE starts from the 256 byte values of a
text's UTF-8 encoding (so every string can be written, nothing is "unknown")
and learns *merges* from a corpus: again and again, the most frequent pair of
adjacent tokens becomes one new token. Each merge makes the text one token
shorter wherever that pair occurs, so frequent pieces ("und", "zwanzig") end
up as single tokens.

Ids: 0..255 are the bytes, ``256 + i`` is the token made by ``merges[i]``,
and the special tokens (``<pad>``, ``<bos>``, ``<eos>``) come last; the
vocabulary size counts all three.

Rules this implementation fixes (the page states them; the checks hold the
learner to them):

- Pre-split: the text is cut into chunks by :data:`PRE_SPLIT` (a word with the
  space before it, or a run of whitespace); pairs are counted and merged only
  inside a chunk, never across two.
- Tie rule: among equally frequent pairs the smallest ``(a, b)`` (by ids,
  ``a`` first) is merged first.
- Training stops at ``vocab_size`` tokens (256 bytes + merges), or earlier when
  no pair occurs at least twice.
- Encoding applies the merges in the order they were learned (lowest new id
  first), never greedily by the length of a piece.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

SPECIALS = ("<pad>", "<bos>", "<eos>")
N_BYTES = 256

# A word with the space in front of it, or a run of whitespace (e.g. a line break).
PRE_SPLIT = re.compile(r" ?\S+|\s+")


# --------------------------------------------------------------------------
# Text <-> bytes
# --------------------------------------------------------------------------

def to_bytes(text: str) -> list[int]:
    """Text -> its UTF-8 bytes as ints 0..255: 'ü' -> [195, 188] (two bytes), 'a' -> [97]."""
    return list(text.encode("utf-8"))


def from_bytes(ids: Iterable[int]) -> str:
    """UTF-8 bytes (ints 0..255) -> text; an incomplete character becomes '\ufffd' instead of an error."""
    return bytes(ids).decode("utf-8", errors="replace")


def pre_split(text: str) -> list[str]:
    """The chunks no merge crosses: 'ein und zwanzig' -> ['ein', ' und', ' zwanzig']."""
    return PRE_SPLIT.findall(text)


# --------------------------------------------------------------------------
# Training: count pairs, merge the most frequent, repeat
# --------------------------------------------------------------------------

def count_pairs(ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs: [1, 2, 1, 2] -> {(1, 2): 2, (2, 1): 1}; 'aaa' has (a, a) twice."""
    counts: dict[tuple[int, int], int] = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of ``pair``, left to right, by ``new_id``: 'aaa', (a, a) -> [new, a]."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2  # both tokens are used up: an overlapping pair starting at i + 1 is not merged again
        else:
            out.append(ids[i])
            i += 1
    return out


def most_frequent(counts: dict[tuple[int, int], int]) -> tuple[int, int]:
    """The pair to merge next: the most frequent; among equally frequent pairs, the smallest (a, b)."""
    return max(counts, key=lambda pair: (counts[pair], -pair[0], -pair[1]))


def train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Learn merges from ``text`` until there are ``vocab_size`` tokens (256 bytes + one per merge).

    Returns ``merges``: ``merges[i]`` is the pair that became token ``256 + i``.
    Stops early when no pair occurs at least twice.
    """
    if vocab_size < N_BYTES:
        raise ValueError(f"vocab_size must be at least {N_BYTES} (one token per byte), got {vocab_size}")
    words = Counter(pre_split(text))                     # each distinct chunk once, with how often it occurs
    chunks = [to_bytes(word) for word in words]
    freqs = list(words.values())
    merges: list[tuple[int, int]] = []
    while N_BYTES + len(merges) < vocab_size:
        counts: dict[tuple[int, int], int] = {}
        for ids, freq in zip(chunks, freqs):
            for pair, n in count_pairs(ids).items():
                counts[pair] = counts.get(pair, 0) + n * freq
        if not counts or max(counts.values()) < 2:
            break
        pair = most_frequent(counts)
        new_id = N_BYTES + len(merges)
        chunks = [merge(ids, pair, new_id) for ids in chunks]
        merges.append(pair)
    return merges


# --------------------------------------------------------------------------
# Encoding and decoding
# --------------------------------------------------------------------------

def vocab(merges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The bytes each id stands for (specials not included): vocab(merges)[256 + i] = piece a + piece b."""
    table = [bytes([b]) for b in range(N_BYTES)]
    for a, b in merges:
        table.append(table[a] + table[b])
    return table


def encode_chunk(ids: list[int], merges: Sequence[tuple[int, int]]) -> list[int]:
    """Apply the merges to one chunk's bytes, always the earliest-learned pair present first."""
    new_ids = {pair: N_BYTES + i for i, pair in enumerate(merges)}   # pair -> the token it became
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: new_ids.get(p, float("inf")))
        if pair not in new_ids:
            break                                         # no learned pair left in this chunk
        ids = merge(ids, pair, new_ids[pair])
    return ids


def encode(text: str, merges: Sequence[tuple[int, int]]) -> list[int]:
    """Text -> token ids: pre-split, then each chunk's bytes merged in the order the merges were learned."""
    ids: list[int] = []
    for chunk in pre_split(text):
        ids += encode_chunk(to_bytes(chunk), merges)
    return ids


def encode_with_specials(text: str, merges: Sequence[tuple[int, int]], specials: Sequence[str] = SPECIALS
                         ) -> list[int]:
    """Like :func:`encode`, but each special token in the text ('<bos>') becomes its one id, never bytes."""
    special_ids = {s: N_BYTES + len(merges) + i for i, s in enumerate(specials)}
    if not special_ids:
        return encode(text, merges)
    pattern = "(" + "|".join(re.escape(s) for s in specials) + ")"   # the parentheses keep the specials
    ids: list[int] = []
    for part in re.split(pattern, text):
        if part in special_ids:
            ids.append(special_ids[part])
        elif part:
            ids += encode(part, merges)
    return ids


def decode(ids: Iterable[int], merges: Sequence[tuple[int, int]], specials: Sequence[str] = SPECIALS) -> str:
    """Token ids -> text: join every token's *bytes* first, then decode them as UTF-8 once."""
    table = vocab(merges)
    pieces = [table[i] if i < len(table) else specials[i - len(table)].encode("utf-8") for i in ids]
    return b"".join(pieces).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# A tokenizer object: merges, specials, and the functions that use them
# --------------------------------------------------------------------------

@dataclass(eq=False)  # compared (and hashed) by identity, so results can be cached per tokenizer
class BPETokenizer:
    """Learned merges plus special tokens; ``encode_fn``/``decode_fn`` may be the learner's own functions."""

    merges: list[tuple[int, int]]
    specials: tuple[str, ...] = SPECIALS
    encode_fn: Callable[..., list[int]] = field(default=encode_with_specials, repr=False)
    decode_fn: Callable[..., str] = field(default=decode, repr=False)

    @classmethod
    def trained(cls, text: str, vocab_size: int, specials: Sequence[str] = SPECIALS,
                train_fn: Callable[[str, int], list[tuple[int, int]]] = train, **fns) -> BPETokenizer:
        """Learn merges with ``train_fn`` up to ``vocab_size`` tokens (specials not counted), then add the specials."""
        return cls([tuple(p) for p in train_fn(text, vocab_size)], tuple(specials), **fns)

    @property
    def vocab_size(self) -> int:
        """Every id: 256 bytes, one per merge, the specials."""
        return N_BYTES + len(self.merges) + len(self.specials)

    def special_id(self, token: str) -> int:
        """The id of a special token: they come after the bytes and the merges."""
        return N_BYTES + len(self.merges) + self.specials.index(token)

    def encode(self, text: str) -> list[int]:
        """Text (specials kept whole) -> ids."""
        return list(self.encode_fn(text, self.merges, self.specials))

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text."""
        return self.decode_fn(list(ids), self.merges, self.specials)

    def pieces(self, ids: Iterable[int]) -> list[str]:
        """Each id as the text it stands for, for display ('\ufffd' where a token holds part of a character)."""
        table = vocab(self.merges)
        return [self.specials[i - len(table)] if i >= len(table) else table[i].decode("utf-8", errors="replace")
                for i in ids]


__all__ = [
    "N_BYTES",
    "PRE_SPLIT",
    "SPECIALS",
    "BPETokenizer",
    "count_pairs",
    "decode",
    "encode",
    "encode_chunk",
    "encode_with_specials",
    "from_bytes",
    "merge",
    "most_frequent",
    "pre_split",
    "to_bytes",
    "train",
    "vocab",
]
