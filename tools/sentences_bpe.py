"""Words vs byte-pair pieces, behind notebook 11's "Pieces instead of words": the same translator, seeds 0, 1, 2.

    python -m tools.sentences_bpe                  # both arms x seeds 0, 1, 2
    python -m tools.sentences_bpe --seeds 0 --tokens pieces
    python -m tools.sentences_bpe --seeds 0 --steps 2400     # longer training (the page's second table)

Each run is :func:`transformer_course.task.sentence_pieces.comparison_run`: notebook 11's
``SentenceConfig()`` (same sentences, sizes, 800 steps, seed), step-bounded, one CPU thread; the
"pieces" arm reads and writes the ids of two byte-pair tokenizers (``PieceTokenizers.trained`` on the
training sentences, sizes ``EN_VOCAB_SIZE`` and ``DE_VOCAB_SIZE``), whose merges are written to
``notebooks/data/sentences_bpe_merges.json`` so the page can check that it learns the same ones.
Runs are appended to ``notebooks/data/sentences_bpe.jsonl`` as they finish; a run already there is
not run again (delete the file to start afresh). The committed file has both arms, seeds 0, 1, 2, at 800
and at 2,400 steps; CPU time a run, measured on a loaded 2-core machine: words 46-52 s (800 steps) and
106-142 s (2,400), pieces 64-69 s and 189-199 s.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from transformer_course.task.sentence_pieces import PieceTokenizers, comparison_run
from transformer_course.task.sentence_training import SentenceConfig

DATA = Path(__file__).resolve().parents[1] / "notebooks" / "data"
RESULTS = DATA / "sentences_bpe.jsonl"
MERGES = DATA / "sentences_bpe_merges.json"
SEEDS = [0, 1, 2]


def done() -> set[str]:
    """The runs in the results file, by their config and tokens."""
    if not RESULTS.exists():
        return set()
    return {json.dumps([r["config"], r["tokens"]], sort_keys=True)
            for r in map(json.loads, RESULTS.read_text().splitlines()) if r}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    parser.add_argument("--tokens", nargs="*", default=["words", "pieces"], choices=["words", "pieces"])
    parser.add_argument("--steps", type=int, default=SentenceConfig().steps, help="training steps (default: 800)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    DATA.mkdir(parents=True, exist_ok=True)
    data = SentenceConfig().data()  # the same sentences for every run
    tokenizers = PieceTokenizers.trained(data.train)
    MERGES.write_text(json.dumps(tokenizers.merges()) + "\n")
    for seed in args.seeds:
        for tokens in args.tokens:
            config = SentenceConfig(seed=seed, steps=args.steps)
            if json.dumps([asdict(config), tokens], sort_keys=True) in done():
                continue
            result = comparison_run(config, data, tokenizers if tokens == "pieces" else None)
            with RESULTS.open("a") as f:
                f.write(json.dumps(result, ensure_ascii=False) + "\n")
            print(f"seed {seed} {tokens:6s} {args.steps} steps: exact {result['test_exact']:.3f}  unseen forms {result['unseen_forms']}  "
                  f"{result['cpu_seconds']:.0f} s CPU", flush=True)


if __name__ == "__main__":
    main()
