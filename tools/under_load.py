"""Does the course run on a busy machine? Notebooks and training steps timed quiet, then under CPU load.

    python -m tools.under_load                    # notebooks 04, 06, 07 (exercise and solution), quiet then loaded
    python -m tools.under_load --notebooks 07     # only these
    python -m tools.under_load --threads          # seconds per training step of 07's model, 1 vs 2 threads

"Loaded" means N busy processes (``--busy``, default 2: a learner's laptop compiling or browsing) run
beside it, each a Python loop that never sleeps. Each notebook runs under pytest/nbval as the test
suite runs it; quiet and loaded runs alternate notebook by notebook, so a machine whose own load
changes meanwhile affects both alike. Prints seconds and the ratio loaded / quiet, and exits non-zero
if a notebook fails or a ratio is above ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def busy(n: int):
    """Run `n` processes that keep a CPU core busy each, until the block ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def run_notebook(path: Path) -> tuple[float, bool, str]:
    """Seconds, success and the last line of output of `pytest <notebook>` (nbval, as the suite runs it)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", str(path.relative_to(ROOT))], cwd=ROOT,
                          capture_output=True, text=True)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - start, done.returncode == 0, last


def notebooks(prefixes: list[str]) -> list[Path]:
    """The exercise and solution notebooks whose names start with one of `prefixes`."""
    found = []
    for prefix in prefixes:
        for folder in (ROOT / "notebooks", ROOT / "notebooks" / "solutions"):
            found += sorted(folder.glob(f"{prefix}_*.ipynb"))
    return found


def step_seconds(threads: int, steps: int = 60) -> float:
    """Median seconds of one training step of notebook 07's model with `threads` torch threads."""
    import statistics

    import torch

    from transformer_course.task.number_words import batch_iterator
    from transformer_course.task.training import CapstoneConfig, train_step

    torch.set_num_threads(threads)
    config = CapstoneConfig()
    torch.manual_seed(0)
    model = config.make_model()
    optimizer, scheduler = config.make_optimizer(model)
    batches = batch_iterator(config.splits()[0], config.batch_size, epochs=None)
    times = []
    for _ in range(steps):
        batch = next(batches)
        start = time.perf_counter()
        train_step(model, batch, optimizer, scheduler)
        times.append(time.perf_counter() - start)
    return statistics.median(times[5:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="+", default=["04", "06", "07"])
    parser.add_argument("--busy", type=int, default=2, help="busy processes for the loaded runs")
    parser.add_argument("--max-ratio", type=float, default=2.5)
    parser.add_argument("--threads", action="store_true", help="time training steps with 1 and 2 threads instead")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPU cores; loaded = {args.busy} busy processes beside the run", flush=True)
    if args.threads:
        for threads in (1, 2):
            quiet = step_seconds(threads)
            with busy(args.busy):
                loaded = step_seconds(threads)
            print(f"  {threads} thread{'s' if threads > 1 else ' '}: {quiet * 1e3:7.1f} ms per step quiet, "
                  f"{loaded * 1e3:7.1f} ms loaded ({loaded / quiet:.1f}x)", flush=True)
        return 0
    failed = False
    for path in notebooks(args.notebooks):
        quiet, quiet_ok, quiet_last = run_notebook(path)
        with busy(args.busy):
            loaded, loaded_ok, loaded_last = run_notebook(path)
        ratio = loaded / quiet
        ok = quiet_ok and loaded_ok and ratio <= args.max_ratio
        failed |= not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {path.relative_to(ROOT)}: quiet {quiet:6.1f} s, loaded {loaded:6.1f} s, "
              f"ratio {ratio:.2f}  [{quiet_last} | {loaded_last}]", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
