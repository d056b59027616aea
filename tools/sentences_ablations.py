"""The sweep behind notebook 11's "Do we need it?": the sentence translator with parts taken out, over seeds.

    python -m tools.sentences_ablations                              # every experiment x seeds 0, 1, 2
    python -m tools.sentences_ablations --only "frozen embeddings" --seeds 0
    python -m tools.sentences_ablations --list                       # the experiments, and which are stored

An experiment is a *setting* (what is held fixed: the model's size, the lexicon, whether the
embeddings train) and an *ablation* (the part taken out of it). The settings:

- "d_model 32", "d_model 64", "one layer, d_model 32": the first sweep (the feed-forward network only);
  "d_model 32" also has LayerNorm, one head instead of four, and positional encoding taken out;
- "d_model 32, 16 nouns": the same model on a lexicon of 16 nouns (each kind in its share);
- "frozen nouns, ...": the English nouns' embedding rows kept at their random initial values
  (every other row, the German embeddings and the unembedding still train), so that what the
  model knows of a noun cannot sit in its embedding row; with all 173 nouns, 16 and 48;
- "d_model 64, 2,400 steps", "d_model 32, 2,400 steps", "frozen nouns, d_model 32, 2,400 steps": three
  times as long, with and without the feed-forward network (the model without it learns faster);
- "frozen English words", "frozen English and German words": the first tries, every
  English row frozen, and the German ones too: the full model did not learn the task in 800
  steps (seed 0 stored).

The committed results file has seeds 0, 1 and 2 of every experiment but "d_model 64" and the two first
frozen tries (seed 0 only): what the time allowed on a shared 2-core machine.

Each run is :func:`transformer_course.task.sentence_training.ablation_run`: 800 steps, seeded, one CPU
thread (about 20-60 s of CPU time at d_model 32). Runs are appended to
``notebooks/data/sentences_ablations.jsonl`` as they finish; a run already there is not run again
(delete the file to start afresh). The frozen-embedding runs also store the gender probe of their
model (:func:`~transformer_course.task.sentence_training.gender_probe`, both splits).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from transformer_course.task.sentence_training import SWITCHES, SentenceConfig, ablation_run, run_switches

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "sentences_ablations.jsonl"
SEEDS = [0, 1, 2]
D32 = {"d_model": 32, "d_ff": 128}
# what is held fixed: changes to SentenceConfig, and "freeze" (the embeddings stay random)
SETTINGS: dict[str, dict] = {
    "d_model 32": D32,
    "d_model 64": {},
    # one layer each side: without the FFN, little but attention is left to combine a noun's gender with its case
    "one layer, d_model 32": {"n_layers": 1, **D32},
    "d_model 32, 16 nouns": {**D32, "n_nouns": 16},
    # the English nouns' embedding rows kept at their random initial values: a noun's gender cannot sit there
    "frozen nouns, d_model 32": {**D32, "freeze": "nouns"},
    "frozen nouns, d_model 32, 16 nouns": {**D32, "n_nouns": 16, "freeze": "nouns"},
    "frozen nouns, d_model 32, 48 nouns": {**D32, "n_nouns": 48, "freeze": "nouns"},
    # three times as long: the model without the feed-forward network learns faster; does the full one catch up?
    "d_model 64, 2,400 steps": {"steps": 2400},
    "d_model 32, 2,400 steps": {**D32, "steps": 2400},
    # and with the nouns' rows frozen: can the feed-forward network learn the genders, given the time?
    "frozen nouns, d_model 32, 2,400 steps": {**D32, "freeze": "nouns", "steps": 2400},
    # the first tries: every English embedding frozen, and the German ones too (the full model did not learn)
    "frozen English words, d_model 32": {**D32, "freeze": "source"},
    "frozen English and German words, d_model 32": {**D32, "freeze": "source and target"},
}
# what is taken out: switches of ablation_run, or a SentenceConfig field (n_heads)
ABLATIONS: dict[str, dict] = {
    "full": {},
    "no feed-forward": {"feed_forward": False},
    "no LayerNorm": {"layer_norm": False},
    "one head": {"n_heads": 1},
    "no positional encoding": {"positional": False},
}
EXPERIMENTS: list[tuple[str, str]] = [
    (f"frozen nouns, d_model 32{nouns}", a) for nouns in ("", ", 16 nouns", ", 48 nouns")
    for a in ("full", "no feed-forward")
] + [
    ("d_model 32", a) for a in ("full", "no feed-forward", "no LayerNorm", "one head", "no positional encoding")
] + [
    ("d_model 32, 16 nouns", a) for a in ("full", "no feed-forward")
] + [
    ("one layer, d_model 32", a) for a in ("full", "no feed-forward")
] + [
    ("d_model 64", a) for a in ("full", "no feed-forward")
] + [
    (setting, a) for setting in ("d_model 64, 2,400 steps", "d_model 32, 2,400 steps",
                                 "frozen nouns, d_model 32, 2,400 steps") for a in ("full", "no feed-forward")
] + [
    ("frozen English words, d_model 32", a) for a in ("full", "no feed-forward")
] + [
    ("frozen English and German words, d_model 32", "full")
]
PROBED = tuple(s for s in SETTINGS if s.startswith("frozen"))


def experiment(setting: str, ablation: str, seed: int) -> tuple[SentenceConfig, dict]:
    """The SentenceConfig and the switches of one run."""
    changes = {**SETTINGS[setting], **ABLATIONS[ablation]}
    switches = {"freeze": changes.pop("freeze", "")}
    for name in ("feed_forward", "layer_norm", "positional"):
        if name in changes:
            switches[name] = changes.pop(name)
    return SentenceConfig(seed=seed).with_(**changes), switches


def key(config: SentenceConfig, switches: dict) -> str:
    """What identifies a run: its whole config and its four switches."""
    full = {**SWITCHES, **{("freeze_embeddings" if k == "freeze" else k): v for k, v in switches.items()}}
    return json.dumps([asdict(config), full], sort_keys=True)


def ablation_name(result: dict) -> str:
    """A stored run's ablation; the first sweep's runs only say whether they had the feed-forward network."""
    return result.get("ablation") or ("full" if result["feed_forward"] else "no feed-forward")


def load(path: Path = RESULTS) -> list[dict]:
    """Every stored run."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def done() -> set[str]:
    """The runs in the results file, by :func:`key` (a config stored before a field existed gets its default)."""
    return {json.dumps([asdict(SentenceConfig(**r["config"])), run_switches(r)], sort_keys=True) for r in load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="settings to run (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    parser.add_argument("--list", action="store_true", help="list the experiments and the seeds stored")
    args = parser.parse_args()
    if args.list:
        stored = done()
        for setting, ablation in EXPERIMENTS:
            seeds = [s for s in SEEDS if key(*experiment(setting, ablation, s)) in stored]
            print(f"{setting:42s} {ablation:24s} seeds stored: {seeds}")
        return
    torch.set_num_threads(1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data: dict[int | None, object] = {}  # the same sentences for every run of a lexicon
    for setting in dict.fromkeys(s for s, _ in EXPERIMENTS):
        if args.only and setting not in args.only:
            continue
        for seed in args.seeds:
            for ablation in [a for s, a in EXPERIMENTS if s == setting]:
                config, switches = experiment(setting, ablation, seed)
                if key(config, switches) in done():
                    continue
                if config.n_nouns not in data:
                    data[config.n_nouns] = config.data()
                result = {"setting": setting, "ablation": ablation,
                          **ablation_run(config, data=data[config.n_nouns], probe=setting in PROBED, **switches)}
                with RESULTS.open("a") as f:
                    f.write(json.dumps(result) + "\n")
                print(f"{setting:42s} seed {seed} {ablation:24s} exact {result['test_exact']:.3f}  "
                      f"articles {result['scores']['agreement']['articles']:.3f}  {result['cpu_seconds']:.0f} s CPU",
                      flush=True)


if __name__ == "__main__":
    main()
