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
# # 04 · Positional encoding
#
# **Attention alone cannot tell word order, so a position signal is added to
# each embedding.**
#
# First we prove the problem with an experiment: shuffle a sentence, and
# attention's output is merely shuffled the same way. Then we build the fix the
# paper uses, a fixed pattern of sines and cosines, look at why it is a clever
# choice, and compare it with the simple alternative, a learned table.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where it sits
#
# The position signal is added **once**, to the token embeddings, before the
# first block. From then on it travels in the residual stream with everything
# else.
#
# ```mermaid
# flowchart LR
#     tok["token ids<br/>(B, L)"] --> emb["embedding<br/>(B, L, d_model)"]
#     emb --> add(("+"))
#     pe["positional encoding<br/>(L, d_model)"] --> add
#     add --> blocks["N blocks:<br/>attention + feed-forward"] --> out["unembedding<br/>-> probabilities"]
# ```

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/04_positional_encoding.png" alt="token ids -> embedding -> + positional encoding -> N blocks -> unembedding" width="700">
#
# </details>

# %% [markdown]
# ## Setup

# %%
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch import nn

import transformer_course as tc
from transformer_course import checks
from transformer_course.live import LiveOrPicture  # a widget that is also a picture (see the explorer below)

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
tc.seed_everything(0)
print(f"running on: {device}")

# %% [markdown]
# ## Intuition: attention sees a bag of words
#
# Look again at what attention computes for position $t$: a softmax over the
# scores $q_t \cdot k_j$ and a weighted sum of the values $v_j$, over all $j$.
# Nothing in it says *where* $j$ is. The sum runs over a set; reorder the set and
# every term is the same. So "the dog bites the old man" and "the man bites the
# old dog" give "dog" **exactly** the same output vector, even though one dog
# is biting and the other is being bitten.
#
# Precisely: if $P$ shuffles the positions of the input, then
# $\text{Attention}(P X) = P\, \text{Attention}(X)$. Shuffling the input only
# shuffles the output. A function with this property is called
# **permutation-equivariant**, and it is the first thing to test.

# %% [markdown]
# ## Exercise 1 · ★★☆ · about 5 minutes: a permutation test
#
# Write `permutation_gap(f, x, perm)`, which measures how far a function `f` of a
# sequence is from being permutation-equivariant:
#
# $$\text{gap} = \max \left| f(x_{[:, \text{perm}]}) - f(x)_{[:, \text{perm}]} \right|$$
#
# `x` is `(B, L, d_model)`; `perm` is a reordering of the positions
# `0..L-1` (a tensor of indices); `f` maps a sequence to a sequence of the
# same length. Shuffle the **positions** of the input and run `f`; run `f` and
# shuffle the positions of its output the same way; return the largest absolute
# difference as one number (a 0-d tensor). A gap of 0 (up to float rounding,
# about $10^{-7}$) means `f` cannot tell the order.
#
# <details><summary>Hint</summary>
#
# `x[:, perm]` reorders axis 1 (the positions) and keeps the batch and feature
# axes. Reduce the difference with `.abs().max()`.
#
# </details>

# %%
def permutation_gap(f, x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """max |f(x shuffled) - f(x) shuffled|, shuffling positions (axis 1) of x (B, L, d_model) by perm."""
    ### BEGIN SOLUTION
    return (f(x[:, perm]) - f(x)[:, perm]).abs().max()
    ### END SOLUTION


# %%
permutation_gap = checks.positional.check_permutation_gap(permutation_gap)

# %% [markdown]
# ### The experiment
#
# A 6-word sentence, random embeddings (`d_model = 16`), and a multi-head
# self-attention layer from notebook 03 (`tc.MultiHeadAttention`). The
# permutation swaps "dog" and "man".

# %%
words = "the dog bites the old man".split()
vocab = sorted(set(words))
tokens = torch.tensor([[vocab.index(w) for w in words]])  # (B=1, L=6)
perm = torch.tensor([0, 5, 2, 3, 4, 1])  # swap positions 1 and 5
print(" ".join(words[i] for i in perm))

d_model, n_heads = 16, 4
embed = tc.Embedding(len(vocab), d_model).to(device)
attention = tc.MultiHeadAttention(d_model, n_heads).to(device).eval()
pe = tc.sinusoidal_encoding(32, d_model).to(device)  # (32, d_model), built later in this notebook


def attend(x):
    """Self-attention of x (B, L, d_model): every position looks at every other."""
    return attention(x, x, x)


def attend_with_positions(x):
    """The same, after adding each position's encoding to x."""
    x = x + pe[: x.shape[1]]
    return attention(x, x, x)


# %%
x = embed(tokens.to(device))  # (1, 6, 16)
with torch.no_grad():
    print(f"gap without positions: {permutation_gap(attend, x, perm.to(device)):.1e}")
    print(f"gap with positions:    {permutation_gap(attend_with_positions, x, perm.to(device)):.1e}")

# %% [markdown]
# Without position information the gap is float rounding: attention is
# permutation-equivariant. With the encoding added, it is of the order of the
# outputs themselves. Here is the same thing as a picture: each panel is the
# output for the shuffled sentence, one row per word, one column per feature.

# %%
with torch.no_grad():
    rows = []
    for f in (attend, attend_with_positions):
        shuffled_then_f = f(x[:, perm])[0].cpu()  # (L, d_model)
        f_then_shuffled = f(x)[0, perm].cpu()
        rows.append((shuffled_then_f, f_then_shuffled, (shuffled_then_f - f_then_shuffled).abs()))

shuffled_words = [words[i] for i in perm]
titles = ["f(shuffled sentence)", "f(sentence), then shuffled", "|difference|"]
fig, axes = plt.subplots(2, 3, figsize=(14, 5.5), constrained_layout=True)
for r, (row, label) in enumerate(zip(rows, ["without positional encoding", "with positional encoding"])):
    for c, panel in enumerate(row):
        ax = axes[r, c]
        if c < 2:
            image = ax.imshow(panel, cmap="RdBu_r", vmin=-1.5, vmax=1.5, aspect="auto")
        else:
            image = ax.imshow(panel, cmap="magma", vmin=0, vmax=0.5, aspect="auto")
        if c > 0:  # one colour scale for the two outputs, one for their difference
            fig.colorbar(image, ax=axes[r, :2] if c == 1 else ax, label="value" if c == 1 else "|difference|")
        ax.set_title(f"{label}\n{titles[c]}", fontsize=10)
        ax.set_yticks(range(len(words)), shuffled_words)
        ax.set_xlabel("feature")
plt.show()
moved = [i for i, j in enumerate(perm.tolist()) if i != j]
print("positions whose word moved:", moved, "| |difference| per row, with positions:",
      " ".join(f"{d:.2f}" for d in rows[1][2].max(dim=1).values.tolist()))

# %% [markdown]
# Top row: the first two panels are identical and the difference is black.
# The "dog" row is the same vector whether the dog bites or is bitten; the
# model *cannot* know. Bottom row: with positions added, the outputs differ,
# and on **every** row, also for a word that stayed where it was (the
# printed line above lists the positions whose word moved, and each row's
# largest difference). That is attention at work: each output is a weighted
# average over *all* positions, and the weights depend on the positions of
# the others too, so when some words move, every word's output changes.
# (The feed-forward network, notebook 05, works on each position alone, so it
# cannot restore the order either. A whole stack of blocks without positions is
# still blind to order.)

# %% [markdown]
# ## The fix: add a vector that says "I am at position $t$"
#
# Give each position $t$ a vector $p_t$ of width `d_model` and add it to the
# token's embedding: $x_t \leftarrow x_t + p_t$. Now "dog at position 1" and
# "dog at position 5" are different vectors, and attention's queries and keys
# can depend on where a word is.
#
# What should $p_t$ be? Simple ideas fall short:
#
# - **the number $t$ itself** (in every feature): grows without bound, drowns
#   the token's meaning for long sequences, and sequences longer than in
#   training produce values never seen;
# - **$t$ / seq_len**: a step of one word means something different in a short
#   and a long sentence;
# - **one-hot**: needs one feature per possible position.
#
# The paper's answer: a set of **sines and cosines of different frequencies**,
# like the hands of many clocks turning at different speeds. Each value stays
# in $[-1, 1]$, every position gets a different pattern, and, as we will see,
# moving by $k$ positions is the same simple operation (a rotation) wherever
# you start.

# %% [markdown]
# ## The math, tied to the code
#
# For position `pos` (0, 1, 2, ...) and dimension pair `i` (0, 1, ...,
# `d_model/2 - 1`):
#
# $$PE_{(\text{pos},\, 2i)} = \sin\!\left(\frac{\text{pos}}{10000^{2i/d_\text{model}}}\right), \qquad
#   PE_{(\text{pos},\, 2i+1)} = \cos\!\left(\frac{\text{pos}}{10000^{2i/d_\text{model}}}\right)$$
#
# - even dimensions `2i` hold sines, odd dimensions `2i+1` cosines: **interleaved**
#   (`pe[:, 0::2]` and `pe[:, 1::2]`), and a sine and its cosine partner share one
#   frequency $\omega_i = 1 / 10000^{2i/d_\text{model}}$;
# - the exponent is $2i/d_\text{model}$, running from 0 to almost 1, so the
#   wavelengths $2\pi / \omega_i$ grow geometrically from $2\pi \approx 6$
#   positions (pair 0) to about $2\pi \cdot 10000$ (the last pair);
# - positions start at **0**: row 0 is $\sin 0 = 0$, $\cos 0 = 1$, alternating.

# %% [markdown]
# ## Exercise 2 · ★★☆ · about 8 minutes: the sinusoidal encoding
#
# Write `sinusoidal_encoding(max_len, d_model)` returning the `(max_len, d_model)`
# float32 tensor `PE` above (`d_model` is even).
#
# <details><summary>Hint</summary>
#
# Build the pieces as columns and rows and let broadcasting do the rest:
# `position = torch.arange(max_len).float()[:, None]` is `(max_len, 1)`;
# `two_i = torch.arange(0, d_model, 2).float()` is `(d_model/2,)` and holds
# $2i$; `angle = position / 10000 ** (two_i / d_model)` is `(max_len, d_model/2)`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# Start from `pe = torch.zeros(max_len, d_model)` and fill the even columns with
# `pe[:, 0::2] = torch.sin(angle)` and the odd columns with the cosine.
# `torch.cat([sin, cos], dim=-1)` would put all sines first: not the paper's layout.
#
# </details>

# %%
def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same)."""
    ### BEGIN SOLUTION
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (d_model/2,): 0, 2, 4, ...
    angle = position / 10000 ** (two_i / d_model)  # (max_len, d_model/2)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angle)  # even dimensions
    pe[:, 1::2] = torch.cos(angle)  # odd dimensions
    return pe
    ### END SOLUTION


# %%
sinusoidal_encoding = checks.positional.check_sinusoidal_encoding(sinusoidal_encoding)

# %% [markdown]
# ## Picture: the encoding as a position x depth map
#
# One row per position, one column per dimension. Left columns (small $i$)
# change fast from row to row; right columns change so slowly that they look
# constant over 100 positions.

# %%
max_len, d_model = 100, 64
PE = sinusoidal_encoding(max_len, d_model)  # (100, 64)

fig, ax = plt.subplots(figsize=(9, 5))
image = ax.imshow(PE, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
ax.set_xlabel("dimension (even = sin, odd = cos; pair i = dimensions 2i, 2i+1)")
ax.set_ylabel("position")
ax.set_title(f"sinusoidal positional encoding, d_model={d_model}")
fig.colorbar(image, ax=ax)
plt.show()

# %% [markdown]
# Read a row as the position's "barcode". Like the digits of a number, where
# the last digit changes every step and the first only every thousand steps,
# the fast pairs tell neighbours apart and the slow pairs tell far-apart
# positions apart.
#
# The alternating stripes on the right are the slow pairs. Their frequency
# $\omega_i$ is so small that over 100 positions the angle $\omega_i \text{pos}$
# stays close to 0, so the sine (even column) stays close to $\sin 0 = 0$
# (white) and the cosine (odd column) close to $\cos 0 = 1$ (dark red): white,
# red, white, red. Measured on the last four columns:

# %%
for dim in range(d_model - 4, d_model):
    kind = "sin" if dim % 2 == 0 else "cos"
    print(f"dimension {dim} ({kind}): from {PE[:, dim].min():.3f} to {PE[:, dim].max():.3f} over {max_len} positions")

# %% [markdown]
# ## Explore: one pair of dimensions is a clock hand
#
# Pair $i$ is $(\sin \omega_i \text{pos}, \cos \omega_i \text{pos})$: as `pos`
# grows, that point walks around the unit circle, one step of angle
# $\omega_i$ per position. `show_pair` draws both curves against the position
# and the point on its circle.

# %%
def pair_figure(i: int = 0, n_positions: int = 50, d_model: int = 64):
    """A figure of dimensions 2i (sin) and 2i+1 (cos) of the encoding over n_positions positions, and as a point on a circle."""
    pe = sinusoidal_encoding(n_positions, d_model)
    wavelength = 2 * math.pi * 10000 ** (2 * i / d_model)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [2.2, 1]},
                                      constrained_layout=True)
    left.plot(pe[:, 2 * i], ".-", label=f"dimension {2 * i} (sin)")
    left.plot(pe[:, 2 * i + 1], ".-", label=f"dimension {2 * i + 1} (cos)")
    left.set_xlabel("position")
    left.set_ylim(-1.15, 1.15)
    left.legend(loc="lower left")
    left.set_title(f"pair i={i}: wavelength 2π·10000^(2i/d_model) = {wavelength:.1f} positions")
    points = right.scatter(pe[:, 2 * i + 1], pe[:, 2 * i], c=range(n_positions), cmap="viridis", s=18)
    right.set_aspect("equal")
    right.set_xlim(-1.2, 1.2)
    right.set_ylim(-1.2, 1.2)
    right.set_xlabel("cos")
    right.set_ylabel("sin")
    right.set_title("the pair as a point on a circle")
    fig.colorbar(points, ax=right, label="position")
    return fig


def show_pair(i: int = 0, n_positions: int = 50, d_model: int = 64):
    """Draw pair_figure(i, n_positions, d_model)."""
    pair_figure(i, n_positions, d_model)
    plt.show()


# %% [markdown]
# Pair 0 turns one radian per position (a full turn every 6.3 positions); pair
# 4 is about three times slower (a turn every 19.9 positions). Below, two
# sliders redraw the figure for any pair `i` and any number of positions. Try
# the last pair, `i = 31`: over 50 positions it barely moves. (In a viewer that
# cannot run widgets, such as a notebook shown on GitHub, you see a picture of
# pair 4 instead.)
#
# How one output can be both: `LiveOrPicture` (in `transformer_course.live`,
# imported in the setup) hands Jupyter the widget *and* a PNG of its first
# figure, and each viewer shows the one it can. JupyterLab, Notebook 7 and VS
# Code prefer the live widget; a viewer without widgets falls back to the
# picture.

# %%
pair = widgets.IntSlider(value=4, min=0, max=31, description="pair i")
length = widgets.IntSlider(value=50, min=10, max=200, step=10, description="positions")
explorer = widgets.Output()


def redraw(change=None):
    """Draw show_pair for the sliders' values into the explorer's output area, replacing the last figure."""
    with explorer:
        explorer.clear_output(wait=True)
        show_pair(pair.value, length.value)


pair.observe(redraw, names="value")
length.observe(redraw, names="value")
redraw()  # the first figure, inside the explorer
display(LiveOrPicture(widgets.VBox([widgets.HBox([pair, length]), explorer]), pair_figure(pair.value, length.value)))

# %% [markdown]
# ## Picture: which positions look alike?
#
# How similar are the encodings of two positions? Take dot products of every
# row of `PE` with every row: `PE @ PE.T` is `(max_len, max_len)`. Since
# $\sin a \sin b + \cos a \cos b = \cos(a - b)$,
#
# $$PE_\text{pos} \cdot PE_{\text{pos}'} = \sum_i \cos\big(\omega_i (\text{pos} - \text{pos}')\big),$$
#
# which depends only on the **offset** $\text{pos} - \text{pos}'$, not on where
# you are.

# %%
similarity = PE @ PE.T  # (max_len, max_len)

fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.4]},
                                  constrained_layout=True)
image = left.imshow(similarity, cmap="viridis")
left.set_xlabel("position")
left.set_ylabel("position")
left.set_title("PE @ PE.T: dot products of the encodings")
fig.colorbar(image, ax=left)
offsets = torch.arange(-40, 41)
for pos, width, style in ((40, 5, "-"), (50, 3, "--"), (59, 1.5, ":")):
    right.plot(offsets, similarity[pos, pos + offsets], style, lw=width, label=f"from position {pos}")
right.set_xlabel("offset to the other position")
right.set_ylabel("dot product")
right.set_title("one row of the map, centred on its position")
right.legend()
plt.show()

# %% [markdown]
# The map is a band along the diagonal: every position is most similar to
# itself (the dot product is `d_model / 2 = 32` there), then to its
# neighbours, and the similarity falls off with distance (the slow pairs, nearly
# constant over 100 positions, keep it from reaching 0). On the right the three
# curves lie exactly on top of each other: the encoding's notion of "near" is
# the same everywhere in the sequence.

# %% [markdown]
# ### Moving by $k$ positions is a rotation
#
# The reason the paper picks sine **and** cosine: for each pair, going from
# position `pos` to `pos + k` rotates the point $(\sin, \cos)$ by the angle
# $\omega_i k$, whatever `pos` is:
#
# $$\begin{pmatrix} \sin \omega(\text{pos}+k) \\ \cos \omega(\text{pos}+k) \end{pmatrix} =
#   \begin{pmatrix} \cos \omega k & \sin \omega k \\ -\sin \omega k & \cos \omega k \end{pmatrix}
#   \begin{pmatrix} \sin \omega\, \text{pos} \\ \cos \omega\, \text{pos} \end{pmatrix}$$
#
# So one fixed matrix `M_k` (a rotation per pair) maps every encoding to the
# encoding $k$ positions later. A linear layer such as $W_Q$ or $W_K$ can
# therefore learn "look $k$ positions back" once, for all positions. Let us
# check it for $k = 3$:

# %%
k = 3
omega = 1 / 10000 ** (torch.arange(0, d_model, 2).float() / d_model)  # (d_model/2,) frequency of pair i
M_k = torch.zeros(d_model, d_model)
for i, w in enumerate(omega * k):  # one 2x2 rotation block per pair
    M_k[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[w.cos(), w.sin()], [-w.sin(), w.cos()]])

shifted = PE[:-k] @ M_k.T  # every position's encoding, rotated by M_k
print(f"max |PE[pos + 3] - M_3 PE[pos]| over all positions: {(shifted - PE[k:]).abs().max():.1e}")

# %% [markdown]
# ## Adding it to the embeddings
#
# `tc.SinusoidalPositionalEncoding(d_model, max_len)` is the module: it builds
# the table once (a buffer, not a trained parameter) and adds its first
# `L` rows to its input. The paper also multiplies the token embeddings by
# $\sqrt{d_\text{model}}$ first (`tc.Embedding` does), so that the token's
# identity is not drowned by the encoding, whose entries are at most 1.

# %%
positions = tc.SinusoidalPositionalEncoding(d_model=16, max_len=32).to(device)
with torch.no_grad():
    x_with_positions = positions(x)  # x: the embedded sentence from above, (1, 6, 16)
    print("embedding std:", f"{x.std():.2f}", "| encoding std:", f"{positions.pe[:6].std():.2f}")
    print("added row t of the table to position t:", torch.allclose(x_with_positions - x, positions.pe[:6], atol=1e-5))

# %% [markdown]
# ## Exercise 3 · ★☆☆ · about 4 minutes: a learned positional embedding
#
# The simple alternative, used by BERT and GPT-2: a table with one **trained**
# vector per position, `nn.Embedding(max_len, d_model)`. `__init__` is given;
# write `forward(x)` for `x` of shape `(B, L, d_model)`: add row $t$ of
# the table to every batch element's position $t$, then apply `self.dropout`
# (the paper applies dropout to the sum).
#
# <details><summary>Hint</summary>
#
# `positions = torch.arange(x.shape[1], device=x.device)` are the indices
# 0..L-1; `self.embedding(positions)` is `(L, d_model)`, and adding it to `x`
# broadcasts over the batch.
#
# </details>

# %%
class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position to x (B, L, d_model), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Embedding(max_len, d_model)  # row t: the vector of position t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        positions = torch.arange(x.shape[1], device=x.device)  # (L,)
        return self.dropout(x + self.embedding(positions))  # (B, L, d_model)
        ### END SOLUTION


# %%
LearnedPositionalEmbedding = checks.positional.check_learned_positional_embedding(LearnedPositionalEmbedding)

# %% [markdown]
# ### What does a learned table learn? And what happens without one?
#
# A tiny model (embedding, learned positions, one multi-head attention layer,
# the unembedding `unembed` into the vocabulary) is trained for a few seconds on a task that needs
# positions: at every position, output the **previous** token. Attention can
# only solve it if position $t$ can find position $t - 1$. We train it twice,
# from the same seed: once with the learned positions, once without any
# position signal.

# %%
vocab_size, seq_len, d_model = 12, 16, 32


class PreviousTokenModel(nn.Module):
    """tokens (B, L) -> logits (B, L, V): embedding, learned positions (or none), one attention layer, unembedding."""

    def __init__(self, with_positions: bool = True):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = LearnedPositionalEmbedding(d_model, max_len=seq_len) if with_positions else nn.Identity()
        self.attention = tc.MultiHeadAttention(d_model, n_heads=2)
        self.unembed = nn.Linear(d_model, vocab_size)

    def forward(self, tokens):
        x = self.positions(self.embed(tokens))  # (B, L, d_model)
        return self.unembed(x + self.attention(x, x, x))  # residual, then the unembedding


def train_previous_token(with_positions: bool, steps: int = 300) -> PreviousTokenModel:
    """A PreviousTokenModel trained for `steps` steps from seed 0; prints the loss every 100 steps."""
    tc.seed_everything(0)
    model = PreviousTokenModel(with_positions).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        tokens = torch.randint(vocab_size, (64, seq_len)).to(device)
        logits = model(tokens)[:, 1:]  # position 0 has no previous token
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab_size), tokens[:, :-1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:3d}: loss {loss.item():.4f}")
    return model


test_tokens = torch.randint(vocab_size, (1000, seq_len), generator=torch.Generator().manual_seed(1))  # (1000, L)


def previous_token_accuracy(predicted: torch.Tensor) -> float:
    """The fraction of positions 1..L-1 of the test sequences where `predicted` (1000, L - 1) is the previous token."""
    return (predicted.cpu() == test_tokens[:, :-1]).float().mean().item()


def model_predictions(model: PreviousTokenModel) -> torch.Tensor:
    """The model's guess of the previous token at positions 1..L-1 of the test sequences: (1000, L - 1)."""
    with torch.no_grad():
        return model(test_tokens.to(device))[:, 1:].argmax(dim=-1)


# %% tags=["nbval-ignore-output"]
print("with learned positions")
model = train_previous_token(with_positions=True)
print("without positions")
model_without = train_previous_token(with_positions=False)

# %% [markdown]
# How often is the previous token right, on 1000 new sequences? Two baselines
# that need no positions: a blind guess (one of 12 tokens), and a bet on the
# token that occurs most often in the sequence (position-blind, but it uses
# which tokens are there).

# %%
counts = nn.functional.one_hot(test_tokens, vocab_size).sum(dim=1)  # (1000, V): how often each token occurs
most_frequent = counts.argmax(dim=-1)[:, None].expand(-1, seq_len - 1)  # (1000, L - 1)
print(f"with learned positions:             {previous_token_accuracy(model_predictions(model)):.1%}")
print(f"without positions:                  {previous_token_accuracy(model_predictions(model_without)):.1%}")
print(f"bet on the most frequent token:     {previous_token_accuracy(most_frequent):.1%}")
print(f"blind guess:                        {1 / vocab_size:.1%}")

# %% [markdown]
# Without positions the model fails: its loss stalls, and it is right about as
# often as the bet on the sequence's most frequent token. That is all a
# position-blind model can do here: attention can gather *which* tokens are in
# the sequence, but it is permutation-equivariant (exercise 1), so position $t$
# cannot tell which of them came just before it. With the learned table the
# model gets every one right. Here is what it learned:

# %%
def cosine_similarity(table):
    """(n, d) -> (n, n): cosine of the angle between every pair of rows."""
    unit = nn.functional.normalize(table, dim=-1)
    return unit @ unit.T


learned_table = model.positions.embedding.weight.detach().cpu()
tc.seed_everything(0)  # the same seed builds the same initial weights: the table before training
initial_table = PreviousTokenModel(with_positions=True).positions.embedding.weight.detach()
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
image = axes[0].imshow(learned_table, cmap="RdBu_r", aspect="auto", vmin=-3, vmax=3)
axes[0].set(title="learned table after training", xlabel="dimension", ylabel="position")
fig.colorbar(image, ax=axes[0], label="weight")
image = axes[1].imshow(cosine_similarity(learned_table), cmap="RdBu_r", vmin=-1, vmax=1)
axes[1].set(title="cosine similarity of its rows", xlabel="position", ylabel="position")
fig.colorbar(image, ax=axes[1], label="cosine similarity")
image = axes[2].imshow(model.attention.attn_weights[:, 0].mean(0).cpu(), cmap="Blues", vmin=0, vmax=1)
axes[2].set(title="head 0's attention after training", xlabel="key position", ylabel="query position")
fig.colorbar(image, ax=axes[2], label="attention weight")
plt.show()
print(f"how much the table moved in training: {(learned_table - initial_table).norm() / initial_table.norm():.0%}")

# %% [markdown]
# The task is learned (the loss falls close to 0), and the attention map on the
# right is the diagonal shifted by one: every position looks at the one before.
# Yet the table itself still looks like noise, and its rows are nearly
# orthogonal (the similarity map is almost the identity): for 16 positions,
# random distinct vectors are already enough, and $W_Q$, $W_K$ learned to map
# "position $t$" to "position $t-1$". Nothing forces a learned table to be smooth
# or to know that 5 is near 6. Trained on large data, learned tables often *do*
# end up wave-like and smooth, much like the sinusoids.
#
# One hard limit: the table has `max_len` rows, so a longer sequence has no
# position vectors at all. (The course's reference module says so; a bare
# `nn.Embedding` would fail with "index out of range".)

# %%
try:
    tc.LearnedPositionalEmbedding(d_model, max_len=seq_len)(torch.zeros(1, 20, d_model))
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# Which to use? The paper tried both and found "nearly identical results"; it
# kept the sinusoids because they need no training and are defined for any
# position. Many later models (BERT, GPT-2) used learned tables; recent ones
# (e.g. LLaMA) use *rotary* embeddings, which apply exactly the rotation we
# verified above to the queries and keys inside attention.

# %% [markdown]
# ## Check your understanding
#
# 1. Why does attention need positional encodings at all?
#
#    <details><summary>Answer</summary>
#
#    Attention's output for a position is a softmax-weighted sum over all
#    positions, and nothing in the scores or the sum depends on where a word is.
#    Shuffling the input therefore only shuffles the output (permutation
#    equivariance; the gap was ~$10^{-7}$). The feed-forward network works on
#    each position alone, so without a position signal the model sees a bag of
#    words. (A causal mask, notebook 06, does break the symmetry a little, since
#    position $t$ sees exactly $t+1$ tokens; but the encoder has no such mask.)
#
#    </details>
#
# 2. Why are even dimensions sines and odd dimensions cosines, instead of
#    sines only?
#
#    <details><summary>Answer</summary>
#
#    With a sine *and* a cosine of the same frequency, each pair is a point on a
#    circle, and moving $k$ positions is a fixed rotation of that point for any
#    starting position: a linear map that $W_Q$ and $W_K$ can learn once. A sine
#    alone is ambiguous ($\sin a = \sin(\pi - a)$) and its shift is not linear in
#    it.
#
#    </details>
#
# 3. What goes wrong if you write the exponent as $i / d_\text{model}$ instead of
#    $2i / d_\text{model}$ (with $i$ the pair index)?
#
#    <details><summary>Answer</summary>
#
#    The frequencies then only go down to $1/10000^{1/2} = 1/100$ instead of
#    about $1/10000$: the slowest pair repeats every ~630 positions, so long
#    sequences get less distinct codes, and the table no longer matches the
#    paper (or pretrained weights). The check names this mistake.
#
#    </details>
#
# 4. The encoding is *added* to the embedding. Doesn't that mix "which word" and
#    "where" irrecoverably? Why not concatenate?
#
#    <details><summary>Answer</summary>
#
#    In a space of hundreds of dimensions the model can learn to keep word and
#    position information in nearly separate directions, and $W_Q$, $W_K$ can read
#    either. Adding keeps the width `d_model` unchanged; concatenating would work
#    too but costs width in every layer.
#
#    </details>
#
# 5. A model with a learned positional embedding of `max_len = 512` gets a
#    sequence of 600 tokens. What happens, and what would the sinusoidal
#    encoding do?
#
#    <details><summary>Answer</summary>
#
#    The learned table has no rows for positions 512..599: the course's module
#    raises a `ValueError` (in other code, an index error). The sinusoidal formula
#    is defined for any position, though a model trained only on shorter
#    sequences may still not handle the new positions well.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - Attention is permutation-equivariant: shuffle the input positions and its
#   output is shuffled the same way. Without position information a transformer
#   cannot tell "dog bites man" from "man bites dog".
# - The fix: add a position vector to each token embedding, once, before the
#   first block.
# - The paper's sinusoidal encoding:
#   $PE_{(\text{pos}, 2i)} = \sin(\text{pos}/10000^{2i/d_\text{model}})$,
#   $PE_{(\text{pos}, 2i+1)} = \cos(\cdot)$, interleaved, positions from 0.
#   Fast pairs tell neighbours apart, slow pairs far-apart positions.
# - Dot products of encodings depend only on the offset between positions, and
#   shifting by $k$ is a fixed rotation: relative positions are easy for
#   $W_Q$, $W_K$ to use.
# - A learned table (`nn.Embedding(max_len, d_model)`) works as well in
#   practice, but only up to `max_len`.
#
# Next: **05 · the transformer block**: LayerNorm, the feed-forward network and
# residual connections around multi-head attention.
