"""Checks for notebook 07 (training a translator): the label-smoothed loss, one training step,
greedy decoding and beam search.

The decoding checks run small seeded random models on the number vocabularies, with the
unembedding's bias nudged so that ``<pad>`` and ``<bos>`` are never likely (a trained model
never writes them, the reference forbids them) and ``<eos>`` comes at varied lengths. Each
check compares with the reference and, when they differ, with the output of the typical
mistakes, to name the one that was made. Masks: bool, True = may attend.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import warnings
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..task import decoding
from ..task import training as ref
from ..config import ModelConfig
from ..encoder_decoder import Transformer, shift_right
from ..masks import padding_mask, target_mask
from ..task.number_words import BOS_ID, DE_VOCAB, EN_VOCAB, EOS_ID, PAD_ID, make_batch, trim_padding
from ._core import CheckFailed, call, case, exercise, expect_close, expect_tensor, is_close, match_mistake, randn
from .block import seeded

# --- the loss ----------------------------------------------------------------------------------


def _loss_mistakes(logits: torch.Tensor, target: torch.Tensor, smoothing: float, pad_id: int) -> dict:
    log_probs = F.log_softmax(logits, dim=-1)                                     # (B, T, V)
    nll = -log_probs.gather(-1, target[..., None]).squeeze(-1)                    # (B, T)
    uniform = -log_probs.mean(dim=-1)                                             # (B, T)
    real = target != pad_id
    n_vocab = logits.shape[-1]

    def mean_real(per_token, real=real):
        return (per_token * real).sum() / real.sum()

    per_token = (1 - smoothing) * nll + smoothing * uniform
    others = (-log_probs.sum(dim=-1) - nll) / (n_vocab - 1)                       # mean over the V-1 wrong tokens
    probs = log_probs.exp()
    wrong_axis = F.log_softmax(logits, dim=1)
    return {
        "the padding is counted: average only over the real tokens (target != pad_id), "
        "e.g. (per_token * real).sum() / real.sum()": lambda: per_token.mean(),
        "the padding is zeroed but the sum is divided by every position, pads included: divide by "
        "the number of real tokens, real.sum()": lambda: (per_token * real).sum() / real.numel(),
        "it sums over the tokens instead of averaging: divide by the number of real tokens":
            lambda: (per_token * real).sum(),
        "no label smoothing: with smoothing > 0 the target puts 1 - smoothing on the right token and "
        "spreads smoothing over all V tokens": lambda: mean_real(nll),
        "the two weights are swapped: 1 - smoothing goes with -log p[target], smoothing with the mean "
        "over the vocabulary": lambda: mean_real(smoothing * nll + (1 - smoothing) * uniform),
        "smoothing is spread over the V - 1 wrong tokens; here (as in PyTorch's label_smoothing) it is "
        "spread evenly over all V tokens, the right one included: use -log_probs.mean(dim=-1)":
            lambda: mean_real((1 - smoothing) * nll + smoothing * others),
        "smoothing is added as a sum over the vocabulary instead of a mean: smoothing * "
        "(-log_probs).mean(dim=-1)": lambda: mean_real((1 - smoothing) * nll - smoothing * log_probs.sum(-1)),
        "the sign is wrong: the loss is MINUS the log-probability, a positive number":
            lambda: -mean_real(per_token),
        "it uses probabilities instead of log-probabilities: take F.log_softmax(logits, dim=-1)":
            lambda: mean_real((1 - smoothing) * -probs.gather(-1, target[..., None]).squeeze(-1)
                              + smoothing * -probs.mean(-1)),
        "it uses the raw logits, not log-probabilities: apply F.log_softmax(logits, dim=-1) first":
            lambda: mean_real((1 - smoothing) * -logits.gather(-1, target[..., None]).squeeze(-1)
                              + smoothing * -logits.mean(-1)),
        "log_softmax over the wrong axis: the vocabulary is the last axis (dim=-1)":
            lambda: mean_real((1 - smoothing) * -wrong_axis.gather(-1, target[..., None]).squeeze(-1)
                              + smoothing * -wrong_axis.mean(-1)),
        "it treats id 0 as padding instead of the pad_id it is given":
            lambda: mean_real(per_token, target != 0),
    }


def _check_loss(fn: Callable) -> None:
    for B, T, V, smoothing, pad_id, lengths in [
        (3, 5, 7, 0.1, 0, [5, 3, 1]),
        (2, 4, 6, 0.0, 0, [4, 2]),
        (2, 6, 9, 0.3, 4, [6, 3]),   # a pad_id other than 0
        (1, 1, 5, 0.2, 0, [1]),      # batch of 1, length 1
    ]:
        with case(f"logits (batch={B}, tgt_len={T}, vocab={V}), smoothing={smoothing}, pad_id={pad_id}, "
                  f"real lengths {lengths}"):
            logits = 2 * randn(B, T, V, seed=T + V)
            generator = torch.Generator().manual_seed(V)
            target = torch.randint(0, V, (B, T), generator=generator)
            target[target == pad_id] = (pad_id + 1) % V  # no pad among the real tokens...
            real = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
            target = torch.where(real, target, torch.full_like(target, pad_id))  # ...and pads after them
            expected = ref.label_smoothing_loss(logits, target, smoothing, pad_id)
            actual = expect_tensor(call(fn, logits, target, smoothing, pad_id), "the loss")
            if actual.dim() != 0:
                raise CheckFailed(f"the loss has shape {tuple(actual.shape)} but should be one number (a 0-d "
                                  f"tensor): average the per-token losses over the real tokens")
            expect_close(actual, expected, "the loss", mistakes=_loss_mistakes(logits, target, smoothing, pad_id))


def check_label_smoothing_loss(learner: Callable) -> Callable:
    """Check `label_smoothing_loss(logits, target, smoothing, pad_id)`; returns theirs if right."""
    return exercise("label_smoothing_loss", learner, ref.label_smoothing_loss, _check_loss)


# --- one training step -------------------------------------------------------------------------


def _tiny_model(seed: int, dropout: float = 0.0) -> Transformer:
    """A seeded 2-layer model on the number vocabularies (dropout 0, so two runs give the same numbers)."""
    return copy.deepcopy(_built_model(seed, dropout))  # a fresh copy: the learner's code may change it


@functools.lru_cache(maxsize=None)
def _built_model(seed: int, dropout: float) -> Transformer:
    return seeded(lambda: Transformer(ModelConfig(src_vocab_size=len(EN_VOCAB), vocab_size=len(DE_VOCAB), d_model=16, n_heads=2, n_layers=2, d_ff=32,
                                      dropout=dropout, max_len=20)), seed)


def _loss_of(model, src, tgt_in, labels, src_mask, tgt_mask, smoothing, pad_id=PAD_ID) -> float:
    with torch.no_grad():
        logits = model(src, tgt_in, src_mask, tgt_mask)
        return ref.label_smoothing_loss(logits, labels, smoothing, pad_id).item()


def _step_loss_mistakes(model, src, tgt, smoothing) -> dict:
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    src_mask, tgt_mask = padding_mask(src, PAD_ID), target_mask(tgt_in, PAD_ID)

    def counting_pads():
        with torch.no_grad():
            logits = model(src, tgt_in, src_mask, tgt_mask)
            return ref.label_smoothing_loss(logits, tgt_out, smoothing, pad_id=-1).item()

    return {
        "the target is not shifted: the decoder reads tgt and is scored against tgt, so each position sees "
        "the very token it must predict. Feed tgt[:, :-1] and score against tgt[:, 1:]":
            lambda: _loss_of(model, src, tgt, tgt, src_mask, target_mask(tgt, PAD_ID), smoothing),
        "the labels are not shifted: the decoder reads tgt[:, :-1] and must predict the NEXT token, "
        "tgt[:, 1:]": lambda: _loss_of(model, src, tgt_in, tgt_in, src_mask, tgt_mask, smoothing),
        "the input and the labels are swapped: the decoder reads tgt[:, :-1] (starting with <bos>) and "
        "is scored against tgt[:, 1:]":
            lambda: _loss_of(model, src, tgt_out, tgt_in, src_mask, target_mask(tgt_out, PAD_ID), smoothing),
        "the pad tokens are counted in the loss: pass pad_id so that only real tokens count":
            counting_pads,
        "no label smoothing, though smoothing > 0 was asked for: pass `smoothing` to the loss":
            lambda: _loss_of(model, src, tgt_in, tgt_out, src_mask, tgt_mask, 0.0),
        "the decoder gets no causal mask (padding_mask of the target only), so it sees the future: use "
        "target_mask(tgt_in, PAD)": lambda: _loss_of(model, src, tgt_in, tgt_out, src_mask,
                                                     padding_mask(tgt_in, PAD_ID), smoothing),
        "the decoder gets no target mask at all, so it sees the future: use target_mask(tgt_in, PAD)":
            lambda: _loss_of(model, src, tgt_in, tgt_out, src_mask, None, smoothing),
        "the source mask is missing, so padded source tokens are attended to: padding_mask(src, PAD)":
            lambda: _loss_of(model, src, tgt_in, tgt_out, None, tgt_mask, smoothing),
        "tgt already starts with <bos> (make_batch puts it there), so notebook 06's shift_right adds a "
        "second one: the decoder reads <bos> <bos> ... and learns to predict <bos>. Here the shift is two "
        "slices: read tgt[:, :-1], score against tgt[:, 1:]":
            lambda: _loss_of(model, src, shift_right(tgt, BOS_ID), tgt, src_mask,
                             target_mask(shift_right(tgt, BOS_ID), PAD_ID), smoothing),
        "tgt already starts with <bos>, so notebook 06's shift_right(tgt) adds a second one; the decoder "
        "input is simply tgt[:, :-1], scored against tgt[:, 1:]":
            lambda: _loss_of(model, src, shift_right(tgt, BOS_ID)[:, 1:], tgt_out, src_mask,
                             target_mask(shift_right(tgt, BOS_ID)[:, 1:], PAD_ID), smoothing),
    }


def _reference_steps(model, batches, lr_lambda, smoothing, clip_norm, zero_grad=True, clip=True,
                     scheduler_first=False, scheduler=True) -> nn.Module:
    """The reference's parameters after one step per batch (or with one of the mistakes made)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns when the scheduler steps first: one of the mistakes
        for src, tgt in batches:
            _one_reference_step(model, optimizer, sched, src, tgt, smoothing, clip_norm, zero_grad, clip,
                                scheduler_first, scheduler)
    return model


def _one_reference_step(model, optimizer, sched, src, tgt, smoothing, clip_norm, zero_grad, clip,
                        scheduler_first, scheduler) -> None:
    """One SGD step of the reference, with the requested mistakes."""
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    logits = model(src, tgt_in, padding_mask(src, PAD_ID), target_mask(tgt_in, PAD_ID))
    loss = ref.label_smoothing_loss(logits, tgt_out, smoothing, PAD_ID)
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if clip and clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    if scheduler and scheduler_first:
        sched.step()
    optimizer.step()
    if scheduler and not scheduler_first:
        sched.step()


@contextlib.contextmanager
def _calls_recorded(model: nn.Module, optimizer, scheduler):
    """Record, in order, optimizer.zero_grad / step, scheduler.step and each backward pass (a gradient hook)."""
    order: list[str] = []
    def recording(name, method):
        def wrapper(*args, **kwargs):
            order.append(name)
            return method(*args, **kwargs)
        return wrapper
    first = next(model.parameters())
    hook = first.register_post_accumulate_grad_hook(lambda p: order.append("backward"))
    patched = [(optimizer, "zero_grad"), (optimizer, "step")] + ([(scheduler, "step")] if scheduler else [])
    saved = [(obj, name, obj.__dict__.get(name)) for obj, name in patched]  # the scheduler patches step too
    for obj, name in patched:
        setattr(obj, name, recording("scheduler.step" if obj is scheduler else f"optimizer.{name}",
                                     getattr(obj, name)))
    try:
        yield order
    finally:
        hook.remove()
        for obj, name, before in saved:
            if before is None:
                delattr(obj, name)
            else:
                setattr(obj, name, before)


def _expect_order(order: list[str], with_scheduler: bool) -> None:
    """Name a wrong order of backward, zero_grad and the steps (the parameters alone cannot tell them apart)."""
    if "backward" not in order:
        raise CheckFailed("loss.backward() is never called (or the loss does not depend on the model's "
                          "parameters), so there are no gradients: call loss.backward() before optimizer.step()")
    if "optimizer.step" not in order:
        raise CheckFailed("optimizer.step() is never called, so the parameters never change: call it after "
                          "loss.backward()")
    backward, step = order.index("backward"), order.index("optimizer.step")
    if step < backward:
        raise CheckFailed("optimizer.step() comes before loss.backward(), so it applies gradients that are not "
                          "computed yet: zero_grad(), backward(), then step()")
    if "optimizer.zero_grad" in order[backward:step]:
        raise CheckFailed("optimizer.zero_grad() comes between loss.backward() and optimizer.step(), so it "
                          "wipes the gradients just computed and the step changes nothing: call zero_grad() "
                          "BEFORE loss.backward()")
    if order.count("backward") > 1:
        raise CheckFailed(f"loss.backward() runs {order.count('backward')} times in one step: once is enough")
    if with_scheduler and "scheduler.step" in order and order.index("scheduler.step") < step:
        raise CheckFailed("scheduler.step() comes before optimizer.step(), so the first step already uses the "
                          "second step's learning rate: step the optimizer first, then the scheduler")


def _step_lr(step: int) -> float:
    """The train_step check's learning-rate factor: it changes every step."""
    return (step + 1) / 2


def _step_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [make_batch([21, 7, 321, 45_678]), make_batch([999_999, 16, 1001])]  # padded, different lengths


@functools.lru_cache(maxsize=None)
def _reference_params(seed: int, n_steps: int, smoothing: float, clip_norm: float | None, **mistake) -> torch.Tensor:
    """The reference's parameters after n_steps of the check's steps (or with one mistake made), computed once."""
    model = _reference_steps(_tiny_model(seed), _step_batches()[:n_steps], _step_lr, smoothing, clip_norm, **mistake)
    return _params(model)


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _check_train_step(fn: Callable) -> None:
    batches = _step_batches()
    lr_lambda = _step_lr
    for smoothing, clip_norm in [(0.1, None), (0.0, None), (0.1, 0.05)]:
        with case(f"two steps with SGD(lr=0.1) and a LambdaLR scheduler, smoothing={smoothing}, "
                  f"clip_norm={clip_norm}, batches of numbers [21, 7, 321, 45678] and [999999, 16, 1001]"):
            seed = 7
            model = _tiny_model(seed).eval()  # left in eval mode, as after an evaluation
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
            before = _params(model)
            src, tgt = batches[0]
            expected_loss = _loss_of(_tiny_model(seed), src, tgt[:, :-1], tgt[:, 1:], padding_mask(src, PAD_ID),
                                     target_mask(tgt[:, :-1], PAD_ID), smoothing)
            with warnings.catch_warnings(), _calls_recorded(model, optimizer, scheduler) as order:
                warnings.simplefilter("ignore")  # e.g. PyTorch's warning about the scheduler order
                loss = call(fn, model, (src, tgt), optimizer, scheduler, smoothing=smoothing, clip_norm=clip_norm)
            _expect_order(order, scheduler is not None)
            # the returned loss
            if isinstance(loss, torch.Tensor):
                if loss.requires_grad:
                    raise CheckFailed("train_step returns the loss tensor with its graph attached; return "
                                      "loss.item(), a plain float (a list of tensors would keep every "
                                      "step's graph in memory)")
                loss = loss.item()
            if not isinstance(loss, float):
                hint = " — did you forget to `return loss.item()`?" if loss is None else ""
                raise CheckFailed(f"train_step should return the loss as a float but returned "
                                  f"{type(loss).__name__}{hint}")
            mistakes = _step_loss_mistakes(_tiny_model(seed), src, tgt, smoothing)
            expect_close(torch.tensor(loss), torch.tensor(expected_loss), "the returned loss", atol=1e-5,
                         mistakes={k: (lambda v=v: torch.tensor(v())) for k, v in mistakes.items()})
            if not model.training:
                raise CheckFailed("the model is still in eval mode: call model.train() first, so that dropout "
                                  "is on during training (an evaluation switches it off)")
            # the parameters after one step
            after_one = _params(model)
            if torch.equal(after_one, before):
                if all(p.grad is None for p in model.parameters()):
                    raise CheckFailed("the parameters did not change and there are no gradients: call "
                                      "loss.backward() and then optimizer.step()")
                raise CheckFailed("the parameters did not change: call optimizer.step() after loss.backward()")
            expected_one = _reference_params(seed, 1, smoothing, clip_norm)
            expect_close(after_one, expected_one, "the parameters after one step", atol=1e-5, mistakes={
                "the gradients are not clipped: call nn.utils.clip_grad_norm_(model.parameters(), clip_norm) "
                "between loss.backward() and optimizer.step()":
                    lambda: _reference_params(seed, 1, smoothing, clip_norm, clip=False),
                "scheduler.step() comes before optimizer.step(), so the first step already uses the second "
                "step's learning rate: step the optimizer first, then the scheduler":
                    lambda: _reference_params(seed, 1, smoothing, clip_norm, scheduler_first=True),
            })
            # the parameters after a second step
            src, tgt = batches[1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call(fn, model, (src, tgt), optimizer, scheduler, smoothing=smoothing, clip_norm=clip_norm)
            expected_two = _reference_params(seed, 2, smoothing, clip_norm)
            expect_close(_params(model), expected_two, "the parameters after two steps", atol=1e-5, mistakes={
                "the gradients of the two steps add up: call optimizer.zero_grad() before loss.backward(), "
                "or every step also applies the gradients of all the steps before":
                    lambda: _reference_params(seed, 2, smoothing, clip_norm, zero_grad=False),
                "the learning rate never changes: call scheduler.step() after optimizer.step() (when a "
                "scheduler is given)":
                    lambda: _reference_params(seed, 2, smoothing, clip_norm, scheduler=False),
            })
    # without a scheduler
    with case("one step with scheduler=None"):
        model = _tiny_model(3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        call(fn, model, batches[0], optimizer, None, smoothing=0.1, clip_norm=None)


def check_train_step(learner: Callable) -> Callable:
    """Check `train_step(model, batch, optimizer, scheduler, smoothing, clip_norm)`; returns theirs if right."""
    return exercise("train_step", learner, ref.train_step, _check_train_step)


# --- decoding: the models and inputs the checks use --------------------------------------------


def decoding_model(seed: int, eos_bias: float = 1.0, sharpness: float = 3.0) -> Transformer:
    """A seeded random 2-layer translator in eval mode whose outputs look like a half-trained model's.

    Its unembedding is sharpened (so beam search and greedy decoding can disagree), never favours
    ``<pad>`` or ``<bos>``, and ends sentences with ``<eos>`` after varied lengths.
    """
    model = _tiny_model(seed)
    with torch.no_grad():
        model.unembed.weight.mul_(sharpness)
        model.unembed.bias[PAD_ID] = -30.0
        model.unembed.bias[BOS_ID] = -30.0
        model.unembed.bias[EOS_ID] += eos_bias
    return model.eval()


# --- greedy decoding ---------------------------------------------------------------------------


def greedy_variant(model, src, max_len, pad_after_eos=True, feed_back=True, position=-1, causal=True,
                   use_src_mask=True, keep_bos=True, n_steps=None) -> torch.Tensor:
    """Greedy decoding as the reference does it, or with one mistake made: (B, S) -> (B, L) ids."""
    with torch.no_grad():
        src_mask = padding_mask(src, PAD_ID) if use_src_mask else None
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), BOS_ID, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        for _ in range(max_len - 1 if n_steps is None else n_steps):
            inp = ys if feed_back else ys[:, :1]
            tgt_mask = target_mask(inp, PAD_ID) if causal else padding_mask(inp, PAD_ID)
            logits = model.decode(inp, memory, src_mask, tgt_mask)
            next_token = logits[:, position].argmax(dim=-1)
            if pad_after_eos:
                next_token = next_token.masked_fill(done, PAD_ID)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            done |= next_token == EOS_ID
            if done.all() and pad_after_eos:
                break
    return ys if keep_bos else ys[:, 1:]


def _trimmed(ys: torch.Tensor) -> torch.Tensor:
    """Drop the columns that are padding in every row (decoders may stop early or run to max_len)."""
    return trim_padding(ys.long(), PAD_ID) if ys.numel() else ys


@functools.lru_cache(maxsize=None)
def _greedy_of(numbers: tuple, max_len: int, seed: int) -> torch.Tensor:
    """The reference's greedy decoding on one of the check's cases, computed once."""
    return decoding.greedy_decode(decoding_model(seed, eos_bias=2.0), make_batch(list(numbers))[0], max_len=max_len)


def _check_greedy(fn: Callable) -> None:
    # rows that end after different numbers of steps, all rows ending early, max_len cutting rows off, batch of 1
    for numbers, max_len, seed in [([16, 1001, 70_000, 999_999], 13, 1), ([21, 7, 321, 45_678], 13, 2),
                                   ([21, 7, 321, 45_678], 4, 4), ([999_999], 13, 6)]:
        with case(f"a random model (seed {seed}), the numbers {numbers}, max_len={max_len}"):
            model = decoding_model(seed, eos_bias=2.0)
            src, _ = make_batch(numbers)
            expected = _greedy_of(tuple(numbers), max_len, seed)
            actual = expect_tensor(call(fn, model, src, max_len), "the output ids")
            if actual.is_floating_point():
                raise CheckFailed(f"the output has dtype {actual.dtype} but must hold integer token ids")
            if actual.dim() != 2 or actual.shape[0] != src.shape[0]:
                raise CheckFailed(f"the output has shape {tuple(actual.shape)} but should be (batch={src.shape[0]}, "
                                  f"length): one row of ids per source sentence")
            if actual.shape[1] > max_len:
                raise CheckFailed(f"the output has {actual.shape[1]} tokens per row but at most max_len={max_len}, "
                                  f"<bos> included: run at most max_len - 1 steps")
            variant = lambda **kw: _trimmed(greedy_variant(model, src, max_len, **kw))  # noqa: E731
            expect_close(_trimmed(actual.cpu()), _trimmed(expected.cpu()), "the output ids", atol=0, rtol=0,
                         axes=("batch", "length"), mistakes={
                "the output must start with <bos> (keep it: the reference returns <bos> ... <eos>)":
                    lambda: variant(keep_bos=False),
                "after a row has written <eos> it keeps writing words: once done, a row must only get <pad> "
                "(keep a `done` flag per row)": lambda: variant(pad_after_eos=False),
                "every token is predicted from <bos> alone: either the chosen token is not fed back (the "
                "decoder input must grow, torch.cat([ys, next_token[:, None]], dim=1)) or the next token is "
                "read from the FIRST position's logits (the new prediction is at the last, logits[:, -1])":
                    lambda: variant(feed_back=False),
                "the decoder gets no causal mask: pass target_mask(ys, PAD) to model.decode":
                    lambda: variant(causal=False),
                "the source mask is missing, so padded source tokens are attended to: padding_mask(src, PAD) "
                "for model.encode and model.decode": lambda: variant(use_src_mask=False),
            })


def check_greedy_decode(learner: Callable) -> Callable:
    """Check `greedy_decode(model, src, max_len)`; returns theirs if right, the reference if not done."""
    return exercise("greedy_decode", learner, decoding.greedy_decode, _check_greedy)


# --- beam search -------------------------------------------------------------------------------


def beam_variant(model, src, beam_width, max_len, score="log_prob", finished="keep", start_copies=False,
                 top_per_hypothesis=None, pick="best", rank="sum") -> torch.Tensor:
    """Beam search for ONE sentence, src (1, S) -> (1, L), as the exercise asks, or with one mistake made.

    score: "log_prob" (right), "prob" (adds probabilities), "logit" (adds raw logits), "last" (only the
    last token's log-probability). finished: "keep" (right: stays in the beam, score frozen), "extend"
    (eos is just another token), "replace" (finished ones leave the beam for a list; the beam is refilled),
    "drop" (finished ones are thrown away). pick: "best" (right), "normalised" (best score / length), "worst",
    "first" (the first hypothesis to finish). rank: "sum" (right) or "normalised" (the beam is pruned on
    score / length).
    """
    with torch.no_grad():
        src_mask = padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        beams = [(0.0, [BOS_ID])] * (beam_width if start_copies else 1)
        completed = []
        first_finished = None

        def rank_key(c):
            return c[0] / max(len(c[1]) - 1, 1) if rank == "normalised" else c[0]

        for _ in range(max_len - 1):
            candidates = []
            growing = [(total, tokens) for total, tokens in beams if tokens[-1] != EOS_ID or finished == "extend"]
            if growing:  # all of the same length: decode them as one batch
                ys = torch.tensor([tokens for _, tokens in growing])
                n = len(growing)
                logits_all = model.decode(ys, memory.expand(n, -1, -1), src_mask.expand(n, -1, -1, -1),
                                          target_mask(ys, PAD_ID))[:, -1].float()
            row = 0
            for total, tokens in beams:
                if tokens[-1] == EOS_ID and finished == "drop":
                    continue
                if tokens[-1] == EOS_ID and finished != "extend":
                    candidates.append((total, tokens))
                    continue
                logits = logits_all[row]
                row += 1
                log_probs = F.log_softmax(logits, dim=-1)
                values = {"log_prob": log_probs, "prob": log_probs.exp(), "logit": logits, "last": log_probs}[score]
                top = values.topk(top_per_hypothesis or beam_width)
                for v, t in zip(top.values.tolist(), top.indices.tolist()):
                    candidates.append((v if score == "last" else total + v, tokens + [t]))
            candidates.sort(key=rank_key, reverse=True)
            if finished == "replace":
                completed += [c for c in candidates[:beam_width] if c[1][-1] == EOS_ID]
                beams = [c for c in candidates if c[1][-1] != EOS_ID][:beam_width]
                if len(completed) >= beam_width or not beams:
                    break
            else:
                beams = candidates[:beam_width]
                if not beams:  # "drop": every hypothesis finished and was thrown away
                    return torch.tensor([[BOS_ID]])
                if first_finished is None:
                    first_finished = next((c for c in beams if c[1][-1] == EOS_ID), None)
                if all(tokens[-1] == EOS_ID for _, tokens in beams):
                    break
        pool = (completed or beams) if finished == "replace" else beams
        if pick == "first" and first_finished is not None:
            return torch.tensor([first_finished[1]])
        choose = {"best": lambda c: c[0], "worst": lambda c: -c[0], "first": lambda c: c[0],
                  "normalised": lambda c: c[0] / max(len(c[1]) - 1, 1)}[pick]
        best = max(pool, key=choose)[1]
    return torch.tensor([best])


_BEAM_CASES = [(45_678, 1, 2),  # width 1 first: it must be greedy decoding
               (45_678, 2, 2), (45_678, 2, 14), (21, 3, 1), (45_678, 4, 1), (999_999, 4, 4),
               (21, 3, 2)]  # tells "first to finish" from "replace", pruning on score / length from picking on it
"""(number, beam_width, seed): found to tell every mistake below apart from the right answer."""

_BEAM_MISTAKES = {
    "it adds up probabilities instead of log-probabilities: a sequence's score is the SUM of its "
    "tokens' log-probabilities (the log of their product)": dict(score="prob"),
    "it adds up raw logits: turn them into log-probabilities with F.log_softmax first": dict(score="logit"),
    "it ranks hypotheses by their last token's log-probability only; the score is the sum over "
    "the whole sequence (add the new token's log-probability to its parent's score)": dict(score="last"),
    "a finished hypothesis keeps growing after <eos>: once it has written <eos> it stays in the "
    "beam as it is, with its score frozen": dict(finished="extend"),
    "finished hypotheses leave the beam and are replaced by unfinished ones; here a finished "
    "hypothesis keeps its place in the beam, competing with the others on its frozen score": dict(finished="replace"),
    "finished hypotheses are thrown away, so the result never ends with <eos>: a hypothesis that "
    "has written <eos> stays in the beam, as it is, with its score frozen": dict(finished="drop"),
    "the result is greedy decoding's: either the beam starts with beam_width copies of <bos> (it "
    "then fills with duplicates; start with ONE hypothesis, [<bos>] with score 0), or each "
    "hypothesis is extended by its single best token only (take its beam_width best, then keep "
    "the beam_width best candidates overall)": dict(top_per_hypothesis=1),
    "it picks the final hypothesis by its length-normalised score (score / length); here the result is "
    "the hypothesis with the highest plain sum of log-probabilities": dict(pick="normalised"),
    "it prunes the beam on the length-normalised score (score / length); rank the candidates by the "
    "plain sum of log-probabilities": dict(rank="normalised"),
    "it returns the hypothesis with the LOWEST score: pick the one with the highest (max, not min; "
    "or sort in descending order)": dict(pick="worst"),
    "it returns the first hypothesis to write <eos>; keep searching until every hypothesis in the beam "
    "has finished (or max_len), then return the highest-scoring one": dict(pick="first"),
}


def _check_beam(fn: Callable) -> None:
    runs = []  # (model, src, k, actual, expected) of every case, to tell look-alike mistakes apart
    for number, k, seed in _BEAM_CASES:
        with case(f"a random model (seed {seed}), the number {number}, beam_width={k}, max_len=13"):
            model = decoding_model(seed, eos_bias=2.0, sharpness=3.0)
            src, _ = make_batch([number])
            expected = _beam_of(number, k, seed)
            actual = expect_tensor(call(fn, model, src, k, 13), "the output ids")
            if actual.dim() == 1:
                raise CheckFailed(f"the output has shape {tuple(actual.shape)} but should be (1, length): "
                                  f"one row, like greedy_decode's output for a batch of 1")
            if actual.is_floating_point():
                raise CheckFailed(f"the output has dtype {actual.dtype} but must hold integer token ids "
                                  f"(torch.long): build it with torch.tensor(ids) from a list of ints, or .long()")
            actual = _trimmed(actual.cpu())
            if k == 1:
                greedy = _beam_of(number, 0, seed)
                if not (actual.shape == greedy.shape and torch.equal(actual, greedy)):
                    raise CheckFailed(f"with beam_width=1 beam search must be greedy decoding, but it gives "
                                      f"{actual.tolist()[0]} where greedy_decode gives {greedy.tolist()[0]}")
            runs.append((number, k, seed, actual, expected))
            if not (actual.shape == expected.shape and torch.equal(actual, expected)):
                diagnosis = _beam_diagnosis(runs[-1], runs, fn)
                if diagnosis:
                    raise CheckFailed(f"the output ids are wrong: {diagnosis}")
            expect_close(actual, expected, "the output ids", atol=0, rtol=0, axes=("1", "length"))


@functools.lru_cache(maxsize=None)
def _beam_of(number: int, k: int, seed: int, mistake: tuple = ()) -> torch.Tensor:
    """What beam search gives on one of the check's cases (k=0: greedy decoding), with a mistake made; cached."""
    model, src = decoding_model(seed, eos_bias=2.0, sharpness=3.0), make_batch([number])[0]
    if k == 0:
        return _trimmed(decoding.greedy_decode(model, src, max_len=13).cpu())
    if not mistake:
        return _trimmed(decoding.beam_search(model, src, beam_width=k, max_len=13).cpu())
    return _trimmed(beam_variant(model, src, k, 13, **dict(mistake)))


def _beam_diagnosis(failing, runs, fn) -> str | None:
    """The mistake that gives the learner's output on the failing case AND on every other case."""
    number, k, seed, actual, expected = failing
    variant = lambda n, w, sd, kw: _beam_of(n, w, sd, tuple(sorted(kw.items())))  # noqa: E731
    matching = match_mistake(actual, expected, {d: (lambda kw=kw: variant(number, k, seed, kw))
                                                for d, kw in _BEAM_MISTAKES.items()}, 0, 0)
    if matching is None:
        return None
    candidates = [d for d in _BEAM_MISTAKES if d == matching or
                  is_close(actual, variant(number, k, seed, _BEAM_MISTAKES[d]), 0, 0)]
    others = [(n, w, sd, got) for n, w, sd, got, _ in runs if got is not actual]
    for n, w, sd in _BEAM_CASES[len(runs):]:  # the cases not run yet
        m, s = decoding_model(sd, eos_bias=2.0, sharpness=3.0), make_batch([n])[0]
        with torch.no_grad():
            others.append((n, w, sd, _trimmed(torch.as_tensor(call(fn, m, s, w, 13)).long().cpu())))
    for diagnosis in candidates:
        if all(is_close(got, variant(n, w, sd, _BEAM_MISTAKES[diagnosis]), 0, 0) for n, w, sd, got in others):
            return diagnosis
    return None


def check_beam_search(learner: Callable) -> Callable:
    """Check `beam_search(model, src, beam_width, max_len)` for one sentence; returns theirs if right.

    Not done yet: the reference ``decoding.beam_search`` (batched) is returned.
    """
    return exercise("beam_search", learner, decoding.beam_search, _check_beam)
