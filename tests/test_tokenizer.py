"""The reference BPE against the ecosystem (HF tokenizers), its round trip, and German as it is written (num2words)."""

from __future__ import annotations

import json
import random

import pytest

from transformer_course import tokenizer as T
from transformer_course.checks.tokens import round_trip_failures
from transformer_course.task import spelling as S
from transformer_course.task.number_words import german, german_written

num2words = pytest.importorskip("num2words").num2words

CORPUS_NUMBERS = list(range(1000)) + random.Random(0).sample(range(1000, 1_000_000), 1000)
HELD_OUT = random.Random(1).sample(range(1000, 1_000_000), 500)


# -- German as it is written -----------------------------------------------------------------------------

@pytest.mark.parametrize("n, word", [
    (1, "eins"), (21, "einundzwanzig"), (100, "einhundert"), (101, "einhunderteins"), (1000, "eintausend"),
    (1001, "eintausendeins"), (321_000, "dreihunderteinundzwanzigtausend"), (101_000, "einhunderteintausend"),
    (777_777, "siebenhundertsiebenundsiebzigtausendsiebenhundertsiebenundsiebzig"),
])
def test_german_written(n, word):
    assert german_written(n) == word


def test_german_written_matches_num2words():
    """num2words (lang='de') as an independent oracle, its one slip (101,000 'einhunderteinstausend') fixed."""
    rng = random.Random(7)
    numbers = sorted(set(range(1200)) | {k * 1000 + d for k in range(1000) for d in (0, 1, 21)}
                     | set(rng.sample(range(1_000_000), 2000)))
    wrong = [(n, german_written(n)) for n in numbers
             if german_written(n) != num2words(n, lang="de").replace("einstausend", "eintausend")]
    assert not wrong, wrong[:5]
    assert all(german_written(n) == german(n) for n in rng.sample(range(1_000_000), 50_000))


def test_german_written_without_leading_ein():
    assert [german_written(n, einhundert=False) for n in (100, 101, 1000, 1100, 100_000, 201, 21_000)] == [
        "hundert", "hunderteins", "tausend", "tausendeinhundert", "hunderttausend", "zweihunderteins",
        "einundzwanzigtausend"]
    for n in random.Random(3).sample(range(1_000_000), 2000):
        short, full = german_written(n, einhundert=False), german_written(n)
        assert full == short or full == "ein" + short


# -- the round trip ----------------------------------------------------------------------------------------

def test_round_trip_random_unicode():
    """encode then decode is the identity on random Unicode strings (seeded), also on unseen characters."""
    merges = T.train(S.tokenizer_corpus(CORPUS_NUMBERS), 350)
    assert round_trip_failures(T.encode, T.decode, merges, n=1000, seed=0) == []
    tok = T.BPETokenizer(merges)
    for text in ["", "\x00", "日本語", "e\u0301", "🙂🙂", "<bos>dreißig<eos><pad>", "<bo s>"]:
        assert tok.decode(tok.encode(text)) == text


def test_model_ids_put_specials_first():
    tok = T.BPETokenizer(T.train(S.tokenizer_corpus(range(200)), 280))
    ids = tok.encode("<pad><bos><eos>a")
    assert S.to_model_ids(ids, tok) == [0, 1, 2, 97 + 3]
    assert S.from_model_ids(S.to_model_ids(ids, tok), tok) == ids


# -- against HF tokenizers ---------------------------------------------------------------------------------

def hf_train(text: str, vocab_size: int):
    """HF's BPE configured to be ours: no normalizer, the same pre-split, byte-level, all 256 bytes, min count 2."""
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import Regex, decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(T.PRE_SPLIT.pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)
    return tok


def hf_merges_as_bytes(tok) -> set[tuple[bytes, bytes]]:
    """HF's merges as pairs of byte strings (HF writes each byte as a printable stand-in character)."""
    to_byte = byte_of_stand_in()
    merges = json.loads(tok.to_str())["model"]["merges"]
    pairs = (m if isinstance(m, list) else m.split(" ") for m in merges)
    return {(bytes(to_byte[c] for c in a), bytes(to_byte[c] for c in b)) for a, b in pairs}


def byte_of_stand_in() -> dict[str, int]:
    """GPT-2's table (bytes_to_unicode), inverted: printable bytes stand for themselves, the rest for 256 + k."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    table = {chr(b): b for b in printable}
    table.update({chr(256 + k): b for k, b in enumerate(others)})
    return table


def test_stand_in_table_is_hf_alphabet():
    pre_tokenizers = pytest.importorskip("tokenizers").pre_tokenizers
    assert set(byte_of_stand_in()) == set(pre_tokenizers.ByteLevel.alphabet())


def test_same_merges_and_compression_as_hf():
    """Same corpus, same vocabulary size: >= 90 % of the merges agree as sets; bytes per token within 2 %."""
    corpus = S.tokenizer_corpus(CORPUS_NUMBERS)
    ours = T.train(corpus, 350)
    hf = hf_train(corpus, 350)
    assert hf.get_vocab_size() == 256 + len(ours)
    table = T.vocab(ours)
    our_pairs = {(table[a], table[b]) for a, b in ours}
    hf_pairs = hf_merges_as_bytes(hf)
    agreement = len(our_pairs & hf_pairs) / len(our_pairs)
    assert agreement >= 0.9, sorted(our_pairs - hf_pairs)[:5]
    held_out = S.tokenizer_corpus(HELD_OUT)
    ours_bpt = len(held_out.encode()) / len(T.encode(held_out, ours))
    hf_ids = hf.encode(held_out).ids
    hf_bpt = len(held_out.encode()) / len(hf_ids)
    assert abs(ours_bpt / hf_bpt - 1) <= 0.02, (ours_bpt, hf_bpt)
    assert hf.decode(hf_ids) == held_out
    assert german(21) in corpus


def test_spelling_task_runs_end_to_end():
    """A few steps of 07's translator on the real spelling: batches, training, decoding, per-family scores, maps."""
    from transformer_course.task.training import CapstoneConfig

    config = CapstoneConfig(max_steps=3, n_test=20, family_size=5)
    tok = T.BPETokenizer(T.train(S.tokenizer_corpus(range(300)), 300))
    max_len = S.max_target_len(tok, [777_777, 21])
    _, tgt = S.make_spelling_batch([21, 777_777], tok)
    assert tgt[:, 0].tolist() == [1, 1] and (tgt == 2).sum() == 2            # <bos> first, one <eos> each
    model, history, _ = S.train_spelling(tok, S.spelling_config(tok, max_len, config), progress=False)
    assert len(history.losses) == 3
    scores = S.spelling_exact_match(model, {"some": [21, 321]}, tok, max_len)
    assert 0.0 <= scores["some"] <= 1.0
    maps = S.spelling_attention(model, 21, tok, max_len)
    assert maps["cross"].shape[-1] == 2 and maps["cross"].shape[-2] == len(maps["output"])
