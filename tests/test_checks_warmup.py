"""Notebook 00's warm-up checks pass the reference and name each mistake they claim to catch."""

from __future__ import annotations

import pytest
from contract import passes
import torch
from einops import rearrange

from transformer_course.checks import CheckFailed, warmup


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.delenv("TRANSFORMER_COURSE_STRICT", raising=False)


def failure(check, wrong) -> str:
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    return str(info.value)


@pytest.mark.parametrize(
    "check, reference, name",
    [
        (warmup.check_mean_over_positions, warmup.mean_over_positions, "mean_over_positions"),
        (warmup.check_pairwise_dot, warmup.pairwise_dot, "pairwise_dot"),
        (warmup.check_chunk_sequence, warmup.chunk_sequence, "chunk_sequence"),
    ],
)
def test_reference_and_other_right_answers_pass(check, reference, name, capsys):
    assert passes(check, reference)
    assert capsys.readouterr().out == f"✔ {name}: correct\n"


def test_other_correct_implementations_pass(capsys):
    warmup.check_mean_over_positions(lambda x: x.sum(1) / x.shape[1])
    warmup.check_pairwise_dot(lambda a, b: torch.einsum("znd,zmd->znm", a, b))
    warmup.check_chunk_sequence(lambda x, c: x.view(x.shape[0], -1, c, x.shape[-1]))
    assert capsys.readouterr().out.count("correct") == 3


def test_stub_is_not_done(capsys):
    def stub(*args):
        raise NotImplementedError

    assert warmup.check_pairwise_dot(stub) is warmup.pairwise_dot
    assert "pairwise_dot: not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda x: x.mean(dim=-1), "averages over d_model"),
        (lambda x: x.mean(dim=0), "averages over the batch"),
        (lambda x: x.sum(dim=1), "sums the positions"),
        (lambda x: x.mean(dim=1, keepdim=True), "keeps the averaged axis"),
        (lambda x: x.mean(), "averages every number into one"),
        (lambda x: x[:, 0], "differs from the reference"),
        (lambda x: None, "did you forget to `return`"),
    ],
)
def test_mean_over_positions_mistakes(wrong, message):
    msg = failure(warmup.check_mean_over_positions, wrong)
    assert msg.startswith("mean_over_positions: ") and message in msg


def test_mean_over_positions_wrong_axis_caught_when_shapes_agree():
    # seq_len == d_model: the wrong axis gives the right shape, only the values tell
    def wrong_when_square(x):
        return x.mean(dim=-1) if x.shape[1] == x.shape[2] else x.mean(dim=1)

    assert "averages over d_model" in failure(warmup.check_mean_over_positions, wrong_when_square)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda a, b: b @ a.transpose(-2, -1), "it is transposed"),
        (lambda a, b: (a @ b.transpose(-2, -1)).transpose(-2, -1), "it is transposed"),
        (lambda a, b: a * b if a.shape == b.shape else a @ b.transpose(-2, -1), "multiplies element by element"),
        (
            lambda a, b: a.transpose(-2, -1) @ b if a.shape == b.shape else a @ b.transpose(-2, -1),
            "sums over the rows instead of over d",
        ),
        (lambda a, b: a @ b.transpose(-2, -1) / a.shape[-1], "5 times too small (a factor 0.2 = 1/5)"),
        (lambda a, b: (a @ b.transpose(-2, -1))[0], "it has 2 axes instead of 3"),
    ],
)
def test_pairwise_dot_mistakes(wrong, message):
    msg = failure(warmup.check_pairwise_dot, wrong)
    assert msg.startswith("pairwise_dot: ") and message in msg


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda x, c: rearrange(x, "b (c n) d -> b n c d", c=c), "interleaved, not consecutive"),
        (lambda x, c: rearrange(x, "b (n c) d -> b c n d", c=c), "n_chunks and chunk_len are swapped"),
        (lambda x, c: rearrange(x, "b (n c) d -> (b n) c d", c=c), "it has 3 axes instead of 4"),
        (lambda x, c: x.view(x.shape[0], -1, c, x.shape[-1]).flip(1), "in reverse order along axis 1 (n_chunks)"),
    ],
)
def test_chunk_sequence_mistakes(wrong, message):
    msg = failure(warmup.check_chunk_sequence, wrong)
    assert msg.startswith("chunk_sequence: ") and message in msg
