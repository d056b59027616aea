"""Device choice, seeding and the input checks every module shares."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICE_ENV_VAR = "TRANSFORMER_COURSE_DEVICE"
THREADS_ENV_VAR = "TRANSFORMER_COURSE_THREADS"


def get_device() -> torch.device:
    """The device the course runs on: $TRANSFORMER_COURSE_DEVICE if set, else CUDA, else Apple MPS, else CPU."""
    forced = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError as err:
            raise ValueError(
                f"{DEVICE_ENV_VAR}={forced!r} is not a device torch knows; use e.g. 'cpu', 'cuda' or 'mps'"
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_ENV_VAR}={forced!r} asks for CUDA, but torch sees no CUDA GPU here")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"{DEVICE_ENV_VAR}={forced!r} asks for MPS, but this machine has no Apple GPU")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_threads(threads: int | None = None) -> int:
    """Choose how many CPU threads torch uses, once, in a notebook's setup; returns the number.

    The course's models are tiny: a matrix product of a batch of 64 short
    sentences by 64 x 64 weights takes microseconds, little more than it costs
    to split it over threads and wait for them, and when another program holds
    a core every step waits for the slower thread. Measured with notebook 07's
    translator (``python -m tools.under_load --threads``) on a shared 2-core
    machine that other programs kept busy: 90 ms per training step with one
    thread, 1,200 ms with two; with two more busy processes, 410 against 4,600 ms.
    So the default is 1; ``$TRANSFORMER_COURSE_THREADS`` or ``threads``
    overrides it. On a GPU the CPU only feeds it, and 1 is fine there too.
    """
    forced = os.environ.get(THREADS_ENV_VAR, "").strip()
    if threads is None:
        threads = int(forced) if forced else 1
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    return threads


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) so a run repeats."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def check_last_dim(x: torch.Tensor, d_model: int, name: str) -> None:
    """Raise a ValueError unless `x` is (..., d_model)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != d_model:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)} but its last dimension must be d_model={d_model}"
        )


def check_rank(x: torch.Tensor, rank: int, layout: str, name: str) -> None:
    """Raise a ValueError unless `x` has `rank` dimensions, named by `layout` (e.g. '(batch, seq_len, d_model)')."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"{name} has shape {tuple(x.shape)} but must be {rank}-D: {layout}")


def check_attention_inputs(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, d_model: int) -> None:
    """Raise a ValueError unless query (B, q_len, d_model), key and value (B, k_len, d_model) fit together."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_rank(x, 3, "(batch, seq_len, d_model)", name)
        check_last_dim(x, d_model, name)
    if key.shape[1] != value.shape[1]:
        raise ValueError(f"key has length {key.shape[1]} but value has length {value.shape[1]}: they must match")
    if not query.shape[0] == key.shape[0] == value.shape[0]:
        raise ValueError(f"batch sizes differ: query {query.shape[0]}, key {key.shape[0]}, value {value.shape[0]}")


def check_token_ids(tokens: torch.Tensor, vocab_size: int, name: str) -> None:
    """Raise an error unless `tokens` are integer ids (B, L), each in 0..vocab_size-1."""
    check_rank(tokens, 2, "(batch, seq_len) of token ids", name)
    if tokens.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must be integer token ids, got dtype {tokens.dtype}")
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= vocab_size):
        bad = tokens[(tokens < 0) | (tokens >= vocab_size)][0].item()
        raise ValueError(f"{name} contain id {bad}, outside the vocabulary of size {vocab_size} "
                         f"(valid ids are 0..{vocab_size - 1})")


def check_same_batch(**tensors: torch.Tensor) -> None:
    """Raise a ValueError unless the tensors given (those with 2 or more axes) share their batch size (first axis)."""
    sizes = {name: x.shape[0] for name, x in tensors.items() if isinstance(x, torch.Tensor) and x.dim() >= 2}
    if len(set(sizes.values())) > 1:
        raise ValueError("batch sizes differ: " + ", ".join(f"{name} {size}" for name, size in sizes.items()))
