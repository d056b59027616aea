"""The capstone's data: number words, vocabularies, splits and batches."""

import random
import re

import pytest
import torch

from transformer_course.task.number_words import (
    BOS_ID, DE_VOCAB, EN_VOCAB, EOS_ID, MAX_SRC_LEN, MAX_TGT_LEN, PAD_ID, Vocab, batch_iterator,
    collate, english, english_tokens, german, german_tokens, make_batch, make_splits, number_families,
    sample_number,
)

num2words = pytest.importorskip("num2words").num2words

# All of 0..9,999, every thousands prefix (k * 1000 and k * 1000 + 1), a fixed
# random sample of the rest, and every special case we know of. Each number is
# "prefix tausend tail", so this covers every prefix and every tail.
SAMPLE = sorted(set(range(10_000)) | {k * 1000 + d for k in range(1000) for d in (0, 1)}
                | set(random.Random(1234).sample(range(10_000, 1_000_000), 10_000)))
SPECIAL = [0, 1, 11, 12, 16, 17, 21, 30, 71, 100, 101, 111, 121, 200, 1000, 1001, 1011, 1021,
           1100, 1101, 2001, 10_000, 11_000, 16_000, 17_017, 21_000, 21_021, 70_000, 100_000,
           100_001, 101_000, 101_101, 111_111, 121_121, 201_001, 999_999]


# -- spot checks, the exact strings written out ---------------------------------

@pytest.mark.parametrize("n, tokens", [
    (0, "null"),
    (1, "eins"),
    (16, "sechzehn"),
    (17, "siebzehn"),
    (21, "ein und zwanzig"),
    (30, "dreißig"),
    (100, "ein hundert"),
    (101, "ein hundert eins"),
    (321, "drei hundert ein und zwanzig"),
    (1001, "ein tausend eins"),
    (21_000, "ein und zwanzig tausend"),
    (70_000, "siebzig tausend"),
    (101_000, "ein hundert ein tausend"),
    (999_999, "neun hundert neun und neunzig tausend neun hundert neun und neunzig"),
])
def test_german_tokens_spot_checks(n, tokens):
    assert german_tokens(n) == tokens.split()


@pytest.mark.parametrize("n, word", [
    (1, "eins"), (16, "sechzehn"), (17, "siebzehn"), (21, "einundzwanzig"),
    (101, "einhunderteins"), (1001, "eintausendeins"), (70_000, "siebzigtausend"),
    (101_000, "einhunderteintausend"),
    (999_999, "neunhundertneunundneunzigtausendneunhundertneunundneunzig"),
])
def test_german_spot_checks(n, word):
    assert german(n) == word


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (1, "one"), (16, "sixteen"), (17, "seventeen"), (21, "twenty one"),
    (101, "one hundred one"), (321, "three hundred twenty one"), (1001, "one thousand one"),
    (70_000, "seventy thousand"), (100_000, "one hundred thousand"),
    (999_999, "nine hundred ninety nine thousand nine hundred ninety nine"),
])
def test_english_spot_checks(n, words):
    assert english_tokens(n) == words.split()
    assert english(n) == words


# -- against num2words -------------------------------------------------------------

def num2words_german(n):
    """num2words' German, with its one known slip fixed.

    num2words 0.5.14 writes 101,000 as "einhunderteinstausend"; standard German
    (Duden) is "einhunderteintausend", the "eins" form is only for a one that
    ends the number. Checked below so that we notice if num2words changes.
    """
    return num2words(n, lang="de").replace("einstausend", "eintausend")


def num2words_english(n):
    """num2words' English without the British "and", hyphens and commas."""
    words = num2words(n, lang="en").replace("-", " ").replace(",", "")
    return re.sub(r"\band\b", " ", words).split()


def test_num2words_slip_we_correct():
    if num2words(101_000, lang="de") == "einhunderteintausend":
        pytest.skip("num2words no longer writes 'einstausend'; the correction is now a no-op")
    assert num2words(101_000, lang="de") == "einhunderteinstausend"
    assert german(101_000) == "einhunderteintausend"


def test_german_matches_num2words():
    wrong = [(n, german(n), num2words_german(n)) for n in SAMPLE + SPECIAL if german(n) != num2words_german(n)]
    assert not wrong, f"{len(wrong)} numbers differ, e.g. (n, ours, num2words): {wrong[:5]}"


def test_english_matches_num2words():
    wrong = [(n, english_tokens(n), num2words_english(n))
             for n in SAMPLE + SPECIAL if english_tokens(n) != num2words_english(n)]
    assert not wrong, f"{len(wrong)} numbers differ, e.g. (n, ours, num2words): {wrong[:5]}"


def test_out_of_range_is_refused():
    for bad in (-1, 1_000_000):
        with pytest.raises(ValueError, match="0 to 999,999"):
            english_tokens(bad)
        with pytest.raises(ValueError, match="0 to 999,999"):
            german_tokens(bad)
    with pytest.raises(TypeError):
        german_tokens(1.0)


# -- vocabularies ------------------------------------------------------------------

def test_vocab_specials_and_round_trip():
    for vocab, to_tokens in ((EN_VOCAB, english_tokens), (DE_VOCAB, german_tokens)):
        assert vocab.itos[:3] == ["<pad>", "<bos>", "<eos>"]
        assert (PAD_ID, BOS_ID, EOS_ID) == (0, 1, 2)
        for n in SPECIAL:
            tokens = to_tokens(n)
            ids = vocab.encode(tokens, bos=True, eos=True)
            assert ids[0] == BOS_ID and ids[-1] == EOS_ID
            assert vocab.decode(ids) == tokens
            assert vocab.decode(torch.tensor(ids + [PAD_ID, PAD_ID])) == tokens


def test_vocab_covers_every_token_and_is_deterministic():
    en = {t for n in SAMPLE for t in english_tokens(n)}
    de = {t for n in SAMPLE for t in german_tokens(n)}
    assert set(EN_VOCAB.itos[3:]) == en
    assert set(DE_VOCAB.itos[3:]) == de
    assert Vocab(t for n in range(1001) for t in german_tokens(n)).itos == DE_VOCAB.itos
    assert len(EN_VOCAB) == 3 + 20 + 8 + 2   # specials, zero..nineteen, tens, hundred, thousand
    assert len(DE_VOCAB) == 3 + 21 + 8 + 3   # specials, null eins..neunzehn ein, tens, und hundert tausend


def test_decode_stops_at_eos_and_skips_specials():
    ids = [BOS_ID] + DE_VOCAB.encode(["ein", "und", "zwanzig"]) + [EOS_ID] + DE_VOCAB.encode(["null"])
    assert DE_VOCAB.decode(ids) == ["ein", "und", "zwanzig"]
    assert DE_VOCAB.decode([PAD_ID, BOS_ID]) == []


def test_unknown_token_names_it():
    with pytest.raises(ValueError, match="'eleventy'"):
        EN_VOCAB.encode(["one", "eleventy"])


# -- splits --------------------------------------------------------------------------

def test_splits_are_disjoint_sized_and_seeded():
    held_out = {5000, 123_456}
    train, val, test = make_splits(5000, 500, 700, seed=3, held_out=held_out)
    assert (len(train), len(val), len(test)) == (5000, 500, 700)
    assert len(set(val)) == 500 and len(set(test)) == 700
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert not set(train) & held_out
    assert all(0 <= n <= 999_999 for n in train + val + test)
    assert make_splits(5000, 500, 700, seed=3, held_out=held_out) == (train, val, test)
    assert make_splits(5000, 500, 700, seed=4)[2] != test


def test_training_set_holds_every_small_number():
    train, val, test = make_splits(2000, 100, 100, seed=0)
    assert set(range(1000)) <= set(train)
    assert min(val + test) >= 1000
    with pytest.raises(ValueError, match="n_small"):
        make_splits(500, 10, 10, seed=0)
    with pytest.raises(ValueError, match="half"):
        make_splits(1000, 10, 10, seed=0, max_number=1009)


def test_sample_number_by_digit_pattern():
    rng = random.Random(0)
    uniform = [sample_number(rng, 0.1) for _ in range(20_000)]
    zeros = [sample_number(rng, 0.4) for _ in range(20_000)]
    assert all(0 <= n <= 999_999 for n in uniform + zeros)
    # p_zero = 0.1: each digit uniform, so one number in 1000 is below 1000; 0.4: 0.4 ** 3 = 6.4 %
    assert sum(n < 1000 for n in uniform) / 20_000 < 0.003
    assert 0.055 < sum(n < 1000 for n in zeros) / 20_000 < 0.075
    assert 0.055 < sum(n % 1000 == 0 for n in zeros) / 20_000 < 0.075
    first_digits = [n // 100_000 for n in uniform]
    assert all(0.08 < first_digits.count(d) / 20_000 < 0.12 for d in range(10))


def test_number_families_are_what_they_say_and_seeded():
    families = number_families(seed=0, size=50)
    assert families == number_families(seed=0, size=50) and families != number_families(seed=1, size=50)
    assert families["0..999"] == list(range(1000))
    assert families["n00,000"] == [100_000 * k for k in range(1, 10)]
    for name, numbers in families.items():
        assert numbers == sorted(set(numbers)) and all(0 <= n <= 999_999 for n in numbers), name
        assert len(numbers) == (1000 if name == "0..999" else 9 if name == "n00,000" else 50), name
        if name != "0..999":
            assert min(numbers) >= 1000, name
    assert all(n % 1000 == 0 for n in families["n,000"])
    assert all(n % 1000 == 1 for n in families["n,001"])
    assert all(2 <= n % 1000 <= 99 for n in families["n,002..n,099"])
    assert all(str(n).count("0") >= 3 for n in families["three or more 0 digits"])
    assert all(n % 100 in (1, 21, 31, 41, 51, 61, 71, 81, 91) or 10 <= n % 100 <= 19
               for n in families["ending in 01, 1x or x1"])


# -- batches -------------------------------------------------------------------------

def test_make_batch_pads_and_wraps_target():
    src, tgt = make_batch([21, 999_999, 0])
    assert src.dtype == tgt.dtype == torch.long
    assert src.shape == (3, 9) and tgt.shape == (3, 13)
    assert EN_VOCAB.decode(src[0]) == ["twenty", "one"]
    assert src[0, 2:].eq(PAD_ID).all()
    assert tgt[:, 0].eq(BOS_ID).all()
    assert tgt[0, :5].tolist() == [BOS_ID] + DE_VOCAB.encode(["ein", "und", "zwanzig"]) + [EOS_ID]
    assert tgt[0, 5:].eq(PAD_ID).all()
    assert tgt[1, -1] == EOS_ID
    assert DE_VOCAB.decode(tgt[2]) == ["null"]
    assert (MAX_SRC_LEN, MAX_TGT_LEN) == (9, 13)


def test_collate_takes_id_pairs():
    src, tgt = collate([([3, 4], [1, 5, 2]), ([3], [1, 2])])
    assert src.tolist() == [[3, 4], [3, 0]]
    assert tgt.tolist() == [[1, 5, 2], [1, 2, 0]]


def test_batch_iterator_covers_epoch_trims_and_is_seeded():
    numbers = list(range(0, 1000, 7)) + [777_777]
    batches = list(batch_iterator(numbers, batch_size=32, seed=5))
    assert [len(s) for s, _ in batches] == [32] * 4 + [len(numbers) - 128]
    seen = sorted(n for src, _ in batches for n in (" ".join(EN_VOCAB.decode(row)) for row in src))
    assert seen == sorted(english(n) for n in numbers)
    for src, tgt in batches:
        assert (src[:, -1] != PAD_ID).any() and (tgt[:, -1] != PAD_ID).any()  # no all-pad column
    again = list(batch_iterator(numbers, batch_size=32, seed=5))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(batches, again))
    two = list(batch_iterator(numbers, batch_size=32, seed=5, epochs=2, drop_last=True))
    assert len(two) == 8
    assert not torch.equal(two[0][0], two[4][0])  # reshuffled for the second epoch
