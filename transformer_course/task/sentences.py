"""English sentences and their German translations, generated from a grammar and the lexicon.

Each sentence belongs to one *family*, a phenomenon that can be generated and measured on its own:

- "agreement": article and adjective agree with the noun's gender, number and case
  ("the small dog sees a big cat" -> "der kleine Hund sieht eine große Katze"),
- "prepositions": the preposition decides the case ("in the garden" -> "im Garten",
  "into the house" -> "ins Haus", "for the dog" -> "für den Hund"),
- "dative objects": helfen, danken, geben take a dative ("gives the child a ball" -> "gibt dem Kind einen Ball"),
- "pronouns": a pronoun agrees with its antecedent's gender ("the table ... it" -> "der Tisch ... er"),
- "verb second": something else in front, the verb stays second ("today the dog sleeps" -> "heute schläft der Hund"),
- "subordinate clauses": the verb goes to the end ("I know that the dog sees the cat" ->
  "ich weiß , dass der Hund die Katze sieht"),
- "perfect": the participle goes to the end ("the dog has seen the cat" -> "der Hund hat die Katze gesehen"),
- "separable verbs": the prefix goes to the end ("he calls his mother" -> "er ruft seine Mutter an"),
- "negation": nicht, or kein for an indefinite object ("I do not see a cat" -> "ich sehe keine Katze"),
- "questions": the verb goes first, or second after a question word ("what does the dog see ?" -> "was sieht der Hund ?").

Tokens are words: German without its sentence-initial capital and without a full stop at the
end (questions keep their "?"), nouns with their capital, the comma before "dass" a token of its own.
Everything is generated from a seed; nothing is downloaded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from .lexicon import (
    ADJECTIVE_ENDINGS,
    ADJECTIVES,
    ADVERBS,
    CONJUNCTIONS,
    DEFINITE,
    EIN_ENDINGS,
    HABEN,
    NOUNS,
    PERSONS,
    POSSESSIVES,
    PREPOSITIONS,
    PRONOUNS,
    QUESTION_WORDS,
    SEIN,
    VERBS,
    WISSEN,
    Adjective,
    Noun,
    Preposition,
    Verb,
    _regular_present,
    noun_form,
)
from .number_words import Vocab, batches_of, collate, english_tokens, german_tokens

FAMILIES = ("agreement", "prepositions", "dative objects", "pronouns", "verb second", "subordinate clauses",
            "perfect", "separable verbs", "negation", "questions")
NUMBERS = range(2, 13)  # "two dogs" -> "zwei Hunde": single words of the number task


# --------------------------------------------------------------------------
# Noun phrases
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class NounPhrase:
    """A noun with its determiner and an optional adjective, or a personal pronoun.

    ``det``: "the", "a", "no" (kein; negation only), "bare" (plural, no article), a number 2..12,
    or a possessive ("my", "his", ...). ``pronoun``: a key of PRONOUNS instead of a noun.
    """

    noun: Noun | None = None
    plural: bool = False
    det: str | int = "the"
    adjective: Adjective | None = None
    pronoun: str = ""
    en_pronoun: tuple[str, str] = ()   # English (subject, object) for a pronoun, if not its own: ("it", "it")

    @property
    def person(self) -> str:
        """The verb's person for this phrase as a subject: "1sg" ... "3pl"."""
        if self.pronoun:
            return self.pronoun.split()[0]
        return "3pl" if self.plural else "3sg"

    def english(self, role: str = "subject") -> list[str]:
        """English words; ``role`` "subject" or "object" chooses "he" or "him"."""
        if self.pronoun:
            subject, obj = self.en_pronoun or PRONOUNS[self.pronoun][0]
            return [subject if role == "subject" else obj]
        words = [self.adjective.en] if self.adjective else []
        words.append(self.noun.en_plural if self.plural else self.noun.en)
        if self.det == "the" or self.det in POSSESSIVES:
            return [self.det, *words]
        if self.det == "no" and self.plural:  # "(does not see) any cats" -> "keine Katzen"
            return ["any", *words]
        if self.det in ("a", "no"):  # "(does not see) a cat" -> "keine Katze"
            return ["an" if words[0][0] in "aeiou" else "a", *words]
        if isinstance(self.det, int):
            return [*english_tokens(self.det), *words]
        return words  # "bare" plural

    def german(self, case: str, preposition: Preposition | None = None) -> list[str]:
        """German words in ``case``, after ``preposition`` if given (which may contract: "in dem" -> "im")."""
        if self.pronoun:
            words = [PRONOUNS[self.pronoun][1][case]]
            return [preposition.de, *words] if preposition else words
        g = "pl" if self.plural else self.noun.gender
        if self.det == "the":
            article, strength = DEFINITE[case][g], "weak"
        elif self.det == "a" or self.det == "no" or self.det in POSSESSIVES:
            stem = {"a": "ein", "no": "kein"}.get(self.det) or POSSESSIVES[self.det]
            article, strength = stem + EIN_ENDINGS[case][g], "mixed"
        else:  # "bare" plural or a number: no article, strong adjective endings
            article = german_tokens(self.det)[0] if isinstance(self.det, int) else ""
            strength = "strong"
        words = [self.adjective.attributive(ADJECTIVE_ENDINGS[strength][case][g])] if self.adjective else []
        words.append(noun_form(self.noun, case, self.plural))
        if preposition:
            return (preposition.with_article(article) if article else [preposition.de]) + words
        return ([article] if article else []) + words


# --------------------------------------------------------------------------
# Clauses
# --------------------------------------------------------------------------

SAYING = {  # the main clause in front of "that": English (base, 3sg), German present forms
    "know": (("know", "knows"), WISSEN),
    "think": (("think", "thinks"), tuple(_regular_present("glauben"))),
    "say": (("say", "says"), tuple(_regular_present("sagen"))),
}


@dataclass(frozen=True)
class Clause:
    """Who does what to whom: subject, verb, objects by case, an optional prepositional phrase, tense, negation."""

    subject: NounPhrase
    verb: Verb
    objects: tuple[tuple[str, NounPhrase], ...] = ()      # (case, phrase): dative first, as German orders them
    pp: tuple[Preposition, NounPhrase] | None = None
    perfect: bool = False
    negated: bool = False

    @property
    def person(self) -> str:
        return self.subject.person

    def english(self, question: bool = False, wh: str = "") -> list[str]:
        """English words in the usual order: subject (do/have) (not) verb objects phrase.

        ``question``: "does the dog see the cat"; ``wh`` "what" drops the object, "who" the subject.
        """
        third = self.person == "3sg"
        verb_words = self.verb.en.split()
        if self.perfect:
            aux, main = ("has" if third else "have"), self.verb.en_participle.split()
        elif self.negated or (question and wh != "who"):
            aux, main = ("does" if third else "do"), verb_words
        else:
            aux, main = "", (self.verb.en_3sg if third else self.verb.en).split()
        objects = []
        for _, phrase in self.objects:
            if wh == "what":
                continue
            objects += phrase.english("object")
        rest = main + objects + (self.pp[0].en.split() + self.pp[1].english("object") if self.pp else [])
        subject = [] if wh == "who" else self.subject.english()
        negation = ["not"] if self.negated else []
        if question:
            return ([wh] if wh else []) + ([aux] if aux else []) + subject + negation + rest
        return subject + ([aux] if aux else []) + negation + rest

    def _german_parts(self) -> tuple[str, list[str], list[str], list[str]]:
        """(finite verb, subject, middle field, right bracket), each in German."""
        if self.perfect:
            finite = (HABEN if self.verb.auxiliary == "haben" else SEIN)[PERSONS.index(self.person)]
        else:
            finite = self.verb.finite(self.person)
        middle: list[str] = []
        for case, phrase in self.objects:
            middle += phrase.german(case)
        has_kein = any(phrase.det == "no" for _, phrase in self.objects)
        if self.negated and not has_kein:
            middle.append("nicht")
        if self.pp:
            preposition, phrase = self.pp
            middle += phrase.german(preposition.case, preposition)
        end = [self.verb.participle] if self.perfect else ([self.verb.prefix] if self.verb.prefix else [])
        return finite, self.subject.german("nom"), middle, end

    def german_main(self, front: Sequence[str] = ()) -> list[str]:
        """A main clause, the finite verb second: [front or subject] verb [subject] middle end."""
        finite, subject, middle, end = self._german_parts()
        if front:
            return [*front, finite, *subject, *middle, *end]
        return [*subject, finite, *middle, *end]

    def german_question(self, wh: str = "") -> list[str]:
        """A question: the verb first ("sieht der Hund die Katze ?"), or second after the question word."""
        finite, subject, middle, end = self._german_parts()
        if wh == "what":  # the accusative object is the question word (the clause has no objects)
            return ["was", finite, *subject, *middle, *end, "?"]
        if wh == "who":
            return ["wer", finite, *middle, *end, "?"]
        if wh == "where":
            return ["wo", finite, *subject, *middle, *end, "?"]
        return [finite, *subject, *middle, *end, "?"]

    def german_subordinate(self) -> list[str]:
        """A subordinate clause's words after "dass"/"weil": the finite verb last, the prefix joined to it."""
        _, subject, middle, _ = self._german_parts()
        if self.perfect:
            aux = (HABEN if self.verb.auxiliary == "haben" else SEIN)[PERSONS.index(self.person)]
            return [*subject, *middle, self.verb.participle, aux]
        return [*subject, *middle, self.verb.joined(self.person)]


# --------------------------------------------------------------------------
# A sentence, and the generator of each family
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Sentence:
    """One example: English and German tokens, its family, and tags saying what is in it."""

    en: tuple[str, ...]
    de: tuple[str, ...]
    family: str
    tags: frozenset[str] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return f"{' '.join(self.en)}  ->  {' '.join(self.de)}"


_ANIMATE = [n for n in NOUNS if n.kind in ("person", "animal")]
_BY_OBJ = {obj: [v for v in VERBS if v.obj == obj and not v.prefix] for obj in ("", "acc", "dat", "dat+acc")}
_SEPARABLE = [v for v in VERBS if v.prefix]
_PERSONS = ["1sg", "2sg", "3sg m", "3sg f", "1pl", "3pl"]  # subjects: no "it" outside the pronoun family


class Generator:
    """Draws sentences of each family from one random.Random, so a seed gives the same sentences."""

    def __init__(self, seed: int = 0, p_adjective: float = 0.4, p_pp: float = 0.3,
                 nouns: Sequence[Noun] | None = None):
        """``nouns``: the lexicon's nouns the sentences may use (default: all of them, :func:`lexicon_subset`)."""
        self.rng = random.Random(seed)
        self.p_adjective, self.p_pp = p_adjective, p_pp
        nouns = NOUNS if nouns is None else nouns
        self.animate = [n for n in nouns if n.kind in ("person", "animal")]
        self.things = [n for n in nouns if n.kind == "thing"]
        self.places = [n for n in nouns if n.kind == "place"]
        self.objects = [n for n in nouns if n.kind != "place"]

    # the pieces
    def noun_phrase(self, nouns: Sequence[Noun], dets: Sequence = ("the", "the", "a", "poss", "bare", "number"),
                    adjective: bool | None = None) -> NounPhrase:
        """A random phrase of one of ``nouns``; "a" is singular, "bare" and numbers plural."""
        rng = self.rng
        det = rng.choice(dets)
        if det == "poss":
            det = rng.choice(list(POSSESSIVES))
        if det == "number":
            det = rng.choice(NUMBERS)
        plural = det == "bare" or isinstance(det, int) or (det != "a" and rng.random() < 0.3)
        with_adjective = rng.random() < self.p_adjective if adjective is None else adjective
        return NounPhrase(rng.choice(nouns), plural, det, rng.choice(ADJECTIVES) if with_adjective else None)

    def subject(self, p_pronoun: float = 0.3) -> NounPhrase:
        if self.rng.random() < p_pronoun:
            return NounPhrase(pronoun=self.rng.choice(_PERSONS))
        return self.noun_phrase(self.animate, dets=("the", "the", "a", "poss", "bare"))

    def object_of(self, verb: Verb, p_pronoun: float = 0.1, definite: bool = False
                  ) -> tuple[tuple[str, NounPhrase], ...]:
        """The verb's objects; ``definite``: only "the" or a possessive (what "nicht" can follow)."""
        dets = ("the", "the", "poss") if definite else ("the", "the", "a", "poss", "bare", "number")
        if verb.obj == "":
            return ()
        if verb.obj == "dat+acc":
            return (("dat", self.noun_phrase(self.animate, dets)), ("acc", self.noun_phrase(self.things, dets)))
        if self.rng.random() < p_pronoun:
            return ((verb.obj, NounPhrase(pronoun=self.rng.choice(_PERSONS))),)
        return ((verb.obj, self.noun_phrase(self.animate if verb.obj == "dat" else self.objects, dets)),)

    def prepositional_phrase(self, verb: Verb) -> tuple[Preposition, NounPhrase]:
        uses = ["place", "with"] + (["goal"] if verb.motion else [])
        use = self.rng.choice(uses)
        # "wait for" is "warten auf", not "für": leave "for" out after "wait"
        preposition = self.rng.choice([p for p in PREPOSITIONS if p.use == use
                                       and not (p.en == "for" and verb.en == "wait")])
        nouns = self.animate if preposition.en in ("with", "from", "for", "without") else self.places + self.things
        if preposition.en == "to":
            nouns = self.places + self.animate
        return preposition, self.noun_phrase(nouns, dets=("the", "the", "the", "a", "poss"))

    def clause(self, verbs: Sequence[Verb] | None = None, perfect: bool = False, negated: bool = False,
               pp: bool | None = None) -> Clause:
        """A random clause; ``pp`` None: a prepositional phrase with probability p_pp."""
        verb = self.rng.choice(verbs if verbs is not None else [v for v in VERBS if not v.prefix])
        with_pp = (self.rng.random() < self.p_pp) if pp is None else pp
        return Clause(self.subject(), verb, self.object_of(verb, definite=negated),
                      self.prepositional_phrase(verb) if with_pp else None, perfect, negated)

    def main(self, clause: Clause, family: str, tags: Sequence[str] = ()) -> Sentence:
        return _sentence(clause.english(), clause.german_main(), family, clause, tags)

    # the families
    def agreement(self) -> Sentence:
        verbs = _BY_OBJ["acc"]
        verb = self.rng.choice(verbs)
        clause = Clause(self.noun_phrase(self.animate, dets=("the", "a", "poss", "bare", "number")), verb,
                        (("acc", self.noun_phrase(self.objects)),))
        return self.main(clause, "agreement")

    def prepositions(self) -> Sentence:
        return self.main(self.clause(_BY_OBJ[""] + _BY_OBJ["acc"], pp=True), "prepositions")

    def dative_objects(self) -> Sentence:
        return self.main(self.clause(_BY_OBJ["dat"] + _BY_OBJ["dat+acc"], pp=False), "dative objects")

    def pronouns(self) -> Sentence:
        """Two sentences: a noun, then a pronoun for it ("the table is old . it is big ." -> "... . er ist groß .")."""
        rng = self.rng
        noun = self.noun_phrase(self.things + [n for n in self.animate if n.kind == "animal"],
                                dets=("the", "a", "poss"))
        key = "3pl" if noun.plural else f"3sg {noun.noun.gender}"
        if rng.random() < 0.5:  # "the table is old ."
            adjective = rng.choice(ADJECTIVES)
            be_en, be_de = ("are", "sind") if noun.plural else ("is", "ist")
            en1, de1 = [*noun.english(), be_en, adjective.en], [*noun.german("nom"), be_de, adjective.de]
            case = "nom"
        else:  # "I see the table ."
            clause = Clause(NounPhrase(pronoun=rng.choice(_PERSONS)), rng.choice(_BY_OBJ["acc"]), (("acc", noun),))
            en1, de1 = clause.english(), clause.german_main()
            case = "acc"
        # English says "it" (or "they") for a thing or an animal; German says er, sie or es by the noun's gender
        pronoun = NounPhrase(pronoun=key, en_pronoun=("they", "them") if noun.plural else ("it", "it"))
        if rng.random() < 0.5:  # "it is big ." -> "er ist groß ."
            adjective = rng.choice(ADJECTIVES)
            be_en, be_de = ("are", "sind") if noun.plural else ("is", "ist")
            en2, de2 = [*pronoun.english(), be_en, adjective.en], [*pronoun.german("nom"), be_de, adjective.de]
        else:  # "we buy it ." -> "wir kaufen ihn ."
            clause = Clause(NounPhrase(pronoun=rng.choice(_PERSONS)), rng.choice(_BY_OBJ["acc"]), (("acc", pronoun),))
            en2, de2 = clause.english(), clause.german_main()
        tags = [f"pronoun:{key}"]
        return Sentence((*en1, ".", *en2, "."), (*de1, ".", *de2, "."), "pronouns",
                        frozenset(tags + _case_tags(noun, case)))

    def verb_second(self) -> Sentence:
        clause = self.clause(_BY_OBJ[""] + _BY_OBJ["acc"], pp=False)
        if self.rng.random() < 0.5:
            adverb = self.rng.choice(list(ADVERBS))
            return _sentence([adverb, *clause.english()], clause.german_main([ADVERBS[adverb]]), "verb second", clause)
        # a fronted place: "in the garden the dog sleeps" -> "im Garten schläft der Hund"
        preposition = self.rng.choice([p for p in PREPOSITIONS if p.use == "place"])
        phrase = self.noun_phrase(self.places + self.things, dets=("the", "the", "a", "poss"))
        front_en = preposition.en.split() + phrase.english("object")
        front_de = phrase.german("dat", preposition)
        return _sentence([*front_en, *clause.english()], clause.german_main(front_de), "verb second", clause,
                         _case_tags(phrase, "dat"))

    def subordinate_clause(self, perfect: bool | None = None) -> Sentence:
        """'I know that the dog sees the cat' -> 'ich weiß , dass der Hund die Katze sieht' (or weil)."""
        rng = self.rng
        perfect = rng.random() < 0.25 if perfect is None else perfect
        inner = self.clause([v for v in VERBS if v.obj in ("", "acc", "dat")], perfect=perfect, pp=None)
        if rng.random() < 0.7:
            saying = rng.choice(list(SAYING))
            (en_base, en_3sg), forms = SAYING[saying]
            speaker = rng.choice(_PERSONS)
            person = speaker.split()[0]
            en_main = [PRONOUNS[speaker][0][0], en_3sg if person == "3sg" else en_base, "that"]
            de_main = [PRONOUNS[speaker][1]["nom"], forms[PERSONS.index(person)], ",", "dass"]
            tag = "dass"
        else:
            outer = self.clause(_BY_OBJ[""], pp=False)
            en_main, de_main = [*outer.english(), "because"], [*outer.german_main(), ",", "weil"]
            tag = "weil"
        tags = [tag] + (["subordinate perfect"] if perfect else []) + (["subordinate separable"]
                                                                       if inner.verb.prefix else [])
        return _sentence([*en_main, *inner.english()], [*de_main, *inner.german_subordinate()],
                         "subordinate clauses", inner, tags)

    def perfect(self) -> Sentence:
        return self.main(self.clause(perfect=True), "perfect")

    def separable_verbs(self) -> Sentence:
        return self.main(self.clause(_SEPARABLE), "separable verbs")

    def negation(self) -> Sentence:
        rng = self.rng
        verbs = _BY_OBJ[""] + _BY_OBJ["acc"] + _BY_OBJ["dat"] + [v for v in _SEPARABLE if v.obj == "acc"]
        clause = self.clause(verbs, perfect=rng.random() < 0.2, negated=True, pp=False)
        if clause.objects and clause.verb.obj == "acc" and not clause.perfect and rng.random() < 0.5:
            # an indefinite object: "I do not see a cat" -> "ich sehe keine Katze"
            case, phrase = clause.objects[0]
            if not phrase.pronoun:
                no = NounPhrase(phrase.noun, rng.random() < 0.3, "no", phrase.adjective)
                clause = Clause(clause.subject, clause.verb, ((case, no),), None, False, True)
                return self.main(clause, "negation", ["kein"])
        return self.main(clause, "negation", ["nicht"])

    def questions(self) -> Sentence:
        rng = self.rng
        kind = rng.choice(["yes/no", "yes/no", "what", "who", "where"])
        if kind == "what":  # the object is asked for: "what does the dog see ?" -> "was sieht der Hund ?"
            clause = Clause(self.subject(), rng.choice(_BY_OBJ["acc"]), perfect=rng.random() < 0.2)
            english = clause.english(question=True, wh="what")
            # English needs the verb's object slot empty: it is, as the clause has no objects
            return _sentence([*english, "?"], clause.german_question("what"), "questions", clause, ["what"])
        if kind == "who":  # the subject is asked for: "who sees the cat ?" -> "wer sieht die Katze ?"
            verb = rng.choice(_BY_OBJ["acc"] + _BY_OBJ[""])
            clause = Clause(NounPhrase(pronoun="3sg m"), verb, self.object_of(verb), perfect=rng.random() < 0.2)
            return _sentence([*clause.english(question=True, wh="who"), "?"], clause.german_question("who"),
                             "questions", clause, ["who"])
        if kind == "where":  # "where does the dog sleep ?" -> "wo schläft der Hund ?"
            clause = Clause(self.subject(), rng.choice([v for v in _BY_OBJ[""] if not v.motion]))
            return _sentence([*clause.english(question=True, wh="where"), "?"], clause.german_question("where"),
                             "questions", clause, ["where"])
        clause = self.clause(perfect=rng.random() < 0.25, pp=False)
        return _sentence([*clause.english(question=True), "?"], clause.german_question(), "questions", clause,
                         ["yes/no"])

    def sentence(self, family: str) -> Sentence:
        """One sentence of ``family``."""
        return self.family_functions()[family]()

    def family_functions(self) -> dict[str, Callable[[], Sentence]]:
        return {"agreement": self.agreement, "prepositions": self.prepositions,
                "dative objects": self.dative_objects, "pronouns": self.pronouns, "verb second": self.verb_second,
                "subordinate clauses": self.subordinate_clause, "perfect": self.perfect,
                "separable verbs": self.separable_verbs, "negation": self.negation, "questions": self.questions}

    def any(self, families: Sequence[str] = FAMILIES) -> Sentence:
        """A sentence of a family drawn uniformly from ``families``."""
        return self.sentence(self.rng.choice(list(families)))


def _case_tags(phrase: NounPhrase, case: str) -> list[str]:
    """'dat:dog' for a noun phrase of "dog" in the dative: what the held-out combinations are made of."""
    return [] if phrase.pronoun else [f"{case}:{phrase.noun.en}"]


def _clause_tags(clause: Clause) -> list[str]:
    tags = _case_tags(clause.subject, "nom")
    for case, phrase in clause.objects:
        tags += _case_tags(phrase, case)
    if clause.pp:
        tags += _case_tags(clause.pp[1], clause.pp[0].case)
    tags += ["perfect"] * clause.perfect + ["negated"] * clause.negated + ["separable"] * bool(clause.verb.prefix)
    return tags


def _sentence(en: Sequence[str], de: Sequence[str], family: str, clause: Clause | None = None,
              tags: Sequence[str] = ()) -> Sentence:
    all_tags = list(tags) + (_clause_tags(clause) if clause else [])
    return Sentence(tuple(en), tuple(de), family, frozenset(all_tags))


# --------------------------------------------------------------------------
# Vocabularies: every word the generator can write, listed from the lexicon
# --------------------------------------------------------------------------

def _english_words() -> list[str]:
    words = [".", "?", ",", "the", "a", "an", "any", "not", "do", "does", "has", "have", "is", "are"]
    words += list(CONJUNCTIONS) + list(QUESTION_WORDS) + list(ADVERBS)
    words += [w for pair, _ in PRONOUNS.values() for w in pair] + list(POSSESSIVES)
    for n in NUMBERS:
        words += english_tokens(n)
    for noun in NOUNS:
        words += [noun.en, noun.en_plural]
    words += [a.en for a in ADJECTIVES]
    for verb in VERBS:
        words += verb.en.split() + verb.en_3sg.split() + verb.en_participle.split()
    for (base, third), _ in SAYING.values():
        words += [base, third]
    for p in PREPOSITIONS:
        words += p.en.split()
    return words


def _german_words() -> list[str]:
    words = [".", "?", ",", "nicht", "ist", "sind"] + list(CONJUNCTIONS.values()) + list(QUESTION_WORDS.values())
    words += list(ADVERBS.values())
    for forms in (*(f for _, f in PRONOUNS.values()),):
        words += list(forms.values())
    for case in DEFINITE:
        words += list(DEFINITE[case].values())
        for stem in ["ein", "kein", *POSSESSIVES.values()]:
            words += [stem + e for e in EIN_ENDINGS[case].values()]
    for n in NUMBERS:
        words += german_tokens(n)
    for noun in NOUNS:
        words += [noun.de, noun.de_plural, noun_form(noun, "dat", True)]
    for adjective in ADJECTIVES:
        words.append(adjective.de)
        words += [adjective.attributive(e) for table in ADJECTIVE_ENDINGS.values() for by_case in table.values()
                  for e in by_case.values()]
    for verb in VERBS:
        words += list(verb.present) + [verb.joined(p) for p in PERSONS] + [verb.participle]
        if verb.prefix:
            words.append(verb.prefix)
    words += list(HABEN) + list(SEIN)
    for _, forms in SAYING.values():
        words += list(forms)
    for p in PREPOSITIONS:
        words += [p.de] + [c for _, c in p.contractions]
    return words


EN_VOCAB = Vocab(_english_words())
DE_VOCAB = Vocab(_german_words())


# --------------------------------------------------------------------------
# The data: training sentences, and test sets that measure what generalises
# --------------------------------------------------------------------------

HELD_OUT_PATTERN = "subordinate perfect"  # "..., dass der Hund die Katze gesehen hat": never in training


def held_out_nouns(seed: int = 0, n: int = 12, nouns: Sequence[Noun] | None = None) -> list[str]:
    """English nouns (people and animals) kept out of the dative in training: "with the X", "helps the X".

    With ``nouns`` (a smaller lexicon), as many of its people and animals as keeps the full lexicon's
    share (12 of 67), at least one.
    """
    if nouns is None:
        return sorted(random.Random(seed + 1000).sample([noun.en for noun in _ANIMATE], n))
    animate = [noun.en for noun in nouns if noun.kind in ("person", "animal")]
    return sorted(random.Random(seed + 1000).sample(animate, max(1, round(n * len(animate) / len(_ANIMATE)))))


KINDS = ("person", "animal", "thing", "place")


def lexicon_subset(n_nouns: int, seed: int = 0) -> list[Noun]:
    """A smaller lexicon: ``n_nouns`` of the nouns, drawn from ``seed``, each kind in its share (at least 2 of each).

    Every family still has the nouns it needs (people and animals as subjects, things, places).
    """
    if not 2 * len(KINDS) <= n_nouns <= len(NOUNS):
        raise ValueError(f"n_nouns must be between {2 * len(KINDS)} and {len(NOUNS)}, not {n_nouns}")
    rng = random.Random(seed + 2000)
    by_kind = {kind: [n for n in NOUNS if n.kind == kind] for kind in KINDS}
    counts = {kind: max(2, round(n_nouns * len(by_kind[kind]) / len(NOUNS))) for kind in KINDS}
    while sum(counts.values()) != n_nouns:  # rounding: take from or give to the largest kind
        largest = max(KINDS, key=lambda kind: counts[kind])
        counts[largest] += 1 if sum(counts.values()) < n_nouns else -1
    chosen = {noun.en for kind in KINDS for noun in rng.sample(by_kind[kind], counts[kind])}
    return [noun for noun in NOUNS if noun.en in chosen]  # in the lexicon's order


@dataclass
class SentenceData:
    """Training sentences and the test sets: per family, held-out combinations, the held-out pattern, longer ones."""

    train: list[Sentence]
    val: list[Sentence]
    test: dict[str, list[Sentence]]          # family -> sentences like the training ones, never trained on
    combinations: list[Sentence]             # a held-out noun in the dative
    pattern: list[Sentence]                  # subordinate clauses in the perfect
    longer: list[Sentence]                   # more English words than any training sentence
    max_train_len: int
    held_out_nouns: list[str]


def in_training_distribution(s: Sentence, dative_nouns: set[str], max_len: int) -> bool:
    """Whether a sentence may be trained on: no held-out noun in the dative, not the held-out pattern, short enough."""
    if HELD_OUT_PATTERN in s.tags or len(s.en) > max_len:
        return False
    return not any(tag.startswith("dat:") and tag[4:] in dative_nouns for tag in s.tags)


def make_data(n_train: int = 40_000, n_val: int = 300, n_test: int = 200, seed: int = 0, max_train_len: int = 12,
              families: Sequence[str] = FAMILIES, n_nouns: int | None = None) -> SentenceData:
    """All the sentences a run needs, from one seed; no test or validation sentence (by its English) is trained on.

    ``n_nouns``: a smaller lexicon (:func:`lexicon_subset` of ``seed``) for training and every test set alike;
    None: all the nouns.
    """
    lexicon_nouns = None if n_nouns is None else lexicon_subset(n_nouns, seed)
    nouns = held_out_nouns(seed, nouns=lexicon_nouns)
    dative = set(nouns)
    generator = Generator(seed, nouns=lexicon_nouns)
    seen: set[tuple[str, ...]] = set()

    def draw(make: Callable[[], Sentence], keep: Callable[[Sentence], bool], n: int) -> list[Sentence]:
        out = []
        for _ in range(200 * n):
            if len(out) == n:
                break
            s = make()
            if keep(s) and s.en not in seen:
                seen.add(s.en)
                out.append(s)
        return out

    def ordinary(s):
        return in_training_distribution(s, dative, max_train_len)

    test = {f: draw(lambda f=f: generator.sentence(f), ordinary, n_test) for f in families}
    val = draw(lambda: generator.any(families), ordinary, n_val)
    combinations = draw(lambda: generator.any(("prepositions", "dative objects")),
                        lambda s: HELD_OUT_PATTERN not in s.tags and len(s.en) <= max_train_len
                        and not ordinary(s), n_test)
    pattern = draw(lambda: generator.subordinate_clause(perfect=True),
                   lambda s: len(s.en) <= max_train_len and all(
                       not (t.startswith("dat:") and t[4:] in dative) for t in s.tags), n_test)
    longer = draw(lambda: generator.any(families),
                  lambda s: len(s.en) > max_train_len and HELD_OUT_PATTERN not in s.tags
                  and in_training_distribution(s, dative, len(s.en)), n_test)
    held = set(seen)
    train = []
    while len(train) < n_train:
        s = generator.any(families)
        if ordinary(s) and s.en not in held:
            train.append(s)
    return SentenceData(train, val, test, combinations, pattern, longer, max_train_len, nouns)


# --------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------

def encode(sentence: Sentence) -> tuple[list[int], list[int]]:
    """The ids of one example: English source (no specials), German target (<bos> ... <eos>)."""
    return EN_VOCAB.encode(sentence.en), DE_VOCAB.encode(sentence.de, bos=True, eos=True)


def make_batch(sentences: Sequence[Sentence]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences -> padded ``src`` (B, S) and ``tgt`` (B, T) ids."""
    return collate([encode(s) for s in sentences])


def batch_iterator(sentences: Sequence[Sentence], batch_size: int, seed: int = 0, epochs: int | None = None
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield shuffled padded batches ``(src (B, S), tgt (B, T))``; ``epochs=None`` never ends."""
    src_all, tgt_all = make_batch(sentences)
    return batches_of(src_all, tgt_all, batch_size, seed, epochs=epochs)
