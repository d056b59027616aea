"""A decoder-only transformer (a GPT): the decoder without cross-attention, trained to predict the next token.

Its size is a :class:`ModelConfig` (it uses ``vocab_size`` only: one vocabulary in, one out).
Generation writes one token at a time; the :class:`KVCache` keeps every layer's keys and values,
so that each step feeds only the new token instead of the whole sequence again. Sampling turns
the last position's logits into the next token: greedy, temperature, top-k, top-p (nucleus).

Masks follow the course: bool, True = may attend. With a cache, the L new tokens sit at positions
``past .. past + L - 1`` and attend to all ``past + L`` keys: the mask is (L, past + L), the last L rows
of the causal mask.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import scaled_dot_product_attention
from .block import EncoderLayer, LayerNorm
from .config import ModelConfig
from .encoder_decoder import Embedding
from .masks import causal_mask
from .multihead import merge_heads, split_heads
from .positional import SinusoidalPositionalEncoding
from .utils import check_rank


class DecoderOnlyBlock(EncoderLayer):
    """Masked self-attention then feed-forward, each in a SublayerConnection: the decoder layer
    without cross-attention. x (B, L, d_model) -> (B, L, d_model).

    mask: bool, broadcastable to (B, n_heads, L, L), True = may attend (the causal mask).
    It is an encoder layer run with a causal mask: the same code, ``from_torch`` included (from a
    `torch.nn.TransformerEncoderLayer`, run with a causal mask).
    """


# --- the KV cache --------------------------------------------------------------------------------


class KVCache:
    """Every layer's keys and values (B, n_heads, tokens, d_k) for the tokens the model has read so far.

    ``append(layer, k, v)`` adds the new tokens' keys and values along the tokens axis and returns
    all of that layer's keys and values; ``length`` is how many tokens are cached.
    """

    def __init__(self, n_layers: int):
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """How many tokens are cached (0 before the first forward)."""
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k, v (B, H, L_new, d_k) -> all keys and values of `layer` so far, (B, H, past + L_new, d_k) each."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)  # the cache grows along the tokens axis
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def nbytes(self) -> int:
        """The memory the cached tensors take: 2 x layers x B x heads x tokens x d_k x bytes per number."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


def attend_with_cache(attn: nn.Module, x: torch.Tensor, cache: KVCache, layer: int,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    """Self-attention of the new positions x (B, L_new, d_model) over the cached ones and themselves.

    Uses the multi-head attention's own weights (w_q, w_k, w_v, w_o): queries, keys and values of
    the NEW tokens only; their keys and values go into the cache; the queries attend to every key
    cached so far. mask: (L_new, past + L_new) or None. Returns (B, L_new, d_model).
    """
    q = split_heads(attn.w_q(x), attn.n_heads)  # (B, H, L_new, d_k)
    k = split_heads(attn.w_k(x), attn.n_heads)  # (B, H, L_new, d_k)
    v = split_heads(attn.w_v(x), attn.n_heads)  # (B, H, L_new, d_k)
    k, v = cache.append(layer, k, v)  # (B, H, past + L_new, d_k): the old tokens' keys are not recomputed
    out, weights = scaled_dot_product_attention(q, k, v, mask, attn.dropout)  # (B, H, L_new, d_k)
    attn.attn_weights = weights.detach()
    return attn.w_o(merge_heads(out))  # (B, L_new, d_model)


def causal_mask_after(past: int, new: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(new, past + new) bool: new token i, at position past + i, may attend to positions 0 .. past + i."""
    return causal_mask(past + new, device=device)[past:]


# --- the GPT ---------------------------------------------------------------------------------------


class GPT(nn.Module):
    """A decoder-only transformer, its size given by a :class:`ModelConfig` (``vocab_size`` only).

    forward(tokens (B, L) ids, cache=None) -> next-token logits (B, L, vocab_size): position t
    predicts token t + 1 from tokens 0..t. With a :class:`KVCache`, ``tokens`` are the tokens that
    come after the ``cache.length`` already read, and the cache grows by L.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.tok_embed = Embedding(config.vocab_size, d_model, "token ids")
        self.pos_encoding = SinusoidalPositionalEncoding(d_model, config.max_len, config.dropout)
        self.blocks = nn.ModuleList(
            DecoderOnlyBlock(d_model, config.n_heads, config.d_ff, config.dropout, config.norm_first,
                             config.activation) for _ in range(config.n_layers))
        final_norm = config.norm_first if config.final_norm is None else config.final_norm
        self.norm = LayerNorm(d_model) if final_norm else None  # needed with pre-LN: the stream is never normalised
        self.unembed = nn.Linear(d_model, config.vocab_size)  # W_U: d_model -> next-token logits
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def add_positions(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (B, L, d_model) of the tokens at positions start .. start + L - 1, plus their sinusoids, then dropout."""
        end = start + x.shape[1]
        if end > self.config.max_len:
            raise ValueError(f"the sequence reaches position {end - 1} but the model was built for "
                             f"max_len={self.config.max_len} positions (0..{self.config.max_len - 1})")
        return self.pos_encoding.dropout(x + self.pos_encoding.pe[start:end])  # (B, L, d_model)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        check_rank(tokens, 2, "(batch, seq_len) of token ids", "tokens")
        if cache is not None:
            return forward_with_cache(self, tokens, cache)
        x = self.add_positions(self.tok_embed(tokens))  # (B, L, d_model)
        mask = causal_mask(tokens.shape[1], device=tokens.device)  # (L, L): position t sees 0..t
        for block in self.blocks:
            x = block(x, mask)  # (B, L, d_model)
        if self.norm is not None:
            x = self.norm(x)
        return self.unembed(x)  # (B, L, vocab_size)


def forward_with_cache(model: nn.Module, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """The GPT's forward for tokens (B, L) that come after the cache.length tokens already read.

    -> logits (B, L, vocab_size), the same as the last L positions of the forward over the whole
    sequence; every layer's cache grows by L. The new tokens sit at positions past .. past + L - 1.
    """
    past, new = cache.length, tokens.shape[1]
    x = model.add_positions(model.tok_embed(tokens), start=past)  # (B, L, d_model): positions go on from past
    mask = causal_mask_after(past, new, device=tokens.device)  # (L, past + L): the cached keys are all visible
    for layer, block in enumerate(model.blocks):
        x = block.attn_sublayer(x, lambda y: attend_with_cache(block.self_attn, y, cache, layer, mask))
        x = block.ff_sublayer(x, block.feed_forward)  # (B, L, d_model)
    if model.norm is not None:
        x = model.norm(x)
    return model.unembed(x)  # (B, L, vocab_size)


def count_parameters(model: nn.Module) -> int:
    """How many numbers the model learns."""
    return sum(p.numel() for p in model.parameters())


# --- sampling ------------------------------------------------------------------------------------


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """logits (..., V) with every token outside the k most likely set to -inf."""
    if not 1 <= k:
        raise ValueError(f"top_k must be at least 1, got {k}")
    kth_best = logits.topk(min(k, logits.shape[-1]), dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """logits (..., V) keeping the smallest set of most likely tokens whose probability adds up to >= p."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (..., V), most likely first
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (..., V)
    # a token is dropped when the tokens before it already reach p (so the one that crosses p stays)
    drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= p  # (..., V)
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to the vocabulary's order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The next token for each row: logits (B, V) -> ids (B,).

    temperature 0 is greedy (argmax); otherwise softmax(logits / temperature) restricted to the
    top_k most likely tokens and to the top_p nucleus, sampled with `generator`.
    """
    check_rank(logits, 2, "(batch, vocab_size)", "logits")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature  # < 1 sharpens the distribution, > 1 flattens it
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]  # (B,)


# --- generation ----------------------------------------------------------------------------------


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
             temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, eos_id: int | None = None) -> torch.Tensor:
    """prompt (B, P) ids -> (B, P + n) ids, n <= max_new_tokens new tokens (fewer if every row wrote eos_id).

    With ``use_cache`` the prompt is read once and each step feeds only the newest token; without,
    each step runs the model on the whole sequence so far. Both give the same tokens.
    Rows are not stopped one by one: after a row's eos_id, read only up to it.
    """
    was_training = model.training
    model.eval()
    try:
        cache = KVCache(len(model.blocks)) if use_cache else None
        tokens = prompt
        logits = (forward_with_cache(model, prompt, cache) if use_cache else model(prompt))[:, -1]  # (B, V)
        done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
        for step in range(max_new_tokens):
            next_token = sample_next(logits, temperature, top_k, top_p, generator)  # (B,)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, t + 1)
            if eos_id is not None:
                done |= next_token == eos_id
            if step == max_new_tokens - 1 or done.all():
                break
            if use_cache:
                logits = forward_with_cache(model, next_token[:, None], cache)[:, -1]  # only the new token goes in
            else:
                logits = model(tokens)[:, -1]  # the whole sequence again
        return tokens
    finally:
        model.train(was_training)


__all__ = ["DecoderOnlyBlock", "KVCache", "attend_with_cache", "causal_mask_after", "GPT", "forward_with_cache",
           "count_parameters",
           "top_k_filter", "top_p_filter", "sample_next", "generate"]
