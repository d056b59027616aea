"""Checks for notebook 10's exercises: the learner's byte-level BPE, piece by piece.

Each check runs the learner's function on small cases (an "aaa" overlap, 'ü' and
'ß' that are two bytes each, a character never seen in training, a special
token in the middle of the text) and compares it with
:mod:`transformer_course.tokenizer`. On a difference it says where the two first
part (the first pair, merge, chunk or id that differs) and, when the learner's
result is what a known mistake gives, names the mistake.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable, Sequence
from typing import Any

from .. import tokenizer as ref
from ._core import CheckFailed, call, case, exercise

# Short texts with the cases that matter: two-byte letters, a three-byte '€', a four-byte emoji, spaces.
TEXTS = ["a", "aaa", "ü", "Größe", "dreißig", "einundzwanzig fünfundzwanzig", "€ 5", "🙂!", "", " a  b\n"]


def _ints(result: Any, what: str) -> list[int]:
    """The learner's result as a list of ints, or a message saying what it is instead."""
    if result is None:
        raise CheckFailed(f"{what} is None — did you forget to `return` it?")
    if isinstance(result, (str, dict)) or not hasattr(result, "__iter__"):
        raise CheckFailed(f"{what} should be a list of ints but is a {type(result).__name__}")
    out = list(result)
    if not all(isinstance(i, int) for i in out):
        bad = next(i for i in out if not isinstance(i, int))
        raise CheckFailed(f"{what} should be a list of ints but holds {type(bad).__name__} {bad!r}")
    return out


def _first_difference(got: Sequence, want: Sequence) -> str:
    """'at position i: got x, expected y' for the first place two lists part, or their lengths."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"they first differ at position {i}: got {g!r}, expected {w!r}"
    return f"it has {len(got)} items where {len(want)} are expected (the first {min(len(got), len(want))} agree)"


class _Given(list):
    """A list handed to the learner as it is: ``call`` copies plain lists (and tensors) before the learner sees
    them, so a write into this one would go unseen; a subclass is passed through, and ``_unchanged`` sees it."""


def _unchanged(before: Any, after: Any, name: str) -> None:
    if before != after:
        raise CheckFailed(f"it changes its input `{name}` in place; build and return a new list instead")


# --- text <-> bytes ---------------------------------------------------------------------------------------


def _check_to_bytes(fn: Callable) -> None:
    for text in TEXTS:
        with case(f"text={text!r}"):
            want = ref.to_bytes(text)
            got = _ints(call(fn, text), "the result")
            if got == want:
                continue
            if got == [ord(c) for c in text]:
                raise CheckFailed(f"it gives each character's code point (ord), not its UTF-8 bytes: "
                                  f"{text!r} is {want} in bytes; use text.encode('utf-8')")
            if got == list(text.encode("utf-16-le")) or got == list(text.encode("latin-1", errors="replace")):
                raise CheckFailed("it encodes with another encoding than UTF-8; use text.encode('utf-8')")
            if any(i > 255 or i < 0 for i in got):
                raise CheckFailed(f"it gives {got}, but a byte is 0..255: {text!r} is {want} in UTF-8")
            raise CheckFailed(f"the bytes are wrong: {_first_difference(got, want)}")


def check_to_bytes(learner: Callable) -> Callable:
    """Check the learner's `to_bytes`; returns theirs if right, the reference if not done."""
    return exercise("to_bytes", learner, ref.to_bytes, _check_to_bytes)


def _check_from_bytes(fn: Callable) -> None:
    cases = [(f"the bytes of {t!r}", ref.to_bytes(t)) for t in TEXTS]
    cases += [("[195] (the first half of 'ü' alone)", [195]), ("[97, 195] ('a' and half of 'ü')", [97, 195]),
              ("[255] (never valid UTF-8)", [255])]
    for description, ids in cases:
        with case(description):
            want = ref.from_bytes(ids)
            try:
                got = call(fn, list(ids))
            except UnicodeDecodeError:
                raise CheckFailed("it raises UnicodeDecodeError on bytes that are not a whole character (a model "
                                  "can write such ids); decode with errors='replace' so they become '\ufffd'"
                                  ) from None
            if got == want:
                continue
            if not isinstance(got, str):
                raise CheckFailed(f"the result should be a str but is {type(got).__name__}"
                                  + (" — decode the bytes with .decode('utf-8')" if isinstance(got, bytes) else ""))
            if got == "".join(chr(i) for i in ids):
                raise CheckFailed(f"it turns each byte into a character (chr), so 'ü' (bytes 195, 188) becomes "
                                  f"{got!r}; join the bytes with bytes(ids) and decode them as UTF-8 once")
            raise CheckFailed(f"the text is {got!r} but should be {want!r}")


def check_from_bytes(learner: Callable) -> Callable:
    """Check the learner's `from_bytes`; returns theirs if right, the reference if not done."""
    return exercise("from_bytes", learner, ref.from_bytes, _check_from_bytes)


# --- counting and merging ---------------------------------------------------------------------------------


def _check_count_pairs(fn: Callable) -> None:
    cases = [[1, 2, 1, 2], [97, 97, 97], [97, 97, 97, 97], [5], [], [1, 2, 3, 1, 2], ref.to_bytes("dreißig")]
    for ids in cases:
        with case(f"ids={ids}"):
            want = ref.count_pairs(ids)
            before = list(ids)
            got = call(fn, ids := _Given(ids))
            _unchanged(before, ids, "ids")
            if got is None:
                raise CheckFailed("the result is None — did you forget to `return` the counts?")
            if not isinstance(got, dict):
                raise CheckFailed(f"the result should be a dict {{(a, b): count}} but is a {type(got).__name__}")
            got = {tuple(k) if isinstance(k, list) else k: v for k, v in got.items()}
            if got == want:
                continue
            if len(ids) >= 2 and got == ref.count_pairs([*ids, ids[0]]):
                raise CheckFailed(f"it counts the pair {(ids[-1], ids[0])} that wraps around from the last id to "
                                  f"the first; pairs are neighbours only: zip(ids, ids[1:])")
            if len(set(ids)) == 1 and got.get(tuple(ids[:2]), 0) < want[tuple(ids[:2])]:
                raise CheckFailed(f"it counts {tuple(ids[:2])} {got.get(tuple(ids[:2]), 0)} time(s) in {ids}, but "
                                  f"every neighbouring position counts, overlapping ones too: "
                                  f"{want[tuple(ids[:2])]}. (Overlaps are dealt with when merging, not counting)")
            if len(ids) >= 2 and got == ref.count_pairs(ids[:-1]):
                raise CheckFailed(f"it misses the last pair {(ids[-2], ids[-1])}: a list of n ids has n - 1 pairs, "
                                  f"the last one at positions n - 2, n - 1")
            extra = sorted(set(got) - set(want))
            if extra:
                raise CheckFailed(f"it counts the pair {extra[0]}, which is not two neighbours in {ids}")
            missing = sorted(set(want) - set(got))
            if missing:
                raise CheckFailed(f"it never counts the pair {missing[0]}, which occurs {want[missing[0]]} time(s)")
            pair = next(p for p in want if got[p] != want[p])
            raise CheckFailed(f"it counts {pair} {got[pair]} time(s) but it occurs {want[pair]} time(s)")


def check_count_pairs(learner: Callable) -> Callable:
    """Check the learner's `count_pairs`; returns theirs if right, the reference if not done."""
    return exercise("count_pairs", learner, ref.count_pairs, _check_count_pairs)


def _check_merge(fn: Callable) -> None:
    a = 97
    cases = [([a, a, a], (a, a)), ([1, 2, 1, 2, 3], (1, 2)), ([a, a, a, a], (a, a)), ([1, 2, 3, 1, 2], (1, 2)), ([3, 1, 2], (1, 2)),
             ([1, 2], (1, 2)), ([1], (1, 2)), ([2, 1], (1, 2)), ([], (1, 2))]
    for ids, pair in cases:
        with case(f"ids={ids}, pair={pair}, new_id=256"):
            want = ref.merge(ids, pair, 256)
            before = list(ids)
            got = _ints(call(fn, ids := _Given(ids), pair, 256), "the result")
            _unchanged(before, ids, "ids")
            if got == want:
                continue
            if pair[0] == pair[1] and got.count(256) > want.count(256):
                raise CheckFailed(f"it merges overlapping pairs twice: in {ids} the first {pair} uses up both "
                                  f"tokens, so the next one starts two places on: expected {want}, got {got}. "
                                  f"After a merge, skip both tokens (i += 2)")
            if ids[-2:] == list(pair) and got[-2:] == list(pair):
                raise CheckFailed(f"it does not merge the pair at the very end of {ids}: got {got}, expected "
                                  f"{want}. Look at every position up to len(ids) - 2")
            if got.count(256) < want.count(256):
                raise CheckFailed(f"it merges {got.count(256)} occurrence(s) of {pair} where there are "
                                  f"{want.count(256)}: expected {want}, got {got}")
            raise CheckFailed(f"the result {got} should be {want}: {_first_difference(got, want)}")


def check_merge(learner: Callable) -> Callable:
    """Check the learner's `merge`; returns theirs if right, the reference if not done."""
    return exercise("merge", learner, ref.merge, _check_merge)


# --- training ---------------------------------------------------------------------------------------------

# A small corpus with ties (every pair of "ab cd" occurs equally often) and repeated words.
TRAIN_TEXTS = [("aaabdaaabac", 259), ("ab cd ab cd", 258), ("ein und zwanzig und dreißig und vierzig", 270),
               ("abab abab", 300)]


def _pieces(merges: Sequence[tuple[int, int]]) -> list[bytes]:
    return ref.vocab(merges)


def _name(pair: tuple[int, int], table: list[bytes]) -> str:
    a, b = pair
    def show(i):
        return repr(table[i])[1:] if i < len(table) else f"id {i}"
    return f"({show(a)} + {show(b)})"


def _counts(text: str, merges: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Pair counts (within chunks) after the given merges were applied: what the next merge is chosen from."""
    counts: dict[tuple[int, int], int] = {}
    for chunk in ref.pre_split(text):
        for pair, n in ref.count_pairs(ref.encode_chunk(ref.to_bytes(chunk), merges)).items():
            counts[pair] = counts.get(pair, 0) + n
    return counts


def _whole_text_counts(text: str, merges: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
    ids = ref.to_bytes(text)
    for i, pair in enumerate(merges):
        ids = ref.merge(ids, pair, ref.N_BYTES + i)
    return ref.count_pairs(ids)


def _no_spaces(merges: Sequence[tuple[int, int]]) -> bool:
    """Whether no learned piece holds a space (merges that do not fit the byte table count as holding none)."""
    try:
        table = ref.vocab(merges)
        return not any(b" " in table[x] for pair in merges for x in pair)
    except (IndexError, TypeError):
        return False


def _check_train(fn: Callable) -> None:
    for text, vocab_size in TRAIN_TEXTS:
        with case(f"text={text!r}, vocab_size={vocab_size}"):
            want = ref.train(text, vocab_size)
            got = call(fn, text, vocab_size)
            if got is None:
                raise CheckFailed("the result is None — did you forget to `return` the merges?")
            try:
                got = [tuple(p) for p in got]
            except TypeError:
                raise CheckFailed(f"the result should be a list of pairs (a, b) but is {got!r:.60}") from None
            if got == want:
                continue
            table = _pieces(want)
            if any(b" " in table[x] for pair in want for x in pair) and _no_spaces(got):
                raise CheckFailed(f"none of its {len(got)} merges holds a space, but the expected ones do (e.g. "
                                  f"{_name(next(p for p in want if any(b' ' in table[x] for x in p)), table)}): "
                                  f"its chunks lose their spaces. Cut with ref.pre_split(text), which keeps the "
                                  f"space in front of each word (' und'), not text.split()")
            for i, (g, w) in enumerate(zip(got, want)):
                if g == w:
                    continue
                counts = _counts(text, want[:i])
                where = f"merge {i} (token {ref.N_BYTES + i})"
                if counts.get(g, 0) == 0:
                    if _whole_text_counts(text, got[:i]).get(g, 0):
                        raise CheckFailed(f"{where} is {_name(g, table)}, a pair that spans two chunks: it counts "
                                          f"pairs across word boundaries. Count (and merge) inside each chunk of "
                                          f"pre_split(text) only")
                    raise CheckFailed(f"{where} is {g}, a pair that does not occur in the text after the merges "
                                      f"before it (expected {_name(w, table)}); is new_id = 256 + i?")
                if counts[g] == counts[w]:
                    raise CheckFailed(f"{where} is {_name(g, table)} but should be {_name(w, table)}: both occur "
                                      f"{counts[w]} times, a tie, and the page's rule breaks ties by the smallest "
                                      f"pair (a, b), i.e. max over (count, -a, -b)")
                raise CheckFailed(f"{where} is {_name(g, table)}, which occurs {counts[g]} times, but "
                                  f"{_name(w, table)} occurs {counts[w]} times: merge the most frequent pair")
            if len(got) > len(want):
                if ref.N_BYTES + len(want) >= vocab_size:
                    raise CheckFailed(f"it learns {len(got)} merges; with vocab_size={vocab_size} there is room for "
                                      f"{vocab_size} - 256 = {len(want)} (the 256 bytes count too)")
                raise CheckFailed(f"it learns {len(got)} merges, but after {len(want)} no pair occurs twice any "
                                  f"more; stop there (a merge that saves one token is not worth a vocabulary entry)")
            raise CheckFailed(f"it learns {len(got)} merges but should learn {len(want)} (vocab_size={vocab_size} "
                              f"counts the 256 bytes; stop early only when no pair occurs twice)")


def check_train(learner: Callable) -> Callable:
    """Check the learner's `train`; returns theirs if right, the reference if not done."""
    return exercise("train", learner, ref.train, _check_train)


# --- encoding and decoding --------------------------------------------------------------------------------

ENCODE_CORPUS = "ein und zwanzig und dreißig und vierzig einundzwanzig dreiundzwanzig " * 3
ENCODE_TEXTS = ["einundzwanzig", "dreiundvierzig", "und", "zwanzig und", "ßüß", "neu", "€uro 🙂", "", "  ",
                "abcabc", "vierzig einundzwanzig"]


def _greedy_longest(text: str, merges: Sequence[tuple[int, int]]) -> list[int]:
    """The mistake: in each chunk, always take the longest vocabulary piece that fits, left to right."""
    table = ref.vocab(merges)
    lookup = {piece: i for i, piece in enumerate(table)}
    out = []
    for chunk in ref.pre_split(text):
        data, i = chunk.encode("utf-8"), 0
        while i < len(data):
            j = max(j for j in range(i + 1, len(data) + 1) if data[i:j] in lookup)
            out.append(lookup[data[i:j]])
            i = j
    return out


def _reversed_order(text: str, merges: Sequence[tuple[int, int]]) -> list[int]:
    out = []
    for chunk in ref.pre_split(text):
        ids = ref.to_bytes(chunk)
        for i in reversed(range(len(merges))):
            ids = ref.merge(ids, merges[i], ref.N_BYTES + i)
        out += ids
    return out


def _one_pass_by_position(text: str, merges: Sequence[tuple[int, int]]) -> list[int]:
    """The mistake: merge the leftmost known pair first, again and again, whatever its rank."""
    new_ids = {pair: ref.N_BYTES + i for i, pair in enumerate(merges)}
    out = []
    for chunk in ref.pre_split(text):
        ids = ref.to_bytes(chunk)
        while True:
            known = [p for p in itertools.pairwise(ids) if p in new_ids]
            if not known:
                break
            ids = ref.merge(ids, known[0], new_ids[known[0]])
        out += ids
    return out


_ENCODE_MISTAKES = {
    "it picks the longest piece of the vocabulary that fits, left to right; BPE applies the merges "
    "in the order they were learned (the lowest new id first), whatever the lengths": _greedy_longest,
    "it applies the merges from the last learned to the first; apply them in the order they were learned":
        _reversed_order,
    "it merges the leftmost pair it knows first; merge the pair that was learned first (lowest new id), "
    "wherever it is": _one_pass_by_position,
    "it does not pre-split the text, so merges may cross chunk boundaries; encode each chunk of "
    "pre_split(text) on its own": lambda t, m: ref.encode_chunk(ref.to_bytes(t), m),
}


def _check_encode(fn: Callable) -> None:
    learned = ref.train(ENCODE_CORPUS, 290)
    toy = [(98, 99), (97, 98), (257, 99), (99, 97)]   # 'bc' is learned before 'ab'
    toy2 = [(97, 98), (98, 99), (97, 257)]            # 'ab' first, and a longer piece 'a' + 'bc' learned later
    across = [(97, 32)]                               # 'a ' spans two chunks: pre-split text never uses it
    cases = [("abc", toy), ("abcabc", toy), ("cab", toy), ("abc", toy2), ("a a", across)] + [(t, learned) for t in ENCODE_TEXTS]
    results = []  # (text, merges, got, want, the mistakes that give `got`)
    for text, merges in cases:
        described = (f"merges {[ref.vocab(merges)[ref.N_BYTES + i] for i in range(len(merges))]}"
                     if len(merges) < 5 else f"{len(merges)} merges learned from number words")
        with case(f"text={text!r}, {described}"):
            want = ref.encode(text, merges)
            frozen = copy.deepcopy(merges)
            got = _ints(call(fn, text, given := _Given(merges)), "the result")
            _unchanged(frozen, given, "merges")
            table = ref.vocab(merges)
            if got != want and not all(0 <= i < len(table) for i in got):
                raise CheckFailed(f"the ids for {text!r} are {got}, but ids run from 0 to {len(table) - 1} "
                                  f"(256 bytes and {len(merges)} merges)")
            if got != want and ref.decode(got, merges, ()) != text:
                raise CheckFailed(f"decoding its ids {got} gives {ref.decode(got, merges, ())!r}, not the text "
                                  f"{text!r}: every byte of the text must end up in exactly one token")
            matching = {d for d, wrong in _ENCODE_MISTAKES.items() if wrong(text, merges) == got}
            results.append((text, merges, got, want, matching))
    failures = [r for r in results if r[2] != r[3]]
    if not failures:
        return
    consistent = set.intersection(*(r[4] for r in results))  # mistakes that explain every answer, right or wrong
    text, merges, got, want, _ = failures[0]
    table = ref.vocab(merges)
    def pieces(ids):
        return [table[i] for i in ids]
    head = (f"the ids for {text!r} (case: {len(merges)} merges) are {got} (pieces {pieces(got)}) but should be "
            f"{want} (pieces {pieces(want)})")
    if len(consistent) == 1:
        raise CheckFailed(f"{head}: {consistent.pop()}")
    raise CheckFailed(f"{head}: {_first_difference(pieces(got), pieces(want))}. Apply, in each chunk, the merge "
                      f"learned first (lowest new id) among the pairs present, again and again")


def check_encode(learner: Callable) -> Callable:
    """Check the learner's `encode`; returns theirs if right, the reference if not done."""
    return exercise("encode", learner, ref.encode, _check_encode)


def _check_decode(fn: Callable) -> None:
    merges = ref.train(ENCODE_CORPUS, 290)
    n = ref.N_BYTES + len(merges)
    cases = [(f"the ids of {t!r}", ref.encode(t, merges)) for t in ENCODE_TEXTS]
    cases += [("'ü' as two one-byte tokens [195, 188]", [195, 188]),
              ("'ß' split across two tokens, [223 as 195, 159] with 'ig' after", [195, 159, 105, 103]),
              (f"<bos> 'und' <eos> (specials are ids {n}, {n + 1}, {n + 2})", [n + 1, *ref.encode("und", merges), n + 2]),
              ("a lone first half of 'ü' [195] (a model can write that)", [195])]
    for description, ids in cases:
        with case(description):
            want = ref.decode(ids, merges)
            try:
                got = call(fn, list(ids), merges, ref.SPECIALS)
            except UnicodeDecodeError:
                raise CheckFailed("it raises UnicodeDecodeError on ids that do not make a whole character; "
                                  "decode with errors='replace'") from None
            if got == want:
                continue
            if not isinstance(got, str):
                raise CheckFailed(f"the result should be a str but is {type(got).__name__}")
            table = ref.vocab(merges)
            per_token = "".join(table[i].decode("utf-8", "replace") if i < n else ref.SPECIALS[i - n] for i in ids)
            if got == per_token:
                raise CheckFailed(f"it decodes each token on its own, which breaks a character whose bytes sit in "
                                  f"two tokens: got {got!r}, expected {want!r}. Join all the bytes first, then "
                                  f"decode once")
            raise CheckFailed(f"the text is {got!r} but should be {want!r}")


def check_decode(learner: Callable) -> Callable:
    """Check the learner's `decode`; returns theirs if right, the reference if not done."""
    return exercise("decode", learner, ref.decode, _check_decode)


def _check_encode_with_specials(fn: Callable) -> None:
    merges = ref.train(ENCODE_CORPUS, 290)
    n = ref.N_BYTES + len(merges)
    texts = ["<bos>einundzwanzig<eos>", "<bos>", "und<pad><pad>", "zwanzig <eos> und", "<bo", "<bos<eos>>", "und"]
    for text in texts:
        with case(f"text={text!r}, specials {list(ref.SPECIALS)} = ids {n}, {n + 1}, {n + 2}"):
            want = ref.encode_with_specials(text, merges)
            got = _ints(call(fn, text, merges, ref.SPECIALS), "the result")
            if got == want:
                continue
            if got == ref.encode(text, merges):
                raise CheckFailed(f"it splits the special tokens into bytes: {text!r} should give {want}, with "
                                  f"each special as its one id; cut the text at the specials first (re.split "
                                  f"with a group keeps them)")
            wrong = [(g, w) for g, w in zip(got, want) if g != w]
            if len(got) == len(want) and all(w >= n for _, w in wrong):
                g, w = wrong[0]
                raise CheckFailed(f"it gives {ref.SPECIALS[w - n]} the id {g}, but the specials come after the bytes "
                                  f"and the merges: <pad> = 256 + len(merges) = {n}, <bos> = {n + 1}, <eos> = {n + 2}")
            raise CheckFailed(f"the ids for {text!r} should be {want}, got {got}: {_first_difference(got, want)}")


def check_encode_with_specials(learner: Callable) -> Callable:
    """Check the learner's `encode_with_specials`; returns theirs if right, the reference if not done."""
    return exercise("encode_with_specials", learner, ref.encode_with_specials, _check_encode_with_specials)


# --- round trip --------------------------------------------------------------------------------------------


def random_text(rng: random.Random, length: int) -> str:
    """A random string of Unicode code points (no surrogates), with spaces and known letters mixed in."""
    alphabet = "aeinruzwgß ü\n"
    out = []
    for _ in range(length):
        if rng.random() < 0.5:
            out.append(rng.choice(alphabet))
        else:
            while True:
                code = rng.choice([rng.randrange(0x80), rng.randrange(0x800), rng.randrange(0x10000),
                                   rng.randrange(0x110000)])
                if not 0xD800 <= code <= 0xDFFF:
                    break
            out.append(chr(code))
    return "".join(out)


def round_trip_failures(encode_fn: Callable, decode_fn: Callable, merges: Sequence[tuple[int, int]],
                        n: int = 200, seed: int = 0) -> list[str]:
    """The random strings for which decode(encode(text)) != text (empty if the round trip is exact)."""
    rng = random.Random(seed)
    texts = [random_text(rng, rng.randrange(0, 30)) for _ in range(n)]
    return [t for t in texts if decode_fn(encode_fn(t, merges), merges) != t]
