"""The loss, the learning-rate schedules, one training step and the training loop."""

import math

import pytest
import torch
import torch.nn.functional as F

import transformer_course as tc
from transformer_course.task.number_words import DE_VOCAB, EN_VOCAB, MAX_TGT_LEN, PAD_ID, batch_iterator, make_batch
from transformer_course.task.training import (CapstoneConfig, History, label_smoothing_loss, noam_lr,
                                         noam_schedule, train, train_capstone, train_step,
                                         warmup_cosine_schedule)


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def tiny_model(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return tc.Transformer(tc.ModelConfig(src_vocab_size=len(EN_VOCAB), vocab_size=len(DE_VOCAB), d_model=32, n_heads=2, n_layers=1, d_ff=64,
                          dropout=dropout, max_len=MAX_TGT_LEN))


# -- the loss ------------------------------------------------------------------------

@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_loss_equals_torch_cross_entropy(smoothing):
    torch.manual_seed(0)
    logits = torch.randn(4, 7, 11) * 3
    target = torch.randint(3, 11, (4, 7))
    target[0, 4:] = PAD_ID
    target[2, 1:] = PAD_ID
    expected = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=PAD_ID, label_smoothing=smoothing)
    torch.testing.assert_close(label_smoothing_loss(logits, target, smoothing), expected)


def test_label_smoothing_loss_ignores_padding_and_has_a_floor():
    torch.manual_seed(0)
    logits, target = torch.randn(2, 5, 9), torch.randint(3, 9, (2, 5))
    padded_target = torch.cat([target, torch.full((2, 3), PAD_ID)], dim=1)
    padded_logits = torch.cat([logits, 100 * torch.randn(2, 3, 9)], dim=1)  # garbage at pad positions
    torch.testing.assert_close(label_smoothing_loss(padded_logits, padded_target), label_smoothing_loss(logits, target))
    # with smoothing even the perfect answer costs something: the loss never reaches 0
    perfect = F.one_hot(target, 9).float() * 50
    assert label_smoothing_loss(perfect, target, 0.1) > 1.0
    assert label_smoothing_loss(perfect, target, 0.0) < 1e-6


# -- schedules -------------------------------------------------------------------------

def test_noam_lr_follows_the_paper():
    d_model, warmup = 512, 4000
    assert noam_lr(warmup, d_model, warmup) == pytest.approx((d_model * warmup) ** -0.5)
    assert noam_lr(100, d_model, warmup) == pytest.approx(d_model ** -0.5 * 100 * warmup ** -1.5)
    assert noam_lr(16_000, d_model, warmup) == pytest.approx(d_model ** -0.5 * 16_000 ** -0.5)
    rates = [noam_lr(s, d_model, warmup) for s in range(1, 20_000, 50)]
    peak = max(range(len(rates)), key=rates.__getitem__)
    assert all(a < b for a, b in zip(rates[:peak], rates[1:peak + 1]))      # rises to the peak
    assert all(a > b for a, b in zip(rates[peak + 1:], rates[peak + 2:]))   # then falls


def test_noam_schedule_drives_lambdalr_from_step_one():
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, noam_schedule(64, 10, factor=2.0))
    seen = []
    for _ in range(30):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen[0] == pytest.approx(2.0 * noam_lr(1, 64, 10))
    assert max(seen) == pytest.approx(2.0 * noam_lr(10, 64, 10)) == seen[9]


def test_warmup_cosine_schedule():
    f = warmup_cosine_schedule(warmup=10, total_steps=110)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0)
    assert f(59) == pytest.approx(0.5)
    assert f(109) == pytest.approx(0.0, abs=1e-12) and f(500) == pytest.approx(0.0, abs=1e-12)


# -- a step and the loop -------------------------------------------------------------------

def test_train_step_learns_a_fixed_batch():
    model = tiny_model()
    batch = make_batch([21, 321, 4_567, 70_000, 999_999, 123_456, 5, 17])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = [train_step(model, batch, optimizer) for _ in range(60)]
    assert all(isinstance(x, float) and math.isfinite(x) for x in losses)
    assert losses[-1] < 0.5 * losses[0], f"loss went from {losses[0]:.3f} only to {losses[-1]:.3f}"
    assert model.training


def test_train_records_history_and_stops_on_time_or_accuracy():
    model = tiny_model(dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, noam_schedule(32, 20))
    batches = batch_iterator(list(range(2000)), 32, epochs=None)
    history = train(model, batches, optimizer, scheduler, max_steps=25, val_numbers=[1, 2, 3],
                    eval_every=10, progress=False)
    assert isinstance(history, History) and history.stopped_because == "max_steps"
    assert history.steps == list(range(1, 26)) and len(history.losses) == len(history.lrs) == 25
    assert history.eval_steps == [10, 20, 25] and len(history.val_accuracies) == 3
    assert history.lrs[0] == pytest.approx(noam_lr(1, 32, 20)) and history.seconds > 0

    history = train(model, batches, optimizer, max_steps=10, progress=False, history=history)
    assert history.steps[-1] == 35 and len(history.losses) == 35   # continued

    stopped = train(model, batches, optimizer, max_steps=1000, time_budget_s=0.0, val_numbers=[1, 2],
                    progress=False)
    assert stopped.stopped_because == "time_budget" and len(stopped.steps) == 1
    assert stopped.eval_steps == [1] and len(stopped.val_accuracies) == 1  # still evaluated where it stopped

    target = train(model, batches, optimizer, max_steps=1000, val_numbers=[1], eval_every=5,
                   target_accuracy=0.0, progress=False)
    assert target.stopped_because == "target_accuracy" and target.steps[-1] == 5


class Wrapped(torch.nn.Module):
    """Not a tc.Transformer, but with its interface: what a learner's own assembly looks like to train()."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def encode(self, src, src_mask=None):
        return self.inner.encode(src, src_mask)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        return self.inner.decode(tgt, memory, src_mask, tgt_mask)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


def test_train_takes_any_module_with_the_interface_and_a_step_function():
    model = Wrapped(tiny_model())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    calls = []

    def my_step(model, batch, optimizer, scheduler=None, smoothing=0.1, clip_norm=1.0):
        calls.append(batch[0].shape[0])
        return train_step(model, batch, optimizer, scheduler, smoothing, clip_norm=clip_norm)

    history = train(model, batch_iterator(list(range(500)), 16, epochs=None), optimizer, max_steps=4,
                    val_numbers=[5, 21], eval_every=2, progress=False, step_fn=my_step)
    assert calls == [16] * 4 and history.eval_steps == [2, 4]


def small_config(**changes):
    return CapstoneConfig(model=tc.ModelConfig(src_vocab_size=len(EN_VOCAB), vocab_size=len(DE_VOCAB), d_model=32,
                                               n_heads=2, n_layers=1, d_ff=64, max_len=MAX_TGT_LEN),
                          n_val=20, n_test=30, family_size=10, batch_size=32, max_steps=5, eval_every=5, **changes)


def test_capstone_config_builds_and_trains():
    config = small_config()
    model, history, splits = train_capstone(config, progress=False)
    assert isinstance(model, tc.Transformer) and model.config == config.model
    assert len(history.steps) == 5 and history.eval_steps == [5] and history.stopped_because == "max_steps"
    assert [len(splits[k]) for k in ("train", "val", "test")] == [1000, 20, 30]
    assert not set(splits["train"]) & set(splits["test"])
    held_out = {n for name, numbers in config.families().items() if name != "0..999" for n in numbers}
    assert not set(splits["train"]) & held_out and len(held_out) > 50
    for schedule in ("noam", "cosine"):
        optimizer, scheduler = CapstoneConfig(schedule=schedule, lr=4e-3, warmup=7).make_optimizer(model)
        rates = []
        for _ in range(20):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        assert rates[6] == pytest.approx(4e-3) == max(rates), f"{schedule}: the peak is lr, at step warmup"
    with pytest.raises(ValueError, match="schedule"):
        CapstoneConfig(schedule="linear").make_optimizer(model)


def test_capstone_default_is_step_bounded_and_repeats():
    assert CapstoneConfig().time_budget_s is None and CapstoneConfig().target_accuracy is None
    assert CapstoneConfig().model.max_len == MAX_TGT_LEN
    first = train_capstone(small_config(), progress=False)[1]
    again = train_capstone(small_config(), progress=False)[1]
    assert first.losses == again.losses and first.val_accuracies == again.val_accuracies
    # the opt-in time budget still evaluates and reports
    timed = train_capstone(small_config(time_budget_s=0.0), progress=False)[1]
    assert timed.stopped_because == "time_budget" and timed.eval_steps == [1]


def test_progress_bar_ends_in_its_finished_state(capsys):
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    train(model, batch_iterator(list(range(500)), 16, epochs=None), optimizer, max_steps=3, progress=True)
    out = capsys.readouterr().out
    assert "3/3" in out.split("\r")[-1], out  # the last thing written is the finished bar


def test_set_threads_defaults_to_one_and_can_be_overridden(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("TRANSFORMER_COURSE_THREADS", raising=False)
        assert tc.set_threads() == 1 == torch.get_num_threads()
        monkeypatch.setenv("TRANSFORMER_COURSE_THREADS", "2")
        assert tc.set_threads() == 2 == torch.get_num_threads()
        assert tc.set_threads(1) == 1
        with pytest.raises(ValueError, match="at least 1"):
            tc.set_threads(0)
    finally:
        torch.set_num_threads(before)
