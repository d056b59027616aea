"""Training and measuring the GPT of notebook 09: the causal language-model loss, the training loop,
translation by generation, exact match.

A batch is ``tokens`` (B, L) ids and ``loss_mask`` (B, L) bool (see :mod:`.lm_data`). Position t of the
model's output predicts token t + 1, every position at once (the causal mask hides the future);
the loss averages over the predicted tokens that ``loss_mask`` marks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..gpt import generate
from .lm_data import LM_VOCAB, SEP_ID, prompt_ids
from .number_words import EOS_ID, german_tokens
from .training import warmup_cosine_optimizer


def lm_loss(logits: torch.Tensor, tokens: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """The causal language-model loss: logits (B, L, V), tokens (B, L), loss_mask (B, L) -> a scalar.

    Position t predicts token t + 1, so the predictions logits[:, :-1] are scored against
    tokens[:, 1:]; the mean cross-entropy is taken over the predicted tokens whose loss_mask is True.
    """
    predictions = logits[:, :-1]  # (B, L-1, V): the model's guess after reading tokens 0..t
    labels = tokens[:, 1:]  # (B, L-1): token t + 1, what it should have guessed
    counted = loss_mask[:, 1:]  # (B, L-1): which of those guesses count
    nll = F.cross_entropy(predictions.transpose(1, 2).float(), labels, reduction="none")  # (B, L-1)
    return (nll * counted).sum() / counted.sum().clamp(min=1)


@dataclass
class LMTrainingConfig:
    """How to train a GPT: Adam with the paper's betas, 07's warm-up schedule, a fixed number of steps."""

    batch_size: int = 64
    lr: float = 5e-3          # the peak learning rate, reached at step `warmup`
    warmup: int = 60
    schedule: str = "noam"    # "noam" (the paper's shape: after the warm-up, 1/sqrt(step)) or "cosine" (to 0 at max_steps)
    max_steps: int = 500
    clip_norm: float | None = 1.0
    seed: int = 0

    def make_optimizer(self, model: nn.Module
                       ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        """Adam (betas 0.9, 0.98, eps 1e-9); the rate rises linearly to `lr` at `warmup`, then falls as 1/sqrt(step).

        With ``schedule="cosine"`` it falls instead along a cosine to 0 at ``max_steps``
        (:func:`~transformer_course.task.training.warmup_cosine_optimizer`, notebook 11's translator's schedule).
        """
        if self.schedule == "cosine":
            return warmup_cosine_optimizer(model, self.lr, self.warmup, self.max_steps)
        if self.schedule != "noam":
            raise ValueError(f"schedule must be 'noam' or 'cosine', got {self.schedule!r}")
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, betas=(0.9, 0.98), eps=1e-9)
        warmup = self.warmup
        multiplier = lambda step: min((step + 1) / warmup, (warmup / (step + 1)) ** 0.5)  # noqa: E731
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


@dataclass
class LMHistory:
    """What a training run recorded: the loss per step and the seconds it took."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def lm_train_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer,
                  scheduler=None, clip_norm: float | None = 1.0,
                  loss_fn: Callable[..., torch.Tensor] = lm_loss) -> float:
    """One optimisation step on ``(tokens (B, L), loss_mask (B, L))``; returns the loss."""
    device = next(model.parameters()).device
    tokens, loss_mask = batch[0].to(device), batch[1].to(device)
    model.train()
    loss = loss_fn(model(tokens), tokens, loss_mask)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.item()


def train_lm(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], config: LMTrainingConfig,
             loss_fn: Callable[..., torch.Tensor] = lm_loss, progress: bool = True) -> LMHistory:
    """Train for ``config.max_steps`` steps (no clock: a seed gives the same model anywhere); returns the history."""
    optimizer, scheduler = config.make_optimizer(model)
    history, batches = LMHistory(), iter(batches)
    start = time.perf_counter()
    bar = tqdm(range(1, config.max_steps + 1), desc="training", unit="step", disable=not progress)
    for step in bar:
        history.losses.append(lm_train_step(model, next(batches), optimizer, scheduler, config.clip_norm, loss_fn))
        history.steps.append(step)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{history.losses[-1]:.3f}", refresh=False)
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


# --------------------------------------------------------------------------
# Translating by generation
# --------------------------------------------------------------------------

MAX_GERMAN = 11 + 1  # the longest German translation, and its <eos>


def german_from_ids(ids: Sequence[int] | torch.Tensor) -> list[str]:
    """The tokens a generated sequence holds after its first ``=``, up to (without) its first ``<eos>``."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    out = []
    for i in ids[ids.index(SEP_ID) + 1:] if SEP_ID in ids else []:
        if i == EOS_ID:
            break
        out.append(LM_VOCAB.itos[i])  # a <pad> or <bos> stays in, as a mistake
    return out


def continuations(model: nn.Module, prompts: Sequence[Sequence[int]], max_new_tokens: int, eos_id: int = EOS_ID,
                  use_cache: bool = True, generate: Callable[..., torch.Tensor] = generate) -> list[list[int]]:
    """Greedy generation after each prompt: the ids written after it, up to (without) the first ``eos_id``.

    Prompts of the same length go in one batch, so no prompt needs padding. ``generate`` is
    :func:`transformer_course.gpt.generate` or one with its signature (e.g. the notebook's).
    """
    device = next(model.parameters()).device
    by_length: dict[int, list[int]] = {}
    for i, prompt in enumerate(prompts):
        by_length.setdefault(len(prompt), []).append(i)
    out: list[list[int]] = [[] for _ in prompts]
    for length, rows in by_length.items():
        prompt = torch.tensor([list(prompts[i]) for i in rows], device=device)  # (B, P)
        generated = generate(model, prompt, max_new_tokens, use_cache=use_cache, eos_id=eos_id).cpu()
        for i, row in zip(rows, generated[:, length:].tolist()):  # only what was written after the prompt
            out[i] = row[:row.index(eos_id)] if eos_id in row else row
    return out


def gpt_translate(model: nn.Module, numbers: Sequence[int], use_cache: bool = True,
                  generate: Callable[..., torch.Tensor] = generate) -> list[list[str]]:
    """The GPT's German for each number: greedy generation after ``<bos> English =``.

    Prompts of the same length go in one batch, so no prompt needs padding. ``generate`` is
    :func:`transformer_course.gpt.generate` or one with its signature (e.g. the notebook's).
    """
    written = continuations(model, [prompt_ids(n) for n in numbers], MAX_GERMAN, use_cache=use_cache,
                            generate=generate)
    return [[LM_VOCAB.itos[i] for i in ids] for ids in written]  # a <pad> or <bos> stays in, as a mistake


def gpt_exact_match(model: nn.Module, numbers: Sequence[int],
                    generate: Callable[..., torch.Tensor] = generate) -> float:
    """The fraction of ``numbers`` whose whole German translation the GPT generates exactly right."""
    if len(numbers) == 0:
        raise ValueError("gpt_exact_match needs at least one number")
    predicted = gpt_translate(model, numbers, generate=generate)
    return sum(p == german_tokens(n) for p, n in zip(predicted, numbers)) / len(numbers)
