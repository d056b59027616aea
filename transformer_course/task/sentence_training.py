"""Training and measuring a translator of sentences: the number task's loop on the sentence task's data.

The model, the loss, the step and the loop are the number translator's (:mod:`.training`); what changes
is the data (:mod:`.sentences`) and how it is scored: exact match, and the field's standard
scores chrF and BLEU (``sacrebleu``), per family of sentences and on each held-out set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..config import ModelConfig
from ..encoder_decoder import Transformer
from ..masks import padding_mask, target_mask
from .ablation import Run, SwitchableTransformer
from .decoding import EvalMode, greedy_decode
from .lexicon import DEFINITE, EIN_ENDINGS, POSSESSIVES
from .sentences import (
    DE_VOCAB,
    EN_VOCAB,
    SentenceData,
    batch_iterator,
    make_batch,
    make_data,
)
from .training import History, train, warmup_cosine_schedule

MAX_LEN = 32  # positions the model covers, <bos> and <eos> included: more than the longest sentence made here


@dataclass(frozen=True)
class SentenceConfig:
    """A sentence translator's size and training, in one flat record (seeded and bounded by steps)."""

    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.1
    steps: int = 800
    batch_size: int = 64
    lr: float = 5e-3
    warmup: int = 60
    smoothing: float = 0.1
    n_train: int = 40_000
    n_test: int = 100          # sentences per family and per held-out set
    max_train_len: int = 12    # English words; longer sentences are only in the "longer" test set
    data_seed: int = 0
    seed: int = 0

    def model_config(self) -> ModelConfig:
        """The model's size, for the sentence vocabularies."""
        return ModelConfig(vocab_size=len(DE_VOCAB), src_vocab_size=len(EN_VOCAB), d_model=self.d_model,
                           n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff, dropout=self.dropout,
                           max_len=MAX_LEN)

    def data(self) -> SentenceData:
        """The sentences of this run (the same for every seed of the model)."""
        return make_data(self.n_train, n_val=0, n_test=self.n_test, seed=self.data_seed,
                         max_train_len=self.max_train_len)

    def with_(self, **changes) -> SentenceConfig:
        return replace(self, **changes)


def train_translator(config: SentenceConfig, model: nn.Module | None = None, data: SentenceData | None = None,
                     progress: bool = True, device: torch.device | str = "cpu",
                     batches: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None) -> tuple[nn.Module, History]:
    """Train ``model`` (default: the course's Transformer of ``config``'s size) on sentences; returns (model, history).

    Adam with the paper's betas, a linear warm-up and a cosine decay to 0 at the last step,
    label smoothing; one batch of ``batch_size`` sentences per step. ``batches`` (default: word ids of
    ``data.train``) replaces the batches, e.g. the same sentences as byte-pair pieces (:mod:`.sentence_pieces`).
    """
    data = data if data is not None else config.data()
    torch.manual_seed(config.seed)
    model = (model if model is not None else Transformer(config.model_config())).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine_schedule(config.warmup, config.steps))
    if batches is None:
        batches = batch_iterator(data.train, config.batch_size, seed=config.seed)
    history = train(model, batches, optimizer, scheduler, max_steps=config.steps, smoothing=config.smoothing,
                    progress=progress)
    return model, history


def translate(model: nn.Module, sentences: Sequence, batch_size: int = 500) -> list[list[str]]:
    """The model's German words for each sentence (greedy decoding)."""
    out: list[list[str]] = []
    for start in range(0, len(sentences), batch_size):
        src, _ = make_batch(sentences[start:start + batch_size])
        out += [DE_VOCAB.decode(row) for row in greedy_decode(model, src, max_len=MAX_LEN).cpu()]
    return out


# every form of an article, kein and the possessives: the words whose choice is agreement
ARTICLES = frozenset(w for case in DEFINITE for w in DEFINITE[case].values()) | frozenset(
    stem + e for stem in ["ein", "kein", *POSSESSIVES.values()] for case in EIN_ENDINGS
    for e in EIN_ENDINGS[case].values())



def article_accuracy(predicted: Sequence[Sequence[str]], sentences: Sequence) -> float:
    """Of the articles in the references, the fraction the prediction has right at the same position.

    Only predictions of the reference's length count (elsewhere positions do not line up): a
    measure of agreement (gender, number, case) apart from word order.
    """
    right = total = 0
    for p, s in zip(predicted, sentences):
        if len(p) != len(s.de):
            continue
        for mine, theirs in zip(p, s.de):
            if theirs in ARTICLES:
                right, total = right + (mine == theirs), total + 1
    return right / total if total else float("nan")


def score(predicted: Sequence[Sequence[str]], sentences: Sequence) -> dict[str, float]:
    """Exact match (fraction of whole sentences right), chrF and BLEU (sacrebleu, 0..100), article accuracy."""
    # imported here, not at the top: only the sentence task needs it (the 'notebooks' extra)
    from sacrebleu.metrics import BLEU, CHRF

    hypotheses = [" ".join(p) for p in predicted]
    references = [" ".join(s.de) for s in sentences]
    return {"exact": sum(h == r for h, r in zip(hypotheses, references)) / len(references),
            "chrF": CHRF().corpus_score(hypotheses, [references]).score,
            # our words are already tokens: BLEU's own tokenizer would only split them again
            "BLEU": BLEU(tokenize="none", force=True).corpus_score(hypotheses, [references]).score,
            "articles": article_accuracy(predicted, sentences)}


def test_sets(data: SentenceData) -> dict[str, list]:
    """Every test set by name: the families (like training, never trained on), then the held-out sets."""
    return {**data.test, "held-out combinations": data.combinations, "held-out pattern": data.pattern,
            "longer sentences": data.longer}


def evaluate(model: nn.Module, data: SentenceData) -> dict[str, dict[str, float]]:
    """:func:`score` on every test set (:func:`test_sets`)."""
    return {name: score(translate(model, sentences), sentences) for name, sentences in test_sets(data).items()}


# --------------------------------------------------------------------------
# Ablations: do we need the feed-forward network on this task?
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class SentenceSwitches(Run):
    """Notebook 08's switches (a :class:`Run`'s fields) on a model sized for the sentence vocabularies."""

    sentences: SentenceConfig | None = None

    def model_config(self) -> ModelConfig:
        return self.sentences.model_config()


def ablation_run(config: SentenceConfig, feed_forward: bool = True, data: SentenceData | None = None) -> dict:
    """Train the switchable encoder-decoder (notebook 08's) with or without its feed-forward sub-layers; a JSON dict.

    Keys: "config", "feed_forward", "parameters", "losses" (mean of each 10 steps), "scores" (:func:`evaluate`),
    "test_exact" (exact match on all the family test sets together), "n_test", "cpu_seconds".
    """
    data = data if data is not None else config.data()
    start = time.process_time()
    torch.manual_seed(config.seed)
    model = SwitchableTransformer(SentenceSwitches(feed_forward=feed_forward, sentences=config))
    model, history = train_translator(config, model, data, progress=False)
    scores = evaluate(model, data)
    family_sentences = [s for sentences in data.test.values() for s in sentences]
    losses = torch.tensor(history.losses)
    return {"config": asdict(config), "feed_forward": feed_forward,
            "parameters": sum(p.numel() for p in model.parameters()),
            "losses": [round(float(v), 4) for v in losses[:len(losses) // 10 * 10].reshape(-1, 10).mean(dim=1)],
            "scores": {name: {k: round(v, 4) for k, v in s.items()} for name, s in scores.items()},
            "test_exact": round(sum(scores[f]["exact"] * len(data.test[f]) for f in data.test)
                                / len(family_sentences), 4),
            "n_test": len(family_sentences),
            "cpu_seconds": round(time.process_time() - start, 1)}


def cross_attention(model: nn.Module, sentence) -> dict:
    """Translate one sentence greedily; its cross-attention weights (n_layers, n_heads, T, S) and the tokens.

    As :func:`~transformer_course.task.interpret.attention_maps`: one teacher-forced pass over the
    model's own translation computes the weights the step-by-step decoding used. Row t is the
    step that wrote ``output[t]``.
    """
    src, _ = make_batch([sentence])                                                # (1, S)
    ys = greedy_decode(model, src, max_len=MAX_LEN).cpu()                          # (1, T + 1)
    ys = ys[:, :int((ys != 0).sum())]
    tgt_in = ys[:, :-1]
    with EvalMode(model):
        model(src, tgt_in, padding_mask(src, 0), target_mask(tgt_in, 0))
    layers = model.decoder.layers if hasattr(model.decoder, "layers") else model.decoder
    return {"source": list(sentence.en), "output": [DE_VOCAB.itos[i] for i in ys[0, 1:].tolist()],
            "cross": torch.stack([layer.cross_attn.attn_weights[0].float().cpu() for layer in layers])}


def gender_probe(model: nn.Module, splits: int = 5, steps: int = 300) -> dict[str, float]:
    """Where does the model keep each noun's German gender? A linear probe at the noun, layer by layer.

    Each noun is read in the frame "the X sleeps"; at the noun's position we take the source
    embedding, then each encoder layer's self-attention output and feed-forward output (the
    updates the layer adds to the stream), and the encoder's final output. A logistic regression
    (3 genders) is trained on two thirds of the nouns and tested on the other third, which it
    never saw: accuracy above the majority class means the gender is a direction shared across
    nouns. Returns the accuracy of each place, averaged over ``splits`` random splits, and
    "majority" (always guessing the most common gender).
    """
    import random

    from .lexicon import NOUNS
    src = torch.tensor([EN_VOCAB.encode(["the", noun.en, "sleeps"]) for noun in NOUNS])   # (N, 3)
    gender = torch.tensor(["mfn".index(noun.gender) for noun in NOUNS])                   # (N,)
    captured: dict[str, torch.Tensor] = {}
    hooks = []
    def keep(key: str):
        return lambda module, inputs, out: captured.update({key: out.detach()})

    for i, layer in enumerate(model.encoder.layers):
        for name, label in (("self_attn", "self-attention"), ("feed_forward", "feed-forward")):
            if hasattr(layer, name):
                hooks.append(getattr(layer, name).register_forward_hook(keep(f"layer {i + 1} {label}")))
    try:
        with EvalMode(model):
            memory = model.encode(src, padding_mask(src, 0))                             # (N, 3, d_model)
            embedding = model.src_embed(src)                                              # (N, 3, d_model)
    finally:
        for hook in hooks:
            hook.remove()
    places = {"embedding": embedding, **captured, "encoder output": memory}
    accuracies = {"majority": max((gender == g).float().mean().item() for g in range(3))}
    for place, x in places.items():
        x = x[:, 1].float()                                                              # (N, d_model): the noun
        right = []
        for split in range(splits):
            order = list(range(len(NOUNS)))
            random.Random(split).shuffle(order)
            train, test = order[:len(order) * 2 // 3], order[len(order) * 2 // 3:]
            mean, std = x[train].mean(dim=0), x[train].std(dim=0) + 1e-6
            z = (x - mean) / std
            generator = torch.Generator().manual_seed(split)
            weight = (0.01 * torch.randn(x.shape[1], 3, generator=generator)).requires_grad_()
            bias = torch.zeros(3, requires_grad=True)
            optimizer = torch.optim.Adam([weight, bias], lr=0.05)
            for _ in range(steps):
                loss = nn.functional.cross_entropy(z[train] @ weight + bias, gender[train]) + 1e-2 * weight.square().sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            right.append(((z[test] @ weight + bias).argmax(dim=1) == gender[test]).float().mean().item())
        accuracies[place] = sum(right) / len(right)
    return accuracies
