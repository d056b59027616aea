"""Attention masks. ONE convention across the course: a boolean tensor, True = "may attend".

Every mask broadcasts to the attention scores' shape (B, H, q_len, k_len):
a padding mask is (B, 1, 1, k_len), a causal mask is (q_len, k_len).
"""

from __future__ import annotations

import torch


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(L, L) bool with L = size, True on and below the diagonal: position i may attend to positions 0..i."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"causal_mask needs a positive integer size, got {size!r}")
    return torch.tril(torch.ones(size, size, dtype=torch.bool, device=device))


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, 1, L) bool from token ids (B, L): True where the key is a real token, not pad_id."""
    if tokens.dim() != 2:
        raise ValueError(
            f"padding_mask expects token ids of shape (batch, seq_len), got shape {tuple(tokens.shape)}"
        )
    return (tokens != pad_id)[:, None, None, :]


def target_mask(tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, T, T) bool from target ids (B, T), for decoder self-attention: not padding AND not in the future."""
    return padding_mask(tgt, pad_id) & causal_mask(tgt.shape[1], device=tgt.device)


# The axes of attention scores, named as in check messages, for scores of each rank.
_SCORE_AXES = {2: ("q_len", "k_len"), 3: ("batch", "q_len", "k_len"), 4: ("batch", "n_heads", "q_len", "k_len")}


def _score_axes(rank: int) -> tuple[str, ...]:
    """The names of the axes of attention scores with `rank` axes, e.g. 3 -> ('batch', 'q_len', 'k_len')."""
    if rank in _SCORE_AXES:
        return _SCORE_AXES[rank]
    if rank < 2:
        raise ValueError(f"attention scores need at least 2 axes (q_len, k_len), got {rank}")
    return tuple(f"axis {i}" for i in range(rank - 4)) + _SCORE_AXES[4]


def check_mask(mask: torch.Tensor, scores_shape: tuple[int, ...], name: str = "mask") -> None:
    """Raise an error unless `mask` is boolean and broadcasts to the scores' shape, e.g. (B, H, q_len, k_len)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"{name} must be a bool tensor (True = may attend), got {kind}")
    axes = _score_axes(len(scores_shape))
    if mask.dim() > len(scores_shape):
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}, more axes than the attention scores "
            f"{tuple(scores_shape)} ({', '.join(axes)})"
        )
    for i in range(1, mask.dim() + 1):
        m, s = mask.shape[-i], scores_shape[-i]
        if m not in (1, s):
            raise ValueError(
                f"{name} has shape {tuple(mask.shape)} but the attention scores are "
                f"{tuple(scores_shape)} ({', '.join(axes)}): its {axes[-i]} axis has size {m}, expected 1 or {s}"
            )
