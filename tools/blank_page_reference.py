"""The reference run that notebook 12 draws beside the learner's: the course's capstone, trained with its settings.

    python -m tools.blank_page_reference        # writes notebooks/data/12_reference_run.json

Trains ``train_capstone(CapstoneConfig())`` (seed 0, 900 steps, one thread, on the CPU), whose first
steps the one-file solution repeats (tests/test_blank_page.py), and stores its loss per step,
its exact match on the validation numbers every ``eval_every`` steps, and its exact match on the
uniform test numbers and on every family of numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from transformer_course.task.decoding import exact_match, family_exact_match
from transformer_course.task.training import CapstoneConfig, train_capstone

OUT = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "12_reference_run.json"


def main() -> None:
    torch.set_num_threads(1)
    config = CapstoneConfig()
    cpu_start = time.process_time()
    model, history, splits = train_capstone(config, device="cpu", progress=False)
    cpu_seconds = time.process_time() - cpu_start
    scores = family_exact_match(model, config.families())
    scores["uniform (test)"] = exact_match(model, splits["test"])
    run = {
        "command": "python -m tools.blank_page_reference",
        "what": "train_capstone(CapstoneConfig()): seed 0, 900 steps, CPU, one thread",
        "torch": torch.__version__,
        "cpu_seconds": round(cpu_seconds, 1),
        "losses": [round(x, 5) for x in history.losses],
        "eval_steps": history.eval_steps,
        "val_exact_match": [round(x, 4) for x in history.val_accuracies],
        "exact_match": {k: round(v, 4) for k, v in scores.items()},
    }
    OUT.write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: exact match {run['exact_match']}")


if __name__ == "__main__":
    main()
