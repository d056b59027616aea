"""Notebook 11's "Do we need it?": the switches, the smaller lexicons, the gender probe and the sweep tool."""

from __future__ import annotations

import json
from itertools import islice

import pytest
import torch

from transformer_course.task.ablation import SwitchableTransformer
from transformer_course.task.lexicon import NOUNS
from transformer_course.task.sentence_training import (
    PROBE_FRAMES,
    SWITCHES,
    SentenceConfig,
    SentenceSwitches,
    ablation_run,
    freeze_embeddings,
    gender_probe,
    noun_tokens,
    run_switches,
)
from transformer_course.task.sentences import (
    EN_VOCAB,
    FAMILIES,
    KINDS,
    Generator,
    batch_iterator,
    lexicon_subset,
    make_data,
)
from transformer_course.task.training import train_step

TINY = SentenceConfig(d_model=16, n_heads=2, n_layers=1, d_ff=32, steps=3, batch_size=8, n_train=64, n_test=2,
                      warmup=1)


def _model(config: SentenceConfig = TINY, **switches) -> SwitchableTransformer:
    torch.manual_seed(0)
    return SwitchableTransformer(SentenceSwitches(sentences=config, **switches))


@pytest.mark.parametrize("which", ["nouns", "source", "source and target"])
def test_frozen_embeddings_do_not_change_in_training_steps(which):
    model = freeze_embeddings(_model(), which)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for batch in islice(batch_iterator(make_data(64, 0, 1, seed=0).train, 16, seed=0), 3):
        train_step(model, batch, optimizer)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert ("src_embed.lut.weight" in changed) == (which == "nouns")
    assert ("tgt_embed.lut.weight" in changed) == (which != "source and target")
    assert "unembed.weight" in changed and "encoder.layers.0.self_attn.w_q.weight" in changed
    nouns = noun_tokens()
    rows_moved = (model.src_embed.lut.weight != before["src_embed.lut.weight"]).any(dim=1)   # (vocab,)
    assert not rows_moved[nouns].any()
    if which == "nouns":  # every other English word of the batches did move
        others = torch.ones_like(rows_moved)
        others[nouns] = False
        assert rows_moved[others].sum() > 20
    with pytest.raises(ValueError):
        freeze_embeddings(_model(), "all")


@pytest.mark.parametrize("which", ["nouns", "source"])
def test_an_ablation_run_with_frozen_embeddings_keeps_them_at_their_initial_values(which):
    result, model = ablation_run(TINY, freeze=which, return_model=True)
    rows = noun_tokens() if which == "nouns" else list(range(len(EN_VOCAB)))
    assert torch.equal(model.src_embed.lut.weight[rows], _model().src_embed.lut.weight[rows])
    assert result["switches"] == {**SWITCHES, "freeze_embeddings": which}
    assert result["parameters"] - result["trained_parameters"] == len(rows) * TINY.d_model


def test_ablation_run_switches_parts_off():
    result, model = ablation_run(TINY, feed_forward=False, layer_norm=False, positional=False, return_model=True)
    assert not any("feed_forward" in name or "norm" in name for name, _ in model.named_parameters())
    assert not model.run.positional
    assert result["switches"] == {"feed_forward": False, "layer_norm": False, "positional": False,
                                  "freeze_embeddings": ""}
    assert result["parameters"] == result["trained_parameters"]


def test_stored_runs_of_the_first_sweep_read_as_all_other_switches_on():
    assert run_switches({"feed_forward": False}) == {**SWITCHES, "feed_forward": False}
    # and a config stored before n_nouns existed is the full lexicon's
    assert SentenceConfig(**{k: v for k, v in TINY.__dict__.items() if k != "n_nouns"}) == TINY


def test_a_lexicon_subset_has_its_size_every_kind_and_is_seeded():
    subset = lexicon_subset(16, seed=0)
    assert len(subset) == len({n.en for n in subset}) == 16
    assert all(sum(n.kind == kind for n in subset) >= 2 for kind in KINDS)
    assert subset == lexicon_subset(16, seed=0) and subset != lexicon_subset(16, seed=1)
    assert len(lexicon_subset(48)) == 48
    with pytest.raises(ValueError):
        lexicon_subset(5)


def test_sentences_of_a_smaller_lexicon_use_only_its_nouns():
    subset = lexicon_subset(16, seed=0)
    kept = {w for n in subset for w in (n.en, n.en_plural)}
    left_out = {w for n in NOUNS if n not in subset for w in (n.en, n.en_plural)} - kept
    data = make_data(2000, 0, 20, seed=0, n_nouns=16)
    every = data.train + [s for f in FAMILIES for s in data.test[f]] + data.combinations + data.pattern + data.longer
    assert not {w for s in every for w in s.en} & left_out
    assert {tag.split(":")[1] for s in every for tag in s.tags if tag[:4] in ("nom:", "acc:", "dat:")} <= {
        n.en for n in subset}
    # the held-out nouns are of the lexicon, and the held-out combinations really hold them in the dative
    assert data.held_out_nouns and set(data.held_out_nouns) <= {n.en for n in subset}
    assert all(any(f"dat:{noun}" in s.tags for noun in data.held_out_nouns) for s in data.combinations)
    assert not any(f"dat:{noun}" in s.tags for s in data.train for noun in data.held_out_nouns)
    assert not {s.en for s in data.train} & {s.en for s in every if s not in data.train}


def test_the_full_lexicon_gives_the_same_sentences_as_before():
    a, b = Generator(0), Generator(0, nouns=NOUNS)
    assert [a.any() for _ in range(200)] == [b.any() for _ in range(200)]


def test_the_gender_probe_reads_a_gender_written_into_the_embedding():
    model = _model()
    with torch.no_grad():  # the first three coordinates of each noun's row say its gender; the rest is random
        for noun in NOUNS:
            row = model.src_embed.lut.weight[EN_VOCAB.stoi[noun.en]]
            row[:3] = 0
            row["mfn".index(noun.gender)] = 10.0
    for split in ("nouns", "frames"):
        probe = gender_probe(model, split=split, splits=2, steps=100)
        assert probe["embedding"] == 1.0
        assert probe["majority"] == pytest.approx(81 / 173)
    assert set(gender_probe(model, split="frames", splits=1, steps=1)) == {
        "majority", "embedding", "layer 1 self-attention", "layer 1 feed-forward", "encoder output"}


def test_the_gender_probe_on_a_model_without_feed_forward_and_on_a_smaller_lexicon():
    subset = lexicon_subset(16)
    probe = gender_probe(_model(feed_forward=False), subset, split="frames", splits=1, steps=1)
    assert set(probe) == {"majority", "embedding", "layer 1 self-attention", "encoder output"}
    assert probe["majority"] == max(sum(n.gender == g for n in subset) for g in "mfn") / 16
    assert all(frame.count("X") == 1 and all(w == "X" or w in EN_VOCAB.stoi for w in frame) for frame in PROBE_FRAMES)
    with pytest.raises(ValueError):
        gender_probe(_model(), split="sentences")


def test_the_sweep_tool_knows_every_stored_run():
    from tools import sentences_ablations as tool

    assert {"no feed-forward", "no LayerNorm", "one head", "no positional encoding"} <= set(tool.ABLATIONS)
    assert all(s in tool.SETTINGS and a in tool.ABLATIONS for s, a in tool.EXPERIMENTS)
    config, switches = tool.experiment("frozen nouns, d_model 32, 16 nouns", "no feed-forward", 2)
    assert (config.d_model, config.n_nouns, config.seed) == (32, 16, 2)
    assert switches == {"freeze": "nouns", "feed_forward": False}
    config, switches = tool.experiment("d_model 32", "one head", 0)
    assert (config.n_heads, switches) == (1, {"freeze": ""})
    stored = tool.load()
    assert stored, "notebooks/data/sentences_ablations.jsonl is empty"
    known = {tool.key(*tool.experiment(s, a, seed)) for s, a in tool.EXPERIMENTS for seed in tool.SEEDS}
    for r in stored:
        assert (r["setting"], tool.ablation_name(r)) in tool.EXPERIMENTS
        stored_key = json.dumps([SentenceConfig(**r["config"]).__dict__, run_switches(r)], sort_keys=True)
        assert stored_key in known, f"a stored run no experiment of the tool makes: {r['setting']}"
    # the first sweep's runs (stored before the other switches existed) are recognised as done
    assert tool.key(*tool.experiment("d_model 32", "no feed-forward", 0)) in tool.done()
