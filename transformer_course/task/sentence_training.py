"""Training and measuring a translator of sentences: the number task's loop on the sentence task's data.

The model, the loss, the step and the loop are the number translator's (:mod:`.training`); what changes
is the data (:mod:`.sentences`) and how it is scored: exact match, and the field's standard
scores chrF and BLEU (``sacrebleu``), per family of sentences and on each held-out set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..config import ModelConfig
from ..encoder_decoder import Transformer
from ..masks import padding_mask, target_mask
from .ablation import Run, SwitchableTransformer
from .decoding import EvalMode, greedy_decode
from .lexicon import DEFINITE, EIN_ENDINGS, NOUNS, POSSESSIVES
from .sentences import (
    DE_VOCAB,
    EN_VOCAB,
    SentenceData,
    batch_iterator,
    lexicon_subset,
    make_batch,
    make_data,
)
from .number_words import pad_sequences
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
    n_nouns: int | None = None # a smaller lexicon: this many of the nouns (lexicon_subset); None: all 173
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
                         max_train_len=self.max_train_len, n_nouns=self.n_nouns)

    def nouns(self) -> list:
        """The nouns this run's sentences use."""
        return list(NOUNS) if self.n_nouns is None else lexicon_subset(self.n_nouns, self.data_seed)

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


def evaluate(model: nn.Module, data: SentenceData,
             translate: Callable[[nn.Module, Sequence], list[list[str]]] = translate) -> dict[str, dict[str, float]]:
    """:func:`score` on every test set (:func:`test_sets`); ``translate`` is how the model writes its German
    (default: the encoder-decoder's greedy decoding; the GPT's is ``sentence_lm.gpt_translate``)."""
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


# the switches ablation_run takes, and their values in the full model (n_heads is a SentenceConfig field)
SWITCHES = {"feed_forward": True, "layer_norm": True, "positional": True, "freeze_embeddings": ""}
FROZEN = {"": (), "nouns": (), "source": ("src_embed",), "source and target": ("src_embed", "tgt_embed")}


def noun_tokens() -> list[int]:
    """The English tokens of the nouns (singular and plural): the rows "nouns" freezes."""
    return sorted({EN_VOCAB.stoi[w] for noun in NOUNS for w in (noun.en, noun.en_plural)})


def freeze_embeddings(model: nn.Module, which: str = "nouns") -> nn.Module:
    """Keep embedding rows at their random initial values: "nouns" (the English nouns' rows), "source"
    (every English word) or "source and target"; "" freezes nothing.

    The unembedding (and everything else) still trains. With a noun's row frozen, the noun is a
    fixed random vector: what the model knows of it (its German gender) cannot be written into its
    embedding row and has to be computed from that vector by the layers. "nouns" zeroes the
    gradient of those rows at every step, so Adam never moves them (no weight decay here).
    """
    if which not in FROZEN:
        raise ValueError(f"which must be one of {list(FROZEN)}, not {which!r}")
    for name in FROZEN[which]:
        getattr(model, name).requires_grad_(False)
    if which == "nouns":
        keep = torch.ones(model.src_embed.lut.weight.shape[0], 1)                         # (vocab, 1)
        keep[noun_tokens()] = 0.0
        model.src_embed.lut.weight.register_hook(lambda grad: grad * keep.to(grad.device))
    return model


def run_switches(result: dict) -> dict[str, bool]:
    """A stored result's switches; runs stored before the other switches existed had only "feed_forward"."""
    return {**SWITCHES, **result.get("switches", {}), "feed_forward": result["feed_forward"]}


def ablation_run(config: SentenceConfig, feed_forward: bool = True, data: SentenceData | None = None, *,
                 layer_norm: bool = True, positional: bool = True, freeze: str = "", probe: bool = False,
                 return_model: bool = False) -> dict | tuple[dict, nn.Module]:
    """Train the switchable encoder-decoder (notebook 08's) with parts switched off; a JSON dict.

    ``feed_forward``, ``layer_norm``, ``positional``: notebook 08's switches; ``freeze``: "nouns",
    "source" or "source and target" embeddings stay at their random initial values
    (:func:`freeze_embeddings`), "" none; one head or many is ``config.n_heads``.
    Keys: "config", "feed_forward", "switches" (all four), "parameters", "trained_parameters",
    "losses" (mean of each 10 steps), "scores" (:func:`evaluate`), "test_exact" (exact match on all the
    family test sets together), "n_test", "cpu_seconds", and with ``probe`` "probe" (:func:`gender_probe`
    on the run's nouns, both ways). ``return_model``: (dict, the trained model).
    """
    data = data if data is not None else config.data()
    start = time.process_time()
    torch.manual_seed(config.seed)
    model = SwitchableTransformer(SentenceSwitches(feed_forward=feed_forward, layer_norm=layer_norm,
                                                   positional=positional, sentences=config))
    freeze_embeddings(model, freeze)
    model, history = train_translator(config, model, data, progress=False)
    scores = evaluate(model, data)
    family_sentences = [s for sentences in data.test.values() for s in sentences]
    losses = torch.tensor(history.losses)
    result = {"config": asdict(config), "feed_forward": feed_forward,
              "switches": {"feed_forward": feed_forward, "layer_norm": layer_norm, "positional": positional,
                           "freeze_embeddings": freeze},
              "parameters": sum(p.numel() for p in model.parameters()),
              "trained_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)
              - (len(noun_tokens()) * config.d_model if freeze == "nouns" else 0),
              "losses": [round(float(v), 4) for v in losses[:len(losses) // 10 * 10].reshape(-1, 10).mean(dim=1)],
              "scores": {name: {k: round(v, 4) for k, v in s.items()} for name, s in scores.items()},
              "test_exact": round(sum(scores[f]["exact"] * len(data.test[f]) for f in data.test)
                                  / len(family_sentences), 4),
              "n_test": len(family_sentences)}
    if probe:
        nouns = config.nouns()
        result["probe"] = {split: {k: round(v, 4) for k, v in gender_probe(model, nouns, split=split).items()}
                           for split in ("nouns", "frames")}
    result["cpu_seconds"] = round(time.process_time() - start, 1)
    return (result, model) if return_model else result


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


# English frames around a noun X for the probe: its gender is the same in each, its context is not
PROBE_FRAMES = (("the", "X", "sleeps"), ("a", "X", "sleeps"), ("my", "X", "sleeps"), ("the", "big", "X", "sleeps"),
                ("I", "see", "the", "X"), ("we", "see", "a", "X"), ("he", "helps", "the", "X"),
                ("the", "small", "X", "is", "old"))


def gender_probe(model: nn.Module, nouns: Sequence | None = None, split: str = "nouns", splits: int = 5,
                 steps: int = 300) -> dict[str, float]:
    """Where does the model keep each noun's German gender? A linear probe at the noun, layer by layer.

    At the noun's position we take the source embedding (the table's row, no position added), then
    each encoder layer's self-attention output and feed-forward output (the updates the layer adds to
    the stream), and the encoder's final output. A logistic regression (3 genders, on standardised
    features, a little L2) is trained on some examples and tested on others, two ways:

    - ``split="nouns"``: every noun in the frame "the X sleeps"; trained on two thirds of the nouns,
      tested on the other third, which it never saw. Above the majority class means the gender is
      a direction shared across nouns (with frozen random embeddings it cannot be, by construction).
    - ``split="frames"``: every noun in each of :data:`PROBE_FRAMES`; trained on half the frames,
      tested on the other half: the *same* nouns in contexts the probe never saw. Above the majority
      class means the gender of these nouns is a linear function of the vector there. For the
      embedding (the same vector in every frame) it measures how much of the gender a linear map
      can fit at all: little, when the vectors are random and the nouns many more than ``d_model``.

    Returns the test accuracy of each place, averaged over ``splits`` random splits, and "majority"
    (always guessing the most common gender of ``nouns``, default: all of them).
    """
    import random

    nouns = list(NOUNS) if nouns is None else list(nouns)
    frames = PROBE_FRAMES if split == "frames" else PROBE_FRAMES[:1]
    if split not in ("nouns", "frames"):
        raise ValueError(f"split must be 'nouns' or 'frames', not {split!r}")
    places = _encoder_places(model, [[noun.en if w == "X" else w for w in frame] for frame in frames
                                     for noun in nouns], [frame.index("X") for frame in frames for _ in nouns])
    gender = torch.tensor(["mfn".index(noun.gender) for noun in nouns] * len(frames))        # (F * N,)
    frame_of = torch.arange(len(frames)).repeat_interleave(len(nouns))                       # (F * N,)
    noun_of = torch.arange(len(nouns)).repeat(len(frames))                                   # (F * N,)
    accuracies = {"majority": max((gender == g).float().mean().item() for g in range(3))}
    for place, x in places.items():
        right = []
        for seed in range(splits):
            if split == "nouns":
                order = list(range(len(nouns)))
                random.Random(seed).shuffle(order)
                is_train = torch.isin(noun_of, torch.tensor(order[:len(order) * 2 // 3]))
            else:
                order = list(range(len(frames)))
                random.Random(seed).shuffle(order)
                is_train = torch.isin(frame_of, torch.tensor(order[:len(order) // 2]))
            right.append(_probe_accuracy(x, gender, is_train, seed, steps))
        accuracies[place] = sum(right) / len(right)
    return accuracies


def _encoder_places(model: nn.Module, sentences: list[list[str]], positions: list[int]) -> dict[str, torch.Tensor]:
    """The vectors (n, d_model) at one position of each sentence: embedding, each layer's updates, encoder output."""
    src = pad_sequences([EN_VOCAB.encode(s) for s in sentences], 0)                          # (n, S)
    captured: dict[str, torch.Tensor] = {}
    hooks = []

    def keep(key: str):
        return lambda module, inputs, out: captured.update({key: out.detach()})

    for i, layer in enumerate(model.encoder.layers if hasattr(model.encoder, "layers") else model.encoder):
        for name, label in (("self_attn", "self-attention"), ("feed_forward", "feed-forward")):
            if getattr(layer, name, None) is not None:                    # None: switched off
                hooks.append(getattr(layer, name).register_forward_hook(keep(f"layer {i + 1} {label}")))
    try:
        with EvalMode(model), torch.no_grad():
            memory = model.encode(src, padding_mask(src, 0))                                 # (n, S, d_model)
            embedding = model.src_embed(src)                                                  # (n, S, d_model)
    finally:
        for hook in hooks:
            hook.remove()
    at = torch.tensor(positions)
    rows = torch.arange(len(sentences))
    return {place: x[rows, at].float()                                                       # (n, d_model)
            for place, x in {"embedding": embedding, **captured, "encoder output": memory}.items()}


def _probe_accuracy(x: torch.Tensor, label: torch.Tensor, is_train: torch.Tensor, seed: int, steps: int) -> float:
    """A 3-class logistic regression on standardised x (n, d), trained where ``is_train``; accuracy on the rest."""
    train, test = is_train, ~is_train
    mean, std = x[train].mean(dim=0), x[train].std(dim=0) + 1e-6
    z = (x - mean) / std
    generator = torch.Generator().manual_seed(seed)
    weight = (0.01 * torch.randn(x.shape[1], 3, generator=generator)).requires_grad_()
    bias = torch.zeros(3, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=0.05)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(z[train] @ weight + bias, label[train]) + 1e-2 * weight.square().sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return ((z[test] @ weight + bias).argmax(dim=1) == label[test]).float().mean().item()
