"""The whole transformer in one file: the encoder-decoder of "Attention Is All You Need", its
label-smoothed loss, Adam with warm-up, the training loop and greedy decoding.

Only torch: nn.Linear, nn.Embedding, nn.Dropout and torch.optim.Adam are the only ready-made parts.
Masks are bool, True = "may attend", broadcastable to (B, H, q_len, k_len).
Shapes: B batch, S source length, T target length, L either, H heads, V vocabulary.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

# --- the model ------------------------------------------------------------------------------------


class Embedding(nn.Module):
    """Token ids (B, L) -> vectors (B, L, d_model), scaled by sqrt(d_model)."""

    def __init__(self, vocab_size, d_model):
        super().__init__()
        self.d_model = d_model
        self.lut = nn.Embedding(vocab_size, d_model)

    def forward(self, tokens):
        return self.lut(tokens) * math.sqrt(self.d_model)  # (B, L, d_model)


class PositionalEncoding(nn.Module):
    """Adds PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same), then dropout."""

    def __init__(self, d_model, max_len, dropout=0.0):
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
        div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe, persistent=False)  # (max_len, d_model), not trained
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.shape[1]])  # (B, L, d_model)


def attention(q, k, v, mask=None, dropout=None):
    """softmax(Q K^T / sqrt(d_k)) V: q (..., q_len, d_k), k, v (..., k_len, d_k) -> (out, weights)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., q_len, k_len)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # a masked key gets weight exp(-inf) = 0
    weights = torch.softmax(scores, dim=-1)  # (..., q_len, k_len), each row sums to 1
    if mask is not None:  # a query with every key masked (all padding) gets no weights, not NaN
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ v, weights  # (..., q_len, d_k)


class MultiHeadAttention(nn.Module):
    """n_heads attentions of width d_k = d_model / n_heads side by side, concatenated, mixed by W_O."""

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.n_heads, self.d_k = n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query, key, value, mask=None):
        B = query.shape[0]

        def split(x):  # (B, L, d_model) -> (B, H, L, d_k)
            return x.view(B, -1, self.n_heads, self.d_k).transpose(1, 2)

        q, k, v = split(self.w_q(query)), split(self.w_k(key)), split(self.w_v(value))
        out, self.attn_weights = attention(q, k, v, mask, self.dropout)  # (B, H, q_len, d_k)
        out = out.transpose(1, 2).reshape(B, -1, self.n_heads * self.d_k)  # (B, q_len, d_model)
        return self.w_o(out)


class LayerNorm(nn.Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis; biased variance."""

    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class FeedForward(nn.Module):
    """W_2 relu(W_1 x + b_1) + b_2 at each position: (B, L, d_model) -> (B, L, d_model)."""

    def __init__(self, d_model, d_ff, dropout=0.0):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class SublayerConnection(nn.Module):
    """Post-LN residual connection, as in the paper: LayerNorm(x + Dropout(sublayer(x)))."""

    def __init__(self, d_model, dropout=0.0):
        super().__init__()
        self.norm = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, sublayer):
        return self.norm(x + self.dropout(sublayer(x)))


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward, each in a residual sub-layer: (B, S, d_model) -> same."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.attn_sublayer = SublayerConnection(d_model, dropout)
        self.ff_sublayer = SublayerConnection(d_model, dropout)

    def forward(self, x, mask=None):
        x = self.attn_sublayer(x, lambda x: self.self_attn(x, x, x, mask))
        return self.ff_sublayer(x, self.feed_forward)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to memory, feed-forward: (B, T, d_model) -> same."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.self_attn_sublayer = SublayerConnection(d_model, dropout)
        self.cross_attn_sublayer = SublayerConnection(d_model, dropout)
        self.ff_sublayer = SublayerConnection(d_model, dropout)

    def forward(self, x, memory, src_mask=None, tgt_mask=None):
        x = self.self_attn_sublayer(x, lambda x: self.self_attn(x, x, x, tgt_mask))
        # queries from the target, keys and values from the source's memory
        x = self.cross_attn_sublayer(x, lambda x: self.cross_attn(x, memory, memory, src_mask))
        return self.ff_sublayer(x, self.feed_forward)


class Encoder(nn.Module):
    """n_layers EncoderLayers: (B, S, d_model) -> (B, S, d_model)."""

    def __init__(self, n_layers, d_model, n_heads, d_ff, dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))

    def forward(self, x, mask=None):
        for layer in self.layers:
            x = layer(x, mask)
        return x


class Decoder(nn.Module):
    """n_layers DecoderLayers: x (B, T, d_model), memory (B, S, d_model) -> (B, T, d_model)."""

    def __init__(self, n_layers, d_model, n_heads, d_ff, dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))

    def forward(self, x, memory, src_mask=None, tgt_mask=None):
        for layer in self.layers:
            x = layer(x, memory, src_mask, tgt_mask)
        return x


class Transformer(nn.Module):
    """The encoder-decoder: src (B, S) ids, tgt (B, T) ids, masks -> next-token logits (B, T, V)."""

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=64, n_heads=4, n_layers=2, d_ff=128,
                 dropout=0.1, max_len=13):
        super().__init__()
        self.src_embed = Embedding(src_vocab_size, d_model)
        self.tgt_embed = Embedding(tgt_vocab_size, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = Encoder(n_layers, d_model, n_heads, d_ff, dropout)
        self.decoder = Decoder(n_layers, d_model, n_heads, d_ff, dropout)
        self.unembed = nn.Linear(d_model, tgt_vocab_size)  # W_U: d_model -> V logits
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, src, src_mask=None):
        return self.encoder(self.pos_encoding(self.src_embed(src)), src_mask)  # (B, S, d_model)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        x = self.decoder(self.pos_encoding(self.tgt_embed(tgt)), memory, src_mask, tgt_mask)  # (B, T, d_model)
        return self.unembed(x)  # (B, T, V)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)


# --- masks ----------------------------------------------------------------------------------------


def padding_mask(tokens, pad_id=0):
    """(B, L) ids -> (B, 1, 1, L): True where the key is a real token."""
    return (tokens != pad_id)[:, None, None, :]


def causal_mask(size, device=None):
    """(L, L): True on and below the diagonal, so position i sees positions 0..i."""
    return torch.tril(torch.ones(size, size, dtype=torch.bool, device=device))


def target_mask(tgt, pad_id=0):
    """(B, T) ids -> (B, 1, T, T): a real token and not in the future."""
    return padding_mask(tgt, pad_id) & causal_mask(tgt.shape[1], device=tgt.device)


# --- training -------------------------------------------------------------------------------------


def label_smoothing_loss(logits, target, smoothing=0.1, pad_id=0):
    """Cross-entropy against (1 - smoothing) on the target + smoothing spread over V, mean over real tokens."""
    log_probs = F.log_softmax(logits, dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, target[..., None]).squeeze(-1)  # (B, T)
    per_token = (1 - smoothing) * nll - smoothing * log_probs.mean(dim=-1)  # (B, T)
    real = target != pad_id  # (B, T)
    return (per_token * real).sum() / real.sum()


def learning_rate(step, peak_lr, warmup, max_steps):
    """Linear warm-up to peak_lr at step `warmup`, then cosine decay to 0 at max_steps (steps from 1)."""
    if step <= warmup:
        return peak_lr * step / warmup
    progress = min((step - warmup) / max(max_steps - warmup, 1), 1.0)
    return peak_lr * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model):
    """Adam with the paper's betas and eps; train_step sets its learning rate at every step."""
    return torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)


def train_step(model, optimizer, src, tgt, lr, smoothing=0.1, pad_id=0, clip_norm=1.0):
    """One step of teacher forcing on src (B, S), tgt (B, T) = <bos> ... <eos> <pad>...; returns the loss."""
    device = next(model.parameters()).device
    src, tgt = src.to(device), tgt.to(device)
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]  # (B, T-1): read up to t, predict token t+1
    model.train()
    logits = model(src, tgt_in, padding_mask(src, pad_id), target_mask(tgt_in, pad_id))  # (B, T-1, V)
    loss = label_smoothing_loss(logits, tgt_out, smoothing, pad_id)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    return loss.item()


def train(model, batches, max_steps, peak_lr=5e-3, warmup=60, smoothing=0.1, pad_id=0, clip_norm=1.0,
          on_step=None):
    """max_steps steps on the (src, tgt) batches; calls on_step(step, loss) after each; returns the losses."""
    optimizer = make_optimizer(model)
    batches = iter(batches)
    losses = []
    for step in range(1, max_steps + 1):
        src, tgt = next(batches)
        lr = learning_rate(step, peak_lr, warmup, max_steps)
        losses.append(train_step(model, optimizer, src, tgt, lr, smoothing, pad_id, clip_norm))
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


# --- decoding -------------------------------------------------------------------------------------


@torch.no_grad()
def greedy_decode(model, src, max_len, pad_id=0, bos_id=1, eos_id=2):
    """src (B, S) -> ids (B, <= max_len): <bos>, the most likely token each step, <eos>, then only <pad>."""
    model.eval()
    src = src.to(next(model.parameters()).device)
    src_mask = padding_mask(src, pad_id)  # (B, 1, 1, S)
    memory = model.encode(src, src_mask)  # (B, S, d_model)
    ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)  # (B,)
    for _ in range(max_len - 1):
        logits = model.decode(ys, memory, src_mask, target_mask(ys, pad_id))[:, -1]  # (B, V)
        logits[:, [pad_id, bos_id]] = float("-inf")  # only words or <eos> are ever written
        next_token = logits.argmax(dim=-1).masked_fill(done, pad_id)  # (B,): a finished row pads
        ys = torch.cat([ys, next_token[:, None]], dim=1)  # (B, t + 1)
        done = done | (next_token == eos_id)
        if done.all():
            break
    return ys
