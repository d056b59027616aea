"""Notebook 07's checks: the reference passes, a stub is 'not done yet', and each named mistake is caught."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import transformer_course as tc
from contract import assert_not_done, passes  # tests/contract.py
from transformer_course import checks
from transformer_course.checks import training as ct
from transformer_course.task.number_words import BOS_ID, EOS_ID, PAD_ID


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


# --- wrong losses ------------------------------------------------------------------------------


def _loss(mean="real", smoothing_on=True, spread="all", swap=False, sign=1, kind="log_softmax", pad="given",
          dim=-1):
    def loss(logits, target, smoothing=0.1, pad_id=0):
        eps = smoothing if smoothing_on else 0.0
        if kind == "log_softmax":
            lp = F.log_softmax(logits, dim=dim)
        elif kind == "softmax":
            lp = F.softmax(logits, dim=-1)
        else:
            lp = logits
        nll = -lp.gather(-1, target[..., None]).squeeze(-1)
        if spread == "all":
            smooth = -lp.mean(-1)
        elif spread == "others":
            smooth = (-lp.sum(-1) - nll) / (lp.shape[-1] - 1)
        else:
            smooth = -lp.sum(-1)
        per_token = eps * nll + (1 - eps) * smooth if swap else (1 - eps) * nll + eps * smooth
        real = target != (0 if pad == "zero" else pad_id)
        if mean == "all":
            value = per_token.mean()
        elif mean == "all_count":
            value = (per_token * real).sum() / real.numel()
        elif mean == "sum":
            value = (per_token * real).sum()
        else:
            value = (per_token * real).sum() / real.sum()
        return sign * value
    return loss


LOSS_MISTAKES = {
    "the padding is counted": _loss(mean="all"),
    "divided by every position": _loss(mean="all_count"),
    "sums over the tokens instead of averaging": _loss(mean="sum"),
    "no label smoothing": _loss(smoothing_on=False),
    "the two weights are swapped": _loss(swap=True),
    "spread over the V - 1 wrong tokens": _loss(spread="others"),
    "added as a sum over the vocabulary": _loss(spread="sum"),
    "the sign is wrong": _loss(sign=-1),
    "probabilities instead of log-probabilities": _loss(kind="softmax"),
    "raw logits": _loss(kind="logits"),
    "log_softmax over the wrong axis": _loss(dim=1),
    "treats id 0 as padding": _loss(pad="zero"),
    "should be one number": lambda logits, target, smoothing=0.1, pad_id=0: F.cross_entropy(
        logits.transpose(1, 2), target, reduction="none"),
}


def test_loss_reference_passes(capsys):
    assert passes(ct.check_label_smoothing_loss, tc.label_smoothing_loss)
    assert "✔ label_smoothing_loss: correct" in capsys.readouterr().out


def test_loss_pytorch_equivalent_passes():
    def torch_loss(logits, target, smoothing=0.1, pad_id=0):
        return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=pad_id, label_smoothing=smoothing)
    assert passes(ct.check_label_smoothing_loss, torch_loss)


@pytest.mark.parametrize("message", LOSS_MISTAKES)
def test_loss_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ct.check_label_smoothing_loss(LOSS_MISTAKES[message])


# --- wrong training steps ----------------------------------------------------------------------


def _step(shift="right", pad_in_loss=False, smoothing_on=True, tgt_mask="target", src_mask=True, zero_grad=True,
          clip=True, scheduler="after", train_mode=True, backward=True, opt_step=True, returns="item"):
    def train_step(model, batch, optimizer, scheduler_=None, smoothing=0.1, clip_norm=1.0):
        src, tgt = (t.to(next(model.parameters()).device) for t in batch)
        if train_mode:
            model.train()
        if shift == "right":
            tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        elif shift == "none":
            tgt_in, tgt_out = tgt, tgt
        elif shift == "labels":
            tgt_in, tgt_out = tgt[:, :-1], tgt[:, :-1]
        else:  # swapped
            tgt_in, tgt_out = tgt[:, 1:], tgt[:, :-1]
        masks = {"target": tc.target_mask(tgt_in, PAD_ID), "padding": tc.padding_mask(tgt_in, PAD_ID), None: None}
        logits = model(src, tgt_in, tc.padding_mask(src, PAD_ID) if src_mask else None, masks[tgt_mask])
        loss = tc.label_smoothing_loss(logits, tgt_out, smoothing if smoothing_on else 0.0,
                                       pad_id=-1 if pad_in_loss else PAD_ID)
        if zero_grad:
            optimizer.zero_grad()
        if backward:
            loss.backward()
        if clip and clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        if scheduler_ is not None and scheduler == "before":
            scheduler_.step()
        if opt_step:
            optimizer.step()
        if scheduler_ is not None and scheduler == "after":
            scheduler_.step()
        return {"item": loss.item(), "tensor": loss, "none": None}[returns]
    return train_step


STEP_MISTAKES = {
    "the target is not shifted": _step(shift="none"),
    "the labels are not shifted": _step(shift="labels"),
    "the input and the labels are swapped": _step(shift="swapped"),
    "pad tokens are counted in the loss": _step(pad_in_loss=True),
    "no label smoothing": _step(smoothing_on=False),
    "no causal mask": _step(tgt_mask="padding"),
    "no target mask at all": _step(tgt_mask=None),
    "the source mask is missing": _step(src_mask=False),
    "gradients of the two steps add up: call optimizer.zero_grad": _step(zero_grad=False),
    "gradients are not clipped": _step(clip=False),
    "scheduler.step\\(\\) comes before optimizer.step\\(\\)": _step(scheduler="before"),
    "learning rate never changes": _step(scheduler="never"),
    "still in eval mode: call model.train": _step(train_mode=False),
    "no gradients: call loss.backward": _step(backward=False),
    r"optimizer.step\(\) is never called": _step(opt_step=False),
    "graph attached; return loss.item": _step(returns="tensor"),
    "forget to `return loss.item\\(\\)`": _step(returns="none"),
}


def test_train_step_reference_passes(capsys):
    assert passes(ct.check_train_step, tc.train_step)
    assert "✔ train_step: correct" in capsys.readouterr().out


def test_train_step_written_out_passes():
    right = _step()
    assert passes(ct.check_train_step, right)


@pytest.mark.parametrize("message", STEP_MISTAKES)
def test_train_step_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ct.check_train_step(STEP_MISTAKES[message])


# --- wrong greedy decoders ---------------------------------------------------------------------


def _greedy(**mistake):
    def greedy_decode(model, src, max_len):
        return ct.greedy_variant(model, src, max_len, **mistake)
    return greedy_decode


def _greedy_no_early_stop(model, src, max_len):
    """Right, but runs all max_len - 1 steps (padding finished rows) instead of stopping when all are done."""
    with torch.no_grad():
        src_mask = tc.padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), BOS_ID, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, tc.target_mask(ys, PAD_ID))
            next_token = logits[:, -1].argmax(-1).masked_fill(done, PAD_ID)
            ys = torch.cat([ys, next_token[:, None]], 1)
            done |= next_token == EOS_ID
    return ys


GREEDY_MISTAKES = {
    "must start with <bos>": _greedy(keep_bos=False),
    "keeps writing words": _greedy(pad_after_eos=False),
    "predicted from <bos> alone: either the chosen token is not fed back": _greedy(feed_back=False),
    "or the next token is read from the FIRST position's logits": _greedy(position=0),
    "no causal mask": _greedy(causal=False),
    "source mask is missing": _greedy(use_src_mask=False),
    "at most max_len=": _greedy(n_steps=20),
    "must hold integer token ids": lambda model, src, max_len: tc.greedy_decode(model, src, max_len).float(),
}


def test_greedy_reference_passes(capsys):
    assert passes(ct.check_greedy_decode, tc.greedy_decode)
    assert "✔ greedy_decode: correct" in capsys.readouterr().out


def test_greedy_without_early_stop_passes():
    assert passes(ct.check_greedy_decode, _greedy_no_early_stop)


@pytest.mark.parametrize("message", GREEDY_MISTAKES)
def test_greedy_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ct.check_greedy_decode(GREEDY_MISTAKES[message])


# --- wrong beam searches -----------------------------------------------------------------------


def _beam(**mistake):
    def beam_search(model, src, beam_width, max_len):
        return ct.beam_variant(model, src, beam_width, max_len, **mistake)
    return beam_search


BEAM_MISTAKES = {
    "beam search must be greedy decoding": lambda model, src, k, max_len: ct.beam_variant(model, src, k + 1, max_len),
    "adds up probabilities instead of log-probabilities": _beam(score="prob"),
    "adds up raw logits": _beam(score="logit"),
    "last token's log-probability only": _beam(score="last"),
    "keeps growing after <eos>": _beam(finished="extend"),
    "leave the beam and are replaced": _beam(finished="replace"),
    "thrown away": _beam(finished="drop"),
    "copies of <bos>": _beam(start_copies=True),
    "single best token only": _beam(top_per_hypothesis=1),
    "should be \\(1, length\\)": lambda model, src, k, max_len: ct.beam_variant(model, src, k, max_len)[0],
}


def test_beam_reference_passes(capsys):
    assert passes(ct.check_beam_search, tc.beam_search)
    assert "✔ beam_search: correct" in capsys.readouterr().out


def test_beam_one_sentence_version_passes():
    right = _beam()
    assert passes(ct.check_beam_search, right)


@pytest.mark.parametrize("message", BEAM_MISTAKES)
def test_beam_mistakes_are_named(message):
    with pytest.raises(checks.CheckFailed, match=message):
        ct.check_beam_search(BEAM_MISTAKES[message])


# --- stubs: not done yet, and strict mode ------------------------------------------------------


def _stub(*args, **kwargs):
    raise NotImplementedError


STUBS = [
    (ct.check_label_smoothing_loss, tc.label_smoothing_loss, "label_smoothing_loss"),
    (ct.check_train_step, tc.train_step, "train_step"),
    (ct.check_greedy_decode, tc.greedy_decode, "greedy_decode"),
    (ct.check_beam_search, tc.beam_search, "beam_search"),
]


@pytest.mark.parametrize("check, reference, name", STUBS)
def test_stub_is_not_done_and_fails_in_strict_mode(check, reference, name, capsys, monkeypatch):
    assert_not_done(check, _stub, reference, name, capsys, monkeypatch)


def test_decoding_model_never_writes_pad_or_bos():
    model = ct.decoding_model(1, eos_bias=2.0)
    src, _ = tc.make_batch([16, 1001, 70_000, 999_999])
    ys = ct.greedy_variant(model, src, 13, pad_after_eos=False)[:, 1:]
    assert not ((ys == PAD_ID) | (ys == BOS_ID)).any()


# --- decoding loops run under the watch: a tensor or mask made on the CPU inside the loop is named -------


def _greedy_cpu_mask(model, src, max_len):
    with torch.no_grad():
        src_mask = tc.padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), BOS_ID, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            tgt_mask = tc.padding_mask(ys, PAD_ID) & tc.causal_mask(ys.shape[1])  # the mistake: no device=
            next_token = model.decode(ys, memory, src_mask, tgt_mask)[:, -1].argmax(-1).masked_fill(done, PAD_ID)
            ys = torch.cat([ys, next_token[:, None]], 1)
            done |= next_token == EOS_ID
            if done.all():
                break
    return ys


def _beam_cpu_ids(model, src, beam_width, max_len):
    with torch.no_grad():
        src_mask = tc.padding_mask(src, PAD_ID)
        memory = model.encode(src, src_mask)
        beams = [(0.0, [BOS_ID])]
        for _ in range(max_len - 1):
            candidates = []
            for score, tokens in beams:
                if tokens[-1] == EOS_ID:
                    candidates.append((score, tokens))
                    continue
                ys = torch.tensor([tokens])  # the mistake: no device=src.device
                logits = model.decode(ys, memory, src_mask, tc.target_mask(ys, PAD_ID))[0, -1]
                top = F.log_softmax(logits, dim=-1).topk(beam_width)
                candidates += [(score + v, tokens + [t]) for v, t in zip(top.values.tolist(), top.indices.tolist())]
            beams = sorted(candidates, key=lambda c: c[0], reverse=True)[:beam_width]
            if all(tokens[-1] == EOS_ID for _, tokens in beams):
                break
        return torch.tensor([max(beams, key=lambda c: c[0])[1]], device=src.device)


@pytest.mark.parametrize("check, learner, made", [
    (ct.check_greedy_decode, _greedy_cpu_mask, "torch.ones"),  # inside tc.causal_mask, named at the learner's line
    (ct.check_beam_search, _beam_cpu_ids, "torch.tensor"),
])
def test_a_tensor_made_on_the_cpu_inside_the_decoding_loop_is_named(check, learner, made):
    with pytest.raises(checks.CheckFailed) as info:
        check(learner)
    message = str(info.value)
    assert "would fail on a GPU" in message and made in message and "the mistake: no device" in message, message
