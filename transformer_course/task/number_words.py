"""The capstone's data: English number words to German number words, 0 to 999,999.

"three hundred twenty one" -> "drei hundert ein und zwanzig". German says the
units before the tens ("one and twenty"), so a translator has to *reorder*
tokens, not just swap them one for one; this is what makes the task a small
but honest test of attention.

Both languages are cut into word tokens. German is written as one word
("dreihunderteinundzwanzig"), so we cut it into its morphemes instead
(``drei hundert ein und zwanzig``): joined without spaces they give the
standard spelling back (:func:`german`).

Everything is generated here; nothing is downloaded.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence

import torch

MAX_NUMBER = 999_999

# --------------------------------------------------------------------------
# English: American style, no "and", no hyphens, no commas.
# --------------------------------------------------------------------------

_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _check_number(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"expected an int, got {type(n).__name__} {n!r}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"expected a number from 0 to {MAX_NUMBER:,}, got {n:,}")


def _english_below_1000(n: int) -> list[str]:
    """Words for 1 <= n <= 999 (zero is handled by the caller)."""
    hundreds, rest = divmod(n, 100)
    words = [_EN_ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_EN_TENS[tens])
        if ones:
            words.append(_EN_ONES[ones])
    elif rest:
        words.append(_EN_ONES[rest])
    return words


def english_tokens(n: int) -> list[str]:
    """English words for ``n``: 321 -> ['three', 'hundred', 'twenty', 'one']."""
    _check_number(n)
    if n == 0:
        return ["zero"]
    thousands, rest = divmod(n, 1000)
    words = _english_below_1000(thousands) + ["thousand"] if thousands else []
    return words + (_english_below_1000(rest) if rest else [])


def english(n: int) -> str:
    """English words for ``n`` as one string: 321 -> 'three hundred twenty one'."""
    return " ".join(english_tokens(n))


# --------------------------------------------------------------------------
# German: morpheme tokens, units before tens.
# --------------------------------------------------------------------------

_DE_ONES = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
            "zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn",
            "siebzehn", "achtzehn", "neunzehn"]
_DE_TENS = ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig",
            "achtzig", "neunzig"]


def _german_below_1000(n: int, final: bool) -> list[str]:
    """Morphemes for 1 <= n <= 999.

    ``final`` says whether nothing follows: a lone one at the very end is
    "eins" (101: einhunderteins), anywhere else it is "ein" (100: einhundert,
    1000: eintausend, 21: einundzwanzig, 101000: einhunderteintausend).
    """
    hundreds, rest = divmod(n, 100)
    # "einhundert" rather than "hundert": both are standard, we follow num2words.
    words = ["ein" if hundreds == 1 else _DE_ONES[hundreds], "hundert"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        if ones:
            words += ["ein" if ones == 1 else _DE_ONES[ones], "und"]
        words.append(_DE_TENS[tens])
    elif rest == 1:
        words.append("eins" if final else "ein")
    elif rest:
        words.append(_DE_ONES[rest])
    return words


def german_tokens(n: int) -> list[str]:
    """German morphemes for ``n``: 321 -> ['drei', 'hundert', 'ein', 'und', 'zwanzig']."""
    _check_number(n)
    if n == 0:
        return ["null"]
    thousands, rest = divmod(n, 1000)
    words = _german_below_1000(thousands, final=False) + ["tausend"] if thousands else []
    return words + (_german_below_1000(rest, final=True) if rest else [])


def german(n: int) -> str:
    """Standard written German for ``n``, one word: 321 -> 'dreihunderteinundzwanzig'."""
    return "".join(german_tokens(n))


def german_written(n: int, einhundert: bool = True) -> str:
    """``n`` as Germans write it, one word: 21 -> 'einundzwanzig', 321,000 -> 'dreihunderteinundzwanzigtausend'.

    The rules, as :func:`german_tokens` applies them:

    - units before tens, joined by "und": 21 = "einundzwanzig" (one-and-twenty);
    - "eins" only for a one that ends the number (1 "eins", 101 "einhunderteins",
      1001 "eintausendeins"); before "und", "hundert" or "tausend" it is "ein"
      ("einundzwanzig", "einhundert", "eintausend", 101,000 "einhunderteintausend");
    - a leading one hundred or one thousand may be written with or without its
      "ein": "einhundert" or "hundert", "eintausend" or "tausend" (both standard).
      ``einhundert=True`` (the default) writes the "ein", as :func:`german` and
      num2words do; ``einhundert=False`` drops it at the start of the number only
      (1100 "tausendeinhundert", 100,000 "hunderttausend").
    """
    word = german(n)
    if not einhundert and word.startswith(("einhundert", "eintausend")):
        word = word[len("ein"):]
    return word


# --------------------------------------------------------------------------
# Vocabularies: token <-> id
# --------------------------------------------------------------------------

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIALS = [PAD, BOS, EOS]


class Vocab:
    """A fixed token <-> id table with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2."""

    def __init__(self, tokens: Iterable[str]):
        # Ids follow first appearance, so the table reads in counting order.
        self.itos: list[str] = list(SPECIALS)
        for token in tokens:
            if token not in self.itos:
                self.itos.append(token)
        self.stoi: dict[str, int] = {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.itos)})"

    def encode(self, tokens: Sequence[str], bos: bool = False, eos: bool = False) -> list[int]:
        """Token strings -> ids, optionally wrapped in ``<bos>`` ... ``<eos>``."""
        ids = []
        for token in tokens:
            if token not in self.stoi:
                raise ValueError(f"unknown token {token!r}: not one of the {len(self)} tokens "
                                 f"in this vocabulary ({', '.join(self.itos[3:])})")
            ids.append(self.stoi[token])
        return ([BOS_ID] if bos else []) + ids + ([EOS_ID] if eos else [])

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Ids -> token strings, stopping at the first ``<eos>`` and skipping ``<pad>``/``<bos>``."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        tokens = []
        for i in ids:
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            tokens.append(self.itos[i])
        return tokens


# Every token of either language already occurs in 0..1000.
EN_VOCAB = Vocab(token for n in range(1001) for token in english_tokens(n))
DE_VOCAB = Vocab(token for n in range(1001) for token in german_tokens(n))

# The longest sentences, e.g. 777,777: "seven hundred seventy seven thousand
# seven hundred seventy seven" (9 tokens), "sieben hundert sieben und siebzig
# tausend sieben hundert sieben und siebzig" (11 tokens).
MAX_SRC_LEN = 9
MAX_TGT_LEN = 11 + 2  # with <bos> and <eos>


# --------------------------------------------------------------------------
# Which numbers to train on: sampling by digit pattern
# --------------------------------------------------------------------------

def sample_number(rng: random.Random, p_zero: float = 0.1) -> int:
    """One number in 0..999,999, its six digits drawn one by one: 0 with probability ``p_zero``, else 1..9.

    ``p_zero=0.1`` is the uniform distribution over 0..999,999. A larger ``p_zero``
    draws more of the numbers with zeros in them, which a uniform draw almost
    never makes: with ``p_zero=0.4`` one draw in 16 is below 1000 (uniform: one in
    1000), one in 16 is a round thousand n,000, one in 40 is n,00x.
    """
    number = 0
    for _ in range(6):
        number = 10 * number + (0 if rng.random() < p_zero else rng.randint(1, 9))
    return number


def number_families(seed: int = 0, size: int = 300) -> dict[str, list[int]]:
    """Natural families of numbers to measure a translator on, each a sorted list; ``size`` of each at most.

    "0..999" is all of them (the training numbers by design, see :func:`make_splits`);
    every other family holds numbers >= 1000 that :func:`make_splits` keeps out of
    training, so it measures generalisation. "uniform" is not here: it is the test split.
    """
    rng = random.Random(seed)

    def some(candidates) -> list[int]:
        candidates = sorted(set(candidates))
        return sorted(rng.sample(candidates, min(size, len(candidates))))

    def zeros(n: int) -> int:
        return str(n).count("0")

    return {
        "0..999": list(range(1000)),
        "n,000": some(n * 1000 for n in range(1, 1000)),
        "n,001": some(n * 1000 + 1 for n in range(1, 1000)),
        "n,002..n,099": some(n * 1000 + r for n in range(1, 1000) for r in range(2, 100)),
        "n00,000": [n * 100_000 for n in range(1, 10)],
        "three or more 0 digits": some(n for n in (rng.randrange(10_000, MAX_NUMBER + 1) for _ in range(200_000))
                                       if zeros(n) >= 3 and n % 1000 not in (0, 1) and n % 100_000),
        "ending in 01, 1x or x1": some(n for n in (rng.randrange(1000, MAX_NUMBER + 1) for _ in range(20_000))
                                       if n % 100 in (1, 11, 21, 31, 41, 51, 61, 71, 81, 91) or 10 <= n % 100 <= 19),
    }


def make_splits(n_train: int, n_val: int, n_test: int, seed: int = 0, p_zero: float = 0.1,
                max_number: int = MAX_NUMBER, n_small: int = 1000, held_out: Iterable[int] = ()
                ) -> tuple[list[int], list[int], list[int]]:
    """Lists of numbers (train, val, test) from 0..max_number; no val or test number is ever a training number.

    Validation and test numbers are drawn uniformly from n_small..max_number.
    Training gets every number below ``n_small`` once (they are the building
    blocks: each is also the head or the tail of many larger numbers), then
    ``n_train - n_small`` draws of :func:`sample_number` (``p_zero=0.1``: uniform)
    that are not validation, test or ``held_out`` numbers. Draws may repeat, as in
    a stream of examples; the list is shuffled.
    """
    if n_small > max_number + 1:
        raise ValueError(f"n_small={n_small} is more than the {max_number + 1} numbers available")
    if n_train < n_small:
        raise ValueError(f"n_train={n_train} must be at least n_small={n_small}: "
                         f"every number below n_small goes to training")
    if n_val + n_test > (max_number + 1 - n_small) // 2:
        raise ValueError(f"n_val + n_test = {n_val + n_test} is more than half of the "
                         f"{max_number + 1 - n_small} numbers from {n_small} to {max_number}")
    rng = random.Random(seed)
    drawn = rng.sample(range(n_small, max_number + 1), n_val + n_test)
    val, test = drawn[:n_val], drawn[n_val:]
    excluded = set(drawn) | set(held_out)
    train = list(range(n_small))
    while len(train) < n_train:
        n = sample_number(rng, p_zero)
        if n <= max_number and n not in excluded:
            train.append(n)
    rng.shuffle(train)
    return train, val, test



def uniform_splits(n_train: int, n_val: int, n_test: int, seed: int = 0,
                   max_number: int = MAX_NUMBER, n_small: int = 1000) -> tuple[list[int], list[int], list[int]]:
    """Disjoint (train, val, test) lists: all numbers below ``n_small``, the rest drawn uniformly, no repeats.

    The plain split by number, without :func:`make_splits`' digit-pattern sampling.
    Notebook 08's ablations were measured on it (``tools/ablations.py``): its question is
    what each part of the model costs, which the uniform split answers as well and
    which must not move when the capstone's sampling is tuned.
    """
    if n_train < n_small:
        raise ValueError(f"n_train={n_train} must be at least n_small={n_small}: "
                         f"every number below n_small goes to training")
    n_random = n_train - n_small + n_val + n_test
    if n_random > max_number + 1 - n_small:
        raise ValueError(f"asked for {n_train + n_val + n_test} numbers but 0..{max_number} "
                         f"has only {max_number + 1}")
    rng = random.Random(seed)
    drawn = rng.sample(range(n_small, max_number + 1), n_random)
    n_extra = n_train - n_small
    train = list(range(n_small)) + drawn[:n_extra]
    rng.shuffle(train)
    return train, drawn[n_extra:n_extra + n_val], drawn[n_extra + n_val:]

# --------------------------------------------------------------------------
# Batches: padded id tensors
# --------------------------------------------------------------------------

def encode_pair(n: int) -> tuple[list[int], list[int]]:
    """The ids of one example: English source (no specials), German target (<bos> ... <eos>)."""
    return EN_VOCAB.encode(english_tokens(n)), DE_VOCAB.encode(german_tokens(n), bos=True, eos=True)


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> torch.Tensor:
    """Lists of ids of different lengths -> one LongTensor (B, max_len), right-padded."""
    if len(seqs) == 0:
        raise ValueError("cannot pad an empty list of sequences")
    out = torch.full((len(seqs), max(len(s) for s in seqs)), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = PAD_ID
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(src_ids, tgt_ids) pairs -> padded ``src`` (B, S) and ``tgt`` (B, T) LongTensors."""
    return pad_sequences([p[0] for p in pairs], pad_id), pad_sequences([p[1] for p in pairs], pad_id)


def make_batch(numbers: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Numbers -> padded ``src`` (B, S) English ids and ``tgt`` (B, T) German ids with <bos>/<eos>.

    Feed the decoder ``tgt[:, :-1]`` and score its output against ``tgt[:, 1:]``.
    """
    return collate([encode_pair(n) for n in numbers])


def trim_padding(x: torch.Tensor, pad_id: int = PAD_ID) -> torch.Tensor:
    """Drop the columns at the right of (B, L) that are padding in every row."""
    length = int((x != pad_id).sum(dim=1).max())  # rows are right-padded
    return x[:, :max(length, 1)]


def batch_iterator(numbers: Sequence[int], batch_size: int, seed: int = 0, shuffle: bool = True,
                   epochs: int | None = 1, drop_last: bool = False
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield padded ``(src (B, S), tgt (B, T))`` batches of ``numbers``, reshuffled each epoch.

    The numbers are encoded once; each batch is cut to its own longest
    sentence. The order depends only on ``seed``. ``epochs=None`` never ends.
    """
    src_all, tgt_all = make_batch(numbers)
    return batches_of(src_all, tgt_all, batch_size, seed, shuffle, epochs, drop_last)


def batches_of(src_all: torch.Tensor, tgt_all: torch.Tensor, batch_size: int, seed: int = 0, shuffle: bool = True,
               epochs: int | None = 1, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of already encoded, padded pairs ``src_all`` (N, S), ``tgt_all`` (N, T), reshuffled each epoch.

    Each batch is cut to its own longest sequence; the order depends only on ``seed``; ``epochs=None``
    never ends. Every task's batch iterator (numbers, spelling, sentences, pieces) is this loop.
    """
    generator = torch.Generator().manual_seed(seed)
    epoch = 0
    while epochs is None or epoch < epochs:
        order = torch.randperm(len(src_all), generator=generator) if shuffle else torch.arange(len(src_all))
        for start in range(0, len(src_all), batch_size):
            idx = order[start:start + batch_size]
            if drop_last and len(idx) < batch_size:
                break
            yield trim_padding(src_all[idx]), trim_padding(tgt_all[idx])
        epoch += 1
