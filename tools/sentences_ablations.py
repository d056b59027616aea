"""The feed-forward sweep behind notebook 11: the sentence translator with and without its FFN, over seeds.

    python -m tools.sentences_ablations                    # every setting x {full, no feed-forward} x seeds 0, 1, 2
    python -m tools.sentences_ablations --only "d_model 32" --seeds 0

The committed results file has what the time allowed on a shared 2-core machine: three seeds of
"d_model 32" and "one layer, d_model 32", seed 0 of "d_model 64" (each run about 25-60 s of CPU time).

Each run is :func:`transformer_course.task.sentence_training.ablation_run`: step-bounded, seeded, one CPU
thread. Runs are appended to ``notebooks/data/sentences_ablations.jsonl`` as they finish; a run already
there is not run again (delete the file to start afresh).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from transformer_course.task.sentence_training import SentenceConfig, ablation_run

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "sentences_ablations.jsonl"
SEEDS = [0, 1, 2]
# where the sweep looks: the notebook's model, and narrower ones (less room in the stream for what each word is)
SETTINGS: dict[str, dict] = {
    "d_model 32": {"d_model": 32, "d_ff": 128},
    "d_model 64": {},
    # one layer each side: without the FFN, little but attention is left to combine a noun's gender with its case
    "one layer, d_model 32": {"n_layers": 1, "d_model": 32, "d_ff": 128},
}


def done() -> set[str]:
    """The runs in the results file, by their config and switch."""
    if not RESULTS.exists():
        return set()
    return {json.dumps([r["config"], r["feed_forward"]], sort_keys=True)
            for r in map(json.loads, RESULTS.read_text().splitlines()) if r}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="settings to run (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = SentenceConfig().data()  # the same sentences for every run
    for seed in args.seeds:
        for setting, changes in SETTINGS.items():
            if args.only and setting not in args.only:
                continue
            for feed_forward in (True, False):
                config = SentenceConfig(seed=seed).with_(**changes)
                if json.dumps([asdict(config), feed_forward], sort_keys=True) in done():
                    continue
                result = {"setting": setting, **ablation_run(config, feed_forward, data)}
                with RESULTS.open("a") as f:
                    f.write(json.dumps(result) + "\n")
                print(f"{setting:12s} seed {seed} {'full' if feed_forward else 'no FFN':7s} "
                      f"exact {result['test_exact']:.3f}  {result['cpu_seconds']:.0f} s CPU", flush=True)


if __name__ == "__main__":
    main()
