"""The sentence task: the lexicon against independent data, the grammar against hand-written gold pairs."""

from __future__ import annotations

import importlib.util

import pytest
from devtools import require

from transformer_course.task import lexicon, sentences
from transformer_course.task.lexicon import (
    ADJECTIVES,
    NOUNS,
    PREPOSITIONS,
    VERBS,
    noun_form,
)
from transformer_course.task.sentences import (
    DE_VOCAB,
    EN_VOCAB,
    FAMILIES,
    HELD_OUT_PATTERN,
    Clause,
    Generator,
    NounPhrase,
    make_data,
)

_ADJ = {a.en: a for a in ADJECTIVES}
_NOUN_PLURALS = {n.en_plural: n for n in NOUNS}
_PREP = {p.en: p for p in PREPOSITIONS}
_PRONOUN = {"I": "1sg", "you": "2sg", "he": "3sg m", "she": "3sg f", "we": "1pl", "they": "3pl"}


def phrase(text: str) -> NounPhrase:
    """'the small dog', 'a cat', 'his mother', 'two dogs', 'dogs', 'he' -> a NounPhrase."""
    words = text.split()
    if len(words) == 1 and words[0] in _PRONOUN:
        return NounPhrase(pronoun=_PRONOUN[words[0]])
    numbers = {"two": 2, "three": 3}
    det: str | int = "bare"
    if words[0] in ("the", "a", "an", "no") or words[0] in lexicon.POSSESSIVES:
        det, words = ("a" if words[0] == "an" else words[0]), words[1:]
    elif words[0] in numbers:
        det, words = numbers[words[0]], words[1:]
    adjective = _ADJ[words[0]] if len(words) == 2 else None
    noun_en = words[-1]
    plural = noun_en in _NOUN_PLURALS and noun_en not in lexicon.NOUN_BY_EN
    noun = _NOUN_PLURALS[noun_en] if plural else lexicon.NOUN_BY_EN[noun_en]
    return NounPhrase(noun, plural, det, adjective)


def clause(subject: str, verb: str, *objects: tuple[str, str], pp: tuple[str, str] | None = None,
           perfect: bool = False, negated: bool = False) -> Clause:
    """A clause from English pieces: clause("the dog", "see", ("acc", "the cat"))."""
    return Clause(phrase(subject), lexicon.VERB_BY_EN[verb], tuple((c, phrase(p)) for c, p in objects),
                  (_PREP[pp[0]], phrase(pp[1])) if pp else None, perfect, negated)


def de(words) -> str:
    return " ".join(words)


# --------------------------------------------------------------------------
# The lexicon against independent data
# --------------------------------------------------------------------------

def test_the_lexicon_has_at_least_300_words():
    assert sum(lexicon.word_count().values()) >= 300


def test_each_english_word_has_one_lexicon_entry():
    for table in (NOUNS, VERBS, ADJECTIVES):
        english = [entry.en for entry in table]
        assert len(english) == len(set(english)), table
    plurals = [n.en_plural for n in NOUNS]
    assert len(plurals) == len(set(plurals))
    assert not set(plurals) & {n.en for n in NOUNS}, "an English plural equal to a singular is ambiguous"


def test_every_noun_agrees_with_wiktionary():
    """Gender, plural and the case forms we write (acc/dat singular, dative plural) against german-nouns."""
    require(None if importlib.util.find_spec("german_nouns") else
            "german-nouns is not installed (pip install -r requirements-dev.txt)")
    from german_nouns.lookup import Nouns
    wiktionary = Nouns()

    def forms(flexion: dict, key: str) -> set[str]:
        return {v for k, v in flexion.items() if v and (k == key or k.startswith(key + " ") or k == key + "*")}

    wrong = []
    for noun in NOUNS:
        records = [r for r in wiktionary[noun.de] if r.get("lemma") == noun.de]
        if not any(noun.gender in {r.get(k) for k in ("genus", "genus 1", "genus 2", "genus 3", "genus 4")}
                   and noun.de_plural in forms(r.get("flexion", {}), "nominativ plural")
                   and noun_form(noun, "dat", True) in forms(r.get("flexion", {}), "dativ plural")
                   and noun.de in forms(r.get("flexion", {}), "akkusativ singular")
                   and noun.de in forms(r.get("flexion", {}), "dativ singular")
                   for r in records):
            wrong.append((noun.de, noun.gender, noun.de_plural, [r.get("genus") for r in records]))
    assert not wrong, f"{len(wrong)} of {len(NOUNS)} nouns disagree with Wiktionary: {wrong}"


def test_every_verb_agrees_with_the_ablaut_conjugator():
    """Present forms (with the separable prefix split off), participle and auxiliary against ablaut."""
    require(None if importlib.util.find_spec("ablaut") else
            "ablaut is not installed (pip install -r requirements-dev.txt)")
    import ablaut
    wrong = []
    for verb in VERBS:
        table = ablaut.conjugate(verb.de)
        ours = [form + (" " + verb.prefix if verb.prefix else "") for form in verb.present]
        if (list(table.present), table.past_participle, table.auxiliary) != (ours, verb.participle, verb.auxiliary):
            wrong.append((verb.de, list(table.present), ours, table.past_participle, table.auxiliary))
    for infinitive, forms in (("haben", lexicon.HABEN), ("sein", lexicon.SEIN), ("wissen", lexicon.WISSEN),
                              *((f"{base}", forms) for base, forms in (("glauben", sentences.SAYING["think"][1]),
                                                                       ("sagen", sentences.SAYING["say"][1])))):
        if tuple(ablaut.conjugate(infinitive).present) != tuple(forms):
            wrong.append((infinitive, forms))
    assert not wrong, f"{len(wrong)} verbs disagree with ablaut: {wrong}"


# Hand-written gold tables: they hold without any dev tool installed.
GOLD_PRESENT = {
    "sehen": "sehe siehst sieht sehen seht sehen",
    "arbeiten": "arbeite arbeitest arbeitet arbeiten arbeitet arbeiten",
    "öffnen": "öffne öffnest öffnet öffnen öffnet öffnen",
    "tanzen": "tanze tanzt tanzt tanzen tanzt tanzen",
    "füttern": "füttere fütterst füttert füttern füttert füttern",
    "einladen": "lade lädst lädt laden ladet laden",
    "wohnen": "wohne wohnst wohnt wohnen wohnt wohnen",
    "zeichnen": "zeichne zeichnest zeichnet zeichnen zeichnet zeichnen",
}


@pytest.mark.parametrize("infinitive", list(GOLD_PRESENT))
def test_present_forms_match_a_hand_written_table(infinitive):
    verb = next(v for v in VERBS if v.de == infinitive)
    assert " ".join(verb.present) == GOLD_PRESENT[infinitive]


# --------------------------------------------------------------------------
# Gold pairs: one or more per family, written by hand
# --------------------------------------------------------------------------

GOLD = [
    # agreement: gender, number, case of article and adjective
    (clause("the small dog", "see", ("acc", "the small cat")), "the small dog sees the small cat",
     "der kleine Hund sieht die kleine Katze"),
    (clause("the cat", "see", ("acc", "the small dog")), "the cat sees the small dog",
     "die Katze sieht den kleinen Hund"),
    (clause("a big dog", "buy", ("acc", "a new car")), "a big dog buys a new car",
     "ein großer Hund kauft ein neues Auto"),
    (clause("my mother", "find", ("acc", "an old key")), "my mother finds an old key",
     "meine Mutter findet einen alten Schlüssel"),
    (clause("two dogs", "see", ("acc", "small cats")), "two dogs see small cats", "zwei Hunde sehen kleine Katzen"),
    (clause("our children", "love", ("acc", "their old horse")), "our children love their old horse",
     "unsere Kinder lieben ihr altes Pferd"),
    # prepositions and their cases, with contractions
    (clause("the dog", "sleep", pp=("in", "the garden")), "the dog sleeps in the garden", "der Hund schläft im Garten"),
    (clause("the dog", "run", pp=("into", "the house")), "the dog runs into the house", "der Hund läuft ins Haus"),
    (clause("the cat", "jump", pp=("onto", "the table")), "the cat jumps onto the table",
     "die Katze springt auf den Tisch"),
    (clause("the cat", "sleep", pp=("on", "the table")), "the cat sleeps on the table",
     "die Katze schläft auf dem Tisch"),
    (clause("I", "go", pp=("to", "the school")), "I go to the school", "ich gehe zur Schule"),
    (clause("we", "play", pp=("with", "the small children")), "we play with the small children",
     "wir spielen mit den kleinen Kindern"),
    (clause("the man", "work", pp=("for", "his mother")), "the man works for his mother",
     "der Mann arbeitet für seine Mutter"),
    # dative objects
    (clause("the man", "give", ("dat", "the child"), ("acc", "a ball")), "the man gives the child a ball",
     "der Mann gibt dem Kind einen Ball"),
    (clause("she", "help", ("dat", "the old man")), "she helps the old man", "sie hilft dem alten Mann"),
    (clause("you", "thank", ("dat", "the women")), "you thank the women", "du dankst den Frauen"),
    # perfect: the participle at the end, haben or sein
    (clause("the dog", "see", ("acc", "the cat"), perfect=True), "the dog has seen the cat",
     "der Hund hat die Katze gesehen"),
    (clause("the children", "go", pp=("into", "the forest"), perfect=True), "the children have gone into the forest",
     "die Kinder sind in den Wald gegangen"),
    # separable verbs: the prefix at the end
    (clause("he", "call", ("acc", "his mother")), "he calls his mother", "er ruft seine Mutter an"),
    (clause("I", "get up"), "I get up", "ich stehe auf"),
    (clause("she", "invite", ("acc", "her friends"), perfect=True), "she has invited her friends",
     "sie hat ihre Freunde eingeladen"),
    # negation: nicht at the end of the middle field, kein for an indefinite object
    (clause("the dog", "see", ("acc", "the cat"), negated=True), "the dog does not see the cat",
     "der Hund sieht die Katze nicht"),
    (clause("I", "see", ("acc", "no cat"), negated=True), "I do not see a cat", "ich sehe keine Katze"),
    (clause("we", "buy", ("acc", "no apples"), negated=True), "we do not buy any apples", "wir kaufen keine Äpfel"),
    (clause("he", "call", ("acc", "his mother"), negated=True), "he does not call his mother",
     "er ruft seine Mutter nicht an"),
    (clause("the dog", "see", ("acc", "the cat"), perfect=True, negated=True), "the dog has not seen the cat",
     "der Hund hat die Katze nicht gesehen"),
]


@pytest.mark.parametrize("made, english, german", GOLD, ids=[g[1] for g in GOLD])
def test_main_clauses_match_gold_pairs(made, english, german):
    assert " ".join(made.english()) == english
    assert de(made.german_main()) == german


def test_verb_second_keeps_the_verb_second():
    made = clause("the dog", "sleep")
    assert de(made.german_main(["heute"])) == "heute schläft der Hund"
    made = clause("I", "see", ("acc", "the cat"))
    assert de(made.german_main(phrase("the garden").german("dat", _PREP["in"]))) == "im Garten sehe ich die Katze"


def test_subordinate_clauses_put_the_verb_last():
    assert de(clause("the dog", "see", ("acc", "the cat")).german_subordinate()) == "der Hund die Katze sieht"
    assert de(clause("he", "call", ("acc", "his mother")).german_subordinate()) == "er seine Mutter anruft"
    assert de(clause("the dog", "see", ("acc", "the cat"), perfect=True).german_subordinate()) == \
        "der Hund die Katze gesehen hat"
    assert de(clause("the children", "come", perfect=True).german_subordinate()) == "die Kinder gekommen sind"


def test_questions_put_the_verb_first_or_after_the_question_word():
    made = clause("the dog", "see", ("acc", "the cat"))
    assert " ".join(made.english(question=True)) == "does the dog see the cat"
    assert de(made.german_question()) == "sieht der Hund die Katze ?"
    made = clause("the dog", "see", perfect=True)
    assert " ".join(made.english(question=True, wh="what")) == "what has the dog seen"
    assert de(made.german_question("what")) == "was hat der Hund gesehen ?"
    made = clause("he", "see", ("acc", "the cat"))
    assert " ".join(made.english(question=True, wh="who")) == "who sees the cat"
    assert de(made.german_question("who")) == "wer sieht die Katze ?"
    made = clause("the dog", "sleep")
    assert de(made.german_question("where")) == "wo schläft der Hund ?"


def test_pronouns_follow_the_gender_of_their_noun():
    for text, nominative, accusative in (("the table", "er", "ihn"), ("the lamp", "sie", "sie"),
                                         ("the book", "es", "es"), ("the tables", "sie", "sie")):
        noun = phrase(text)
        key = "3pl" if noun.plural else f"3sg {noun.noun.gender}"
        pronoun = NounPhrase(pronoun=key, en_pronoun=("it", "it"))
        assert (pronoun.german("nom"), pronoun.german("acc")) == ([nominative], [accusative])
        assert pronoun.english() == ["it"]


# --------------------------------------------------------------------------
# The generator: every family, deterministic, one translation per English sentence
# --------------------------------------------------------------------------

def test_every_family_is_generated_and_deterministic():
    for family in FAMILIES:
        a = [Generator(3).sentence(family) for _ in range(1)]
        b = [Generator(3).sentence(family) for _ in range(1)]
        assert a == b and a[0].family == family


def test_generated_sentences_keep_their_rules():
    generator = Generator(0)
    for _ in range(300):
        for family in FAMILIES:
            s = generator.sentence(family)
            EN_VOCAB.encode(s.en), DE_VOCAB.encode(s.de)  # every word is in the vocabulary
            if family == "subordinate clauses":
                assert s.de[s.de.index(",") + 1] in ("dass", "weil")
            if family == "separable verbs":
                assert s.de[-1] in {v.prefix for v in VERBS if v.prefix}, s
            if family == "perfect":
                assert s.de[-1] in {v.participle for v in VERBS}, s
            if family == "questions":
                assert s.en[-1] == s.de[-1] == "?"
            if family == "negation":
                assert "nicht" in s.de or any(w.startswith("kein") for w in s.de), s
            if family == "pronouns":  # the pronoun after the "." follows the noun's gender
                key = next(t for t in s.tags if t.startswith("pronoun:"))[8:]
                german = lexicon.PRONOUNS[key][1]
                assert german["nom"] in s.de[s.de.index(".") + 1:] or german["acc"] in s.de[s.de.index(".") + 1:], s


def test_each_english_sentence_has_one_german_translation():
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    generator = Generator(1)
    for _ in range(20_000):
        s = generator.any()
        assert seen.setdefault(s.en, s.de) == s.de, (s.en, seen[s.en], s.de)


def test_the_splits_keep_the_held_out_sets_out_of_training():
    data = make_data(n_train=3000, n_val=50, n_test=30, seed=0)
    train = {s.en for s in data.train}
    for sets in (data.val, data.combinations, data.pattern, data.longer, *data.test.values()):
        assert sets and not train & {s.en for s in sets}
    assert not any(HELD_OUT_PATTERN in s.tags for s in data.train)
    assert all(HELD_OUT_PATTERN in s.tags for s in data.pattern)
    assert max(len(s.en) for s in data.train) <= data.max_train_len < min(len(s.en) for s in data.longer)
    held = set(data.held_out_nouns)
    assert not any(t.startswith("dat:") and t[4:] in held for s in data.train for t in s.tags)
    assert all(any(t.startswith("dat:") and t[4:] in held for t in s.tags) for s in data.combinations)
    assert make_data(n_train=3000, n_val=50, n_test=30, seed=0).train == data.train


# --------------------------------------------------------------------------
# Scoring and the attention maps (notebook 11)
# --------------------------------------------------------------------------

def test_scores_of_a_perfect_and_a_wrong_translation():
    from transformer_course.task.sentence_training import article_accuracy, score
    sentences = [Generator(0).sentence("agreement") for _ in range(5)]
    perfect = score([list(s.de) for s in sentences], sentences)
    assert perfect["exact"] == 1.0 and perfect["chrF"] == pytest.approx(100) and perfect["BLEU"] == pytest.approx(100)
    assert perfect["articles"] == 1.0
    # every article swapped for another, everything else right
    swapped = [["das" if w in ("der", "die", "den", "dem") else "der" if w == "das" else w for w in s.de]
               for s in sentences]
    assert article_accuracy(swapped, sentences) < 1.0
    assert score([["nichts"]] * 5, sentences)["exact"] == 0.0


def test_cross_attention_has_one_row_per_written_word():
    import torch

    from transformer_course.encoder_decoder import Transformer
    from transformer_course.task.sentence_training import (
        SentenceConfig,
        cross_attention,
    )
    torch.manual_seed(0)
    model = Transformer(SentenceConfig(d_model=16, n_heads=2, d_ff=32).model_config())
    sentence = Generator(0).sentence("separable verbs")
    maps = cross_attention(model, sentence)
    n_layers, n_heads, rows, columns = maps["cross"].shape
    assert (n_layers, n_heads, rows, columns) == (2, 2, len(maps["output"]), len(sentence.en))
    assert torch.allclose(maps["cross"].sum(dim=-1), torch.ones(n_layers, n_heads, rows))


def test_the_gender_probe_reads_every_place_of_the_encoder():
    import torch

    from transformer_course.encoder_decoder import Transformer
    from transformer_course.task.sentence_training import SentenceConfig, gender_probe
    torch.manual_seed(0)
    model = Transformer(SentenceConfig(d_model=16, n_heads=2, d_ff=32).model_config())
    probe = gender_probe(model, splits=1, steps=5)
    assert list(probe) == ["majority", "embedding", "layer 1 self-attention", "layer 1 feed-forward",
                           "layer 2 self-attention", "layer 2 feed-forward", "encoder output"]
    assert all(0.0 <= accuracy <= 1.0 for accuracy in probe.values())
