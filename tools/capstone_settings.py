"""Which training settings make the number translator know the whole number system? Measured, not guessed.

    python -m tools.capstone_settings                      # the default settings, seeds 0 1 2
    python -m tools.capstone_settings "p_zero=0.1 schedule=noam" "p_zero=0.4 schedule=noam" ""
    python -m tools.capstone_settings "max_steps=600" --seeds 0

Each argument is one setting to measure: CapstoneConfig fields to change (NAME=VALUE, space-separated;
"" = the defaults). Each run trains `train_capstone` on the CPU (one thread) and prints one JSON line:
the changes, the seed, training seconds, and the exact match (greedy) on every family of
`number_families` and on the uniform test numbers. At the end a Markdown table: per family and
setting, the lowest and highest exact match over the seeds. Notebook 07 quotes that table.
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
    start, cpu_start = time.perf_counter(), time.process_time()
    model, history, splits = train_capstone(config, device="cpu", progress=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    scores = family_exact_match(model, config.families())
    scores["uniform (test)"] = exact_match(model, splits["test"])
    # cpu_seconds: what one thread spent; on a machine others load, the wall clock (seconds) says more about them
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1), "steps": len(history.steps),
            **{k: round(v, 4) for k, v in scores.items()}}


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_setting(text: str) -> dict:
    """'p_zero=0.1 schedule=noam' -> {'p_zero': 0.1, 'schedule': 'noam'}."""
    return {name: parse_value(value) for name, value in (item.split("=", 1) for item in text.split())}


def table(results: dict[str, list[dict]]) -> str:
    """A Markdown table: one row per family, one column per setting, 'lowest - highest' over the seeds."""
    settings = list(results)
    families = [k for k in results[settings[0]][0] if k not in ("seconds", "cpu_seconds", "steps")]
    lines = ["| family | " + " | ".join(s or "defaults" for s in settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for family in families + ["seconds", "cpu_seconds"]:
        cells = []
        for setting in settings:
            values = [run[family] for run in results[setting]]
            fmt = (lambda v: f"{v:.0f}") if family.endswith("seconds") else (lambda v: f"{v:.1%}")
            cells.append(fmt(min(values)) if min(values) == max(values) else f"{fmt(min(values))} - {fmt(max(values))}")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="*", default=[""], help='e.g. "p_zero=0.1 schedule=noam"; "" = defaults')
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {}
    for setting in args.settings:
        results[setting] = []
        for seed in args.seeds:
            config = dataclasses.replace(CapstoneConfig(), seed=seed, **parse_setting(setting))
            result = measure(config)
            results[setting].append(result)
            print(json.dumps({"setting": setting, "seed": seed, **result}), flush=True)
    print(f"\nexact match (greedy), lowest - highest over seeds {', '.join(map(str, args.seeds))}; "
          f"training seconds with {args.threads} thread(s):\n")
    print(table(results))


if __name__ == "__main__":
    main()
