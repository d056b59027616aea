"""Attention masks. ONE convention across the course: a boolean tensor, True = "may attend".

Every mask broadcasts to the attention scores' shape (batch, n_heads, q_len, k_len):
a padding mask is (batch, 1, 1, k_len), a causal mask is (q_len, k_len).
"""

from __future__ import annotations

import torch


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(size, size) bool, True on and below the diagonal: position i may attend to positions 0..i."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"causal_mask needs a positive integer size, got {size!r}")
    return torch.tril(torch.ones(size, size, dtype=torch.bool, device=device))


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(batch, 1, 1, seq_len) bool from token ids (batch, seq_len): True where the key is a real token."""
    if tokens.dim() != 2:
        raise ValueError(
            f"padding_mask expects token ids of shape (batch, seq_len), got shape {tuple(tokens.shape)}"
        )
    return (tokens != pad_id)[:, None, None, :]


def target_mask(tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(batch, 1, tgt_len, tgt_len) bool for decoder self-attention: not padding AND not in the future."""
    return padding_mask(tgt, pad_id) & causal_mask(tgt.shape[1], device=tgt.device)


def check_mask(mask: torch.Tensor, scores_shape: tuple[int, ...], name: str = "mask") -> None:
    """Raise a ValueError unless `mask` is boolean and broadcasts to the scores (batch, heads, q_len, k_len)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"{name} must be a bool tensor (True = may attend), got {kind}")
    if mask.dim() > len(scores_shape):
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}, more dimensions than the attention scores {tuple(scores_shape)}"
        )
    axes = ["batch", "heads", "q_len", "k_len"][-len(scores_shape):]
    for i in range(1, mask.dim() + 1):
        m, s = mask.shape[-i], scores_shape[-i]
        if m not in (1, s):
            raise ValueError(
                f"{name} has shape {tuple(mask.shape)} but the attention scores are "
                f"{tuple(scores_shape)} {tuple(axes)}: its {axes[-i]} axis has size {m}, expected 1 or {s}"
            )
