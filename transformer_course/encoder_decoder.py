"""The decoder layer, the encoder and decoder stacks, and the full encoder-decoder Transformer.

Masks are bool, True = may attend, broadcastable to (B, H, q_len, k_len):
src_mask is usually padding_mask(src) (B, 1, 1, S); tgt_mask is target_mask(tgt) (B, 1, T, T).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig
from .block import (EncoderLayer, FeedForward, LayerNorm, SublayerConnection, _activation_name,
                    _check_torch_layer, _copy_ff_and_norms)
from .masks import padding_mask, target_mask
from .multihead import MultiHeadAttention
from .positional import SinusoidalPositionalEncoding
from .utils import check_rank, check_same_batch, check_token_ids


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to the encoder's memory, feed-forward; each residual.

    x (B, T, d_model), memory (B, S, d_model) -> (B, T, d_model).
    tgt_mask for self-attention (B, 1, T, T); src_mask for cross-attention (B, 1, 1, S).
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
        self.cross_attn = attention_cls(d_model, n_heads, dropout)
        self.feed_forward = feed_forward_cls(d_model, d_ff, dropout, activation) if feed_forward_cls else None
        self.self_attn_sublayer = sublayer_cls(d_model, dropout, norm_first)
        self.cross_attn_sublayer = sublayer_cls(d_model, dropout, norm_first)
        self.ff_sublayer = sublayer_cls(d_model, dropout, norm_first) if feed_forward_cls else None

    def forward(self, x: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None,
                tgt_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.self_attn_sublayer(x, lambda y: self.self_attn(y, y, y, tgt_mask))
        # queries from the target, keys and values from the source: this is where translation happens
        x = self.cross_attn_sublayer(x, lambda y: self.cross_attn(y, memory, memory, src_mask))
        return self.ff_sublayer(x, self.feed_forward) if self.feed_forward is not None else x

    @classmethod
    def from_torch(cls, layer: nn.TransformerDecoderLayer) -> "DecoderLayer":
        """A DecoderLayer with the weights and settings of a `torch.nn.TransformerDecoderLayer`."""
        _check_torch_layer(layer)
        ours = cls(layer.self_attn.embed_dim, layer.self_attn.num_heads, layer.linear1.out_features,
                   layer.dropout.p, layer.norm_first, _activation_name(layer))
        ours.self_attn = MultiHeadAttention.from_torch(layer.self_attn)
        ours.cross_attn = MultiHeadAttention.from_torch(layer.multihead_attn)
        _copy_ff_and_norms(ours.feed_forward,
                           [ours.self_attn_sublayer, ours.cross_attn_sublayer, ours.ff_sublayer],
                           layer, [layer.norm1, layer.norm2, layer.norm3])
        return ours.to(layer.linear1.weight.device)


class Encoder(nn.Module):
    """n_layers EncoderLayers, then an optional final LayerNorm (needed with pre-LN): (B, S, d_model) -> same.

    ``layer_cls``, ``norm_cls``: the parts it is made of (``tc.parts.load`` passes in the learner's).
    """

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu", final_norm: bool | None = None, *,
                 layer_cls: type[nn.Module] = EncoderLayer, norm_cls: type[nn.Module] = LayerNorm) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            layer_cls(d_model, n_heads, d_ff, dropout, norm_first, activation) for _ in range(n_layers)
        )
        self.norm = norm_cls(d_model) if (norm_first if final_norm is None else final_norm) else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x) if self.norm is not None else x

    @classmethod
    def from_torch(cls, encoder: nn.TransformerEncoder) -> "Encoder":
        """An Encoder with the weights of a `torch.nn.TransformerEncoder` (its layers and optional norm)."""
        ours = cls(0, encoder.layers[0].self_attn.embed_dim, 1, 1, final_norm=encoder.norm is not None)
        ours.layers = nn.ModuleList(EncoderLayer.from_torch(layer) for layer in encoder.layers)
        if encoder.norm is not None:
            ours.norm.load_state_dict(encoder.norm.state_dict())
            ours.norm.eps = encoder.norm.eps
        return ours.to(encoder.layers[0].linear1.weight.device)


class Decoder(nn.Module):
    """n_layers DecoderLayers, then an optional final LayerNorm.

    x (B, T, d_model), memory (B, S, d_model) -> (B, T, d_model).

    ``layer_cls``, ``norm_cls``: the parts it is made of (``tc.parts.load`` passes in the learner's).
    """

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu", final_norm: bool | None = None, *,
                 layer_cls: type[nn.Module] = DecoderLayer, norm_cls: type[nn.Module] = LayerNorm) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            layer_cls(d_model, n_heads, d_ff, dropout, norm_first, activation) for _ in range(n_layers)
        )
        self.norm = norm_cls(d_model) if (norm_first if final_norm is None else final_norm) else None

    def forward(self, x: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None,
                tgt_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, memory, src_mask, tgt_mask)
        return self.norm(x) if self.norm is not None else x

    @classmethod
    def from_torch(cls, decoder: nn.TransformerDecoder) -> "Decoder":
        """A Decoder with the weights of a `torch.nn.TransformerDecoder` (its layers and optional norm)."""
        ours = cls(0, decoder.layers[0].self_attn.embed_dim, 1, 1, final_norm=decoder.norm is not None)
        ours.layers = nn.ModuleList(DecoderLayer.from_torch(layer) for layer in decoder.layers)
        if decoder.norm is not None:
            ours.norm.load_state_dict(decoder.norm.state_dict())
            ours.norm.eps = decoder.norm.eps
        return ours.to(decoder.layers[0].linear1.weight.device)


class Embedding(nn.Module):
    """Token ids (B, L) -> vectors (B, L, d_model), scaled by sqrt(d_model) as in the paper."""

    def __init__(self, vocab_size: int, d_model: int, name: str = "token ids") -> None:
        super().__init__()
        self.vocab_size, self.d_model, self.name = vocab_size, d_model, name
        self.lut = nn.Embedding(vocab_size, d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_token_ids(tokens, self.vocab_size, self.name)
        return self.lut(tokens) * math.sqrt(self.d_model)  # (B, L, d_model)


class Transformer(nn.Module):
    """The encoder-decoder of "Attention Is All You Need", its size given by a :class:`ModelConfig`.

    forward(src (B, S) ids, tgt (B, T) ids, src_mask (B, 1, 1, S), tgt_mask (B, 1, T, T)) -> logits (B, T, V).
    For generation use encode() once and decode() per step. All weight matrices start Xavier-uniform.
    The keyword-only ``*_cls`` are the parts it is made of (``tc.parts.load`` passes in the learner's).
    """

    def __init__(self, config: ModelConfig, *, positional_cls: type[nn.Module] = SinusoidalPositionalEncoding,
                 encoder_cls: type[nn.Module] = Encoder, decoder_cls: type[nn.Module] = Decoder) -> None:
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.src_embed = Embedding(config.source_vocab_size, d_model, "source token ids")
        self.tgt_embed = Embedding(config.vocab_size, d_model, "target token ids")
        self.pos_encoding = positional_cls(d_model, config.max_len, config.dropout)
        stack = dict(d_model=d_model, n_heads=config.n_heads, d_ff=config.d_ff, dropout=config.dropout,
                     norm_first=config.norm_first, activation=config.activation, final_norm=config.final_norm)
        self.encoder = encoder_cls(config.n_layers, **stack)
        self.decoder = decoder_cls(config.decoder_layers, **stack)
        self.unembed = nn.Linear(d_model, config.vocab_size)  # W_U: d_model -> next-token logits
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S) ids -> memory (B, S, d_model)."""
        return self.encoder(self.pos_encoding(self.src_embed(src)), src_mask)

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None,
               tgt_mask: torch.Tensor | None = None) -> torch.Tensor:
        """tgt (B, T) ids, memory (B, S, d_model) -> next-token logits (B, T, V)."""
        check_same_batch(tgt=tgt, memory=memory)
        x = self.decoder(self.pos_encoding(self.tgt_embed(tgt)), memory, src_mask, tgt_mask)  # (B, T, d_model)
        return self.unembed(x)  # (B, T, V)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, src_mask: torch.Tensor | None = None,
                tgt_mask: torch.Tensor | None = None) -> torch.Tensor:
        check_same_batch(src=src, tgt=tgt)
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)  # (B, T, V)


def transformer_forward(model: Transformer, src: torch.Tensor, tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The whole forward pass spelled out: masks, encode the source, decode the target, unembed.

    src (B, S) ids, tgt (B, T) decoder input ids -> logits (B, T, V); same as
    model(src, tgt, padding_mask(src, pad_id), target_mask(tgt, pad_id)).
    """
    src_mask = padding_mask(src, pad_id)  # (B, 1, 1, S): every query may look at the real source tokens
    tgt_mask = target_mask(tgt, pad_id)  # (B, 1, T, T): real target tokens, and none from the future
    memory = model.encoder(model.pos_encoding(model.src_embed(src)), src_mask)  # (B, S, d_model)
    x = model.decoder(model.pos_encoding(model.tgt_embed(tgt)), memory, src_mask, tgt_mask)  # (B, T, d_model)
    return model.unembed(x)  # (B, T, V)


def shift_right(tgt: torch.Tensor, bos_id: int) -> torch.Tensor:
    """Teacher forcing's decoder input: <bos> followed by the target without its last token.

    tgt (B, T) ids -> (B, T) ids; position t of the result holds tgt[:, t-1] (and <bos> at t=0),
    so the decoder, reading it, predicts tgt[:, t] at position t.
    """
    check_rank(tgt, 2, "(batch, tgt_len) of token ids", "tgt")
    bos = torch.full_like(tgt[:, :1], bos_id)  # (B, 1)
    return torch.cat([bos, tgt[:, :-1]], dim=1)  # (B, T)
