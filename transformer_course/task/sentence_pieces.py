"""The sentence translator on byte-pair pieces instead of words (notebook 11, with notebook 10's tokenizer).

Each language gets its own byte-level BPE tokenizer (:mod:`transformer_course.tokenizer`), learned
from the training sentences written out as text ("der Hund sieht die Katze"); the model reads and
writes the pieces' ids. To score, the German pieces are decoded to text and cut at the spaces into
words, so the word-level :func:`~.sentence_training.score` (exact match, chrF, BLEU, articles)
measures both translators the same way.

Ids: as in :mod:`.spelling`, the tokenizer's specials (last in its ids) become the model's
``PAD_ID, BOS_ID, EOS_ID = 0, 1, 2`` (:func:`~.spelling.to_model_ids`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..config import ModelConfig
from ..encoder_decoder import Transformer
from ..tokenizer import BPETokenizer, pre_split
from .decoding import greedy_decode
from .lexicon import NOUNS, noun_form
from .number_words import EOS_ID, PAD_ID, batches_of, collate
from .sentence_training import SentenceConfig, score, test_sets, train_translator
from .sentence_training import translate as translate_words
from .sentences import Sentence, SentenceData
from .spelling import from_model_ids, to_model_ids

EN_VOCAB_SIZE = 600    # 256 bytes + 344 merges (+ 3 specials): fewer ids than the 674 English words
DE_VOCAB_SIZE = 1000   # 256 bytes + 744 merges (+ 3 specials): fewer ids than the 1,222 German words
MAX_LEN = 64           # positions (sinusoidal: no parameters); a sentence is more pieces than words


def text(words: Sequence[str]) -> str:
    """A sentence's words as the text the tokenizer reads: ('der', 'Hund') -> 'der Hund'."""
    return " ".join(words)


def words(text: str) -> list[str]:
    """Text back to the words the scores compare: cut at the spaces."""
    return text.split()


@dataclass(eq=False)
class PieceTokenizers:
    """One byte-pair tokenizer per language: ``en`` for the source, ``de`` for the target."""

    en: BPETokenizer
    de: BPETokenizer

    @classmethod
    def trained(cls, sentences: Sequence[Sentence], en_size: int = EN_VOCAB_SIZE, de_size: int = DE_VOCAB_SIZE,
                **fns) -> PieceTokenizers:
        """Learn each language's merges from ``sentences`` (one per line); ``fns`` as in ``BPETokenizer.trained``."""
        return cls(BPETokenizer.trained(corpus(sentences, "en"), en_size, **fns),
                   BPETokenizer.trained(corpus(sentences, "de"), de_size, **fns))

    def merges(self) -> dict[str, list[list[int]]]:
        """Both merge lists, as JSON can store them."""
        return {"en": [list(p) for p in self.en.merges], "de": [list(p) for p in self.de.merges]}

    @classmethod
    def learners(cls, sentences: Sequence[Sentence], en_size: int = EN_VOCAB_SIZE, de_size: int = DE_VOCAB_SIZE,
                 quiet: bool = False) -> PieceTokenizers:
        """:meth:`trained` with notebook 10's functions: yours where their checks passed (``tc.parts``), else the reference.

        Prints the parts table (part, notebook, used here); in strict mode a function of yours that
        is missing raises, as for the model's parts.
        """
        from .. import parts

        mine = parts.load(*parts.TOKENIZER_PARTS, quiet=quiet)
        return cls.trained(sentences, en_size, de_size, train_fn=mine.bpe_train, encode_fn=mine.bpe_encode_with_specials,
                           decode_fn=mine.bpe_decode)

    @classmethod
    def from_merges(cls, merges: dict[str, list[list[int]]]) -> PieceTokenizers:
        """The tokenizers of stored merges (:meth:`merges`)."""
        return cls(BPETokenizer([tuple(p) for p in merges["en"]]), BPETokenizer([tuple(p) for p in merges["de"]]))


def corpus(sentences: Sequence[Sentence], language: str) -> str:
    """One language's side of ``sentences``, one sentence per line: what its tokenizer learns from."""
    return "\n".join(text(getattr(s, language)) for s in sentences)


@functools.lru_cache(maxsize=100_000)
def _encode_chunk(chunk: str, tokenizer: BPETokenizer) -> tuple[int, ...]:
    """One chunk's ids, remembered: encoding in plain Python is slow, and the same words come back often."""
    return tuple(tokenizer.encode(chunk))


def encode_text(text: str, tokenizer: BPETokenizer) -> list[int]:
    """``tokenizer.encode(text)`` chunk by chunk (no merge crosses a chunk, so it is the same ids), faster."""
    return [i for chunk in pre_split(text) for i in _encode_chunk(chunk, tokenizer)]


def encode(sentence: Sentence, tokenizers: PieceTokenizers) -> tuple[list[int], list[int]]:
    """Model ids of one example: English pieces (no specials), German ``<bos>`` pieces ``<eos>``."""
    de = tokenizers.de
    src = to_model_ids(encode_text(text(sentence.en), tokenizers.en), tokenizers.en)
    tgt = to_model_ids([de.special_id("<bos>"), *encode_text(text(sentence.de), de), de.special_id("<eos>")], de)
    return src, tgt


def make_batch(sentences: Sequence[Sentence], tokenizers: PieceTokenizers) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences -> padded ``src`` (B, S) and ``tgt`` (B, T) piece ids (model ids, ``<pad>`` = 0)."""
    return collate([encode(s, tokenizers) for s in sentences])


def batch_iterator(sentences: Sequence[Sentence], tokenizers: PieceTokenizers, batch_size: int, seed: int = 0
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless shuffled batches of pieces, the same sentences in the same order as the word batches of ``seed``."""
    src_all, tgt_all = make_batch(sentences, tokenizers)                           # encoded once
    return batches_of(src_all, tgt_all, batch_size, seed, epochs=None)


def model_config(config: SentenceConfig, tokenizers: PieceTokenizers) -> ModelConfig:
    """``config``'s model sizes with the two tokenizers' vocabularies."""
    return replace(config.model_config(), vocab_size=tokenizers.de.vocab_size,
                   src_vocab_size=tokenizers.en.vocab_size, max_len=MAX_LEN)


def train_translator_on_pieces(config: SentenceConfig, tokenizers: PieceTokenizers, data: SentenceData,
                               model: nn.Module | None = None, progress: bool = True
                               ) -> tuple[nn.Module, object]:
    """The sentence translator's training (same steps, seed, schedule), on piece ids; returns (model, history)."""
    torch.manual_seed(config.seed)
    model = model if model is not None else Transformer(model_config(config, tokenizers))
    batches = batch_iterator(data.train, tokenizers, config.batch_size, seed=config.seed)
    return train_translator(config, model, data, progress=progress, batches=batches)


def decode_ids(row: Sequence[int], tokenizer: BPETokenizer) -> list[str]:
    """One decoded row of model ids (``<bos>`` first) -> German words: pieces up to ``<eos>``, joined, cut at spaces."""
    row = list(row)[1:]
    row = row[:row.index(EOS_ID)] if EOS_ID in row else row
    return words(tokenizer.decode(from_model_ids([i for i in row if i != PAD_ID], tokenizer)))


def translate(model: nn.Module, sentences: Sequence[Sentence], tokenizers: PieceTokenizers,
              batch_size: int = 500) -> list[list[str]]:
    """The model's German words for each sentence: greedy decoding to pieces, then detokenized."""
    out: list[list[str]] = []
    for start in range(0, len(sentences), batch_size):
        src, _ = make_batch(sentences[start:start + batch_size], tokenizers)
        out += [decode_ids(row, tokenizers.de) for row in greedy_decode(model, src, max_len=MAX_LEN).cpu().tolist()]
    return out


def evaluate(model: nn.Module, data: SentenceData, tokenizers: PieceTokenizers) -> dict[str, dict[str, float]]:
    """The word-level :func:`~.sentence_training.score` on every test set, of the detokenized translations."""
    return {name: score(translate(model, sentences, tokenizers), sentences)
            for name, sentences in test_sets(data).items()}


# --------------------------------------------------------------------------
# The measurement: does the model write a dative plural it never saw?
# --------------------------------------------------------------------------

def unseen_forms(data: SentenceData) -> dict[str, str]:
    """The held-out nouns' dative plurals that differ from their nominative plural, e.g. 'Hunden' -> 'Hunde'.

    These forms occur in no training target (the nouns are kept out of the dative); the
    test of the held-out combinations asks for them. Maps each form to its nominative plural.
    """
    held = set(data.held_out_nouns)
    return {noun_form(n, "dat", True): n.de_plural for n in NOUNS
            if n.en in held and noun_form(n, "dat", True) != n.de_plural}


def unseen_form_counts(predicted: Sequence[Sequence[str]], sentences: Sequence[Sentence],
                       forms: dict[str, str]) -> dict[str, int]:
    """Of the references that need an unseen form (:func:`unseen_forms`): how many predictions write it.

    Keys: "needed" (sentences whose reference has such a form), "right" (the prediction has that
    word, anywhere), "nominative" (it has the nominative plural instead, e.g. 'Hunde' for 'Hunden').
    """
    needed = right = nominative = 0
    for p, s in zip(predicted, sentences):
        wanted = [w for w in s.de if w in forms]
        if not wanted:
            continue
        needed += 1
        right += all(w in p for w in wanted)
        nominative += any(forms[w] in p and w not in p for w in wanted)
    return {"needed": needed, "right": right, "nominative": nominative}


def comparison_run(config: SentenceConfig, data: SentenceData, tokenizers: PieceTokenizers | None) -> dict:
    """One arm of the words-vs-pieces comparison: train, score every test set, count the unseen forms; a JSON dict.

    ``tokenizers=None`` is the word-level translator (notebook 11's), else the same model on pieces.
    Keys: "config", "tokens" ("words" or "pieces"), "parameters", "losses" (mean of each 10 steps),
    "scores", "test_exact" (all the family test sets together), "n_test", "unseen_forms"
    (:func:`unseen_form_counts` on the held-out combinations), "combinations" (the model's German for
    each held-out combination), "cpu_seconds".
    """
    start = time.process_time()
    if tokenizers is None:
        torch.manual_seed(config.seed)   # built, then seeded again for training: as notebook 11 builds its model
        model, history = train_translator(config, Transformer(config.model_config()), data, progress=False)
        def translate_set(sentences):
            return translate_words(model, sentences)
    else:
        model, history = train_translator_on_pieces(config, tokenizers, data, progress=False)
        def translate_set(sentences):
            return translate(model, sentences, tokenizers)
    predictions = {name: translate_set(sentences) for name, sentences in test_sets(data).items()}
    scores = {name: score(predictions[name], sentences) for name, sentences in test_sets(data).items()}
    family_sentences = [s for sentences in data.test.values() for s in sentences]
    losses = torch.tensor(history.losses)
    combinations = predictions["held-out combinations"]
    return {"config": asdict(config), "tokens": "words" if tokenizers is None else "pieces",
            "parameters": sum(p.numel() for p in model.parameters()),
            "losses": [round(float(v), 4) for v in losses[:len(losses) // 10 * 10].reshape(-1, 10).mean(dim=1)],
            "scores": {name: {k: round(v, 4) for k, v in s.items()} for name, s in scores.items()},
            "test_exact": round(sum(scores[f]["exact"] * len(data.test[f]) for f in data.test)
                                / len(family_sentences), 4),
            "n_test": len(family_sentences),
            "unseen_forms": unseen_form_counts(combinations, data.combinations, unseen_forms(data)),
            "combinations": [" ".join(p) for p in combinations],
            "cpu_seconds": round(time.process_time() - start, 1)}
