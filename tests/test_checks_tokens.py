"""Notebook 10's tokenizer checks: the reference and a learner's copy pass, a stub is not done, each mistake is named."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest
from contract import assert_not_done, fails_with, passes

from transformer_course import tokenizer as T
from transformer_course.checks import tokens as C

CHECKS = [
    (C.check_to_bytes, T.to_bytes, "to_bytes"),
    (C.check_from_bytes, T.from_bytes, "from_bytes"),
    (C.check_count_pairs, T.count_pairs, "count_pairs"),
    (C.check_merge, T.merge, "merge"),
    (C.check_train, T.train, "train"),
    (C.check_encode, T.encode, "encode"),
    (C.check_decode, T.decode, "decode"),
    (C.check_encode_with_specials, T.encode_with_specials, "encode_with_specials"),
]


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.delenv("TRANSFORMER_COURSE_STRICT", raising=False)


@pytest.mark.parametrize("check, reference, name", CHECKS)
def test_reference_copy_passes(check, reference, name, capsys):
    assert passes(check, reference)
    assert capsys.readouterr().out == f"✔ {name}: correct\n"


@pytest.mark.parametrize("check, reference, name", CHECKS)
def test_stub_and_reference_are_not_done(check, reference, name, capsys, monkeypatch):
    def stub(*args):
        raise NotImplementedError

    assert_not_done(check, stub, reference, name, capsys, monkeypatch)
    monkeypatch.delenv("TRANSFORMER_COURSE_STRICT", raising=False)
    assert check(reference) is reference  # the check cell run again on the reference it handed back
    assert "not done yet" in capsys.readouterr().out


def test_other_right_answers_pass(capsys):
    C.check_to_bytes(lambda text: text.encode("utf-8"))      # bytes are a sequence of ints too
    C.check_count_pairs(lambda ids: dict(Counter(itertools.pairwise(ids))))

    def merge_by_index(ids, pair, new_id):
        out = list(ids)
        i = 0
        while i < len(out) - 1:
            if (out[i], out[i + 1]) == pair:
                out[i:i + 2] = [new_id]
            i += 1
        return out

    C.check_merge(merge_by_index)

    def encode_merge_list_order(text, merges):  # each merge once over the whole chunk, in order: the same
        out = []
        for chunk in T.pre_split(text):
            ids = T.to_bytes(chunk)
            for i, pair in enumerate(merges):
                ids = T.merge(ids, pair, 256 + i)
            out += ids
        return out

    C.check_encode(encode_merge_list_order)
    assert capsys.readouterr().out.count("correct") == 4


# --- the named mistakes -------------------------------------------------------------------------------------

def test_to_bytes_mistakes():
    fails_with(C.check_to_bytes, lambda text: [ord(c) for c in text], "code point (ord)", "text.encode('utf-8')")
    fails_with(C.check_to_bytes, lambda text: list(text.encode("utf-16-le")), "another encoding than UTF-8")
    fails_with(C.check_to_bytes, lambda text: None, "forget to `return`")


def test_from_bytes_mistakes():
    fails_with(C.check_from_bytes, lambda ids: "".join(chr(i) for i in ids), "each byte into a character")
    fails_with(C.check_from_bytes, lambda ids: bytes(ids).decode("utf-8"), "errors='replace'")
    fails_with(C.check_from_bytes, lambda ids: bytes(ids), "should be a str", ".decode('utf-8')")


def test_count_pairs_mistakes():
    fails_with(C.check_count_pairs, lambda ids: dict(Counter(itertools.pairwise([*ids, *ids[:1]]))), "wraps around")
    fails_with(C.check_count_pairs, lambda ids: dict(Counter((ids[i], ids[i + 1]) for i in range(len(ids) - 2))), "misses the last pair")

    def non_overlapping(ids):  # counts 'aaaa' as two (a, a) pairs, 'aaa' as one
        counts, i = {}, 0
        while i < len(ids) - 1:
            counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
            i += 2 if ids[i] == ids[i + 1] else 1
        return counts

    fails_with(C.check_count_pairs, non_overlapping, "overlapping ones too")
    fails_with(C.check_count_pairs, lambda ids: list(itertools.pairwise(ids)), "should be a dict")

    def in_place(ids):
        counts = T.count_pairs(ids)
        ids.clear()
        return counts

    fails_with(C.check_count_pairs, in_place, "in place")


def test_merge_mistakes():
    def overlapping_twice(ids, pair, new_id):  # moves on by one after a merge, so 'aaa' gives [new, new, a]
        out = []
        for i in range(len(ids)):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
            elif i == 0 or (ids[i - 1], ids[i]) != pair:
                out.append(ids[i])
        return out

    fails_with(C.check_merge, overlapping_twice, "merges overlapping pairs twice", "skip both tokens")

    def misses_the_end(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids) - 2:
            if (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        return out + list(ids[i:])

    fails_with(C.check_merge, misses_the_end, "pair at the very end")

    def only_first(ids, pair, new_id):
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == pair:
                return list(ids[:i]) + [new_id] + list(ids[i + 2:])
        return list(ids)

    fails_with(C.check_merge, only_first, "occurrence(s)")

    def in_place(ids, pair, new_id):
        out = T.merge(ids, pair, new_id)
        ids[:] = out
        return out

    fails_with(C.check_merge, in_place, "in place")


def test_train_mistakes():
    def first_seen_on_ties(text, vocab_size):  # minbpe's max(stats, key=stats.get): the first pair seen wins ties
        words = [T.to_bytes(w) for w in T.pre_split(text)]
        merges = []
        while 256 + len(merges) < vocab_size:
            counts = {}
            for ids in words:
                for pair, n in T.count_pairs(ids).items():
                    counts[pair] = counts.get(pair, 0) + n
            if not counts or max(counts.values()) < 2:
                break
            pair = max(counts, key=counts.get)
            words = [T.merge(ids, pair, 256 + len(merges)) for ids in words]
            merges.append(pair)
        return merges

    fails_with(C.check_train, first_seen_on_ties, "a tie", "smallest pair")

    def whole_text(text, vocab_size):  # no pre-split: pairs counted across word boundaries
        ids, merges = T.to_bytes(text), []
        while 256 + len(merges) < vocab_size:
            counts = T.count_pairs(ids)
            if not counts or max(counts.values()) < 2:
                break
            pair = T.most_frequent(counts)
            ids = T.merge(ids, pair, 256 + len(merges))
            merges.append(pair)
        return merges

    fails_with(C.check_train, whole_text, "across word boundaries")
    fails_with(C.check_train, lambda text, vocab_size: T.train(" ".join(text.split()).replace(" ", "\n"), vocab_size),
               "lose their spaces", "not text.split()")
    fails_with(C.check_train, lambda text, vocab_size: T.train(text, vocab_size + 1), "there is room for")
    fails_with(C.check_train, lambda text, vocab_size: T.train(text, vocab_size - 1), "should learn")

    def least_frequent(text, vocab_size):
        merges = T.train(text, vocab_size)
        return [(merges[1], merges[0])[0]] + merges[1:] if len(merges) > 1 else merges

    fails_with(C.check_train, least_frequent, "merge")

    def no_early_stop(text, vocab_size):  # keeps merging pairs that occur once
        words = Counter(T.pre_split(text))
        chunks = [T.to_bytes(w) for w in words]
        merges = []
        while 256 + len(merges) < vocab_size:
            counts = {}
            for ids, freq in zip(chunks, words.values()):
                for pair, n in T.count_pairs(ids).items():
                    counts[pair] = counts.get(pair, 0) + n * freq
            if not counts:
                break
            pair = T.most_frequent(counts)
            chunks = [T.merge(ids, pair, 256 + len(merges)) for ids in chunks]
            merges.append(pair)
        return merges

    fails_with(C.check_train, no_early_stop, "no pair occurs twice")
    fails_with(C.check_train, lambda text, vocab_size: None, "forget to `return`")


@pytest.mark.parametrize("mistake", list(C._ENCODE_MISTAKES))
def test_encode_mistakes(mistake):
    fails_with(C.check_encode, C._ENCODE_MISTAKES[mistake], mistake)


def test_encode_other_mistakes():
    fails_with(C.check_encode, lambda text, merges: T.to_bytes(text), "should be")   # no merges at all
    fails_with(C.check_encode, lambda text, merges: T.encode(text, merges)[:-1] if text else [],
               "every byte of the text")


def test_decode_mistakes():
    def per_token(ids, merges, specials):
        table = T.vocab(merges)
        return "".join(table[i].decode("utf-8", "replace") if i < len(table) else specials[i - len(table)]
                       for i in ids)

    fails_with(C.check_decode, per_token, "decodes each token on its own", "Join all the bytes first")
    def strict(ids, merges, specials):
        table = T.vocab(merges) + [s.encode() for s in specials]
        return b"".join(table[i] for i in ids).decode("utf-8")

    fails_with(C.check_decode, strict, "UnicodeDecodeError", "errors='replace'")

    def drops_specials(ids, merges, specials):
        return T.decode([i for i in ids if i < 256 + len(merges)], merges, specials)

    fails_with(C.check_decode, drops_specials, "should be '<bos>und<eos>'")


def test_encode_with_specials_mistakes():
    fails_with(C.check_encode_with_specials, lambda text, merges, specials: T.encode(text, merges),
               "splits the special tokens into bytes")

    def specials_first(text, merges, specials):  # <pad> = 0, <bos> = 1, ...: collides with the bytes
        ids = []
        for part in re.split("(" + "|".join(map(re.escape, specials)) + ")", text):
            ids += [specials.index(part)] if part in specials else T.encode(part, merges)
        return ids

    fails_with(C.check_encode_with_specials, specials_first, "gives <bos> the id 1", "come after the bytes")

    def off_by_one(text, merges, specials):
        return [i + 1 if i >= 256 + len(merges) else i for i in T.encode_with_specials(text, merges, specials)]

    fails_with(C.check_encode_with_specials, off_by_one, "the specials come after the bytes and the merges")


# --- the reference itself ---------------------------------------------------------------------------------

def test_worked_example():
    """minbpe's example 'aaabdaaabac': 'aa' first, then a tie ('aa'+'a' and 'a'+'b' twice each) that the rule breaks."""
    merges = T.train("aaabdaaabac", 259)
    assert merges == [(97, 97), (97, 98), (256, 257)]   # minbpe, first pair seen wins: (256, 97), then (257, 98)
    assert T.encode("aaabdaaabac", merges) == [258, 100, 258, 97, 99]
    assert T.merge([97, 97, 97], (97, 97), 256) == [256, 97]


def test_round_trip_on_random_unicode():
    """decode(encode(text)) == text for random strings of any code points, with merges from German."""
    merges = T.train(C.ENCODE_CORPUS, 290)
    assert C.round_trip_failures(T.encode, T.decode, merges, n=500, seed=1) == []
    tok = T.BPETokenizer(merges)
    assert tok.decode(tok.encode("<bos>größer 🙂<eos>")) == "<bos>größer 🙂<eos>"
    assert tok.encode("<bos>")[0] == tok.special_id("<bos>") == tok.vocab_size - 2
