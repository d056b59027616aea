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
# # 02 · Attention
#
# **Attention lets each position build a context-aware version of itself as a
# weighted average of the values at all positions, weighted by how well its
# query matches their keys.**
#
# In notebook 01 every block read the residual stream and added an update. The
# feed-forward network only ever looks at one position. Attention is the one
# part of a transformer that moves information *between* positions: it is how
# "it" finds out that it means "the cat".

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where this sits
#
# ```mermaid
# flowchart TB
#     x["residual stream x (B, L, d_model)"] --> Q["Q = x W_Q (…, q_len, d_k)"]
#     x --> K["K = x W_K (…, k_len, d_k)"]
#     x --> V["V = x W_V (…, k_len, d_v)"]
#     Q --> S["scores = Q Kᵀ / √d_k (…, q_len, k_len)"]
#     K --> S
#     S --> M["mask: −inf where a query may not look"]
#     M --> W["weights = softmax over the keys"]
#     W --> O["output = weights V (…, q_len, d_v)"]
#     V --> O
#     O --> add(("+"))
#     x --> add
#     add --> next["stream for the next block"]
# ```
#
# This notebook is the box from `Q`, `K`, `V` to `output`: *scaled dot-product
# attention*. Notebook 03 adds the projections $W_Q, W_K, W_V$, several heads,
# and the output projection that writes the result back into the stream.

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/02_attention.png" alt="Attention: Q, K, V from the stream, scores, mask, softmax, weighted sum of values, added back" width="480">
#
# </details>

# %% [markdown]
# ## Intuition: a soft dictionary lookup
#
# Every position makes three vectors from its slice of the stream:
#
# - a **query** $q_i$: *what am I looking for?* ("it" looks for an animate noun);
# - a **key** $k_j$: *what do I offer?* ("cat" says: animate noun here);
# - a **value** $v_j$: *what do I pass on if someone picks me?*
#
# Query $i$ compares itself with every key by a dot product (large when they
# point the same way), a softmax turns those scores into weights that sum to
# 1, and the output of position $i$ is the weighted average of the values.
# A Python `dict` returns the one value whose key matches exactly; attention
# returns a blend of all values, mostly of those whose keys match best. Because
# every step is differentiable, the model *learns* what to ask and what to offer.

# %% [markdown]
# ## The math, tied to the code
#
# With `q` of shape `(..., q_len, d_k)`, `k` of shape `(..., k_len, d_k)` and `v`
# of shape `(..., k_len, d_v)` (the `...` are batch and, later, heads):
#
# $$\texttt{scores} = \frac{Q K^\top}{\sqrt{d_k}} \quad (q\_len \times k\_len), \qquad
# \texttt{weights} = \mathrm{softmax}_{\text{keys}}(\texttt{scores}), \qquad
# \texttt{output} = \texttt{weights}\; V \quad (q\_len \times d_v).$$
#
# Entry `scores[i, j]` says how well query $i$ matches key $j$; row `weights[i]`
# is query $i$'s attention over all keys and sums to 1; `output[i]`
# $= \sum_j$ `weights[i, j]` $v_j$.
#
# In this notebook queries, keys and values all come from the same sequence:
# every position asks questions of the positions of its own sentence. That is
# **self-attention**, and $q\_len = k\_len$. They may also come from two
# different sequences: in a translator, the part that writes the translation
# (the **decoder**, notebook 06) sends its queries to the keys and values of
# the sentence being translated. That is **cross-attention**, and there
# $q\_len \ne k\_len$ in general, which is why the two lengths get different
# names.

# %% [markdown]
# ## Setup

# %%
import math

import matplotlib.pyplot as plt
import torch

import transformer_course as tc
from transformer_course import checks

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.seed_everything(0)
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
print(f"running on: {device}")

# %% [markdown]
# A helper that draws a matrix with labelled rows and columns; we use it for
# every attention map and mask below.

# %%
def show_matrix(ax, matrix, rows, cols, title, cmap="Blues", vmax=1.0, numbers=True, allowed=None):
    """Draw a (len(rows), len(cols)) matrix as a heatmap with token labels.

    numbers: write every value in its cell, to two decimals ("0" when it is below 0.005).
    allowed: optional bool matrix, True = may attend; the cells where it is False are
    hatched grey, so a position a mask forbids does not look like a small weight.
    """
    matrix = matrix.detach().float().cpu()
    allowed = torch.ones(matrix.shape, dtype=torch.bool) if allowed is None else allowed.cpu()
    ax.imshow(matrix, cmap=cmap, vmin=0, vmax=vmax)
    for i, j in (~allowed).nonzero().tolist():
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#d9d9d9", edgecolor="#808080",
                                   hatch="////", linewidth=0))
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(title)
    if numbers:
        for i, j in allowed.nonzero().tolist():
            value = matrix[i, j].item()
            color = "white" if value > 0.6 * vmax else "black"
            ax.text(j, i, "0" if value < 0.005 else f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color=color)


# %% [markdown]
# ## Step 1: scores
#
# ### Exercise 1 · ★☆☆ · about 3 minutes: `attention_scores`
#
# Write `attention_scores(q, k)`: `(..., q_len, d_k)`, `(..., k_len, d_k)` →
# `(..., q_len, k_len)`, the scaled dot products $QK^\top / \sqrt{d_k}$.
# (Why the $\sqrt{d_k}$? Right after this exercise.)
#
# <details><summary>Hint</summary>
#
# This is `pairwise_dot` from notebook 00 plus the scale:
# `q @ k.transpose(-2, -1)` compares every query with every key and works with
# any number of leading axes. `d_k` is `q.shape[-1]`.
#
# </details>

# %%
def attention_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(..., q_len, d_k), (..., k_len, d_k) -> (..., q_len, k_len): q . k / sqrt(d_k) for every pair."""
    ### BEGIN SOLUTION
    d_k = q.shape[-1]
    return q @ k.transpose(-2, -1) / math.sqrt(d_k)
    ### END SOLUTION


# %%
attention_scores = checks.attention.check_attention_scores(attention_scores)

# %% [markdown]
# ### Why divide by $\sqrt{d_k}$?
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, the
# dot product $q \cdot k = \sum_{m=1}^{d_k} q_m k_m$ is a sum of $d_k$ terms of
# variance 1, so its variance is $d_k$ and its typical size $\sqrt{d_k}$. Measured:

# %%
for d_k in (4, 64, 1024):
    q, k = torch.randn(1000, d_k), torch.randn(1000, d_k)
    dots = (q * k).sum(dim=-1)  # 1000 dot products
    print(f"d_k={d_k:5d}: std of q.k = {dots.std():6.2f}   sqrt(d_k) = {math.sqrt(d_k):5.2f}"
          f"   std after / sqrt(d_k) = {(dots / math.sqrt(d_k)).std():.2f}")

# %% [markdown]
# Large scores make the softmax **saturate**: one weight near 1, the rest near
# 0. A saturated softmax barely changes when its inputs change, so the
# gradient that reaches the queries and keys through it nearly vanishes
# (measured after the plot). Dividing by
# $\sqrt{d_k}$ keeps the scores' spread near 1 whatever the width. Below: 16
# keys, random unit-variance queries and keys; the largest weight per query and
# the entropy of the weights (high = spread out, $\log 16 \approx 2.77$ = uniform;
# 0 = all weight on one key), with and without the scaling.

# %%
tc.seed_everything(0)
widths = [2 ** p for p in range(1, 11)]  # d_k = 2 .. 1024
stats = {"scaled": ([], []), "unscaled": ([], [])}
for d_k in widths:
    q, k = torch.randn(200, 1, d_k), torch.randn(200, 16, d_k)  # 200 queries, 16 keys each
    dots = q @ k.transpose(-2, -1)  # (200, 1, 16)
    for name, scores in (("scaled", dots / math.sqrt(d_k)), ("unscaled", dots)):
        weights = torch.softmax(scores, dim=-1)
        entropy = -(weights * torch.log(weights.clamp_min(1e-30))).sum(dim=-1)
        stats[name][0].append(weights.max(dim=-1).values.mean().item())
        stats[name][1].append(entropy.mean().item())

# %%
fig, (ax_max, ax_ent) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, style in (("scaled", "o-"), ("unscaled", "s--")):
    label = "QKᵀ / √d_k" if name == "scaled" else "QKᵀ (no scaling)"
    ax_max.semilogx(widths, stats[name][0], style, base=2, label=label)
    ax_ent.semilogx(widths, stats[name][1], style, base=2, label=label)
ax_max.set(xlabel="d_k", ylabel="mean of the largest weight", title="saturation: max weight", ylim=(0, 1.05))
ax_ent.axhline(math.log(16), color="gray", linestyle=":", label="uniform over 16 keys")
ax_ent.set(xlabel="d_k", ylabel="entropy (nats)", title="spread of the weights", ylim=(0, 3))
ax_max.legend()
ax_ent.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **What it means.** Unscaled, the softmax becomes nearly one-hot as $d_k$
# grows (max weight → 1, entropy → 0) and attention turns into a hard, untrainable
# lookup. Scaled, the weights look the same at every width.
#
# Dividing scores by a number $\tau$ before a softmax is called a
# **temperature**: a large $\tau$ evens the weights out, a small one makes them
# sharper. The $\sqrt{d_k}$ is a temperature that grows with the width exactly
# as fast as the scores do, so how sharp attention is no longer depends on
# $d_k$: the width becomes a choice about capacity only.
#
# **What the saturation does to learning, measured.** The queries learn from
# the gradient of the loss with respect to them (and $W_Q$ from that: its
# gradient is a sum of $x \cdot \partial L / \partial q$ over positions). We
# take 256 random queries, each with 16 random keys and values, a random
# target for the attention's output and a squared-error loss, backpropagate
# once, and look at each query's gradient norm $\lVert \partial L / \partial
# q \rVert$, with and without the $1/\sqrt{d_k}$.

# %%
def query_gradients(d_k: int, scaled: bool, seed: int = 0) -> torch.Tensor:
    """(256,): the gradient norm reaching each of 256 random queries through one attention step."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(256, 1, d_k, generator=gen).requires_grad_()  # 256 queries, one each
    k, v = torch.randn(256, 16, d_k, generator=gen), torch.randn(256, 16, d_k, generator=gen)  # 16 keys each
    target = torch.randn(256, 1, d_k, generator=gen)
    scores = q @ k.transpose(-2, -1) / (math.sqrt(d_k) if scaled else 1.0)  # (256, 1, 16)
    ((torch.softmax(scores, dim=-1) @ v - target) ** 2).sum().backward()
    return q.grad.norm(dim=-1).flatten()


print(f"{'':>6} | {'scaled, q.k / sqrt(d_k)':^33} | {'unscaled, q.k':^33}")
print(f"{'d_k':>6} | " + " | ".join(f"{'median':>8} {'largest':>9} {'share < 0.001':>14}" for _ in range(2)))
for d_k in (16, 64, 256, 1024):
    row = []
    for scaled in (True, False):
        g = query_gradients(d_k, scaled)  # (256,)
        row.append(f"{g.median():8.2f} {g.max():9.1f} {(g < 1e-3).float().mean():14.1%}")
    print(f"{d_k:6d} | " + " | ".join(row))

# %% [markdown]
# Scaled, the gradients grow smoothly with the width, and no query's is
# near zero. Unscaled, they spread apart as $d_k$ grows: a growing share of
# queries gets practically none (their softmax is saturated: nudging them
# changes nothing), the median falls behind the scaled one and then
# collapses, while the few queries whose two best keys happen to score alike
# get enormous ones (the "largest" column). So most queries (and $W_Q$, $W_K$
# behind them) stop learning, and what does reach them comes in erratic
# bursts: not a signal to train on. Read the trend in the printed table from
# $d_k$ = 64 to 1024.

# %% [markdown]
# ## Step 2: masks and the masked softmax
#
# Sometimes a query must not look at some keys:
#
# - **padding**: sentences in a batch have different lengths, so the short ones
#   are filled up with a `<pad>` token. Pads are not words; no query may attend
#   to them.
# - **the future**: a model that writes a sentence one token at a time (a
#   decoder) is trained on whole sentences at once, each position learning to
#   predict the next token. Position $i$ must not peek at positions after $i$:
#   they are what it has to predict, and at generation time they do not exist
#   yet.
#
# **The course's mask convention**, everywhere: a mask is a `bool` tensor,
# **`True` = "may attend"**, and it broadcasts to the scores' shape
# `(B, H, q_len, k_len)` (`H`: the number of attention heads, notebook 03; the
# scores in this notebook have no heads axis, `(B, q_len, k_len)`). (PyTorch's
# `nn.MultiheadAttention` uses the opposite polarity for its bool masks;
# `F.scaled_dot_product_attention` uses ours.)
#
# To forbid a key, set its score to $-\infty$ **before** the softmax:
# $e^{-\infty} = 0$, so it gets weight 0 and the other weights still sum to 1.
#
# $$\texttt{weights}_{ij} = \frac{\texttt{mask}_{ij}\, e^{s_{ij}}}{\sum_{j'} \texttt{mask}_{ij'}\, e^{s_{ij'}}}.$$
#
# One edge case: a query whose keys are *all* masked (e.g. a sequence that is
# all padding). All its scores are $-\infty$, and the softmax computes
# $e^{-\infty - (-\infty)}$ = NaN. A NaN spreads through everything it touches,
# so such a row must get all-zero weights instead.

# %% [markdown]
# ### Exercise 2 · ★★☆ · about 8 minutes: `masked_softmax`
#
# Write `masked_softmax(scores, mask)`: `scores` `(..., q_len, k_len)`, `mask` a
# bool tensor that broadcasts to it (True = may attend) or `None` (no mask) →
# weights of the same shape as `scores`: a softmax over the keys (last axis) in
# which masked keys get weight 0, and a fully masked row is all zeros (not NaN).
#
# <details><summary>Hint</summary>
#
# `scores.masked_fill(~mask, float("-inf"))` sets the forbidden scores to
# $-\infty$ (`masked_fill` fills where its mask is True, hence the `~`). Then
# `torch.softmax(..., dim=-1)`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `mask.any(dim=-1, keepdim=True)` is True for rows that may attend to at least
# one key. Fill the weights with 0 where it is False. (A large negative number
# such as `-1e9` instead of $-\infty$ avoids the NaN, but then a fully masked row
# gets uniform weights, which is also wrong.)
#
# </details>

# %%
def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(..., q_len, k_len) -> same shape: softmax over the keys; masked keys (mask False) get 0,
    fully masked rows are all 0. mask: bool, broadcastable to scores, True = may attend, or None."""
    ### BEGIN SOLUTION
    if mask is None:
        return torch.softmax(scores, dim=-1)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    ### END SOLUTION


# %%
masked_softmax = checks.attention.check_masked_softmax(masked_softmax)

# %% [markdown]
# ## Step 3: put it together
#
# ### Exercise 3 · ★★☆ · about 4 minutes: `scaled_dot_product_attention`
#
# Write `scaled_dot_product_attention(q, k, v, mask=None)` →
# `(output, weights)`: `output` `(..., q_len, d_v)` and `weights`
# `(..., q_len, k_len)`. Return the weights too: we want to look at them.
#
# <details><summary>Hint</summary>
#
# Three lines: `attention_scores`, then `masked_softmax`, then `weights @ v`.
# Both functions above are whatever their checks handed back, so they work
# even if you skipped those exercises.
#
# </details>

# %%
def scaled_dot_product_attention(q, k, v, mask=None):
    """(..., q_len, d_k), (..., k_len, d_k), (..., k_len, d_v), mask -> (output (..., q_len, d_v),
    weights (..., q_len, k_len)). mask: bool, broadcastable to the scores, True = may attend."""
    ### BEGIN SOLUTION
    scores = attention_scores(q, k)  # (..., q_len, k_len)
    weights = masked_softmax(scores, mask)  # (..., q_len, k_len)
    return weights @ v, weights  # (..., q_len, d_v)
    ### END SOLUTION


# %%
scaled_dot_product_attention = checks.attention.check_scaled_dot_product_attention(scaled_dot_product_attention)

# %% [markdown]
# ## Picture: an attention map
#
# A trained model computes $q = x W_Q$ and $k = x W_K$ with learned matrices.
# To see what attention *can* do without training anything, we write queries
# and keys by hand, with 4 readable features per token: **noun**, **animate**,
# **verb**, **other**. The key says what a token is; the query says what it
# looks for: "it" looks for an animate noun, "sat" for who sat, "the" for its
# noun, "cat" for its verb.

# %%
words = ["the", "cat", "sat", "on", "the", "mat", "because", "it", "was", "tired"]
features = {  #  noun animate verb other
    "cat": [1.0, 1.0, 0.0, 0.0], "mat": [1.0, 0.0, 0.0, 0.0], "it": [0.0, 1.0, 0.0, 0.5],
    "sat": [0.0, 0.0, 1.0, 0.0], "was": [0.0, 0.0, 1.0, 0.0],
}
looks_for = {  # noun animate verb other
    "the": [1.0, -1.0, 0.0, 0.0], "cat": [0.0, 0.0, 1.0, 0.0], "sat": [1.0, 1.0, 0.0, 0.0],
    "on": [1.0, -1.0, 0.0, 0.0], "mat": [0.0, 0.0, 1.0, 0.0], "because": [0.0, 0.0, 1.0, 0.0],
    "it": [1.0, 1.0, 0.0, 0.0], "was": [0.0, 1.0, 0.0, 0.0], "tired": [1.0, 1.0, 0.0, 0.0],
}
k = torch.tensor([features.get(w, [0.0, 0.0, 0.0, 1.0]) for w in words])  # (L=10, d_k=4)
q = 6.0 * torch.tensor([looks_for[w] for w in words])  # (10, 4); the 6 makes the preferences sharp
v = torch.eye(len(words))  # (10, d_v=10): each value is "I am word j", to see where output comes from
q, k, v = q[None].to(device), k[None].to(device), v[None].to(device)  # add a batch axis: (B=1, L, ...)
output, weights = scaled_dot_product_attention(q, k, v)
print("weights", tuple(weights.shape), " output", tuple(output.shape))

# %%
fig, ax = plt.subplots(figsize=(6.5, 5.5))
show_matrix(ax, weights[0], [f"{w} (query)" for w in words], words, "attention weights: row = query, column = key")
ax.set_xlabel("key")
plt.show()

# %% [markdown]
# Read it row by row: each row sums to 1 (up to the rounding of the numbers
# shown; "0" is a weight below 0.005) and says where that word looks. "it",
# "sat" and "tired" put most of their weight on "cat"; both "the"s and "on"
# look at the inanimate noun "mat"; "cat", "mat" and "because" look for a verb
# and split between "sat" and "was"; "was" splits between the two animate
# candidates, "cat" and "it". Because each value here is "I am word $j$", output row $i$ *is*
# weights row $i$: the new vector for "it" is mostly the value of "cat". With
# real values, "it" now carries what the stream knew about the cat.

# %%
i = words.index("it")
top = output[0, i].topk(2)
print("output for 'it' =", " + ".join(f"{p:.2f} x value('{words[j]}')" for p, j in zip(top.values, top.indices)), "+ ...")

# %% [markdown]
# ## Step 4: building the masks
#
# ### Exercise 4 · ★☆☆ · about 3 minutes: `causal_mask`
#
# Write `causal_mask(size)`: a `(size, size)` bool tensor, True where query $i$
# may attend to key $j$, that is where $j \le i$ (on and below the diagonal).
#
# <details><summary>Hint</summary>
#
# `torch.tril` keeps the lower triangle (including the diagonal) of a matrix.
# Start from `torch.ones(size, size, dtype=torch.bool, device=device)`.
#
# </details>

# %%
def causal_mask(size: int, device=None) -> torch.Tensor:
    """(size, size) bool, True on and below the diagonal: query i may attend to keys 0..i."""
    ### BEGIN SOLUTION
    return torch.tril(torch.ones(size, size, dtype=torch.bool, device=device))
    ### END SOLUTION


# %%
causal_mask = checks.attention.check_causal_mask(causal_mask)

# %% [markdown]
# ### Exercise 5 · ★★☆ · about 4 minutes: `padding_mask`
#
# Write `padding_mask(tokens, pad_id)`: token ids `(B, L)` → a bool mask of
# shape `(B, 1, 1, L)`, True where the token is real (not `pad_id`). Padding
# hides a position **as a key**, so the mask varies along the last axis
# (`k_len`) and has size 1 on the heads and `q_len` axes, where it broadcasts.
#
# <details><summary>Hint</summary>
#
# `tokens != pad_id` is the `(B, L)` bool you need. Indexing with
# `None` adds an axis of size 1: `t[:, None, None, :]`.
#
# </details>

# %%
def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, L) token ids -> (B, 1, 1, L) bool, True where the key is a real token."""
    ### BEGIN SOLUTION
    return (tokens != pad_id)[:, None, None, :]
    ### END SOLUTION


# %%
padding_mask = checks.attention.check_padding_mask(padding_mask)

# %% [markdown]
# ### Picture: the masks
#
# A batch of two sentences padded to 6 tokens with `<pad>`, whose id is
# `PAD_ID`. For the first sentence: the causal mask, the padding mask broadcast
# over the queries, and both together (`&`), which is what a decoder uses.
# Green = may attend; hatched grey = forbidden.

# %%
batch_words = [["the", "cat", "sat", "<pad>", "<pad>", "<pad>"],
               ["the", "mat", "was", "very", "big", "."]]
ids = {w: n for n, w in enumerate(["<pad>", "the", "cat", "sat", "mat", "was", "very", "big", "."])}
PAD_ID = ids["<pad>"]  # 0: the id of the <pad> token, as everywhere in the course
tokens = torch.tensor([[ids[w] for w in sentence] for sentence in batch_words])  # (B=2, L=6)
causal = causal_mask(6)  # (6, 6)
padding = padding_mask(tokens, PAD_ID)  # (2, 1, 1, 6)
both = padding & causal  # broadcasts to (2, 1, 6, 6)
print("causal", tuple(causal.shape), "& padding", tuple(padding.shape), "->", tuple(both.shape))

# %%
sentence = batch_words[0]
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
pictures = [(causal, "causal: no peeking ahead"),
            (padding[0, 0].expand(6, 6), "padding: no attending to <pad>"),
            (both[0, 0], "both (causal & padding)")]
for ax, (mask, title) in zip(axes, pictures):
    show_matrix(ax, mask.float(), sentence, sentence, title, cmap="Greens", vmax=1.5, numbers=False, allowed=mask)
    ax.set_xlabel("key (attended to)")
axes[0].set_ylabel("query (attending)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The `<pad>` rows (queries) are not hidden: a pad may still look at real
# tokens. Its output is never used (the loss ignores pad positions), so it does
# no harm, and it keeps every row from being fully masked.
#
# Finally the causal mask on our attention example: every query now chooses
# only among the words before it (and itself). "the" at position 0 can only
# attend to itself; "cat" and the second "the" cannot see what they look for
# yet (a verb, the mat) and spread their weight over what there is; "it" still
# finds "cat", because the cat came first. The hatched cells are the future,
# which the mask forbids: their weight is exactly 0, not merely small.

# %%
causal = causal_mask(len(words), device=device)  # (10, 10)
causal_weights = scaled_dot_product_attention(q, k, v, causal)[1]
fig, (ax_all, ax_causal) = plt.subplots(1, 2, figsize=(13, 5.5))
show_matrix(ax_all, weights[0], words, words, "no mask")
show_matrix(ax_causal, causal_weights[0], words, words, "causal mask (hatched: forbidden)", allowed=causal)
for ax in (ax_all, ax_causal):  # both panels labelled: each row is a query, each column a key
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
fig.tight_layout()
plt.show()

# %% [markdown]
# And the edge case from exercise 2: a sequence that is all padding gets zero
# weights and a zero output, not NaN.

# %%
all_pad = torch.full((1, 3), PAD_ID, device=device)  # one sequence of 3 <pad> tokens
q_pad, k_pad, v_pad = torch.randn(3, 1, 3, 4).to(device)  # each (B=1, L=3, d_k=4)
mask_pad = padding_mask(all_pad, PAD_ID)[:, 0]  # (1, 1, 3): no heads axis here
out_pad, w_pad = scaled_dot_product_attention(q_pad, k_pad, v_pad, mask_pad)
print("weights:", w_pad[0, 0].tolist(), " any NaN in the output:", out_pad.isnan().any().item())

# %% [markdown]
# ## What it means
#
# - Attention is a **weighted average**: the output at every position is a
#   mixture of the values, so information moves between positions in one step,
#   however far apart they are.
# - **Who looks where** is decided by dot products of queries and keys, which the
#   model learns; **what is passed on** is decided by the values.
# - The average **ignores order**: shuffle the keys and values together and each
#   output is unchanged. Attention on its own cannot tell "the cat sat on the
#   mat" from "the mat sat on the cat"; notebook 04 adds the word order back
#   with positional encodings.

# %% [markdown]
# ## Check your understanding
#
# 1. What do Q, K and V stand for, and what is each one's role?
#
#    <details><summary>Answer</summary>
#
#    Query: what a position is looking for. Key: what a position offers to be
#    found by. Value: what a position passes on when it is attended to. Scores
#    are query-key dot products; the output is the weights times the values.
#
#    </details>
#
# 2. Why divide the scores by $\sqrt{d_k}$ and not by $d_k$?
#
#    <details><summary>Answer</summary>
#
#    A dot product of two random unit-variance vectors of width $d_k$ has
#    variance $d_k$, so standard deviation $\sqrt{d_k}$. Dividing by $\sqrt{d_k}$
#    brings it back to about 1, where the softmax neither saturates (too large)
#    nor turns uniform (dividing by $d_k$ would shrink it towards 0 as $d_k$ grows).
#
#    </details>
#
# 3. Why is the mask applied before the softmax, and why with $-\infty$ rather
#    than 0?
#
#    <details><summary>Answer</summary>
#
#    After the softmax, zeroing weights leaves rows that no longer sum to 1.
#    A score of 0 is an ordinary score ($e^0 = 1$) and still gets weight;
#    $-\infty$ gives exactly $e^{-\infty} = 0$, and the softmax renormalises
#    over the allowed keys.
#
#    </details>
#
# 4. `scores` has shape `(2, 4, 7, 9)`. What are the axes, and which shapes can
#    a mask for it have? Why is the padding mask `(B, 1, 1, k_len)`?
#
#    <details><summary>Answer</summary>
#
#    `(B=2, H=4, q_len=7, k_len=9)`: batch, heads, queries, keys. Any shape
#    that broadcasts: each axis (counted from the right) is 1 or the scores'
#    size, e.g. `(7, 9)` for a
#    causal mask, `(2, 1, 1, 9)` for padding. Padding depends only on the
#    sequence and the key, the same for every head and every query, hence the
#    two axes of size 1.
#
#    </details>
#
# 5. What goes wrong with a fully masked row, and what should it give?
#
#    <details><summary>Answer</summary>
#
#    All its scores are $-\infty$, so the softmax computes $0/0$ = NaN, which then
#    spreads to everything computed from it (and to the gradients). It should
#    give all-zero weights and hence a zero output.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - $\text{Attention}(Q, K, V) = \mathrm{softmax}\!\left(QK^\top / \sqrt{d_k}\right) V$:
#   `attention_scores`, then `masked_softmax` over the keys, then `weights @ v`.
# - Scores are $q_i \cdot k_j$; without the $1/\sqrt{d_k}$ they grow like
#   $\sqrt{d_k}$ and saturate the softmax (measured above).
# - Masks are bool, **True = may attend**, broadcastable to
#   `(B, H, q_len, k_len)`: the causal mask is `(q_len, k_len)` lower
#   triangular, the padding mask `(B, 1, 1, k_len)`. Forbidden scores are
#   set to $-\infty$ before the softmax; fully masked rows get zero weights.
# - Queries, keys and values from one sequence: **self-attention**; queries
#   from one sequence, keys and values from another: **cross-attention**.
# - The package has all of these: `tc.attention_scores`, `tc.masked_softmax`,
#   `tc.scaled_dot_product_attention`, `tc.causal_mask`, `tc.padding_mask`.
#
# Next: **03 · multi-head attention**: the projections $W_Q, W_K, W_V, W_O$ and
# several heads side by side.
