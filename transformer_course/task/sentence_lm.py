"""The sentence task for notebook 09's GPT: one sequence per pair, the loss on the German, beside the encoder-decoder.

A pair becomes ``<bos> English = German <eos>``, as notebook 09 wrote the numbers
(:func:`~transformer_course.task.lm_data.lm_sequence`); the loss counts only the German and ``<eos>``.
The GPT reads one vocabulary, :data:`PAIR_VOCAB`: the English words, the separator, the German
words, each language with ids of its own (the eight words spelt the same in both, "hat", "in",
"an", ",", "?" ..., get two ids each, so "hat" the garment is not "hat" the verb).

It is trained with notebook 09's loop (:func:`~transformer_course.task.lm_training.train_lm`) at
the size, steps, batch size, sentences, schedule and label smoothing of notebook 11's encoder-decoder
(:class:`~transformer_course.task.sentence_training.SentenceConfig`), with twice its ``n_layers``
blocks (an encoder-decoder of 2 + 2 layers against a GPT of 4, as notebook 09 paired them), and
scored by the same :func:`~transformer_course.task.sentence_training.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict

import torch
from torch import nn

from ..config import ModelConfig
from ..encoder_decoder import Transformer
from ..gpt import GPT, generate
from .lm_data import SEP, lm_batches, lm_sequence, pack_lm
from .lm_training import LMHistory, LMTrainingConfig, continuations, train_lm
from .number_words import BOS_ID, EOS_ID, PAD_ID, SPECIALS, Vocab
from .sentence_training import MAX_LEN, SentenceConfig, evaluate, train_translator
from .sentences import DE_VOCAB, EN_VOCAB, SentenceData
from .training import label_smoothing_loss


class PairVocab:
    """One id space for a model that reads a source and writes a target: <pad> <bos> <eos>, the
    source words, the separator, the target words. A word of both languages gets two ids.

    Source word ``i`` keeps its id; target word ``j`` (not a special) becomes ``offset + j``.
    """

    def __init__(self, source: Vocab, target: Vocab, sep: str = SEP):
        self.source, self.target = source, target
        self.sep_id = len(source)
        self.offset = len(source) + 1 - len(SPECIALS)  # target id j >= 3 -> offset + j
        self.itos = source.itos + [sep] + target.itos[len(SPECIALS):]

    def __len__(self) -> int:
        return len(self.itos)

    def encode_source(self, words: Sequence[str]) -> list[int]:
        """Source words -> ids (those of the source vocabulary)."""
        return self.source.encode(words)

    def encode_target(self, words: Sequence[str]) -> list[int]:
        """Target words -> ids (the target vocabulary's, moved past the source words and the separator)."""
        return [self.offset + i for i in self.target.encode(words)]

    def decode_target(self, ids: Sequence[int]) -> list[str]:
        """Ids written after the separator -> target words, skipping <pad>/<bos> as ``Vocab.decode`` does.

        A source word or the separator written there is a mistake and stays one: ``"<hat>"``, never
        equal to a target word.
        """
        words = []
        for i in ids:
            if i in (PAD_ID, BOS_ID):
                continue
            words.append(self.itos[i] if i > self.sep_id else f"<{self.itos[i]}>")
        return words


PAIR_VOCAB = PairVocab(EN_VOCAB, DE_VOCAB)
SEP_ID = PAIR_VOCAB.sep_id
MAX_GERMAN = MAX_LEN - 1  # German words and <eos>: what the encoder-decoder may write (its MAX_LEN counts <bos>)
GPT_MAX_LEN = 1 + MAX_LEN + 1 + MAX_GERMAN  # <bos>, as many English words as the encoder reads, "=", the German


def encode_lm(sentence) -> tuple[list[int], list[bool]]:
    """``<bos> English = German <eos>`` as ids, and per token whether the loss counts it (the German and <eos>)."""
    return lm_sequence(PAIR_VOCAB.encode_source(sentence.en), PAIR_VOCAB.encode_target(sentence.de), SEP_ID)


def prompt_ids(sentence) -> list[int]:
    """What the GPT is given to translate a sentence: ``<bos> English =``."""
    return [BOS_ID, *PAIR_VOCAB.encode_source(sentence.en), SEP_ID]


def lm_batch_iterator(sentences: Sequence, batch_size: int, seed: int = 0, epochs: int | None = None
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(tokens (B, L), loss_mask (B, L))`` batches of sentences, in the encoder-decoder's order for ``seed``.

    The shuffling is :func:`~transformer_course.task.sentences.batch_iterator`'s (the same generator,
    the same permutation), so both models see the same sentences in the same batches.
    """
    return lm_batches(*pack_lm([encode_lm(s) for s in sentences]), batch_size, seed=seed, epochs=epochs)


def smoothed_lm_loss(logits: torch.Tensor, tokens: torch.Tensor, loss_mask: torch.Tensor,
                     smoothing: float = 0.1) -> torch.Tensor:
    """:func:`~transformer_course.task.lm_training.lm_loss` with notebook 07's label smoothing; a scalar.

    The same shift (position t predicts token t + 1) and mask; the positions the mask does not count
    become padding, which 07's :func:`~transformer_course.task.training.label_smoothing_loss` skips.
    With ``smoothing=0`` it is ``lm_loss``.
    """
    labels = tokens[:, 1:].masked_fill(~loss_mask[:, 1:], PAD_ID)  # (B, L-1): only the German and <eos> left
    return label_smoothing_loss(logits[:, :-1], labels, smoothing, PAD_ID)


def gpt_model_config(config: SentenceConfig, norm_first: bool = True) -> ModelConfig:
    """The GPT beside ``config``'s encoder-decoder: the same width, 2 x n_layers blocks, pre-LN as notebook 09's.

    ``norm_first=False``: post-LN like the encoder-decoder (and then, like it, no final LayerNorm).
    """
    return ModelConfig(vocab_size=len(PAIR_VOCAB), d_model=config.d_model, n_heads=config.n_heads,
                       n_layers=2 * config.n_layers, d_ff=config.d_ff, dropout=config.dropout,
                       max_len=GPT_MAX_LEN, norm_first=norm_first)


def lm_training_config(config: SentenceConfig) -> LMTrainingConfig:
    """Notebook 09's training settings with the encoder-decoder's: batch, peak rate, warm-up, cosine decay, steps, seed."""
    return LMTrainingConfig(batch_size=config.batch_size, lr=config.lr, warmup=config.warmup, schedule="cosine",
                            max_steps=config.steps, seed=config.seed)


def train_gpt(config: SentenceConfig, model: nn.Module | None = None, data: SentenceData | None = None,
              progress: bool = True, device: torch.device | str = "cpu", norm_first: bool = True
              ) -> tuple[nn.Module, LMHistory]:
    """Train ``model`` (default: :func:`gpt_model_config`'s GPT, seeded) on sentences with 09's loop; (model, history).

    ``norm_first`` is the default GPT's (False: post-LN, like the encoder-decoder).
    """
    data = data if data is not None else config.data()
    torch.manual_seed(config.seed)
    model = (model if model is not None else GPT(gpt_model_config(config, norm_first))).to(device)
    training = lm_training_config(config)
    batches = lm_batch_iterator(data.train, training.batch_size, seed=training.seed)
    history = train_lm(model, batches, training, progress=progress,
                       loss_fn=lambda logits, tokens, mask: smoothed_lm_loss(logits, tokens, mask, config.smoothing))
    return model, history


def gpt_translate(model: nn.Module, sentences: Sequence, use_cache: bool = True,
                  generate: Callable[..., torch.Tensor] = generate) -> list[list[str]]:
    """The GPT's German words for each sentence: greedy generation after ``<bos> English =`` (KV cache by default)."""
    written = continuations(model, [prompt_ids(s) for s in sentences], MAX_GERMAN, EOS_ID, use_cache=use_cache,
                            generate=generate)
    return [PAIR_VOCAB.decode_target(ids) for ids in written]


# --------------------------------------------------------------------------
# The comparison: one run of either model, as a JSON record
# --------------------------------------------------------------------------

ARCHITECTURES = ("encoder-decoder", "GPT", "GPT post-LN")  # the last: the GPT with the encoder-decoder's LayerNorms


def family_exact(scores: dict[str, dict[str, float]], data: SentenceData) -> float:
    """Exact match on all the family test sets together (the held-out sets left out)."""
    return sum(scores[f]["exact"] * len(data.test[f]) for f in data.test) / sum(map(len, data.test.values()))


def comparison_run(config: SentenceConfig, architecture: str, data: SentenceData | None = None) -> dict:
    """Train one model on sentences and score it (:func:`evaluate`); a JSON dict.

    ``architecture``: "encoder-decoder" (notebook 11's translator, :func:`train_translator`), "GPT"
    (:func:`train_gpt`, pre-LN as notebook 09's) or "GPT post-LN" (the same, post-LN like the encoder-decoder). Keys: "architecture", "config", "model_config", "parameters", "losses" (mean of
    each 10 steps), "scores" (per test set), "test_exact" (all the families), "n_test", "cpu_seconds".
    """
    data = data if data is not None else config.data()
    start = time.process_time()
    if architecture == "encoder-decoder":
        torch.manual_seed(config.seed)  # as notebook 11 makes its translator: seeded weights, then the seeded loop
        model, history = train_translator(config, Transformer(config.model_config()), data, progress=False)
        scores = evaluate(model, data)
    elif architecture in ("GPT", "GPT post-LN"):
        model, history = train_gpt(config, data=data, progress=False, norm_first=architecture == "GPT")
        scores = evaluate(model, data, translate=gpt_translate)
    else:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    losses = torch.tensor(history.losses)
    return {"architecture": architecture, "config": asdict(config), "model_config": asdict(model.config),
            "parameters": sum(p.numel() for p in model.parameters()),
            "losses": [round(float(v), 4) for v in losses[:len(losses) // 10 * 10].reshape(-1, 10).mean(dim=1)],
            "scores": {name: {k: round(v, 4) for k, v in s.items()} for name, s in scores.items()},
            "test_exact": round(family_exact(scores, data), 4),
            "n_test": sum(map(len, data.test.values())),
            "cpu_seconds": round(time.process_time() - start, 1)}


__all__ = ["PairVocab", "PAIR_VOCAB", "SEP_ID", "MAX_GERMAN", "GPT_MAX_LEN", "encode_lm", "prompt_ids",
           "lm_batch_iterator", "smoothed_lm_loss", "gpt_model_config", "lm_training_config", "train_gpt",
           "gpt_translate", "ARCHITECTURES", "family_exact", "comparison_run"]
