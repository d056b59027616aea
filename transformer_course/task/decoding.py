"""Turning a trained encoder-decoder into a translator: greedy decoding, beam search, exact match.

At inference time there is no target sentence to feed the decoder. We encode
the source once, start the target with ``<bos>`` and let the decoder write one
token at a time, feeding each choice back in as input for the next step.

Every function takes ``src`` (B, S) token ids, makes its own masks (bool, True
= may attend: ``padding_mask`` for the source, ``target_mask`` for the growing
target), runs the model in eval mode without gradients and returns token ids
(B, L) that start with ``<bos>``, end with ``<eos>`` (unless ``max_len`` cut
them off) and are ``<pad>`` after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..masks import padding_mask, target_mask
from .number_words import (BOS_ID, DE_VOCAB, EOS_ID, MAX_TGT_LEN, PAD_ID, german_tokens, make_batch,
                           trim_padding)


class EvalMode:
    """Context: the model in eval mode (no dropout) and no gradients; the old mode back afterwards.

    ``with EvalMode(model): ...`` is how every function here (and the attention maps) runs a model.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training
        self.no_grad = torch.no_grad()

    def __enter__(self) -> None:
        self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc) -> None:
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)


def _device(model: nn.Module) -> torch.device:
    """The device the model's parameters are on."""
    return next(model.parameters()).device


def _never_special(scores: torch.Tensor, pad_id: int, bos_id: int) -> torch.Tensor:
    """Scores (N, V) with ``<pad>`` and ``<bos>`` made impossible: a decoder only ever writes words or ``<eos>``."""
    scores = scores.clone()
    scores[:, [pad_id, bos_id]] = float("-inf")
    return scores


def greedy_decode(model: nn.Module, src: torch.Tensor, max_len: int = MAX_TGT_LEN, pad_id: int = PAD_ID,
                  bos_id: int = BOS_ID, eos_id: int = EOS_ID) -> torch.Tensor:
    """At each step take the single most likely next token. src (B, S) -> ids (B, L <= max_len)."""
    src = src.to(_device(model))
    with EvalMode(model):
        src_mask = padding_mask(src, pad_id)                                   # (B, 1, 1, S)
        memory = model.encode(src, src_mask)                                   # (B, S, d_model)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)  # (B,)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, target_mask(ys, pad_id))  # (B, t, V)
            next_token = _never_special(logits[:, -1], pad_id, bos_id).argmax(dim=-1)  # (B,)
            next_token = next_token.masked_fill(done, pad_id)  # a finished sentence only pads
            ys = torch.cat([ys, next_token[:, None]], dim=1)                   # (B, t + 1)
            done |= next_token == eos_id
            if done.all():
                break
    return ys


def beam_search(model: nn.Module, src: torch.Tensor, beam_width: int = 4, max_len: int = MAX_TGT_LEN,
                alpha: float = 0.0, pad_id: int = PAD_ID, bos_id: int = BOS_ID, eos_id: int = EOS_ID,
                return_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Keep the ``beam_width`` most likely partial translations at each step. src (B, S) -> ids (B, L).

    A hypothesis's score is its log-probability, the sum of its tokens' log
    probabilities. The beam is pruned on that raw score; a finished
    hypothesis (one that has written ``<eos>``) stays in the beam with its
    score frozen, competing with the unfinished ones. The search stops when
    every hypothesis has finished or after ``max_len`` tokens.

    Length normalisation: longer sentences collect more negative terms, so raw
    scores favour short ones. The final choice among the beam maximises
    ``score / length ** alpha`` (length counted without ``<bos>``, with
    ``<eos>``): ``alpha=0`` (the default) is the plain log-probability, so the
    result is the most probable sequence the beam found; ``alpha=1`` is the
    mean log-probability per token; 0.6 to 1 is common in machine translation.

    Beam search usually finds a sequence at least as probable as greedy's
    (``beam_width=1`` *is* greedy decoding), but this is not guaranteed: every
    hypothesis that pushed greedy's prefix out of the beam may lose probability
    later.

    With ``return_scores`` also returns the chosen sequences' log-probabilities (B,).
    """
    vocab_size = model.unembed.out_features  # V: how many next tokens each hypothesis can choose from
    if not 1 <= beam_width <= vocab_size:
        raise ValueError(f"beam_width must be from 1 to the vocabulary's size ({vocab_size} tokens), got {beam_width}")
    device = _device(model)
    src = src.to(device)
    batch, k = src.shape[0], beam_width
    with EvalMode(model):
        src_mask = padding_mask(src, pad_id)                                       # (B, 1, 1, S)
        memory = model.encode(src, src_mask)                                       # (B, S, d_model)
        # each source sentence gets k rows, one per hypothesis: row b * k + j is hypothesis j of sentence b
        memory = memory.repeat_interleave(k, dim=0)                                # (B*k, S, d_model)
        src_mask = src_mask.repeat_interleave(k, dim=0)                            # (B*k, 1, 1, S)
        ys = torch.full((batch * k, 1), bos_id, dtype=torch.long, device=device)   # (B*k, 1)
        scores = torch.full((batch, k), float("-inf"), device=device)              # (B, k)
        scores[:, 0] = 0.0  # at the start all k rows are the same "<bos>": keep only one alive
        done = torch.zeros(batch * k, dtype=torch.bool, device=device)             # (B*k,)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, target_mask(ys, pad_id))[:, -1]  # (B*k, V)
            log_probs = _never_special(F.log_softmax(logits.float(), dim=-1), pad_id, bos_id)  # (B*k, V)
            # a finished hypothesis may only add <pad>, at no cost: its score stays as it is
            log_probs[done] = float("-inf")
            log_probs[done, pad_id] = 0.0
            candidates = scores.reshape(batch * k, 1) + log_probs                  # (B*k, V)
            scores, best = candidates.reshape(batch, k * vocab_size).topk(k, dim=-1)  # (B, k)
            parent = best // vocab_size + torch.arange(batch, device=device)[:, None] * k  # (B, k) rows
            token = best % vocab_size                                              # (B, k)
            ys = torch.cat([ys[parent.flatten()], token.reshape(-1, 1)], dim=1)    # (B*k, t + 1)
            done = done[parent.flatten()] | (token.flatten() == eos_id)
            if done.all():
                break
        lengths = ((ys != pad_id) & (ys != bos_id)).sum(dim=1).reshape(batch, k)   # (B, k)
        final = scores / lengths.clamp(min=1).float() ** alpha if alpha else scores
        pick = final.argmax(dim=-1) + torch.arange(batch, device=device) * k       # (B,)
        best_ys = trim_padding(ys[pick], pad_id)  # (B, L)
        return (best_ys, scores.flatten()[pick]) if return_scores else best_ys


def translate(model: nn.Module, numbers: Sequence[int], beam_width: int = 1, batch_size: int = 1000
              ) -> list[list[str]]:
    """The model's German tokens for each number (greedy, or beam search if ``beam_width`` > 1)."""
    out = []
    for start in range(0, len(numbers), batch_size):
        src, _ = make_batch(numbers[start:start + batch_size])
        if beam_width == 1:
            ys = greedy_decode(model, src)
        else:
            ys = beam_search(model, src, beam_width)
        out += [DE_VOCAB.decode(row) for row in ys.cpu()]
    return out


def exact_match(model: nn.Module, numbers: Sequence[int], beam_width: int = 1, batch_size: int = 1000
                ) -> float:
    """The fraction of ``numbers`` whose whole German translation is exactly right."""
    if len(numbers) == 0:
        raise ValueError("exact_match needs at least one number")
    predicted = translate(model, numbers, beam_width, batch_size)
    return sum(p == german_tokens(n) for p, n in zip(predicted, numbers)) / len(numbers)


def family_exact_match(model: nn.Module, families: dict[str, Sequence[int]], beam_width: int = 1
                       ) -> dict[str, float]:
    """Exact match on each family of numbers, e.g. :func:`~transformer_course.task.number_words.number_families`."""
    return {name: exact_match(model, numbers, beam_width) for name, numbers in families.items()}
