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
# # 05 · The transformer block
#
# **LayerNorm keeps the stream's scale steady and the position-wise
# feed-forward network transforms each position on its own; with residual
# connections they make a block that can be stacked deep.**
#
# Notebooks 02-04 built the part that moves information *between* positions
# (attention) and the part that says *where* a token is (positions). This
# notebook adds the three remaining pieces of a layer, wires them into the
# encoder layer of the paper, and then measures why they are there.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where this sits
#
# One encoder layer, as the paper draws it. The red edges labelled *residual*
# (from `x` straight to a `+`, around each sub-layer) are the **residual
# stream** of notebook 01: each sub-layer reads it and adds its update back.
#
# ```mermaid
# flowchart BT
#     x["x (B, L, d_model)"] --> attn["multi-head self-attention (notebook 03)"]
#     x -->|residual| add1(("+"))
#     attn --> add1 --> ln1["LayerNorm"]
#     ln1 --> ff["position-wise feed-forward"]
#     ln1 -->|residual| add2(("+"))
#     ff --> add2 --> ln2["LayerNorm"]
#     ln2 --> next["next layer (N = 6 in the paper)"]
#     linkStyle 1,5 stroke:#c0392b,stroke-width:2px
# ```
#
# Stacking $N$ of these is the encoder; the decoder layer (notebook 06) is the
# same with one more attention sub-layer in the middle.

# %% [markdown]
# <details><summary>The same diagram as a picture, beside the pre-LN variant (if the one above does not render)</summary>
#
# <img src="images/05_transformer_block.png" alt="An encoder layer, post-LN (the paper) and pre-LN (modern code): attention and feed-forward, each with a residual connection and a LayerNorm" width="640">
#
# </details>

# %% [markdown]
# ## Intuition
#
# - **Attention** lets positions talk to each other: each one gathers what it
#   needs from the others.
# - **The feed-forward network** then works on each position *alone*: the
#   same small two-layer network is applied to every token vector, like a
#   per-token "think about what you just gathered" step. It holds about two
#   thirds of a layer's parameters.
# - **The residual connection** means neither sub-layer replaces the stream;
#   each *adds* an update, so information (and gradient) can flow straight
#   through a deep stack.
# - **LayerNorm** rescales each token vector to mean 0 and variance 1 (then a
#   learned scale and shift), so that adding update after update does not let
#   the numbers drift to huge or tiny values.
#
# We build them in that order of difficulty: LayerNorm, feed-forward, the
# residual connection in its two flavours, and the layer that wires them.

# %% [markdown]
# ## Setup

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import transformer_course as tc
from transformer_course import checks

# %% [markdown]
# Your parts travel: when a check passes, your code is saved in `my_parts/`,
# and `tc.parts.load` brings it back in a later notebook, with the reference
# standing in for a part not done. So the encoder layer below is built on
# *your* multi-head attention from notebook 03; the table says whose it is.

# %% tags=["nbval-ignore-output"]
MultiHeadAttention = tc.parts.load("MultiHeadAttention").MultiHeadAttention  # yours from notebook 03, if it passed

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.seed_everything(0)
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
print(f"running on: {device}")

# %% [markdown]
# ## LayerNorm
#
# For one token vector $x \in \mathbb{R}^{d_\text{model}}$ (the last axis of
# `x`), with $\gamma$ = `self.weight` and $\beta$ = `self.bias`, both of size
# `d_model`:
#
# $$\mu = \frac{1}{d_\text{model}}\sum_{i=1}^{d_\text{model}} x_i, \qquad
# \sigma^2 = \frac{1}{d_\text{model}}\sum_{i=1}^{d_\text{model}} (x_i - \mu)^2, \qquad
# \mathrm{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta .$$
#
# Every position of every sequence is normalised on its own, over its
# `d_model` numbers (not over the batch, as BatchNorm does, and not over the
# positions). $\sigma^2$ divides by $d_\text{model}$, not $d_\text{model}-1$:
# the *biased* variance, which is what `torch.nn.LayerNorm` computes. $\epsilon$
# = `self.eps` keeps a constant vector ($\sigma = 0$) from dividing by zero.
# $\gamma$ starts at 1 and $\beta$ at 0, and the model learns them, so it can
# undo the normalisation where that helps.

# %% [markdown]
# ### Exercise 1 · ★☆☆ · about 4 minutes: LayerNorm
#
# Write `forward`: `x` of shape `(..., d_model)` → the same shape.
#
# <details><summary>Hint</summary>
#
# `x.mean(dim=-1, keepdim=True)` and `x.var(dim=-1, keepdim=True, unbiased=False)`
# give `(..., 1)` tensors that broadcast against `x`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `torch.var` divides by `n - 1` by default (`unbiased=True`); LayerNorm needs
# `unbiased=False`. And $\epsilon$ goes *inside* the square root.
#
# </details>

# %%
class LayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis; var is the biased variance."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))  # gamma
        self.bias = nn.Parameter(torch.zeros(d_model))  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., d_model) -> (..., d_model)
        ### BEGIN SOLUTION
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
        ### END SOLUTION


# %%
LayerNorm = checks.block.check_layer_norm(LayerNorm)

# %% [markdown]
# What it does to three token vectors of very different scales: afterwards
# each has mean 0 and standard deviation 1 (γ = 1, β = 0 at the start). The
# third one, with a spread of only about 0.01, ends a little below 1: its
# variance (about $10^{-4}$) is not much larger than $\epsilon = 10^{-5}$.

# %%
x = torch.stack([torch.randn(8), 100 * torch.randn(8) + 50, 0.01 * torch.randn(8)])[None]  # (1, 3, 8)
y = LayerNorm(8)(x)


def numbers(t: torch.Tensor, decimals: int) -> str:
    """A tensor's values as plain decimals (no scientific notation, no '-0.00')."""
    return ", ".join(f"{round(v, decimals) + 0.0:.{decimals}f}" for v in t.flatten().tolist())


with torch.no_grad():
    print(f"before: mean {numbers(x.mean(-1), 2):>22}   std {numbers(x.std(-1, unbiased=False), 3)}")
    print(f"after:  mean {numbers(y.mean(-1), 2):>22}   std {numbers(y.std(-1, unbiased=False), 3)}")

# %% [markdown]
# ## The position-wise feed-forward network
#
# Two linear layers with a non-linearity between them, applied to each
# position separately and identically (`linear1` is $W_1, b_1$; `linear2` is
# $W_2, b_2$):
#
# $$\mathrm{FFN}(x) = W_2\,\mathrm{act}(W_1 x + b_1) + b_2, \qquad
# W_1 \in \mathbb{R}^{d_\text{ff} \times d_\text{model}},\;
# W_2 \in \mathbb{R}^{d_\text{model} \times d_\text{ff}},$$
#
# with act = ReLU in the paper (GELU in most later models) and
# $d_\text{ff} = 4\, d_\text{model}$ (2048 for 512). `nn.Linear` acts on the
# last axis, so applying it to `(B, L, d_model)` *is* "each position
# separately". The paper puts dropout on the hidden activations; we do too.

# %% [markdown]
# ### Exercise 2 · ★☆☆ · about 3 minutes: the feed-forward network
#
# Write `forward`: `(B, L, d_model)` → `(B, L, d_model)`,
# using `self.linear1`, `self.activation`, `self.dropout` and `self.linear2`.
#
# <details><summary>Hint</summary>
#
# One line, read inside out: linear1, then the activation, then dropout, then
# linear2. The shape in the middle is `(B, L, d_ff)`.
#
# </details>

# %%
class FeedForward(nn.Module):
    """FFN(x) = W_2 act(W_1 x + b_1) + b_2 on each position: (B, L, d_model) -> (B, L, d_model)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = {"relu": F.relu, "gelu": F.gelu}[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, L, d_model)
        ### END SOLUTION


# %%
FeedForward = checks.block.check_feed_forward(FeedForward)

# %% [markdown]
# "Position-wise" means exactly this: change the token at position 2 and only
# output 2 changes. (Attention, in contrast, would change every output.)

# %%
ff = FeedForward(d_model=8, d_ff=32).eval()
x = torch.randn(1, 5, 8)
x_changed = x.clone()
x_changed[0, 2] = torch.randn(8)
changed = (ff(x) - ff(x_changed)).abs().amax(dim=-1)  # (1, 5): largest change per position
print("largest change of each output position:", numbers(changed.detach(), 3))

# %% [markdown]
# ## The residual sub-layer connection: post-LN and pre-LN
#
# Every sub-layer (attention, feed-forward) is wrapped the same way. The
# paper writes
#
# $$\text{post-LN:}\quad x \leftarrow \mathrm{LayerNorm}\big(x + \mathrm{Dropout}(\mathrm{Sublayer}(x))\big),$$
#
# the LayerNorm *after* the sum, on the stream itself. Almost all code since
# about 2019 (GPT-2 onwards, and `torch.nn.TransformerEncoderLayer(norm_first=True)`)
# puts it *before* the sub-layer instead:
#
# $$\text{pre-LN:}\quad x \leftarrow x + \mathrm{Dropout}\big(\mathrm{Sublayer}(\mathrm{LayerNorm}(x))\big).$$
#
# In pre-LN the stream itself is never normalised: it is the embedding plus
# the sum of every update (the picture of notebook 01), and only a copy is
# normalised on its way into each sub-layer. That is why a pre-LN stack needs
# **one final LayerNorm** after its last layer; post-LN's last operation is
# already a LayerNorm. We measure the difference below.
#
# In code, `sublayer` is any function from `(B, L, d_model)` to the
# same shape; the caller passes e.g. `self.feed_forward`, or a `lambda` that
# calls attention with a mask.

# %% [markdown]
# ### Exercise 3 · ★★☆ · about 5 minutes: the residual connection, both ways
#
# Write `forward(x, sublayer)`: post-LN when `self.norm_first` is False, pre-LN
# when it is True, with `self.norm` and `self.dropout`.
#
# <details><summary>Hint</summary>
#
# Two `return` lines, one per formula. Copy them from the two equations
# above: `self.norm` is LayerNorm, `self.dropout` is Dropout, `sublayer(...)` is
# Sublayer.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# In pre-LN the `x` that is added is the *raw* `x`, not `self.norm(x)`:
# otherwise the stream would be normalised after all.
#
# </details>

# %%
class SublayerConnection(nn.Module):
    """post-LN: LayerNorm(x + Dropout(Sublayer(x)));  pre-LN (norm_first): x + Dropout(Sublayer(LayerNorm(x)))."""

    def __init__(self, d_model: int, dropout: float = 0.0, norm_first: bool = False):
        super().__init__()
        self.norm = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, sublayer) -> torch.Tensor:  # (B, L, d_model) -> (B, L, d_model)
        ### BEGIN SOLUTION
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))
        ### END SOLUTION


# %%
SublayerConnection = checks.block.check_sublayer_connection(SublayerConnection)

# %% [markdown]
# ## The encoder layer
#
# Two sub-layers, each in its own `SublayerConnection` (its own LayerNorm):
#
# $$x \leftarrow \mathrm{SublayerConnection}_1\big(x,\; y \mapsto \mathrm{MultiHead}(y, y, y, \texttt{mask})\big), \qquad
# x \leftarrow \mathrm{SublayerConnection}_2\big(x,\; \mathrm{FFN}\big).$$
#
# Self-attention means queries, keys and values all come from the same `x`.
# `mask` is the source padding mask, `(B, 1, 1, S)`, True = may
# attend (notebook 02): no position should read a padding token.

# %% [markdown]
# ### Exercise 4 · ★★☆ · about 5 minutes: the encoder layer
#
# Write `forward(x, mask)` with `self.self_attn`, `self.feed_forward`,
# `self.attn_sublayer` and `self.ff_sublayer`.
#
# <details><summary>Hint</summary>
#
# `self.attn_sublayer(x, sublayer)` needs a function of *one* argument, but
# attention takes query, key, value and mask: wrap it,
# `lambda y: self.self_attn(y, y, y, mask)`.
#
# </details>

# %%
class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each residual with its LayerNorm: (B, S, d_model) -> (B, S, d_model)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu"):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.attn_sublayer = SublayerConnection(d_model, dropout, norm_first)
        self.ff_sublayer = SublayerConnection(d_model, dropout, norm_first)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask))  # (B, S, d_model)
        return self.ff_sublayer(x, self.feed_forward)  # (B, S, d_model)
        ### END SOLUTION


# %%
EncoderLayer = checks.block.check_encoder_layer(EncoderLayer)

# %% [markdown]
# Where the parameters are, for the paper's sizes (`d_model=512`,
# `n_heads=8`, `d_ff=2048`): the feed-forward network holds two thirds.

# %%
layer = EncoderLayer(d_model=512, n_heads=8, d_ff=2048)
for name, part in [("self-attention", layer.self_attn), ("feed-forward", layer.feed_forward),
                   ("two LayerNorms", nn.ModuleList([layer.attn_sublayer, layer.ff_sublayer]))]:
    print(f"{name:15s} {sum(p.numel() for p in part.parameters()):>9,d} parameters")

# %% [markdown]
# ## Measured: the scale of the residual stream across depth
#
# Take 32 freshly initialised encoder layers and push random token vectors of
# RMS 1 through them, recording the root-mean-square of the stream,
# $\mathrm{RMS}(x) = \sqrt{\mathrm{mean}(x^2)}$, after each layer. Three
# variants: post-LN, pre-LN, and no LayerNorm at all (each `self.norm`
# replaced by the identity, leaving $x + \mathrm{Sublayer}(x)$).
#
# The layers are initialised as `tc.Transformer` initialises its weights:
# **Xavier-uniform** (Glorot and Bengio, 2010). Each weight of a matrix with
# `fan_in` inputs and `fan_out` outputs is drawn uniformly from
# $\pm\sqrt{6 / (\text{fan\_in} + \text{fan\_out})}$, a variance of
# $2 / (\text{fan\_in} + \text{fan\_out})$: for a square matrix exactly
# $1/\text{fan\_in}$, so multiplying by it keeps the scale of a vector (and of
# the gradient flowing back) about the same. PyTorch's default for `nn.Linear`
# draws smaller weights, which shrink each vector that passes:

# %%
vectors = torch.randn(1000, 64)  # RMS 1
for name, init in [("Xavier-uniform", nn.init.xavier_uniform_), ("nn.Linear's default", None)]:
    torch.manual_seed(0)
    linear = nn.Linear(64, 64, bias=False)
    if init is not None:
        init(linear.weight)
    with torch.no_grad():
        print(f"{name:20s}: RMS {vectors.pow(2).mean().sqrt():.2f} in -> {linear(vectors).pow(2).mean().sqrt():.2f} out")

# %%
def make_stack(kind: str, n_layers: int, d_model: int = 64, n_heads: int = 4, d_ff: int = 128, seed: int = 0):
    """n_layers fresh EncoderLayers: kind is 'post-LN', 'pre-LN' or 'no LayerNorm'."""
    torch.manual_seed(seed)
    layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, norm_first=(kind == "pre-LN"))
                           for _ in range(n_layers))
    for p in layers.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    if kind == "no LayerNorm":
        for layer in layers:
            layer.attn_sublayer.norm = nn.Identity()
            layer.ff_sublayer.norm = nn.Identity()
    return layers.to(device)


# %% tags=["nbval-ignore-output"]
KINDS = ["no LayerNorm", "post-LN", "pre-LN"]
x0 = torch.randn(4, 8, 64, generator=torch.Generator().manual_seed(1)).to(device)  # (B, L, d_model)
rms = {}
with torch.no_grad():
    for kind in KINDS:
        x, rms[kind] = x0, [x0.pow(2).mean().sqrt().item()]
        for layer in make_stack(kind, n_layers=32):
            x = layer(x)
            rms[kind].append(x.pow(2).mean().sqrt().item())
for kind, values in rms.items():
    print(f"{kind:>12}: RMS of the stream after 32 layers = {values[-1]:,.1f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for kind, color in zip(KINDS, ["tab:red", "tab:blue", "tab:green"]):
    ax.plot(rms[kind], label=kind, color=color, marker=".")
ax.set_yscale("log")
ax.set_xlabel("layer (0 = the input)")
ax.set_ylabel("RMS of the residual stream (log scale)")
ax.set_title("Scale of the stream through 32 fresh encoder layers")
ax.legend()
plt.show()

# %% [markdown]
# What it means:
#
# - **No LayerNorm**: each layer adds an update comparable to the stream
#   itself, so the scale multiplies layer after layer: by layer 32 it is
#   millions of times the input. Softmax scores computed from such vectors
#   saturate, and gradients explode or vanish.
# - **Post-LN** sets the stream back to RMS 1 after every sub-layer: a flat
#   line, by construction.
# - **Pre-LN** lets the stream grow, but slowly (roughly like the square root of
#   the depth): each sub-layer reads a normalised copy, so its update has a
#   bounded size, and only a sum of such updates accumulates. This is also
#   why pre-LN needs the final LayerNorm: the last layer's output is not
#   normalised.

# %% [markdown]
# ## Measured: where the gradient goes, post-LN vs pre-LN
#
# Why did almost everyone switch to pre-LN? Put an unembedding (into a
# vocabulary of 10 tokens) and a cross-entropy loss on top of a 12-layer stack, backpropagate once at
# initialisation, and look at the gradient of each layer's `linear2` weight
# (averaged over 3 random initialisations). Pre-LN gets its final LayerNorm.

# %%
def ffn_gradients(kind: str, n_layers: int = 12, seeds: int = 3) -> torch.Tensor:
    """Norm of d loss / d linear2.weight for each layer at initialisation, averaged over seeds: (n_layers,)."""
    norms = []
    for seed in range(seeds):
        layers = make_stack(kind, n_layers, seed=seed)
        final_norm = LayerNorm(64).to(device) if kind == "pre-LN" else nn.Identity()
        unembed = nn.Linear(64, 10).to(device)  # W_U: d_model -> V = 10 logits
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(4, 8, 64, generator=gen).to(device)  # (B, L, d_model)
        labels = torch.randint(0, 10, (4, 8), generator=gen).to(device)
        for layer in layers:
            x = layer(x)
        F.cross_entropy(unembed(final_norm(x)).flatten(0, 1), labels.flatten()).backward()
        norms.append(torch.stack([layer.feed_forward.linear2.weight.grad.norm() for layer in layers]))
    return torch.stack(norms).mean(dim=0).cpu()


grads = {kind: ffn_gradients(kind) for kind in ["post-LN", "pre-LN"]}
for kind, g in grads.items():
    print(f"{kind}: gradient norm {g[0]:.2f} at layer 1 (nearest the input), {g[-1]:.2f} at layer {len(g)} (nearest the output)")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for kind, color in [("post-LN", "tab:blue"), ("pre-LN", "tab:green")]:
    ax.plot(range(1, len(grads[kind]) + 1), grads[kind], label=kind, color=color, marker="o")
ax.set_xlabel("layer")
ax.set_ylabel("gradient norm of linear2.weight")
ax.set_ylim(bottom=0)
ax.set_title("Gradients at initialisation, 12 layers")
ax.set_xticks(range(1, len(grads["pre-LN"]) + 1))
ax.legend()
plt.show()

# %%
post, pre = grads["post-LN"], grads["pre-LN"]
print(f"post-LN: {post[0]:.2f} at layer 1 -> {post[-1]:.2f} at layer {len(post)} "
      f"({'grows' if post[-1] > post[0] else 'shrinks'} towards the output)")
print(f"pre-LN:  {pre[0]:.2f} at layer 1 -> {pre[-1]:.2f} at layer {len(pre)} "
      f"({'grows' if pre[-1] > pre[0] else 'shrinks'} towards the output)")
print(f"at the top layer post-LN gets {post[-1] / pre[-1]:.1f} times pre-LN's gradient")

# %% [markdown]
# What it means. At initialisation the two wirings spread the gradient in
# opposite directions. In **post-LN** it *grows* towards the output; in
# **pre-LN** it *shrinks* towards the output, so post-LN's top layers get
# several times the gradient of pre-LN's (the three lines just printed). In pre-LN the untouched
# identity path of the residual stream carries the gradient from the loss to
# every layer; in post-LN it must pass through every LayerNorm above.
#
# What this plot does *not* show is a training run. Xiong et al. (2020, *On
# Layer Normalization in the Transformer Architecture*) prove that post-LN's
# gradient near the output does not shrink as the stack gets deeper while
# pre-LN's does, and they report that post-LN transformers trained at the full
# learning rate from the first step train badly or diverge, the large early
# steps of the top layers being the cause they give. The paper's cure is the
# **learning-rate warm-up**: start tiny and ramp up over the first few thousand
# steps (notebook 06 and notebook 07 use one). Pre-LN models are reported to
# train stably with little or no warm-up; that robustness is why GPT-2 and
# almost every model since use pre-LN, at the price of the final LayerNorm
# (and, some report, slightly worse results than a well-tuned post-LN). The
# paper's diagram is post-LN; your code today will usually be pre-LN.
# `SublayerConnection(norm_first=...)` has both.

# %% [markdown]
# ## Why two LayerNorms? Do we need them? Do we need the feed-forward network?
#
# **Why two?** One per sub-layer: every time something is added to the
# stream, its scale changes, so the paper normalises after each addition (and
# pre-LN normalises before each sub-layer reads). Each has its own learned
# $\gamma, \beta$, because attention and the feed-forward network want their
# input scaled differently.
#
# **Do we need them?** The first plot is the answer for a deep stack: without
# them the stream's scale runs away within a few layers at initialisation,
# and training becomes fragile or fails. A *shallow* model can train without
# LayerNorm with careful initialisation and a small learning rate, and there
# are designs that replace it (RMSNorm, used by LLaMA, drops the mean and
# $\beta$), but something must control the scale.
#
# **Do we need the feed-forward network?** Attention outputs are weighted
# averages of (linearly projected) value vectors: it *moves* information but
# does little computation on it. The FFN is where each position transforms what
# it gathered, non-linearly, and it holds two thirds of the parameters
# (printed above); work on interpretability finds it stores much of a model's
# knowledge, as key-value memories. Without it, a stack is attention plus
# linear maps: apart from the softmax that makes the weights, nothing in it is
# non-linear.
#
# **Answered by measurement in notebook 08.** Everything above is about a
# fresh, untrained stack. Whether the *trained* translator of notebook 07
# misses LayerNorm or the feed-forward network is a question for an
# experiment, and notebook 08 runs it: each part taken out, the translator
# trained over three seeds at one, two and six layers, with the loss curves
# in its figure "Where a part matters" and the verdicts in its tables. Make
# your own prediction there before you look.
# Notebook 11 asks the feed-forward question once more, on English -> German
# sentences, where each word has something to know (a noun's gender, a
# verb's forms), and measures the answer there too.

# %% [markdown]
# ## Check your understanding
#
# 1. `x` has shape `(B, L, d_model)`. Over which axis does LayerNorm
#    compute its mean and variance, and how many means does it compute?
#
#    <details><summary>Answer</summary>
#
#    Over the last axis, `d_model`: one mean and one variance per position of
#    every sequence, `B * L` of each. Positions and sequences never
#    mix.
#
#    </details>
#
# 2. Why does LayerNorm need $\gamma$ and $\beta$ if it has just made the mean 0
#    and the variance 1?
#
#    <details><summary>Answer</summary>
#
#    So the model can choose the scale and offset each feature should have
#    (even undo the normalisation). Normalising removes the uncontrolled drift;
#    $\gamma$ and $\beta$ give back a *learned* scale.
#
#    </details>
#
# 3. Write post-LN and pre-LN as formulas. Which one needs a LayerNorm after
#    the last layer, and why?
#
#    <details><summary>Answer</summary>
#
#    Post-LN: $\mathrm{LayerNorm}(x + \mathrm{Sublayer}(x))$. Pre-LN:
#    $x + \mathrm{Sublayer}(\mathrm{LayerNorm}(x))$. Pre-LN needs the final
#    LayerNorm, because its stream is a growing sum that is never normalised
#    itself.
#
#    </details>
#
# 4. You change the token at position 3 of an input. Which outputs of the
#    feed-forward network change? Which outputs of a whole encoder layer?
#
#    <details><summary>Answer</summary>
#
#    Of the FFN: only position 3. Of the encoder layer: all of them (unless
#    masked), because self-attention lets every position read position 3.
#
#    </details>
#
# 5. Why did the paper need a learning-rate warm-up, and why can pre-LN models
#    often do with less?
#
#    <details><summary>Answer</summary>
#
#    In post-LN the layers near the output get the largest gradients at
#    initialisation (measured above), and Xiong et al. (2020) found that
#    full-size steps early on then make training unstable or diverge; a
#    warm-up keeps the first steps small. In pre-LN the residual path carries
#    the gradient to every layer, the gradients near the output are smaller
#    (measured above), and training is reported to be stable with a short
#    warm-up or none.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - **LayerNorm** normalises each token vector over its `d_model` numbers
#   (biased variance, $\epsilon$ inside the root), then scales by $\gamma$ and
#   shifts by $\beta$.
# - **The feed-forward network** $W_2\,\mathrm{act}(W_1 x + b_1) + b_2$
#   transforms each position on its own and holds most of a layer's parameters.
# - **The residual connection** adds each sub-layer's output to the stream;
#   **post-LN** (the paper) normalises the sum, **pre-LN** (modern code)
#   normalises the sub-layer's input and needs a final LayerNorm.
# - Without normalisation the stream's scale explodes with depth; post-LN
#   pins it at 1, pre-LN lets it grow slowly. At initialisation post-LN's
#   gradients are largest near the output and pre-LN's smallest there; the
#   warm-up the paper needs is the usual remedy for post-LN.
# - **The encoder layer** = self-attention sub-layer, then feed-forward
#   sub-layer. Stack $N$ of them and you have the encoder.
#
# Next: **06 · encoder and decoder**, where the decoder layer adds masked
# self-attention and cross-attention, and the whole model trains on a toy task.
