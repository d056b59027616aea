"""Benchmark: generating with and without the KV cache, side by side in one run, on the CPU.

    python -m tools.bench_kv                  # 64, 256 and 1024 new tokens, one thread
    python -m tools.bench_kv --threads 2 --new 64 256
    python -m tools.bench --only kvcache      # the same, from the benchmark script

The model: a GPT (`transformer_course.gpt`) with d_model 256, 4 heads, 4 layers, d_ff 1024,
vocabulary 256, random weights (speed does not depend on what it learnt), batch 1, a prompt of 8
tokens, greedy decoding. Without the cache every step runs the model on the whole sequence so far
(the cost of step t grows with t, the total with n^2); with it, every step feeds only the newest
token (the total grows with n, plus attention over the cached keys). The two runs of each length
alternate, so a busy machine slows them alike; each length is timed `--repeats` times (1024 and
more once: without the cache that takes minutes) and the median kept. Both generate the same
tokens (checked). One thread by default: for a model this small on a shared 2-core machine, two
threads that wait for each other are slower than one (measured: about 30x slower under load).

The last line printed is ``kv-cache speed-up at 256 new tokens: N.NNx``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from transformer_course.config import ModelConfig
from transformer_course.gpt import GPT, KVCache, generate

SIZE = dict(d_model=256, n_heads=4, n_layers=4, d_ff=1024, vocab_size=256)


def make_model(max_len: int = 2048, **size) -> GPT:
    """A GPT of the benchmark's size with seeded random weights, in eval mode."""
    torch.manual_seed(0)
    config = ModelConfig(**{**SIZE, **size}, dropout=0.0, max_len=max_len, norm_first=True)
    return GPT(config).eval()


def time_generation(model: GPT, prompt: torch.Tensor, n_new: int, use_cache: bool) -> tuple[float, torch.Tensor]:
    """Seconds to generate n_new tokens greedily after `prompt` (B, P), and the tokens."""
    start = time.perf_counter()
    tokens = generate(model, prompt, n_new, use_cache=use_cache)
    return time.perf_counter() - start, tokens


def cache_bytes(model: GPT, batch: int, tokens: int) -> tuple[int, int]:
    """(the formula 2 x layers x heads x d_k x tokens x bytes x batch, the bytes the KVCache measures)."""
    config = model.config
    cache = KVCache(config.n_layers)
    with torch.no_grad():
        model(torch.zeros(batch, tokens, dtype=torch.long), cache)
    formula = 2 * config.n_layers * config.n_heads * config.d_k * tokens * 4 * batch  # float32: 4 bytes
    return formula, cache.nbytes()


def run(lengths=(64, 256, 1024), repeats: int = 3, threads: int = 1, prompt_len: int = 8) -> dict[int, float]:
    """Print tokens per second with and without the cache for each length; return the speed-ups."""
    torch.set_num_threads(threads)
    model = make_model(max_len=prompt_len + max(lengths) + 1)
    config = model.config
    prompt = torch.randint(0, config.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"KV cache: greedy generation on the CPU ({torch.get_num_threads()} threads), GPT with d_model "
          f"{config.d_model}, {config.n_heads} heads, {config.n_layers} layers, d_ff {config.d_ff}, vocabulary "
          f"{config.vocab_size} ({n_params:,} parameters), batch 1, prompt {prompt_len} tokens; median of {repeats} "
          f"runs (1 from 1024 new tokens on):")
    time_generation(model, prompt, 8, True)  # warm-up
    time_generation(model, prompt, 8, False)
    speedups = {}
    for n_new in lengths:
        times = {True: [], False: []}
        for _ in range(repeats if n_new < 1024 else 1):
            for use_cache in (False, True):  # interleaved
                seconds, tokens = time_generation(model, prompt, n_new, use_cache)
                times[use_cache].append(seconds)
                if use_cache:
                    cached_tokens = tokens
                else:
                    uncached_tokens = tokens
            if not torch.equal(cached_tokens, uncached_tokens):
                raise AssertionError(f"cached and uncached generation differ at {n_new} new tokens")
        without, with_cache = statistics.median(times[False]), statistics.median(times[True])
        speedups[n_new] = without / with_cache
        print(f"  {n_new:5d} new tokens: without cache {n_new / without:8.1f} tokens/s ({without:7.2f} s), "
              f"with cache {n_new / with_cache:8.1f} tokens/s ({with_cache:6.2f} s): {speedups[n_new]:.2f}x; "
              f"same tokens: yes")
    total = prompt_len + max(lengths)
    formula, measured = cache_bytes(model, 1, total)
    print(f"  cache memory at {total} tokens: 2 x {config.n_layers} layers x {config.n_heads} heads x "
          f"{config.d_k} d_k x {total} tokens x 4 bytes = {formula:,} bytes; the KVCache's tensors: {measured:,} bytes")
    return speedups


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, nargs="+", default=[64, 256, 1024], help="numbers of new tokens")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    lengths = sorted(set(args.new) | {256})
    speedups = run(lengths, args.repeats, args.threads)
    print(f"kv-cache speed-up at 256 new tokens: {speedups[256]:.2f}x")


if __name__ == "__main__":
    main()
