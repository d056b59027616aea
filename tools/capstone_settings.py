"""Which training settings make the number translator know the whole number system? Measured, not guessed.

    python -m tools.capstone_settings                       # the default settings, seeds 0 1 2
    python -m tools.capstone_settings --p-zero 0.1 0.4      # uniform sampling vs by digit pattern
    python -m tools.capstone_settings --set max_steps=600 --set lr=0.008 --seeds 0

Each run trains `train_capstone` (one CPU thread) and prints one line: the settings, training seconds,
and the exact match on every family of `number_families` and on the uniform test numbers. Notebook 07
quotes the table this prints; rerun it to check.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from transformer_course.task.decoding import exact_match, family_exact_match
from transformer_course.task.training import CapstoneConfig, train_capstone


def measure(config: CapstoneConfig) -> dict:
    """Train with `config` on the CPU; its training seconds and exact match per family (test = uniform unseen)."""
    start = time.perf_counter()
    model, history, splits = train_capstone(config, device="cpu", progress=False)
    seconds = time.perf_counter() - start
    scores = family_exact_match(model, config.families())
    scores["uniform (test)"] = exact_match(model, splits["test"])
    return {"seconds": round(seconds, 1), "steps": len(history.steps), **{k: round(v, 4) for k, v in scores.items()}}


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--p-zero", type=float, nargs="+", default=[None], help="digit-zero probabilities to compare")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another CapstoneConfig field")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    changes = dict(item.split("=", 1) for item in args.set)
    changes = {name: parse_value(value) for name, value in changes.items()}
    for p_zero in args.p_zero:
        for seed in args.seeds:
            config = dataclasses.replace(CapstoneConfig(), seed=seed, **changes,
                                         **({} if p_zero is None else {"p_zero": p_zero}))
            result = measure(config)
            print(json.dumps({"p_zero": config.p_zero, "seed": seed, **changes, **result}), flush=True)


if __name__ == "__main__":
    main()
