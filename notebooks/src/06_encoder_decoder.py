# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Encoder and decoder
#
# **The encoder reads the whole source; the decoder writes the target one
# token at a time, attending to its own past (causal mask) and to the
# encoder's output (cross-attention).**
#
# Notebook 05 built the encoder layer. Here we build the decoder layer, the
# masks it needs, the forward pass of the whole model, and the trick that
# lets it train on every position at once (teacher forcing). We check our
# layers against PyTorch's, and end with the first sign of life: a model that
# learns to copy sequences in a few seconds.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where this sits: the whole model
#
# ```mermaid
# flowchart BT
#     src["source ids src (B, S)"] --> se["embedding + positions"]
#     subgraph encoder["encoder layer × N"]
#         enc1["self-attention (src_mask)"] --> encn1["Add & Norm"]
#         encn1 --> enc2["feed-forward"] --> encn2["Add & Norm"]
#     end
#     se --> enc1
#     encn2 --> memory["memory (B, S, d_model)"]
#     tgt["decoder input: bos + target[:-1] (B, T)"] --> te["embedding + positions"]
#     subgraph decoder["decoder layer × N"]
#         dec1["masked self-attention (tgt_mask)"] --> decn1["Add & Norm"]
#         decn1 --> dec2["cross-attention (src_mask): Q from the decoder, K and V from memory"]
#         dec2 --> decn2["Add & Norm"]
#         decn2 --> dec3["feed-forward"] --> decn3["Add & Norm"]
#     end
#     te --> dec1
#     memory --> dec2
#     decn3 --> unembed["unembed W_U: logits (B, T, V), then softmax"]
#     unembed --> probs["next-token probabilities (B, T, V), compared with labels = target"]
# ```
#
# Each **Add & Norm** is notebook 05's post-LN residual connection: it adds the
# sub-layer's input back to its output, then applies a LayerNorm.

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/06_encoder_decoder.png" alt="Encoder: source, embedding, N encoder layers, memory. Decoder: shifted target, embedding, N layers of masked self-attention, cross-attention to memory, feed-forward; unembedding; probabilities" width="640">
#
# </details>

# %% [markdown]
# ## Intuition: three kinds of attention
#
# | where | queries from | keys and values from | mask | lets a position... |
# |---|---|---|---|---|
# | encoder self-attention | source | source | source padding | read the whole source, both directions |
# | decoder masked self-attention | target | target | causal AND target padding | read the target written *so far* |
# | decoder cross-attention | target | encoder output (`memory`) | source padding | look up what in the source it needs next |
#
# The encoder turns the source into `memory`, one context-aware vector per
# source token. The decoder is a language model of the target that, at every
# layer, may also consult `memory`: that is where the translating happens.

# %% [markdown]
# ## Setup

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import transformer_course as tc
from transformer_course import checks

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # the ids of <pad>, <bos>, <eos>, as in the course's data (notebook 07)

# %% [markdown]
# Your parts travel: the decoder layer below is built on your multi-head
# attention (notebook 03), feed-forward and sub-layer connection (notebook 05),
# each one where its check passed, and the reference where it did not.

# %% tags=["nbval-ignore-output"]
parts = tc.parts.load("MultiHeadAttention", "FeedForward", "SublayerConnection", "EncoderLayer")
MultiHeadAttention, FeedForward, SublayerConnection = parts.MultiHeadAttention, parts.FeedForward, parts.SublayerConnection
MyEncoderLayer = parts.EncoderLayer  # your encoder layer from notebook 05, compared with PyTorch's below

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
tc.seed_everything(0)
print(f"running on: {device}")

# %% [markdown]
# ## The decoder's self-attention mask: causal AND padding
#
# The decoder's self-attention must hide two things from position $i$: the
# **future** (positions $j > i$, which it is meant to predict) and **padding**
# keys. As booleans with True = may attend,
#
# $$\texttt{tgt\_mask}[b, 0, i, j] = \underbrace{(j \le i)}_{\text{causal, (T, T)}}
# \;\wedge\; \underbrace{(\texttt{tgt}[b, j] \ne \texttt{pad\_id})}_{\text{padding, (B, 1, 1, T)}},$$
#
# of shape `(B, 1, T, T)`, which broadcasts over the heads.
# `tc.causal_mask(size)` and `tc.padding_mask(tokens, pad_id)` (notebook 02)
# make the two parts.

# %% [markdown]
# ### Exercise 1 · ★☆☆ · about 3 minutes: combine the two masks
#
# Write `target_mask(tgt, pad_id)`: target token ids `(B, T)` → bool
# `(B, 1, T, T)`.
#
# <details><summary>Hint</summary>
#
# `tc.padding_mask(tgt, pad_id)` is `(B, 1, 1, T)` and
# `tc.causal_mask(T, device=tgt.device)` is `(T, T)`; combined with `&` they
# broadcast to `(B, 1, T, T)`. A key must pass *both* tests, so it is AND,
# not OR.
#
# </details>

# %%
def target_mask(tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) ids -> (B, 1, T, T) bool: True where query i may attend key j (j <= i and j not padding)."""
    ### BEGIN SOLUTION
    return tc.padding_mask(tgt, pad_id) & tc.causal_mask(tgt.shape[1], device=tgt.device)
    ### END SOLUTION


# %%
target_mask = checks.encoder_decoder.check_target_mask(target_mask)

# %% [markdown]
# ## Pictures of every mask
#
# One toy example from notebook 07's task (English number words to German): a
# source of 2 real tokens and 2 pads, a decoder input of 4 real tokens and 1
# pad (as when a longer target shares the batch). Green = may attend, hatched
# grey = forbidden. Rows are queries, columns keys.

# %%
src_words = ["twenty", "three", "<pad>", "<pad>"]
tgt_words = ["<bos>", "drei", "und", "zwanzig", "<pad>"]
src = torch.tensor([[5, 6, PAD_ID, PAD_ID]])  # (1, S=4)
tgt = torch.tensor([[BOS_ID, 7, 8, 9, PAD_ID]])  # (1, T=5)

src_mask = tc.padding_mask(src, PAD_ID)  # (1, 1, 1, S): used by the encoder AND by cross-attention
masks = {
    "encoder self-attention\nsource padding (S × S)": (src_mask.expand(1, 1, 4, 4), src_words, src_words),
    "decoder: causal only\n(T × T)": (tc.causal_mask(5), tgt_words, tgt_words),
    "decoder self-attention\ncausal AND padding (T × T)": (target_mask(tgt, PAD_ID), tgt_words, tgt_words),
    "cross-attention\nsource padding (T × S)": (src_mask.expand(1, 1, 5, 4), tgt_words, src_words),
}

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
for ax, (title, (mask, rows, cols)) in zip(axes, masks.items()):
    mask = mask.reshape(len(rows), len(cols))
    ax.imshow(mask.float(), cmap="Greens", vmin=0, vmax=1.5)
    for i, j in (~mask).nonzero().tolist():  # forbidden cells hatched grey, as in notebook 02
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#d9d9d9", edgecolor="#808080",
                                   hatch="////", linewidth=0))
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("keys")
    ax.set_title(title, fontsize=10)
axes[0].set_ylabel("queries")
plt.tight_layout()
plt.show()

# %% [markdown]
# What they say:
#
# - **Source padding**: no query reads a pad *key*: the pad columns are hatched.
#   The pad rows (pad queries) still attend; their outputs are ignored later.
# - **Causal**: row $i$ sees columns $0..i$, a lower triangle.
# - **Causal AND padding**: the triangle minus the pad column.
# - **Cross-attention**: target queries against source keys, so the mask is
#   `(T, S)`, not square; only the source's padding is hidden. The decoder may
#   read the *whole* source at every step: the source is given, not predicted.

# %% [markdown]
# ## The decoder layer
#
# Three sub-layers, each in its own `SublayerConnection` (notebook 05):
#
# $$\begin{aligned}
# x &\leftarrow \mathrm{SublayerConnection}_1\big(x,\; y \mapsto \mathrm{MultiHead}(y, y, y, \texttt{tgt\_mask})\big) && \text{masked self-attention}\\
# x &\leftarrow \mathrm{SublayerConnection}_2\big(x,\; y \mapsto \mathrm{MultiHead}(y, \texttt{memory}, \texttt{memory}, \texttt{src\_mask})\big) && \text{cross-attention}\\
# x &\leftarrow \mathrm{SublayerConnection}_3\big(x,\; \mathrm{FFN}\big) && \text{feed-forward}
# \end{aligned}$$
#
# `x` is `(B, T, d_model)` and `memory` `(B, S, d_model)`.
# In cross-attention the queries come from `x` and the keys and values from
# `memory`, so its weights are `(B, H, T, S)`: for each
# target position, a distribution over the source positions.

# %% [markdown]
# ### Exercise 2 · ★★☆ · about 8 minutes: the decoder layer
#
# Write `forward(x, memory, src_mask, tgt_mask)`.
#
# <details><summary>Hint</summary>
#
# It is the encoder layer of notebook 05 with one more line in the middle.
# Each sub-layer connection takes a function of one argument, e.g.
# `lambda y: self.self_attn(y, y, y, tgt_mask)`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# Cross-attention: `self.cross_attn(y, memory, memory, src_mask)`. The query
# is the decoder's state `y`; `memory` is not normalised or changed by the
# decoder.
#
# </details>

# %%
class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to memory, feed-forward: x (B, T, d_model), memory (B, S, d_model) -> (B, T, d_model)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu"):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.self_attn_sublayer = SublayerConnection(d_model, dropout, norm_first)
        self.cross_attn_sublayer = SublayerConnection(d_model, dropout, norm_first)
        self.ff_sublayer = SublayerConnection(d_model, dropout, norm_first)

    def forward(self, x, memory, src_mask=None, tgt_mask=None) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = self.self_attn_sublayer(x, lambda y: self.self_attn(y, y, y, tgt_mask))  # (B, T, d_model)
        x = self.cross_attn_sublayer(x, lambda y: self.cross_attn(y, memory, memory, src_mask))  # (B, T, d_model)
        return self.ff_sublayer(x, self.feed_forward)  # (B, T, d_model)
        ### END SOLUTION


# %%
DecoderLayer = checks.encoder_decoder.check_decoder_layer(DecoderLayer)

# %% [markdown]
# ## Same numbers as PyTorch
#
# `torch.nn.TransformerEncoderLayer` and `TransformerDecoderLayer` are the
# same layers. Their weights map onto ours like this (`tc.EncoderLayer.from_torch`
# and `tc.DecoderLayer.from_torch` do it):
#
# | PyTorch | ours |
# |---|---|
# | `self_attn.in_proj_weight` (3 d × d), `in_proj_bias` | split in three: `self_attn.w_q`, `w_k`, `w_v` |
# | `self_attn.out_proj` | `self_attn.w_o` |
# | `multihead_attn` (decoder only) | `cross_attn` |
# | `linear1`, `linear2` | `feed_forward.linear1`, `feed_forward.linear2` |
# | `norm1`, `norm2`, (`norm3`) | the sub-layer connections' `norm`, in order |
#
# Two traps. PyTorch's masks have the **opposite polarity**: True = *not*
# allowed, so we pass `~causal` and `tokens == PAD_ID`. And in eval mode its
# encoder layer takes a fused "fast path" that returns zeros at padded
# positions, so we call PyTorch's layers in `.train()` mode with `dropout=0`.
#
# Both layers compared are **yours**: your `EncoderLayer` from notebook 05
# (built on your attention, feed-forward and sub-layer connection) and your
# `DecoderLayer` from exercise 2, each given PyTorch's weights (the reference
# `from_torch` only does the renaming of the table above).

# %%
d_model, n_heads, d_ff = 32, 4, 64
torch.manual_seed(0)
torch_encoder_layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True).train()
torch_decoder_layer = nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True).train()

encoder_layer = MyEncoderLayer(d_model, n_heads, d_ff).to(device).eval()  # yours, from notebook 05
encoder_layer.load_state_dict(tc.EncoderLayer.from_torch(torch_encoder_layer).state_dict())
decoder_layer = DecoderLayer(d_model, n_heads, d_ff).to(device).eval()  # yours
decoder_layer.load_state_dict(tc.DecoderLayer.from_torch(torch_decoder_layer).state_dict())
torch_encoder_layer, torch_decoder_layer = torch_encoder_layer.to(device), torch_decoder_layer.to(device)

# %% tags=["nbval-ignore-output"]
gen = torch.Generator().manual_seed(0)
src_ids = torch.tensor([[5, 6, 7, 8, PAD_ID, PAD_ID], [5, 6, 7, 8, 9, 10]]).to(device)  # (B=2, S=6)
tgt_ids = torch.tensor([[BOS_ID, 3, 4, PAD_ID], [BOS_ID, 3, 4, 5]]).to(device)  # (B=2, T=4)
src_x = torch.randn(2, 6, d_model, generator=gen).to(device)
tgt_x = torch.randn(2, 4, d_model, generator=gen).to(device)

with torch.no_grad():
    memory = encoder_layer(src_x, tc.padding_mask(src_ids, PAD_ID))
    torch_memory = torch_encoder_layer(src_x, src_key_padding_mask=(src_ids == PAD_ID))
    out = decoder_layer(tgt_x, memory, tc.padding_mask(src_ids, PAD_ID), target_mask(tgt_ids, PAD_ID))
    torch_out = torch_decoder_layer(
        tgt_x, torch_memory, tgt_mask=~tc.causal_mask(4, device=device),
        tgt_key_padding_mask=(tgt_ids == PAD_ID), memory_key_padding_mask=(src_ids == PAD_ID))
print(f"encoder layer: max |ours - PyTorch| = {(memory - torch_memory).abs().max().item():.2e}")
print(f"decoder layer: max |ours - PyTorch| = {(out - torch_out).abs().max().item():.2e}")

# %% [markdown]
# Differences around $10^{-7}$ are float32 rounding: the layers compute the
# same function.

# %% [markdown]
# ## The whole forward pass
#
# `tc.Transformer` holds the parts: `src_embed` and `tgt_embed` (token ids →
# vectors, scaled by $\sqrt{d_\text{model}}$), `pos_encoding` (adds the
# sinusoids of notebook 04), `encoder` and `decoder` (stacks of layers), and
# `unembed` (the linear unembedding W_U of notebook 01). With
# $\mathrm{PE}$ = `pos_encoding`:
#
# $$\texttt{memory} = \mathrm{Encoder}\big(\mathrm{PE}(\mathrm{Embed_{src}}(\texttt{src})),\ \texttt{src\_mask}\big),$$
# $$\texttt{logits} = \mathrm{Unembed}\Big(\mathrm{Decoder}\big(\mathrm{PE}(\mathrm{Embed_{tgt}}(\texttt{tgt})),\ \texttt{memory},\ \texttt{src\_mask},\ \texttt{tgt\_mask}\big)\Big),$$
#
# with `src_mask` = the source padding mask and `tgt_mask` = the target mask of
# exercise 1, and $\mathrm{Unembed}$ = `unembed`, the multiplication by $W_U$
# (plus a bias). A softmax over the last axis of `logits` `(B, T, V)` gives,
# at each target position, the probabilities of the next token.

# %% [markdown]
# ### Exercise 3 · ★★☆ · about 6 minutes: encode, then decode
#
# Write `transformer_forward(model, src, tgt, pad_id)` → logits
# `(B, T, V)`, from the model's parts: `model.src_embed`,
# `model.tgt_embed`, `model.pos_encoding`, `model.encoder(x, mask)`,
# `model.decoder(x, memory, src_mask, tgt_mask)`, `model.unembed`.
#
# <details><summary>Hint</summary>
#
# Four lines: the two masks, then `memory` from the encoder, then the decoder's
# output through `model.unembed`. The source mask is used twice: in the
# encoder and in the decoder's cross-attention.
#
# </details>

# %%
def transformer_forward(model: tc.Transformer, src: torch.Tensor, tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """src (B, S) ids, tgt (B, T) decoder input ids -> logits (B, T, V)."""
    ### BEGIN SOLUTION
    src_mask = tc.padding_mask(src, pad_id)  # (B, 1, 1, S)
    tgt_mask = target_mask(tgt, pad_id)  # (B, 1, T, T)
    memory = model.encoder(model.pos_encoding(model.src_embed(src)), src_mask)  # (B, S, d_model)
    x = model.decoder(model.pos_encoding(model.tgt_embed(tgt)), memory, src_mask, tgt_mask)  # (B, T, d_model)
    return model.unembed(x)  # (B, T, V)
    ### END SOLUTION


# %%
transformer_forward = checks.encoder_decoder.check_transformer_forward(transformer_forward)

# %% [markdown]
# ## Teacher forcing: why the decoder gets the target as input
#
# A learner's question: *at inference we only have the source, so why does the
# decoder get a target sequence of length $T$ as input?*
#
# Because in **training** we know the answer, and the causal mask lets us use
# it without cheating. The model is trained to predict token $t$ from the
# source and the *correct* tokens $0..t-1$. So we feed the correct target,
# shifted right by one, and ask for the target at every position at once:
#
# | position $t$ | 0 | 1 | 2 | 3 |
# |---|---|---|---|---|
# | decoder input (`shift_right(target)`) | `<bos>` | drei | und | zwanzig |
# | label = target: what position $t$ must predict | drei | und | zwanzig | `<eos>` |
#
# The decoder input is `<bos>` + `target[:-1]`; the labels are `target` itself.
# Thanks to the causal mask, position $t$ sees inputs $0..t$, i.e. `<bos>` and
# target tokens $0..t-1$, never the label it must predict. One forward pass
# thus trains all $T$ predictions in parallel, as if we had run the decoder
# $T$ times. Feeding the *true* previous tokens rather than the model's own
# guesses is called **teacher forcing**.
#
# At **inference** there is no target: the decoder starts from `<bos>` alone,
# predicts one token, appends it, runs again, and so on until `<eos>` (the
# greedy loop at the end of this notebook). Same model, same masks; only now
# the input grows one token per step.

# %% [markdown]
# ### Exercise 4 · ★☆☆ · about 3 minutes: shift the target right
#
# Write `shift_right(tgt, bos_id)`: target ids `(B, T)` → decoder
# input ids `(B, T)`, `<bos>` followed by the target without its
# last token.
#
# <details><summary>Hint</summary>
#
# `torch.full_like(tgt[:, :1], bos_id)` is a `(B, 1)` column of `<bos>`;
# `torch.cat([..., ...], dim=1)` joins it to `tgt[:, :-1]`.
#
# </details>

# %%
def shift_right(tgt: torch.Tensor, bos_id: int) -> torch.Tensor:
    """(B, T) target ids -> (B, T) decoder input: <bos>, tgt[:, 0], ..., tgt[:, T-2]."""
    ### BEGIN SOLUTION
    bos = torch.full_like(tgt[:, :1], bos_id)  # (B, 1)
    return torch.cat([bos, tgt[:, :-1]], dim=1)  # (B, T)
    ### END SOLUTION


# %%
shift_right = checks.encoder_decoder.check_shift_right(shift_right)

# %%
target = torch.tensor([[7, 8, 9, EOS_ID]])  # "drei und zwanzig <eos>"
print("decoder input:", shift_right(target, BOS_ID).tolist()[0], "  labels:", target.tolist()[0])

# %% [markdown]
# (The course's translation data in notebook 07 stores the target as
# `<bos> ... <eos>` in one tensor and slices it, `tgt[:, :-1]` in and
# `tgt[:, 1:]` as labels: the same shift, written the other way.)

# %% [markdown]
# ## First sign of life: learning to copy
#
# A task we know the answer to: the source is a random sequence of 1 to 6
# symbols (ids 3..12), and the target is the same sequence followed by
# `<eos>`. To get it right the decoder *must* use cross-attention: position
# $t$ has to find source token $t$.
#
# We use your pieces: the model's decoder layers are replaced by your
# `DecoderLayer`, and training uses your `transformer_forward` and
# `shift_right`. The model is tiny (`d_model=32`, one layer each side).

# %%
VOCAB_SIZE, MAX_LEN = 13, 6


def copy_batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n random sequences: src (n, MAX_LEN) padded, and target = src + <eos> (n, MAX_LEN + 1) padded."""
    lengths = torch.randint(1, MAX_LEN + 1, (n,), generator=gen)
    symbols = torch.randint(3, VOCAB_SIZE, (n, MAX_LEN), generator=gen)
    real = torch.arange(MAX_LEN)[None, :] < lengths[:, None]  # (n, MAX_LEN)
    src = torch.where(real, symbols, PAD_ID)
    tgt = torch.cat([src, torch.full((n, 1), PAD_ID)], dim=1)  # (n, MAX_LEN + 1)
    tgt[torch.arange(n), lengths] = EOS_ID
    return src, tgt


src_example, tgt_example = copy_batch(2, torch.Generator().manual_seed(0))
print("src:\n", src_example, "\ntarget:\n", tgt_example)

# %%
def make_copy_model() -> tc.Transformer:
    """A tiny tc.Transformer whose decoder layers are your DecoderLayer (with the same initial weights)."""
    torch.manual_seed(0)
    model = tc.Transformer(tc.ModelConfig(src_vocab_size=VOCAB_SIZE, vocab_size=VOCAB_SIZE, d_model=32, n_heads=4, n_layers=1, d_ff=64, dropout=0.0))
    for i, layer in enumerate(model.decoder.layers):
        mine = DecoderLayer(32, 4, 64, dropout=0.0)
        mine.load_state_dict(layer.state_dict())
        model.decoder.layers[i] = mine
    return model.to(device)


model = make_copy_model()
print(f"{sum(p.numel() for p in model.parameters()):,d} parameters")

# %% [markdown]
# One training step: shift the target to make the decoder input, run the
# whole model once, and take the cross-entropy of every position's logits
# against the target, ignoring padding. The learning rate warms up for 30
# steps and then decays (notebook 05 says why post-LN models are trained with a warm-up).

# %%
STEPS = 400
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.98))
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / 30, (STEPS - s) / (STEPS - 30)))


def train_step(src: torch.Tensor, tgt: torch.Tensor) -> float:
    """One teacher-forced step on a batch; returns the loss."""
    logits = transformer_forward(model, src, shift_right(tgt, BOS_ID), PAD_ID)  # (B, T, VOCAB_SIZE): all positions at once
    loss = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.item()


# %% tags=["nbval-ignore-output"]
gen = torch.Generator().manual_seed(0)
model.train()
losses = [train_step(*(t.to(device) for t in copy_batch(64, gen))) for _ in range(STEPS)]
print(f"loss: first step {losses[0]:.2f}, last step {losses[-1]:.4f}")

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(losses)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (log scale)")
ax.set_title("Learning to copy")
plt.show()

# %% [markdown]
# ## Inference: one token at a time
#
# Now without the target. Encode the source once; start the decoder input
# with `<bos>`; at each step run the decoder on everything written so far,
# take the most likely next token from the *last* position, append it, and
# repeat. This is **greedy decoding** (notebook 07 adds beam search).
#
# Since the source is read once and the target many times, `tc.Transformer`
# has the two halves of exercise 3's forward pass as methods of their own:
# `model.encode(src, src_mask)` is its first line (embed, add positions, run
# `model.encoder`: the memory `(B, S, d_model)`), and
# `model.decode(tgt, memory, src_mask, tgt_mask)` the second (embed, add
# positions, run `model.decoder`, `model.unembed`: the logits `(B, T, V)`).
# `model(src, tgt, src_mask, tgt_mask)` is `decode(tgt, encode(src, ...), ...)`.

# %%
@torch.no_grad()
def greedy_decode(model: tc.Transformer, src: torch.Tensor, max_len: int) -> torch.Tensor:
    """src (B, S) -> generated ids (B, max_len), without the leading <bos>."""
    src_mask = tc.padding_mask(src, PAD_ID)
    memory = model.encode(src, src_mask)  # (B, S, d_model): the source is read once
    ys = torch.full((src.shape[0], 1), BOS_ID, device=src.device)  # (B, 1): just <bos>
    for _ in range(max_len):
        logits = model.decode(ys, memory, src_mask, target_mask(ys, PAD_ID))  # (B, t, VOCAB_SIZE)
        next_token = logits[:, -1].argmax(dim=-1)  # (B,): only the last position is new
        ys = torch.cat([ys, next_token[:, None]], dim=1)  # (B, t + 1)
    return ys[:, 1:]


# %% tags=["nbval-ignore-output"]
model.eval()
test_src, test_tgt = (t.to(device) for t in copy_batch(1000, torch.Generator().manual_seed(123)))
predicted = greedy_decode(model, test_src, max_len=MAX_LEN + 1)  # (1000, MAX_LEN + 1)
correct = ((predicted == test_tgt) | (test_tgt == PAD_ID)).all(dim=1)  # every token up to <eos> right
print(f"exact match on 1000 new sequences: {correct.float().mean().item():.1%}")
for i in range(3):
    source = [t for t in test_src[i].tolist() if t != PAD_ID]
    output = predicted[i].tolist()
    output = output[: output.index(EOS_ID) + 1] if EOS_ID in output else output  # what follows <eos> is ignored
    print("source", source, "-> output", output, f"(<eos> = {EOS_ID})")

# %% [markdown]
# (Tokens after `<eos>` are whatever the model emits once it is done; they are
# cut off, so they do not count.) Where does each output position look? The
# cross-attention weights for one example of full length, rows up to the
# last word:

# %%
i = int((test_src != PAD_ID).sum(dim=1).argmax())  # an example of full length
example, length = test_src[i:i + 1], int((test_src[i] != PAD_ID).sum())  # (1, S)
ys = torch.cat([torch.full((1, 1), BOS_ID, device=device), predicted[i:i + 1, :length]], dim=1)  # <bos> + output
with torch.no_grad():
    example_mask = tc.padding_mask(example, PAD_ID)
    model.decode(ys, model.encode(example, example_mask), example_mask, target_mask(ys, PAD_ID))
weights = model.decoder.layers[0].cross_attn.attn_weights[0].mean(dim=0).cpu()  # (T, S), averaged over heads
name = {PAD_ID: "<pad>", BOS_ID: "<bos>", EOS_ID: "<eos>"}
fig, ax = plt.subplots(figsize=(4.5, 4.5))
image = ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
ax.set_xticks(range(example.shape[1]), [name.get(t, str(t)) for t in example[0].tolist()])
ax.set_yticks(range(ys.shape[1]), [name.get(t, str(t)) for t in ys[0].tolist()])
ax.set_xlabel("source token (keys)")
ax.set_ylabel("decoder input token (queries)")
ax.set_title("Cross-attention, averaged over heads")
plt.show()

# %% [markdown]
# What it means: the row of decoder input $t$ (which predicts output $t$)
# puts its weight on source position $t$: a diagonal. Nobody told the model
# to align positions; cross-attention learned it because that is what copying
# needs, and the causal mask made sure it could not simply read the answer
# from its own input. In notebook 07 the same machinery learns a reordering
# ("twenty three" → "drei und zwanzig").

# %% [markdown]
# ## Check your understanding
#
# 1. In cross-attention, where do the queries, keys and values come from, and
#    what is the shape of its attention weights?
#
#    <details><summary>Answer</summary>
#
#    Queries from the decoder's stream `x`, keys and values from the encoder's
#    output `memory`. Weights: `(B, H, T, S)`, one
#    distribution over the source per target position.
#
#    </details>
#
# 2. Why is the target mask combined with AND, and what goes wrong with OR?
#
#    <details><summary>Answer</summary>
#
#    A key may be attended only if it is a real token *and* not in the future.
#    With OR, every real token, including the future ones, becomes visible, so
#    the model can read the answer during training and fails at inference.
#
#    </details>
#
# 3. Why does the decoder get the target sequence as input in training, when
#    at inference it has only the source?
#
#    <details><summary>Answer</summary>
#
#    Teacher forcing: in training the correct previous tokens are known, so
#    the decoder gets `<bos>` + target[:-1] and predicts the target at every
#    position in one pass; the causal mask keeps position $t$ from seeing
#    target token $t$ or later. At inference it starts from `<bos>` alone and
#    feeds back its own predictions, one token per step.
#
#    </details>
#
# 4. What happens if you forget to shift, feeding the target itself as the
#    decoder input?
#
#    <details><summary>Answer</summary>
#
#    Position $t$ sees target token $t$, the very label it must predict, so the
#    loss drops to almost zero by copying its input, and the model learns
#    nothing useful: at inference that token is not there.
#
#    </details>
#
# 5. Does cross-attention need a causal mask?
#
#    <details><summary>Answer</summary>
#
#    No. The whole source is given before decoding starts, so every target
#    position may look at every real source token; only source padding is
#    masked.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - **Decoder layer** = masked self-attention (`tgt_mask`), cross-attention
#   (queries from the decoder, keys and values from `memory`, `src_mask`),
#   feed-forward; each in a residual sub-layer connection.
# - **Masks** (True = may attend): source padding `(B, 1, 1, S)` for the
#   encoder and for cross-attention; causal AND target padding `(B, 1, T, T)`
#   for the decoder's self-attention. PyTorch's masks mean the opposite.
# - **Forward pass**: embed + positions, encode once into `memory`, decode,
#   unembed with `model.unembed` into `(B, T, V)` logits.
# - **Teacher forcing**: decoder input = `<bos>` + target[:-1], labels =
#   target; all positions train in parallel under the causal mask. At
#   inference the decoder generates one token at a time.
# - Our layers compute exactly what `torch.nn.TransformerEncoderLayer` and
#   `TransformerDecoderLayer` compute, and a tiny model learns to copy in a few
#   seconds.
#
# Next: **07 · training a translator**, the full model on a real task.
