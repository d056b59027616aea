"""The transformer block: LayerNorm, the position-wise feed-forward network, residual sub-layer
connections (post-LN as in the paper, or pre-LN), and the encoder layer built from them."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .multihead import MultiHeadAttention
from .utils import check_last_dim

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class LayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis, var biased (divide by d_model).

    Named `weight`/`bias` (gamma/beta in the paper) so its state dict matches torch.nn.LayerNorm's.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))  # gamma
        self.bias = nn.Parameter(torch.zeros(d_model))  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_last_dim(x, self.d_model, "LayerNorm input")
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        centered = x - mean
        # biased variance: divide by d_model, as torch.nn.LayerNorm does. (Same as
        # x.var(dim=-1, unbiased=False), but about twice as fast on the CPU, forward + backward.)
        var = (centered ** 2).mean(dim=-1, keepdim=True)  # (..., 1)
        return centered * torch.rsqrt(var + self.eps) * self.weight + self.bias  # rsqrt(v) = 1 / sqrt(v)


def _activation(activation: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation function named `activation` ('relu' or 'gelu')."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    return ACTIVATIONS[activation]


class FeedForward(nn.Module):
    """FFN(x) = W_2 act(W_1 x + b_1) + b_2, applied to each position on its own: (B, L, d_model) -> same."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu") -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_last_dim(x, self.linear1.in_features, "feed-forward input")
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, L, d_model)


class SublayerConnection(nn.Module):
    """A residual connection around any sub-layer, with its LayerNorm.

    post-LN (the paper, norm_first=False): LayerNorm(x + Dropout(Sublayer(x)))
    pre-LN  (most modern code, norm_first=True): x + Dropout(Sublayer(LayerNorm(x)))
    ``norm_cls``: the LayerNorm it is made of (``tc.parts.load`` passes in the learner's).
    """

    def __init__(self, d_model: int, dropout: float = 0.0, norm_first: bool = False, *,
                 norm_cls: type[nn.Module] = LayerNorm) -> None:
        super().__init__()
        self.norm = norm_cls(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each in a SublayerConnection: (B, S, d_model) -> (B, S, d_model).

    mask: bool, broadcastable to (B, n_heads, S, S), True = may attend (usually a padding mask (B, 1, 1, S)).
    The keyword-only ``*_cls`` are the parts it is made of (``tc.parts.load`` passes in the learner's);
    ``feed_forward_cls=None`` leaves the feed-forward sub-layer out (notebook 08's ablation).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu", *,
                 attention_cls: type[nn.Module] = MultiHeadAttention,
                 feed_forward_cls: type[nn.Module] | None = FeedForward,
                 sublayer_cls: type[nn.Module] = SublayerConnection) -> None:
        super().__init__()
        self.self_attn = attention_cls(d_model, n_heads, dropout)
        self.feed_forward = feed_forward_cls(d_model, d_ff, dropout, activation) if feed_forward_cls else None
        self.attn_sublayer = sublayer_cls(d_model, dropout, norm_first)
        self.ff_sublayer = sublayer_cls(d_model, dropout, norm_first) if feed_forward_cls else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask))
        return self.ff_sublayer(x, self.feed_forward) if self.feed_forward is not None else x

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> "EncoderLayer":
        """An EncoderLayer with the weights and settings of a `torch.nn.TransformerEncoderLayer`."""
        _check_torch_layer(layer)
        ours = cls(layer.self_attn.embed_dim, layer.self_attn.num_heads, layer.linear1.out_features,
                   layer.dropout.p, layer.norm_first, _activation_name(layer))
        ours.self_attn = MultiHeadAttention.from_torch(layer.self_attn)
        _copy_ff_and_norms(ours.feed_forward, [ours.attn_sublayer, ours.ff_sublayer], layer,
                           [layer.norm1, layer.norm2])
        return ours.to(layer.linear1.weight.device)


# -- helpers shared with the decoder layer's from_torch ----------------------------------------------

def _check_torch_layer(layer: nn.Module) -> None:
    """Raise a ValueError unless a torch layer is batch-first, as the course's layers are."""
    if not getattr(layer.self_attn, "batch_first", False):
        raise ValueError("from_torch expects a layer built with batch_first=True (the course's layout)")


def _activation_name(layer: nn.Module) -> str:
    """'relu' or 'gelu': the activation of a torch encoder or decoder layer."""
    act = layer.activation
    if act is F.relu or isinstance(act, nn.ReLU):
        return "relu"
    if act is F.gelu or (isinstance(act, nn.GELU) and act.approximate == "none"):
        return "gelu"
    raise ValueError(f"from_torch supports relu and gelu activations, got {act!r}")


def _copy_ff_and_norms(ff: FeedForward, sublayers: list[SublayerConnection], layer: nn.Module,
                       norms: list[nn.LayerNorm]) -> None:
    """Copy a torch layer's feed-forward weights and LayerNorms into ours."""
    with torch.no_grad():
        ff.linear1.load_state_dict(layer.linear1.state_dict())
        ff.linear2.load_state_dict(layer.linear2.state_dict())
        for sub, norm in zip(sublayers, norms):
            sub.norm.load_state_dict(norm.state_dict())
            sub.norm.eps = norm.eps
