"""The sentence translator on byte-pair pieces: round trips, batch layout, scoring on detokenized words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from transformer_course.task import sentence_pieces as sp
from transformer_course.task import sentences
from transformer_course.task.lexicon import NOUNS, noun_form
from transformer_course.task.number_words import BOS_ID, EOS_ID, PAD_ID
from transformer_course.task.sentence_training import score

MERGES_FILE = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "sentences_bpe_merges.json"


@pytest.fixture(scope="module")
def data():
    """A small run's sentences: enough for the tokenizers to learn pieces, fast to make."""
    return sentences.make_data(n_train=600, n_val=0, n_test=8)


@pytest.fixture(scope="module")
def tokenizers(data):
    return sp.PieceTokenizers.trained(data.train, en_size=320, de_size=400)


def every_sentence(data):
    return [*data.train[:200], *(s for family in data.test.values() for s in family), *data.combinations,
            *data.pattern, *data.longer]


def round_trip(sentence, tokenizers):
    """A sentence's German through the batch's ids and back to words, as the scores see it."""
    return sp.decode_ids(sp.encode(sentence, tokenizers)[1], tokenizers.de)


def test_round_trip_of_sentences_is_exact(data, tokenizers):
    """Every sentence, German and English, comes back word for word, also those of the held-out sets."""
    for s in every_sentence(data):
        assert round_trip(s, tokenizers) == list(s.de), s
        src = sp.from_model_ids(sp.encode(s, tokenizers)[0], tokenizers.en)
        assert sp.words(tokenizers.en.decode(src)) == list(s.en), s


def test_round_trip_of_a_form_never_in_training(data, tokenizers):
    """A held-out dative plural ('Freunden') is written in pieces the tokenizer has, and comes back whole."""
    forms = sp.unseen_forms(data)
    assert forms and not any(w in forms for s in data.train for w in s.de)
    for form in forms:
        ids = sp.encode_text(f"mit den {form}", tokenizers.de)
        assert sp.words(tokenizers.de.decode(ids)) == ["mit", "den", form]
        assert len(sp.encode_text(f" {form}", tokenizers.de)) >= 2   # never one piece: it was never seen


@pytest.mark.parametrize("bug", ["words joined without spaces", "ids not shifted back", "<bos> kept"])
def test_round_trip_fails_on_the_obvious_bugs(data, tokenizers, monkeypatch, bug):
    """The round trip above is sensitive: each of these mistakes breaks it."""
    if bug == "words joined without spaces":
        monkeypatch.setattr(sp, "text", lambda words: "".join(words))
    elif bug == "ids not shifted back":
        monkeypatch.setattr(sp, "from_model_ids", lambda ids, tokenizer: list(ids))
    else:
        decode_ids = sp.decode_ids
        monkeypatch.setattr(sp, "decode_ids", lambda row, tokenizer: decode_ids([BOS_ID, *row], tokenizer))
    sp._encode_chunk.cache_clear()
    try:
        assert any(round_trip(s, tokenizers) != list(s.de) for s in every_sentence(data))
    finally:
        sp._encode_chunk.cache_clear()


def test_encode_text_is_the_tokenizers_encode(data, tokenizers):
    """Encoding chunk by chunk (remembered) gives the same ids as the tokenizer's own encode."""
    for s in data.train[:100]:
        for words, tokenizer in ((s.en, tokenizers.en), (s.de, tokenizers.de)):
            assert sp.encode_text(sp.text(words), tokenizer) == tokenizer.encode(sp.text(words))


def test_batch_layout(data, tokenizers):
    """src (B, S): pieces, no specials, padded with 0; tgt (B, T): <bos> pieces <eos>, then padding."""
    batch = data.train[:16]
    src, tgt = sp.make_batch(batch, tokenizers)
    assert src.dtype == tgt.dtype == torch.long
    assert src.shape[0] == tgt.shape[0] == len(batch)
    assert 0 <= int(src.min()) and int(src.max()) < tokenizers.en.vocab_size
    assert 0 <= int(tgt.min()) and int(tgt.max()) < tokenizers.de.vocab_size
    assert (tgt[:, 0] == BOS_ID).all()
    for i, s in enumerate(batch):
        src_ids, tgt_ids = sp.encode(s, tokenizers)
        assert src[i, :len(src_ids)].tolist() == src_ids and (src[i, len(src_ids):] == PAD_ID).all()
        assert tgt[i, :len(tgt_ids)].tolist() == tgt_ids and (tgt[i, len(tgt_ids):] == PAD_ID).all()
        assert tgt_ids[-1] == EOS_ID and EOS_ID not in tgt_ids[:-1] and BOS_ID not in tgt_ids[1:]
        assert PAD_ID not in src_ids and BOS_ID not in src_ids and EOS_ID not in src_ids
        assert len(tgt_ids) > len(s.de) + 2 or len(s.de) <= 2   # pieces: more tokens than words
    assert src.shape[1] == max(len(sp.encode(s, tokenizers)[0]) for s in batch)   # no column of padding only


def test_batches_are_the_word_batches_sentences(data, tokenizers):
    """The pieces arm sees the same sentences in the same order as the word arm of the same seed."""
    words = sentences.batch_iterator(data.train, 32, seed=3)
    pieces = sp.batch_iterator(data.train, tokenizers, 32, seed=3)
    for _ in range(25):   # past the end of the first epoch
        (_, word_tgt), (_, piece_tgt) = next(words), next(pieces)
        as_words = [sentences.DE_VOCAB.decode(row) for row in word_tgt]
        assert [sp.decode_ids(row, tokenizers.de) for row in piece_tgt.tolist()] == as_words


def decoding_the_references(tokenizers):
    """A stand-in for greedy decoding that writes each sentence's reference pieces (<bos> first, padded)."""
    def greedy(model, src, max_len):
        rows = [reference[tuple(row)] for row in src.tolist()]
        return sp.collate([(r, r) for r in rows])[0]
    reference: dict = {}
    return greedy, reference


def test_scoring_on_pieces_detokenizes_to_words(data, tokenizers, monkeypatch):
    """translate() turns pieces into words: a model that writes the reference's pieces scores 100%."""
    test = [s for family in data.test.values() for s in family]
    greedy, reference = decoding_the_references(tokenizers)
    for s in test:
        src, tgt = sp.encode(s, tokenizers)
        reference[tuple(src)] = tgt
    monkeypatch.setattr(sp, "greedy_decode", greedy)
    src, _ = sp.make_batch(test, tokenizers)
    for row in src.tolist():   # padded rows: key on the unpadded ids
        reference.setdefault(tuple(row), reference[tuple(i for i in row if i != PAD_ID)])
    predicted = sp.translate(None, test, tokenizers)
    assert predicted == [list(s.de) for s in test]
    scores = score(predicted, test)
    assert scores["exact"] == 1.0 and scores["chrF"] == pytest.approx(100) and scores["BLEU"] == pytest.approx(100)
    assert scores["articles"] == 1.0
    # the obvious bug: scoring the pieces themselves instead of the words they spell
    as_pieces = [tokenizers.de.pieces(sp.encode_text(sp.text(s.de), tokenizers.de)) for s in test]
    assert score(as_pieces, test)["exact"] < 0.5


def test_unseen_form_counts():
    """'right' needs the dative plural itself; the nominative plural in its place is counted apart."""
    noun = next(n for n in NOUNS if noun_form(n, "dat", True) != n.de_plural)
    dative, nominative = noun_form(noun, "dat", True), noun.de_plural
    forms = {dative: nominative}
    sentence = sentences.Sentence(("with", "the", noun.en_plural), ("mit", "den", dative), "prepositions")
    other = sentences.Sentence(("the", "dog"), ("der", "Hund"), "agreement")
    assert sp.unseen_form_counts([["mit", "den", dative], ["der", "Hund"]], [sentence, other], forms) == \
        {"needed": 1, "right": 1, "nominative": 0}
    assert sp.unseen_form_counts([["mit", "den", nominative], ["der", "Hund"]], [sentence, other], forms) == \
        {"needed": 1, "right": 0, "nominative": 1}


@pytest.mark.skipif(not MERGES_FILE.exists(), reason="the sweep's merges are not committed yet")
def test_committed_merges_are_learned_again():
    """notebooks/data/sentences_bpe_merges.json is what the tokenizers learn from the sweep's sentences."""
    from transformer_course.task.sentence_training import SentenceConfig
    learned = sp.PieceTokenizers.trained(SentenceConfig().data().train)
    assert learned.merges() == json.loads(MERGES_FILE.read_text())
