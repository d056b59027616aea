"""The decoder-only model: equal to PyTorch's layer with a causal mask, cached == uncached, sampling, the LM data."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import transformer_course as tc
from transformer_course.task import lm_data, lm_training

pytestmark = pytest.mark.usefixtures("one_thread")


def _gpt(norm_first=True, n_layers=2, vocab_size=20, d_model=32, n_heads=4, max_len=128, seed=0):
    torch.manual_seed(seed)
    config = tc.ModelConfig(vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
                            d_ff=2 * d_model, dropout=0.1, max_len=max_len, norm_first=norm_first)
    return tc.GPT(config).eval()


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_block_equals_torch_encoder_layer_with_causal_mask(norm_first, activation):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, activation=activation, batch_first=True,
                                       norm_first=norm_first).eval()
    ours = tc.DecoderOnlyBlock.from_torch(layer).eval()
    x = torch.randn(3, 9, 32)
    causal = tc.causal_mask(9)
    with torch.no_grad():
        theirs = layer(x, src_mask=~causal, is_causal=True)  # torch: True = NOT allowed
        mine = ours(x, causal)
    assert (mine - theirs).abs().max() < 1e-5


def test_the_block_is_the_encoder_layer_not_a_copy_of_it():
    """A decoder-only block is an encoder layer run with a causal mask: the same code, not a second copy."""
    assert issubclass(tc.DecoderOnlyBlock, tc.EncoderLayer)
    assert not {"__init__", "forward", "from_torch"} & set(vars(tc.DecoderOnlyBlock))
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    assert type(tc.DecoderOnlyBlock.from_torch(layer)) is tc.DecoderOnlyBlock


def test_gpt_is_causal():
    model = _gpt()
    tokens = torch.randint(3, 20, (2, 10))
    changed = tokens.clone()
    changed[:, 6:] = torch.randint(3, 20, (2, 4))
    with torch.no_grad():
        assert torch.allclose(model(tokens)[:, :6], model(changed)[:, :6], atol=1e-6)


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_forward_equals_uncached(norm_first):
    model = _gpt(norm_first)
    tokens = torch.randint(3, 20, (2, 11))
    cache = tc.KVCache(len(model.blocks))
    with torch.no_grad():
        full = model(tokens)
        pieces = [model(tokens[:, :4], cache), model(tokens[:, 4:5], cache), model(tokens[:, 5:], cache)]
    assert cache.length == 11
    assert (torch.cat(pieces, dim=1) - full).abs().max() < 1e-5


def test_generate_cached_equals_uncached_token_for_token():
    model = _gpt(n_layers=3, seed=1)
    prompt = torch.randint(3, 20, (3, 4))
    cached = tc.generate(model, prompt, 40, use_cache=True)
    uncached = tc.generate(model, prompt, 40, use_cache=False)
    assert cached.shape == (3, 44)
    assert torch.equal(cached, uncached)
    sampled = [tc.generate(model, prompt, 30, use_cache=c, temperature=1.0, top_k=5,
                           generator=torch.Generator().manual_seed(3)) for c in (True, False)]
    assert torch.equal(*sampled)


def test_generate_stops_when_every_row_wrote_eos():
    model = _gpt()
    with torch.no_grad():
        model.unembed.bias.fill_(0)
        model.unembed.bias[2] = 100.0  # <eos> always wins
    out = tc.generate(model, torch.randint(3, 20, (2, 3)), 10, eos_id=2)
    assert out.shape == (2, 4) and (out[:, -1] == 2).all()


def test_generate_restores_training_mode():
    model = _gpt().train()
    tc.generate(model, torch.randint(3, 20, (1, 2)), 3)
    assert model.training


def test_positions_beyond_max_len_are_refused():
    model = _gpt(max_len=8)
    with pytest.raises(ValueError, match="max_len=8"):
        model(torch.randint(3, 20, (1, 9)))


def test_kv_cache_memory_formula():
    model = _gpt(n_layers=3, d_model=32, n_heads=4)
    cache = tc.KVCache(3)
    with torch.no_grad():
        model(torch.randint(3, 20, (2, 7)), cache)
    # 2 (keys and values) x layers x batch x heads x d_k x tokens x bytes per float32
    assert cache.nbytes() == 2 * 3 * 2 * 4 * 8 * 7 * 4
    assert cache.keys[0].shape == (2, 4, 7, 8)


def test_causal_mask_after():
    mask = tc.causal_mask_after(3, 2)
    assert mask.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]
    assert torch.equal(tc.causal_mask_after(0, 4), tc.causal_mask(4))


def test_sample_next_properties():
    logits = torch.tensor([[3.0, 1.0, 0.5, -1.0, 2.0]]).expand(3000, -1)
    assert torch.equal(tc.sample_next(logits, 0.0), torch.zeros(3000, dtype=torch.long))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(tc.sample_next(logits, 1.0, generator=g()), tc.sample_next(logits, 1.0, generator=g()))
    assert set(tc.sample_next(logits, 1.0, top_k=2, generator=g()).tolist()) == {0, 4}
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).expand(3000, -1)
    assert set(tc.sample_next(probs.log(), 1.0, top_p=0.7, generator=g()).tolist()) == {0, 1}
    assert set(tc.sample_next(probs.log(), 1.0, top_p=0.81, generator=g()).tolist()) == {0, 1, 2}
    freq = torch.bincount(tc.sample_next(logits, 2.0, generator=g()), minlength=5).float() / 3000
    assert (freq - (logits[0] / 2).softmax(-1)).abs().max() < 0.04


def test_top_p_filter_keeps_the_smallest_set_with_mass_at_least_p():
    probs = torch.tensor([0.1, 0.4, 0.2, 0.3])
    kept = tc.top_p_filter(probs.log(), 0.65).isfinite()
    assert kept.tolist() == [False, True, False, True]  # 0.4 + 0.3 = 0.7 >= 0.65


def test_lm_data_layout():
    tokens, loss_mask = lm_data.make_lm_batch([21, 7])
    words = [lm_data.LM_VOCAB.itos[i] for i in tokens[0].tolist()]
    assert words == ["<bos>", "twenty", "one", "=", "ein", "und", "zwanzig", "<eos>"]
    assert loss_mask[0].tolist() == [False] * 4 + [True] * 4
    assert tokens[1].tolist()[-2:] == [0, 0] and not loss_mask[1, -2:].any()  # padding is never counted
    assert lm_data.prompt_ids(21) == tokens[0, :4].tolist()


def test_lm_loss_equals_cross_entropy_on_the_counted_tokens():
    tokens, loss_mask = lm_data.make_lm_batch([21, 345_678, 5])
    logits = torch.randn(*tokens.shape, len(lm_data.LM_VOCAB))
    labels = tokens[:, 1:].masked_fill(~loss_mask[:, 1:], -100)
    want = nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels, ignore_index=-100)
    assert torch.allclose(lm_training.lm_loss(logits, tokens, loss_mask), want, atol=1e-6)


def test_german_from_ids_keeps_wrong_special_tokens():
    ids = lm_data.prompt_ids(21) + [lm_data.LM_VOCAB.stoi["ein"], 0, 2]
    assert lm_training.german_from_ids(ids) == ["ein", "<pad>"]


def test_counting_data():
    assert lm_data.count_tokens(18, 2, 3) == ["eighteen", ",", "twenty", ",", "twenty", "two"]
    tokens, _ = next(lm_data.count_batch_iterator(16, seed=0))
    for row in tokens:
        assert lm_data.is_valid_count(lm_data.read_count(row))
    assert lm_data.read_count(lm_data.COUNT_VOCAB.encode(["five", ",", ",", "six"])) == [5, None, 6]
    assert not lm_data.is_valid_count([1, 2, 4, 5, 6])


def test_gpt_translate_with_and_without_cache_agree():
    model = _gpt(vocab_size=len(lm_data.LM_VOCAB), max_len=lm_data.MAX_LM_LEN + 2)
    numbers = [3, 21, 345, 1234, 56_789]
    assert lm_training.gpt_translate(model, numbers) == lm_training.gpt_translate(model, numbers, use_cache=False)


def test_kv_benchmark_runs_and_its_formula_matches(capsys):
    from tools import bench_kv

    speedups = bench_kv.run(lengths=(4, 8), repeats=1)
    assert set(speedups) == {4, 8} and all(s > 0 for s in speedups.values())
    assert "same tokens: yes" in capsys.readouterr().out
    formula, measured = bench_kv.cache_bytes(bench_kv.make_model(max_len=64), batch=2, tokens=10)
    assert formula == measured == 2 * 4 * 4 * 64 * 10 * 4 * 2


def test_kv_benchmark_last_line(monkeypatch, capsys):
    from tools import bench_kv

    monkeypatch.setattr(bench_kv, "run", lambda lengths, repeats, threads: {n: 6.5 for n in lengths})
    bench_kv.main(["--new", "64"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == "kv-cache speed-up at 256 new tokens: 6.50x"
