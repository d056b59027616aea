"""Benchmarks: our readable code against PyTorch's own modules, side by side in one run.

    python -m tools.bench                 # every benchmark
    python -m tools.bench --only mha      # MultiHeadAttention vs torch.nn.MultiheadAttention
    python -m tools.bench --only capstone # training the capstone: ours vs torch.nn.Transformer
    python -m tools.bench --only kvcache  # generating with and without the KV cache (tools/bench_kv.py)

mha: forward + backward of both modules, identical weights and inputs, batch 32, length 128,
d_model 256, 8 heads; median times and the ratio ours / PyTorch's.

capstone: our `Transformer` and `TorchTransformer` (the same model with `torch.nn.Transformer` as its
encoder-decoder stack) train on the number translator with the same batches, the same optimizer and
schedule (`CapstoneConfig`), one step of each in turn, each step and each evaluation timed on its
own; prints each one's seconds to reach 99% exact match on the held-out validation numbers, its
test exact match then, and the ratio.

Both interleave the contenders, so a busy machine slows them alike; both run on the CPU and on the
GPU when there is one.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import warnings

import torch
from torch import nn

from transformer_course.task.decoding import exact_match
from transformer_course.encoder_decoder import Embedding
from transformer_course.masks import causal_mask
from transformer_course.multihead import MultiHeadAttention
from transformer_course.task.number_words import batch_iterator
from transformer_course.positional import SinusoidalPositionalEncoding
from transformer_course.task.training import CapstoneConfig, train_step


# torch.nn.Transformer's inference fast path (eval mode, with a padding mask) packs the batch into a
# nested tensor and warns that their API is a prototype; with norm_first it warns that the fast path is
# off. Notes on torch's internals, not on anything the reader did: kept out of the benchmark's output.
warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors is in prototype stage")
warnings.filterwarnings("ignore", message="enable_nested_tensor is True")


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


class TorchTransformer(nn.Module):
    """The capstone's model with PyTorch's `nn.Transformer` as its encoder-decoder stack.

    The same embeddings, positional encoding and output projection as our `Transformer`, and the
    same interface (forward / encode / decode with our masks: bool, True = may attend), so the two
    train on identical batches with identical optimizers. nn.Transformer's extra final LayerNorms
    are removed so that the architectures are the same size (post-LN, as the paper).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 512, n_heads: int = 8,
                 n_layers: int = 6, d_ff: int = 2048, dropout: float = 0.1, max_len: int = 5000,
                 norm_first: bool = False):
        super().__init__()
        self.src_embed = Embedding(src_vocab_size, d_model, "source token ids")
        self.tgt_embed = Embedding(tgt_vocab_size, d_model, "target token ids")
        self.pos_encoding = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        self.transformer = nn.Transformer(d_model, n_heads, n_layers, n_layers, d_ff, dropout,
                                          batch_first=True, norm_first=norm_first)
        if not norm_first:
            self.transformer.encoder.norm = None
            self.transformer.decoder.norm = None
        self.unembed = nn.Linear(d_model, tgt_vocab_size)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    @staticmethod
    def _key_padding(mask: torch.Tensor | None) -> torch.Tensor | None:
        """Our (B, 1, q, k) "may attend" mask -> torch's (B, k) "ignore this key" from its last row."""
        return None if mask is None else ~mask[:, 0, -1, :]

    def encode(self, src, src_mask=None):
        x = self.pos_encoding(self.src_embed(src))
        return self.transformer.encoder(x, src_key_padding_mask=self._key_padding(src_mask))

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        x = self.pos_encoding(self.tgt_embed(tgt))
        causal = ~causal_mask(tgt.shape[1], device=tgt.device)  # torch: True = NOT allowed
        h = self.transformer.decoder(x, memory, tgt_mask=causal, tgt_is_causal=True,
                                     tgt_key_padding_mask=self._key_padding(tgt_mask),
                                     memory_key_padding_mask=self._key_padding(src_mask))
        return self.unembed(h)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


def same_weights_as(theirs: TorchTransformer, ours: nn.Module) -> nn.Module:
    """Load a TorchTransformer's weights into our Transformer of the same size (tests prove them equal)."""
    from transformer_course.encoder_decoder import Decoder, Encoder

    ours.encoder = Encoder.from_torch(theirs.transformer.encoder)
    ours.decoder = Decoder.from_torch(theirs.transformer.decoder)
    for part in ("src_embed", "tgt_embed", "unembed"):
        getattr(ours, part).load_state_dict(getattr(theirs, part).state_dict())
    return ours


def time_capstone(device: torch.device, config: CapstoneConfig, target: float = 0.99, eval_every: int = 50,
                  max_steps: int = 3000) -> dict[str, dict]:
    """Train ours and TorchTransformer in turn, step by step, from the same initial weights.

    Returns per model: training seconds (steps only) until the validation exact match first reached
    `target` at an evaluation every `eval_every` steps, the seconds spent evaluating, and the test accuracy.
    """
    train_numbers, val_numbers, test_numbers = config.splits()
    m = config.model
    size = dict(d_model=m.d_model, n_heads=m.n_heads, n_layers=m.n_layers, d_ff=m.d_ff, dropout=m.dropout,
                max_len=m.max_len, norm_first=m.norm_first)
    torch.manual_seed(config.seed)
    theirs = TorchTransformer(m.source_vocab_size, m.vocab_size, **size)
    ours = same_weights_as(theirs, config.make_model())  # both start from the very same weights
    runs = {}
    for name, model in (("ours", ours), ("torch.nn.Transformer", theirs)):
        model = model.to(device)
        optimizer, scheduler = config.make_optimizer(model)
        batches = batch_iterator(train_numbers, config.batch_size, seed=config.seed, epochs=None)
        runs[name] = dict(model=model, optimizer=optimizer, scheduler=scheduler, batches=batches,
                          seconds=0.0, eval_seconds=0.0, reached=None, accuracy=0.0, steps=0)
    for step in range(1, max_steps + 1):
        active = [r for r in runs.values() if r["reached"] is None]
        if not active:
            break
        for run in active:
            batch = next(run["batches"])
            _sync(device)
            start = time.perf_counter()
            train_step(run["model"], batch, run["optimizer"], run["scheduler"],
                       config.label_smoothing, clip_norm=config.clip_norm)
            _sync(device)
            run["seconds"] += time.perf_counter() - start
            run["steps"] = step
            if step % eval_every == 0:  # measuring, not training: timed apart
                start = time.perf_counter()
                run["accuracy"] = exact_match(run["model"], val_numbers)
                run["eval_seconds"] += time.perf_counter() - start
            if step % eval_every == 0 and run["accuracy"] >= target:
                run["reached"] = step
    for run in runs.values():
        run["test_accuracy"] = exact_match(run["model"], test_numbers)
    return runs


def report_capstone(device: torch.device, seeds=(0, 1, 2), target: float = 0.99) -> None:
    config = CapstoneConfig()
    m = config.model
    print(f"\nCapstone, the course's settings (CapstoneConfig(): training numbers by digit pattern, p_zero "
          f"{config.p_zero}, {config.max_steps} steps planned): training to {target:.0%} exact match on "
          f"{config.n_val} held-out validation numbers (checked every 25 steps), on {device} "
          f"({torch.get_num_threads()} threads); d_model {m.d_model}, {m.n_layers}+{m.n_layers} layers, batch "
          f"{config.batch_size}; for each seed both models start from the same weights and see the same batches:")
    totals = {"ours": [0.0, 0], "torch.nn.Transformer": [0.0, 0]}
    for seed in seeds:
        runs = time_capstone(device, dataclasses.replace(config, seed=seed), target, eval_every=25)
        for name, run in runs.items():
            when = (f"reached at step {run['reached']:4d} after {run['seconds']:6.1f} s of training"
                    if run["reached"] else f"NOT reached in {run['steps']} steps ({run['seconds']:.1f} s)")
            print(f"  seed {seed}  {name:22s} {when} (+{run['eval_seconds']:.1f} s evaluating); "
                  f"test exact match then {run['test_accuracy']:.2%}")
            totals[name][0] += run["seconds"]
            totals[name][1] += run["steps"]
        ours, theirs = runs["ours"], runs["torch.nn.Transformer"]
        if ours["reached"] and theirs["reached"]:
            print(f"  seed {seed}  training time to {target:.0%}: ours / torch.nn.Transformer = "
                  f"{ours['seconds'] / theirs['seconds']:.2f}x")
    (ours_s, ours_n), (theirs_s, theirs_n) = totals["ours"], totals["torch.nn.Transformer"]
    print(f"  all seeds: training time to {target:.0%}, ours / torch.nn.Transformer = {ours_s / theirs_s:.2f}x "
          f"({ours_s:.1f} s vs {theirs_s:.1f} s); seconds per training step = "
          f"{(ours_s / ours_n) / (theirs_s / theirs_n):.2f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--only", choices=["mha", "capstone", "kvcache"], help="run one benchmark only")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1, as the notebooks)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}")
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    for device in devices:
        if args.only in (None, "mha"):
            report_mha(device, args.repeats)
        if args.only in (None, "capstone"):
            report_capstone(device)
    if args.only in (None, "kvcache"):  # on the CPU; its last line is the speed-up at 256 new tokens
        from tools import bench_kv
        bench_kv.main([])


if __name__ == "__main__":
    main()
