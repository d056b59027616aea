"""The sentence task for the GPT: the sequence layout, which positions the loss counts, decoding after the
prompt, training, and the fairness of the comparison with the encoder-decoder (same batches, same schedule)."""

from __future__ import annotations

import pytest
import torch

import transformer_course as tc
from transformer_course.task import lm_data, lm_training, sentence_lm
from transformer_course.task.number_words import EOS_ID, PAD_ID
from transformer_course.task.sentence_lm import PAIR_VOCAB, SEP_ID
from transformer_course.task.sentence_training import SentenceConfig
from transformer_course.task.sentences import EN_VOCAB, Sentence, batch_iterator
from transformer_course.task.training import label_smoothing_loss, warmup_cosine_schedule

pytestmark = pytest.mark.usefixtures("one_thread")

PAIR = Sentence(("the", "cat", "is", "in", "the", "garden"), ("die", "Katze", "ist", "im", "Garten"), "prepositions")
SHARED = Sentence(("he", "has", "seen", "the", "hat"), ("er", "hat", "den", "Hut", "gesehen"), "perfect")  # "hat" twice
TINY = SentenceConfig(d_model=32, n_heads=2, n_layers=1, d_ff=64, steps=40, warmup=10, batch_size=16,
                      n_train=400, n_test=3)


def _words(ids):
    return [PAIR_VOCAB.itos[i] for i in ids]


def test_the_sequence_is_bos_english_separator_german_eos():
    ids, loss_mask = sentence_lm.encode_lm(PAIR)
    assert _words(ids) == ["<bos>", "the", "cat", "is", "in", "the", "garden", "=", "die", "Katze", "ist", "im",
                           "Garten", "<eos>"]
    # the loss counts the German and <eos>: never <bos>, the English or the separator
    assert loss_mask == [False] * 8 + [True] * 6
    assert sentence_lm.prompt_ids(PAIR) == ids[:8]


def test_a_word_of_both_languages_has_two_ids():
    ids, _ = sentence_lm.encode_lm(SHARED)
    english_hat, german_hat = ids[5], ids[8]
    assert _words([english_hat, german_hat]) == ["hat", "hat"] and english_hat != german_hat
    assert english_hat < SEP_ID < german_hat
    assert PAIR_VOCAB.decode_target([german_hat]) == ["hat"]
    assert PAIR_VOCAB.decode_target([english_hat, SEP_ID]) == ["<hat>", "<=>"]  # a mistake, never a German word
    assert len(PAIR_VOCAB) == len(EN_VOCAB) + 1 + len(PAIR_VOCAB.target) - 3


def test_batches_pad_without_counting_and_follow_the_encoder_decoders_order():
    data = TINY.data()
    (tokens, loss_mask), = [next(sentence_lm.lm_batch_iterator(data.train, 8, seed=3))]
    src, _ = next(batch_iterator(data.train, 8, seed=3))
    for row, mask, english in zip(tokens.tolist(), loss_mask, src.tolist()):
        sep = row.index(SEP_ID)
        assert row[1:sep] == [i for i in english if i != PAD_ID]  # the same sentences, in the same order
        assert not mask[[i for i, t in enumerate(row) if t == PAD_ID]].any()  # padding is never counted


def _batch():
    tokens, loss_mask = lm_data.pack_lm([sentence_lm.encode_lm(PAIR), sentence_lm.encode_lm(SHARED)])
    return tokens, loss_mask


def test_the_loss_counts_only_the_predictions_of_the_german_and_eos():
    tokens, loss_mask = _batch()
    torch.manual_seed(0)
    logits = torch.randn(*tokens.shape, len(PAIR_VOCAB))
    loss = sentence_lm.smoothed_lm_loss(logits, tokens, loss_mask)
    sep = tokens[0].tolist().index(SEP_ID)
    for t in range(tokens.shape[1]):
        changed = logits.clone()
        changed[0, t] += 5 * torch.randn(len(PAIR_VOCAB))
        moved = not torch.allclose(sentence_lm.smoothed_lm_loss(changed, tokens, loss_mask), loss)
        # position t predicts token t + 1: the separator's position predicts the first German word,
        # the last German word's predicts <eos>, and <eos> predicts nothing
        assert moved == (sep <= t < int(loss_mask[0].sum()) + sep), f"position {t}"


def test_the_smoothed_loss_is_lm_loss_without_smoothing_and_07s_loss_on_the_german():
    tokens, loss_mask = _batch()
    torch.manual_seed(1)
    logits = torch.randn(*tokens.shape, len(PAIR_VOCAB))
    assert torch.allclose(sentence_lm.smoothed_lm_loss(logits, tokens, loss_mask, 0.0),
                          lm_training.lm_loss(logits, tokens, loss_mask))
    # only the German part: predictions from the separator on, scored against the German and <eos>
    sep = tokens[0].tolist().index(SEP_ID)
    n = int(loss_mask[0].sum())
    alone = label_smoothing_loss(logits[:1, sep:sep + n], tokens[:1, sep + 1:sep + 1 + n], 0.1)
    assert torch.allclose(sentence_lm.smoothed_lm_loss(logits[:1], tokens[:1], loss_mask[:1], 0.1), alone)


def _writes(continuation_of):
    """A stand-in for `generate`: after each prompt it writes the given ids, then <eos>, then junk."""
    def generate(model, prompt, max_new_tokens, use_cache=True, eos_id=None, **_):
        rows = []
        for row in prompt.tolist():
            new = continuation_of[tuple(row)] + [EOS_ID] + [row[1], SEP_ID]  # junk after <eos> must be cut
            rows.append(row + new[:max_new_tokens] + [PAD_ID] * (max_new_tokens - len(new)))
        return torch.tensor(rows)
    return generate


def test_decoding_returns_only_the_german_after_the_prompt_in_the_sentences_order():
    sentences = [PAIR, Sentence(("he", "sleeps"), ("er", "schläft"), "agreement"), SHARED,
                 Sentence(("she", "sleeps"), ("sie", "schläft"), "agreement")]  # two of one prompt length
    wanted = {tuple(sentence_lm.prompt_ids(s)): PAIR_VOCAB.encode_target(s.de) for s in sentences}
    model = torch.nn.Linear(1, 1)  # only asked for its device
    assert sentence_lm.gpt_translate(model, sentences, generate=_writes(wanted)) == [list(s.de) for s in sentences]


def test_decoding_a_real_gpt_gives_words_after_the_separator_cached_or_not():
    torch.manual_seed(0)
    model = tc.GPT(sentence_lm.gpt_model_config(TINY)).eval()
    sentences = TINY.data().longer[:4]
    out = sentence_lm.gpt_translate(model, sentences)
    assert out == sentence_lm.gpt_translate(model, sentences, use_cache=False)
    for words in out:
        assert 0 < len(words) <= sentence_lm.MAX_GERMAN
        assert all(w in PAIR_VOCAB.target.stoi or (w.startswith("<") and w.endswith(">")) for w in words)


def test_the_gpt_trained_a_few_steps_lowers_its_loss():
    model, history = sentence_lm.train_gpt(TINY, progress=False)
    first, last = sum(history.losses[:5]) / 5, sum(history.losses[-5:]) / 5
    assert len(history.losses) == TINY.steps
    assert last < 0.8 * first, (first, last)


def test_the_gpt_is_trained_on_the_encoder_decoders_schedule():
    model = torch.nn.Linear(2, 2)
    _, scheduler = sentence_lm.lm_training_config(TINY).make_optimizer(model)
    multiplier = warmup_cosine_schedule(TINY.warmup, TINY.steps)
    rates = []
    for step in range(TINY.steps):
        rates.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([TINY.lr * multiplier(s) for s in range(TINY.steps)])
    with pytest.raises(ValueError, match="schedule"):
        lm_training.LMTrainingConfig(schedule="linear").make_optimizer(model)


def test_the_gpt_has_twice_the_layers_and_a_similar_size():
    config = SentenceConfig()
    gpt = tc.GPT(sentence_lm.gpt_model_config(config))
    encoder_decoder = tc.Transformer(config.model_config())
    assert len(gpt.blocks) == 2 * config.n_layers
    assert abs(tc.count_parameters(gpt) / tc.count_parameters(encoder_decoder) - 1) < 0.05
    post_ln = tc.GPT(sentence_lm.gpt_model_config(config, norm_first=False))
    assert gpt.config.norm_first and not post_ln.config.norm_first and post_ln.norm is None  # as the encoder-decoder


def test_a_comparison_run_scores_both_models_on_every_test_set():
    config = TINY.with_(steps=3)
    data = config.data()
    for architecture in sentence_lm.ARCHITECTURES:
        run = sentence_lm.comparison_run(config, architecture, data)
        assert run["architecture"] == architecture and run["parameters"] > 0
        assert set(run["scores"]) == {*data.test, "held-out combinations", "held-out pattern", "longer sentences"}
        assert run["n_test"] == 3 * len(data.test) and 0 <= run["test_exact"] <= 1
    with pytest.raises(ValueError, match="architecture"):
        sentence_lm.comparison_run(config, "RNN", data)
