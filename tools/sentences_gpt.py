"""The comparison behind notebook 11's GPT section: the decoder-only GPT and the encoder-decoder on the same sentences.

    python -m tools.sentences_gpt                       # the three models x seeds 0, 1, 2, and the short run the page repeats
    python -m tools.sentences_gpt --seeds 0 --only GPT

Each run is :func:`transformer_course.task.sentence_lm.comparison_run`: notebook 11's settings
(:class:`~transformer_course.task.sentence_training.SentenceConfig`: d_model 64, 4 heads, d_ff 128,
800 steps of 64 sentences, the same sentences in the same batches for a seed), the encoder-decoder of
2 + 2 layers (post-LN) against a GPT of 4 blocks, pre-LN as notebook 09's, and the same GPT post-LN;
step-bounded, seeded, one CPU thread. Besides the three seeds,
one short GPT run (seed 0, ``LIVE_STEPS`` steps) that the notebook trains again live within its time budget.

Runs are appended to ``notebooks/data/sentences_gpt.jsonl`` as they finish; a run already there is not
run again (delete the file to start afresh).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from transformer_course.task.sentence_lm import ARCHITECTURES, comparison_run
from transformer_course.task.sentence_training import SentenceConfig

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "sentences_gpt.jsonl"
SEEDS = [0, 1, 2]
LIVE_STEPS = 250  # the short GPT run the notebook repeats live (the full 800 steps cost the GPT more than its budget)


def done() -> set[str]:
    """The runs in the results file, by their config and architecture."""
    if not RESULTS.exists():
        return set()
    return {json.dumps([r["config"], r["architecture"]], sort_keys=True)
            for r in map(json.loads, RESULTS.read_text().splitlines()) if r}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=ARCHITECTURES, help="architectures to run (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    parser.add_argument("--no-live", action="store_true", help=f"skip the {LIVE_STEPS}-step GPT run the page repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = SentenceConfig().data()  # the same sentences for every run
    runs = [(SentenceConfig(seed=seed), architecture) for seed in args.seeds for architecture in ARCHITECTURES
            if not args.only or architecture in args.only]
    if not args.no_live:
        runs.append((SentenceConfig(seed=0, steps=LIVE_STEPS), "GPT"))
    for config, architecture in runs:
        if json.dumps([asdict(config), architecture], sort_keys=True) in done():
            continue
        result = comparison_run(config, architecture, data)
        with RESULTS.open("a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{architecture:16s} seed {config.seed} {config.steps} steps: exact {result['test_exact']:.3f}, "
              f"{result['parameters']:,} parameters, {result['cpu_seconds']:.0f} s CPU", flush=True)


if __name__ == "__main__":
    main()
