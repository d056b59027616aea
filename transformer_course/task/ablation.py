"""Ablations: the encoder-decoder with switches to take each part out, and a seeded, step-bounded run.

The course's :class:`~transformer_course.Transformer` stays as the paper draws it. The *switchable*
encoder-decoder here is that same class, built with other parts passed in where a part is switched
off (its keyword-only ``*_cls`` arguments, and those of its stacks and layers), so that notebook 08
can measure what each part is worth:

- ``residual``: the ``x +`` around each sub-layer,
- ``layer_norm``: every LayerNorm (the sub-layers' and the stacks' final ones),
- ``feed_forward``: the position-wise feed-forward sub-layer of every layer,
- ``positional``: the positional encoding added to the embeddings,
- ``scale``: the division of the attention scores by sqrt(d_k),
- ``norm_first``: post-LN (the paper, ``False``) or pre-LN (``True``).

Model sizes (``n_heads`` among them: one head vs many) and training settings (warm-up, label
smoothing, steps) are plain fields of :class:`Run`, one flat, frozen record of everything that
decides a run's result. A run is bounded by steps and seeded, so it gives the same numbers every
time on the same kind of CPU with one thread and this torch (see :func:`run`); on another kind of
CPU or on a GPU, numbers close to them, not equal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial

import torch
from torch import nn

from ..attention import scaled_dot_product_attention
from ..block import EncoderLayer, FeedForward, LayerNorm
from ..config import ModelConfig
from ..encoder_decoder import Decoder, DecoderLayer, Encoder, Transformer
from ..multihead import MultiHeadAttention
from ..positional import SinusoidalPositionalEncoding
from .decoding import exact_match
from .number_words import DE_VOCAB, EN_VOCAB, MAX_TGT_LEN, batch_iterator, uniform_splits
from .training import train, warmup_cosine_optimizer


# --------------------------------------------------------------------------
# The switchable parts
# --------------------------------------------------------------------------

class SwitchableSublayer(nn.Module):
    """A residual sub-layer connection whose residual and LayerNorm can be switched off.

    Both on, it is the course's SublayerConnection:
    post-LN (norm_first=False): LayerNorm(x + Dropout(Sublayer(x)))
    pre-LN  (norm_first=True):  x + Dropout(Sublayer(LayerNorm(x)))
    residual=False drops the ``x +``; layer_norm=False makes the LayerNorm the identity.
    x (B, L, d_model) -> (B, L, d_model).
    """

    def __init__(self, d_model: int, dropout: float = 0.0, residual: bool = True,
                 layer_norm: bool = True, norm_first: bool = False):
        super().__init__()
        self.norm = LayerNorm(d_model) if layer_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.residual, self.layer_norm, self.norm_first = residual, layer_norm, norm_first

    def forward(self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.norm_first:
            update = self.dropout(sublayer(self.norm(x)))          # (B, L, d_model)
            return x + update if self.residual else update
        update = self.dropout(sublayer(x))                          # (B, L, d_model)
        return self.norm(x + update if self.residual else update)


class UnscaledAttention(MultiHeadAttention):
    """The course's :class:`~transformer_course.MultiHeadAttention` with softmax(Q K^T): no 1/sqrt(d_k).

    Only the scale differs (torch's ``scale=`` of the attention, here 1); the weights, masks, dropout and
    forward are the reference's. (B, q_len, d_model) -> same.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__(d_model, n_heads, dropout, attention=partial(scaled_dot_product_attention, scale=1.0))


class NoPositionalEncoding(nn.Module):
    """In place of the positional encoding: its dropout only, so nothing tells the model where a token is."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x)  # (B, L, d_model)


class SwitchableTransformer(Transformer):
    """The course's :class:`~transformer_course.Transformer`, with the parts a :class:`Run` switches off left out.

    Its size and switches are one Run's (``run.model_config()``, and its fields ``residual``,
    ``layer_norm``, ``feed_forward``, ``positional``, ``scale``, ``norm_first``); everything else,
    forward, encode() and decode() included, is ``tc.Transformer``'s, so decoding and training work
    unchanged. ``sublayer_cls`` builds each sub-layer connection (the reference
    :class:`SwitchableSublayer`, or the learner's), given the Run's ``residual`` and ``layer_norm``.
    """

    def __init__(self, run: Run | None = None, sublayer_cls: type[nn.Module] = SwitchableSublayer):
        run = run if run is not None else Run()
        config = run.model_config()
        if not run.layer_norm:
            config = replace(config, final_norm=False)  # no LayerNorm after the stacks either

        def sublayer(d_model: int, dropout: float, norm_first: bool) -> nn.Module:
            return sublayer_cls(d_model, dropout, run.residual, run.layer_norm, norm_first)

        layer = dict(attention_cls=MultiHeadAttention if run.scale else UnscaledAttention,
                     feed_forward_cls=FeedForward if run.feed_forward else None, sublayer_cls=sublayer)
        super().__init__(config,
                         positional_cls=SinusoidalPositionalEncoding if run.positional else NoPositionalEncoding,
                         encoder_cls=partial(Encoder, layer_cls=partial(EncoderLayer, **layer)),
                         decoder_cls=partial(Decoder, layer_cls=partial(DecoderLayer, **layer)))
        self.run = run


# --------------------------------------------------------------------------
# A run: everything that decides its result, in one record
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One ablation run on the number translator: model size, parts, training, data and seed.

    The defaults are the *base* setting: the capstone's model (2 layers, d_model 64, 4 heads of
    d_k 16, post-LN), trained for 600 steps with a warm-up and cosine decay. They are fixed here,
    not taken from ``CapstoneConfig``, so the results file stays valid when the capstone changes.
    """

    # the model's size
    n_layers: int = 2
    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 128
    dropout: float = 0.1
    # the switches: which parts the model has (all on: the full model)
    residual: bool = True
    layer_norm: bool = True
    feed_forward: bool = True
    positional: bool = True
    scale: bool = True
    norm_first: bool = False
    # the training
    steps: int = 600
    batch_size: int = 64
    lr: float = 5e-3              # the peak learning rate
    warmup: int = 60              # 0: the full rate from the first step
    smoothing: float = 0.1        # label smoothing; 0: plain cross-entropy
    clip_norm: float = 1.0
    # the data: numbers 0..999,999 split by number, and how often to measure
    n_train: int = 20_000
    n_val: int = 300
    n_test: int = 1000
    data_seed: int = 0
    eval_every: int = 50
    seed: int = 0

    def model_config(self) -> ModelConfig:
        """The size of this run's model, for the number vocabularies."""
        return ModelConfig(vocab_size=len(DE_VOCAB), src_vocab_size=len(EN_VOCAB), d_model=self.d_model,
                           n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff,
                           dropout=self.dropout, max_len=MAX_TGT_LEN + 3, norm_first=self.norm_first)

    def make_model(self, sublayer_cls: type[nn.Module] = SwitchableSublayer) -> SwitchableTransformer:
        """A fresh model, its weights drawn from this run's seed (on the CPU)."""
        torch.manual_seed(self.seed)
        return SwitchableTransformer(self, sublayer_cls)


# What is taken out, as changes to a Run. "full" is the model with every part.
ABLATIONS: dict[str, dict] = {
    "full": {},
    "no residual": {"residual": False},
    "no LayerNorm": {"layer_norm": False},
    "no feed-forward": {"feed_forward": False},
    "no positional encoding": {"positional": False},
    "one head": {"n_heads": 1},
    "no 1/sqrt(d_k)": {"scale": False},
    "pre-LN": {"norm_first": True},
    "post-LN": {"norm_first": False},
    "post-LN, long warm-up": {"norm_first": False, "warmup": 300},
    "post-LN, lr / 5": {"norm_first": False, "lr": 1e-3},
    "post-LN, lr / 5, no warm-up": {"norm_first": False, "lr": 1e-3, "warmup": 0},
    "no warm-up": {"warmup": 0},
    "pre-LN, no warm-up": {"norm_first": True, "warmup": 0},
    "no label smoothing": {"smoothing": 0.0},
    # the deep stack without LayerNorm, given the same retries as post-LN
    "no LayerNorm, long warm-up": {"layer_norm": False, "warmup": 300},
    "no LayerNorm, lr / 5": {"layer_norm": False, "lr": 1e-3},
}

# Where the experiments run: the base setting and the settings searched for where a part matters.
SETTINGS: dict[str, dict] = {
    "base": {},
    "deep": {"n_layers": 6, "norm_first": True},   # pre-LN: post-LN did not train at this depth
    "one layer": {"n_layers": 1},
    "narrow, one layer": {"n_layers": 1, "d_model": 32, "d_ff": 128},
    "wide heads": {"d_model": 128, "n_heads": 1, "d_ff": 256},
}

# The sweep (``python -m tools.ablations``): the base setting with each part out, then the settings
# searched for where a part matters, each with the ablations that setting is for.
EXPERIMENTS: list[tuple[str, str]] = [
    ("base", a) for a in ["full", "no residual", "no LayerNorm", "no feed-forward", "no positional encoding",
                          "one head", "no 1/sqrt(d_k)", "pre-LN", "no warm-up", "pre-LN, no warm-up",
                          "no label smoothing"]
] + [
    ("deep", a) for a in ["full", "no LayerNorm", "post-LN", "post-LN, long warm-up", "post-LN, lr / 5",
                          "post-LN, lr / 5, no warm-up"]
] + [
    ("one layer", a) for a in ["full", "no feed-forward"]
] + [
    ("narrow, one layer", a) for a in ["full", "no feed-forward"]
] + [
    ("wide heads", a) for a in ["full", "no 1/sqrt(d_k)"]
] + [
    ("deep", a) for a in ["no LayerNorm, long warm-up", "no LayerNorm, lr / 5"]
]


def make_run(setting: str = "base", ablation: str = "full", seed: int = 0, **changes) -> Run:
    """The Run of one setting with one part taken out, e.g. make_run("deep", "no residual", seed=1)."""
    for name, table in (("setting", SETTINGS), ("ablation", ABLATIONS)):
        key = setting if name == "setting" else ablation
        if key not in table:
            raise ValueError(f"unknown {name} {key!r}; choose one of {list(table)}")
    return replace(Run(), **{**SETTINGS[setting], **ABLATIONS[ablation]}, seed=seed, **changes)


def run(config: Run, sublayer_cls: type[nn.Module] = SwitchableSublayer, every: int = 10) -> dict:
    """Train one model as ``config`` says and measure it; returns a JSON-ready dict.

    Keys: "config" (the Run's fields), "losses" (the training loss averaged over each ``every``
    steps), "eval_steps"/"val_exact" (exact match on the validation numbers during training),
    "test_exact" (on the held-out test numbers at the end), "seconds".
    On the CPU, call it with ``torch.set_num_threads(1)``: a seed then gives the same numbers every time
    on the same kind of CPU with this torch. Another kind of CPU (other vector instructions) or a GPU adds
    in another order: the losses differ in the last digits and drift apart over the steps.
    """
    model = config.make_model(sublayer_cls)
    train_numbers, val_numbers, test_numbers = uniform_splits(config.n_train, config.n_val, config.n_test,
                                                              seed=config.data_seed)
    # the capstone's optimiser: linear warm-up (none if warmup=0), then cosine decay to 0 at the last step
    optimizer, scheduler = warmup_cosine_optimizer(model, config.lr, config.warmup, config.steps)
    batches = batch_iterator(train_numbers, config.batch_size, seed=config.seed, epochs=None)
    start = time.perf_counter()
    history = train(model, batches, optimizer, scheduler, max_steps=config.steps, time_budget_s=None,
                    smoothing=config.smoothing, val_numbers=val_numbers, eval_every=config.eval_every,
                    clip_norm=config.clip_norm, progress=False)
    losses = torch.tensor(history.losses)
    n = len(losses) // every * every
    binned = losses[:n].reshape(-1, every).mean(dim=1)
    return {
        "config": asdict(config),
        "losses": [round(float(v), 5) for v in binned],
        "loss_every": every,
        "eval_steps": history.eval_steps,
        "val_exact": [round(a, 5) for a in history.val_accuracies],
        "test_exact": round(exact_match(model, test_numbers), 5),
        "seconds": round(time.perf_counter() - start, 1),
    }


def steps_to(result: dict, target: float) -> int | None:
    """The first evaluation step at which the validation exact match reached ``target``; None if never."""
    for step, accuracy in zip(result["eval_steps"], result["val_exact"]):
        if accuracy >= target:
            return step
    return None


# --------------------------------------------------------------------------
# Reading results: mean and spread over seeds, and an honest verdict
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """One experiment over its seeds: test exact match (mean, min, max) and steps to a target."""

    setting: str
    ablation: str
    seeds: tuple[int, ...]
    test_exact: tuple[float, ...]
    steps_to_target: tuple[int | None, ...]
    n_test: int = 1000                 # how many test numbers each exact match was measured on
    final_loss: tuple[float, ...] = ()  # the training loss over the last 50 steps, per seed

    @property
    def mean(self) -> float:
        return sum(self.test_exact) / len(self.test_exact)

    @property
    def low(self) -> float:
        return min(self.test_exact)

    @property
    def high(self) -> float:
        return max(self.test_exact)

    def exact_text(self) -> str:
        """'99.8% (99.6-100.0)': mean and min-max over seeds, in percent."""
        if len(self.test_exact) == 1:
            return f"{self.mean:.1%}"
        return f"{self.mean:.1%} ({100 * self.low:.1f}-{100 * self.high:.1f})"

    def loss_text(self) -> str:
        """The final training loss, mean over seeds."""
        return f"{sum(self.final_loss) / len(self.final_loss):.2f}" if self.final_loss else "-"

    def steps_text(self) -> str:
        """Steps to the target per seed, '-' where a seed never reached it."""
        return ", ".join("-" if s is None else str(s) for s in self.steps_to_target)


TARGET = 0.9  # the validation exact match that "steps to target" counts the steps to


def summarize(runs: list[dict], target: float = TARGET) -> dict[tuple[str, str], Summary]:
    """Group results (dicts with "setting", "ablation" and :func:`run`'s keys) by experiment."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["setting"], r["ablation"]), []).append(r)
    return {key: Summary(key[0], key[1], tuple(r["config"]["seed"] for r in rs),
                         tuple(r["test_exact"] for r in rs), tuple(steps_to(r, target) for r in rs),
                         rs[0]["config"]["n_test"], tuple(_final_loss(r) for r in rs))
            for key, rs in groups.items()}


def _final_loss(result: dict) -> float:
    """The mean training loss over the last 50 steps of a run."""
    last = result["losses"][-max(1, 50 // result["loss_every"]):]
    return sum(last) / len(last)


LOSS_TOLERANCE = 0.1
"""How far (relative) a rerun's averaged losses may lie from the stored ones on another kind of CPU or a GPU.

Measured: a 600-step run of the base model on an AVX-512 CPU other than the file's moved them by up to 2.5%."""


def compare_with_stored(live: dict, stored: dict, spread: float) -> str:
    """A rerun of a stored run, compared: "identical", "close" or "apart".

    "identical": every averaged loss and the exact match equal, as a rerun with the code and the kind
    of CPU the results file was made with gives (one thread, this torch). "close": what another kind
    of CPU or a GPU gives, adding numbers in another order (and what this code gives against the
    file: the file's build of the model listed its parameters in another order, in which gradient
    clipping adds up their gradients' norms), so that over hundreds of steps the run drifts like another
    seed: each averaged loss within ``LOSS_TOLERANCE`` of the stored one, and the test exact
    matches no measurably different by :func:`verdict`'s rule (within ``spread``, the seeds'
    spread of the experiment, or within two standard errors of the test set). "apart": neither.
    """
    if live["losses"] == stored["losses"] and live["test_exact"] == stored["test_exact"]:
        return "identical"
    losses_close = len(live["losses"]) == len(stored["losses"]) and all(
        abs(a - b) <= LOSS_TOLERANCE * abs(b) for a, b in zip(live["losses"], stored["losses"]))
    n, (a, b) = stored["config"]["n_test"], (live["test_exact"], stored["test_exact"])
    test_noise = 2 * math.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    exact_close = abs(a - b) <= max(spread, test_noise) + 1e-9
    return "close" if losses_close and exact_close else "apart"


def difference_standard_error(a: Summary, b: Summary) -> float:
    """The standard error of the difference of two exact matches measured on ``n_test`` numbers each.

    A test set of 1000 numbers resolves 0.1 points at best, and a model that is right with
    probability p gets p +- sqrt(p (1 - p) / n_test) of a fresh test set right.
    """
    return math.sqrt(a.mean * (1 - a.mean) / a.n_test + b.mean * (1 - b.mean) / b.n_test)


def verdict(ablated: Summary, full: Summary) -> str:
    """Compare an ablation with the full model of its setting, honestly.

    "worse" / "better" only when the ranges of test exact match over the seeds do not overlap
    *and* the means differ by more than two standard errors of the test set
    (:func:`difference_standard_error`); otherwise "no measurable difference". With fewer than two seeds
    on either side there is no spread to judge by: "one seed only".
    """
    if min(len(ablated.test_exact), len(full.test_exact)) < 2:
        return "one seed only"
    beyond_test_noise = abs(ablated.mean - full.mean) > 2 * difference_standard_error(ablated, full)
    if ablated.high < full.low and beyond_test_noise:
        return "worse"
    if ablated.low > full.high and beyond_test_noise:
        return "better"
    return "no measurable difference"
