"""The ablation sweep behind notebook 08: every experiment over several seeds, into one results file.

    python -m tools.ablations                      # the whole sweep (ablation.EXPERIMENTS x seeds 0, 1, 2)
    python -m tools.ablations --only base          # one setting
    python -m tools.ablations --only deep --seeds 0

Each run is a :func:`transformer_course.task.ablation.run`: step-bounded, seeded, one CPU thread,
so it gives the same numbers every time on the same kind of CPU with this torch (close ones, not
equal, on another kind of CPU or a GPU: see tests/test_ablation.py). Runs are appended to ``notebooks/data/ablations.jsonl``
as they finish (an interrupted sweep resumes where it stopped: a run already there, or in the results
file, is not run again; delete both files to run everything afresh); at the end the results file
``notebooks/data/ablations.json`` (all runs, in EXPERIMENTS' order) is rewritten from them. Two sweeps with disjoint ``--only`` may run side by side; ``--collect`` only rewrites the
JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from transformer_course.task.ablation import EXPERIMENTS, make_run, run  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "notebooks" / "data"
LOG = DATA / "ablations.jsonl"
RESULTS = DATA / "ablations.json"

SEEDS = [0, 1, 2]


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def done_runs() -> dict[str, dict]:
    """The runs already done, by their config: those in the results file, then those in the log."""
    runs = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []
    if LOG.exists():
        runs += [json.loads(line) for line in LOG.read_text().splitlines() if line.strip()]
    return {_key(r["config"]): {k: v for k, v in r.items() if k not in ("setting", "ablation")} for r in runs}


def collect() -> list[dict]:
    """Write the results file: every experiment x seed found in the log, in EXPERIMENTS' order."""
    done = done_runs()
    results = []
    for setting, ablation in EXPERIMENTS:
        for seed in SEEDS:
            config = asdict(make_run(setting, ablation, seed))
            if _key(config) in done:
                results.append({"setting": setting, "ablation": ablation, **done[_key(config)]})
    RESULTS.write_text(json.dumps({"seeds": SEEDS, "runs": results}, indent=1) + "\n")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="settings to run (default: all)")
    parser.add_argument("--ablations", nargs="*", help="ablations to run (default: all of the setting's)")
    parser.add_argument("--seeds", nargs="*", type=int, default=SEEDS)
    parser.add_argument("--reverse", action="store_true",
                        help="run the experiments in reverse order (a second process sharing a setting's work)")
    parser.add_argument("--collect", action="store_true", help="only rewrite the results file from the log")
    args = parser.parse_args()
    torch.set_num_threads(1)
    DATA.mkdir(parents=True, exist_ok=True)
    if not args.collect:
        start = time.perf_counter()
        for seed in args.seeds:
            for setting, ablation in (EXPERIMENTS[::-1] if args.reverse else EXPERIMENTS):
                if (args.only and setting not in args.only) or (args.ablations and ablation not in args.ablations):
                    continue
                config = make_run(setting, ablation, seed)
                if _key(asdict(config)) in done_runs():
                    continue
                result = run(config)
                with LOG.open("a") as log:
                    log.write(json.dumps(result) + "\n")
                print(f"{setting:>10} | {ablation:<24} seed {seed}: test exact {result['test_exact']:.2%}, "
                      f"{result['seconds']:.0f} s", flush=True)
        print(f"sweep: {time.perf_counter() - start:.0f} s")
    print(f"{len(collect())} runs in {RESULTS}")


if __name__ == "__main__":
    main()
