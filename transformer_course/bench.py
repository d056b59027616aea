"""Benchmark: our readable MultiHeadAttention against torch.nn.MultiheadAttention, side by side.

    python -m transformer_course.bench            # batch 32, length 128, d_model 256, 8 heads
    python -m transformer_course.bench --repeats 50

Times forward + backward of both modules, with identical weights and inputs, interleaved in one run
(so a busy machine slows both alike), on the CPU and on the GPU when there is one, and prints the
median times and the ratio ours / PyTorch's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from .multihead import MultiHeadAttention


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _fwd_bwd(fn, x: torch.Tensor) -> None:
    out = fn(x)
    out.sum().backward()


def time_mha(device: torch.device, batch=32, length=128, d_model=256, n_heads=8, repeats=20, warmup=3):
    """Median seconds of forward+backward for ours and torch's (need_weights True and False)."""
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(d_model, n_heads, batch_first=True).to(device)
    ours = MultiHeadAttention.from_torch(ref).to(device)
    x = torch.randn(batch, length, d_model).to(device).requires_grad_()
    contenders = {
        "ours": lambda x: ours(x, x, x),
        "torch (need_weights=True)": lambda x: ref(x, x, x, need_weights=True, average_attn_weights=False)[0],
        "torch (need_weights=False)": lambda x: ref(x, x, x, need_weights=False)[0],
    }
    times = {name: [] for name in contenders}
    for i in range(warmup + repeats):
        for name, fn in contenders.items():  # interleaved: each round times all three
            _sync(device)
            start = time.perf_counter()
            _fwd_bwd(fn, x)
            _sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def report_mha(device: torch.device, repeats: int) -> None:
    med = time_mha(device, repeats=repeats)
    print(f"\nMultiHeadAttention forward+backward, batch 32, length 128, d_model 256, 8 heads, on {device}"
          f" ({torch.get_num_threads()} threads), median of {repeats}:")
    for name, t in med.items():
        print(f"  {name:28s} {t * 1e3:8.2f} ms   ours / this = {med['ours'] / t:.2f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}")
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    for device in devices:
        report_mha(device, args.repeats)


if __name__ == "__main__":
    main()
