"""Greedy decoding, beam search and exact match, on a random and on a briefly trained model."""

import pytest
import torch
import torch.nn.functional as F

import transformer_course as tc
from transformer_course.task.decoding import (EvalMode, beam_search, exact_match, family_exact_match, greedy_decode,
                                              translate)
from transformer_course.task.number_words import (BOS_ID, DE_VOCAB, EN_VOCAB, EOS_ID, MAX_TGT_LEN, PAD_ID,
                                             batch_iterator, german_tokens, make_batch)
from transformer_course.task.training import noam_schedule, train_step

NUMBERS = [0, 1, 7, 21, 101, 1001, 70_000, 123_456, 999_999, 17_017]


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def sequence_log_prob(model, src, tgt, pad_id=PAD_ID):
    """log p(tgt | src) of whole sequences: src (B, S), tgt (B, T) <bos> ... [<eos>] -> (B,).

    The sum over the predicted tokens (everything after <bos> up to and including <eos>, not the
    padding) of the log-probability the model gives them: what beam search maximises.
    """
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]  # (B, T-1) each
    with EvalMode(model):
        logits = model(src, tgt_in, tc.padding_mask(src, pad_id), tc.target_mask(tgt_in, pad_id))  # (B, T-1, V)
        token_log_probs = F.log_softmax(logits.float(), dim=-1).gather(-1, tgt_out[..., None]).squeeze(-1)
        return (token_log_probs * (tgt_out != pad_id)).sum(dim=1)  # (B,)


def small_model(seed):
    torch.manual_seed(seed)
    return tc.Transformer(tc.ModelConfig(src_vocab_size=len(EN_VOCAB), vocab_size=len(DE_VOCAB), d_model=32, n_heads=2, n_layers=1, d_ff=64,
                          dropout=0.1, max_len=MAX_TGT_LEN + 3))  # + 3: room for the padding test_sequence_log_prob adds


@pytest.fixture(scope="module")
def random_model():
    return small_model(0)


@pytest.fixture(scope="module")
def trained_model():
    """A small model after 150 steps: far from perfect, but no longer random (about 2 s)."""
    model = small_model(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, noam_schedule(32, 50, factor=2.0))
    batches = batch_iterator(range(0, 1_000_000, 97), 64, seed=0, epochs=None)
    for _ in range(150):
        train_step(model, next(batches), optimizer, scheduler)
    return model


def assert_well_formed(ys):
    """<bos> first, at most one <eos>, only <pad> after it, no <pad>/<bos> before it."""
    assert ys.dtype == torch.long and ys.dim() == 2 and ys.shape[1] <= MAX_TGT_LEN
    assert ys[:, 0].eq(BOS_ID).all()
    for row in ys.tolist():
        body = row[1:]
        end = body.index(EOS_ID) + 1 if EOS_ID in body else len(body)
        assert all(t not in (PAD_ID, BOS_ID, EOS_ID) for t in body[:end - 1]), row
        assert all(t == PAD_ID for t in body[end:]), f"tokens after <eos>: {row}"


@pytest.mark.parametrize("which", ["random_model", "trained_model"])
def test_greedy_equals_beam_of_width_one(which, request):
    model = request.getfixturevalue(which)
    src, _ = make_batch(NUMBERS)
    greedy = greedy_decode(model, src)
    assert_well_formed(greedy)
    assert torch.equal(beam_search(model, src, beam_width=1), greedy)


@pytest.mark.parametrize("which", ["random_model", "trained_model"])
@pytest.mark.parametrize("beam_width", [2, 4])
def test_beam_is_at_least_as_probable_as_greedy(which, beam_width, request):
    model = request.getfixturevalue(which)
    src, _ = make_batch(NUMBERS)
    greedy = greedy_decode(model, src)
    beam, beam_scores = beam_search(model, src, beam_width=beam_width, return_scores=True)
    assert_well_formed(beam)
    # the score beam search kept is the sequence's log-probability under the model
    torch.testing.assert_close(beam_scores, sequence_log_prob(model, src, beam), atol=1e-4, rtol=1e-4)
    assert (sequence_log_prob(model, src, beam) >= sequence_log_prob(model, src, greedy) - 1e-5).all()


def test_decoding_stops_at_eos_and_handles_a_batch_of_one(trained_model):
    for n in (21, 999_999):
        src, _ = make_batch([n])
        for ys in (greedy_decode(trained_model, src), beam_search(trained_model, src, beam_width=3)):
            assert ys.shape[0] == 1
            assert_well_formed(ys)
            assert ys[0, -1] == EOS_ID, "a trained model ends its sentence before max_len"
    # a random model that never writes <eos> is cut off at max_len
    src, _ = make_batch([5])
    assert greedy_decode(small_model(0), src, max_len=4).shape == (1, 4)


def test_decoding_uses_eval_mode_and_restores_it(random_model):
    src, _ = make_batch(NUMBERS)
    random_model.train()
    first = greedy_decode(random_model, src)
    assert random_model.training, "decoding must give the model back in the mode it found it"
    assert torch.equal(first, greedy_decode(random_model, src)), "dropout was on while decoding"
    random_model.eval()
    beam_search(random_model, src, 2)
    assert not random_model.training


def test_exact_match_and_translate(trained_model):
    predicted = translate(trained_model, NUMBERS)
    assert len(predicted) == len(NUMBERS) and all(isinstance(p, list) for p in predicted)
    expected = sum(p == german_tokens(n) for p, n in zip(predicted, NUMBERS)) / len(NUMBERS)
    assert exact_match(trained_model, NUMBERS, batch_size=3) == expected
    assert translate(trained_model, NUMBERS, beam_width=2)  # runs
    with pytest.raises(ValueError):
        exact_match(trained_model, [])


def test_family_exact_match_scores_each_family(trained_model):
    families = {"small": [0, 1, 7, 21], "large": [70_000, 123_456, 999_999]}
    scores = family_exact_match(trained_model, families)
    assert list(scores) == ["small", "large"]
    assert scores == {name: exact_match(trained_model, numbers) for name, numbers in families.items()}


def test_sequence_log_prob_ignores_padding(random_model):
    src, _ = make_batch([21, 999_999])
    ys = greedy_decode(random_model, src)
    one = sequence_log_prob(random_model, src[:1], ys[:1])
    padded = torch.cat([ys[:1], torch.full((1, 3), PAD_ID)], dim=1)
    torch.testing.assert_close(sequence_log_prob(random_model, src[:1], padded), one)
    assert (sequence_log_prob(random_model, src, ys) < 0).all()


def test_beam_width_is_checked_before_any_decoding_step(random_model, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("beam_search ran the model before checking beam_width")

    monkeypatch.setattr(random_model, "encode", no_decoding)
    monkeypatch.setattr(random_model, "decode", no_decoding)
    src, _ = make_batch([21])
    vocab_size = len(DE_VOCAB)
    for bad in (0, vocab_size + 1):
        with pytest.raises(ValueError, match=rf"beam_width must be from 1 to the vocabulary's size \({vocab_size} "
                                             rf"tokens\), got {bad}"):
            beam_search(random_model, src, beam_width=bad)
