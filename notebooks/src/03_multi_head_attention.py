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
# # 03 · Multi-head attention
#
# **Several small attention heads look for different relations in parallel,
# and their results are concatenated and mixed back into the stream.**
#
# In notebook 02 one attention computed one weighted average per position. Here
# we run `n_heads` of them side by side, each on its own slice of the features,
# build the layer every transformer block uses, and finish by loading the
# weights of PyTorch's own `torch.nn.MultiheadAttention` into yours and getting
# the same numbers out.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where it sits
#
# Multi-head attention is the sub-layer of every transformer block that
# moves information *between* positions (the feed-forward network, notebook 05,
# works on each position alone). Inside it:
#
# ```mermaid
# flowchart LR
#     q["query<br/>(B, q_len, d_model)"] --> wq["W_Q, split into heads"]
#     k["key<br/>(B, k_len, d_model)"] --> wk["W_K, split into heads"]
#     v["value<br/>(B, k_len, d_model)"] --> wv["W_V, split into heads"]
#     wq & wk & wv --> att["n_heads x attention, in parallel<br/>(B, H, q_len, d_k)"]
#     att --> merge["merge heads<br/>(concatenate)"] --> wo["W_O<br/>(mix the heads)"] --> out["output<br/>(B, q_len, d_model)"]
# ```

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/03_multi_head_attention.png" alt="query, key, value -> W_Q, W_K, W_V and split into heads -> n_heads attentions in parallel -> merge heads -> W_O -> output" width="760">
#
# </details>

# %% [markdown]
# ## Intuition: one softmax, one kind of question
#
# A single attention gives each position *one* set of weights: one softmax, so
# one distribution over the other positions. But a word usually needs several
# things at once: in "the cat that the dog chased ran", the verb "ran" wants its
# subject ("cat"), the word just before it, maybe the start of the sentence.
# One softmax cannot put most of its weight on three places *and* keep their
# information apart: it would blur them into one average.
#
# So we give the layer several **heads**. Each head asks its own question (its
# own $W_Q$, $W_K$) and gathers its own answer (its own $W_V$). To keep the cost
# the same as one big attention, the `d_model` features are cut into `n_heads`
# slices of `d_k = d_model // n_heads` features, one slice per head: each
# head's queries and keys have `d_k` features, and so do its values
# ($d_v = d_k = d_\text{model} / h$; notebook 02 allowed $d_v \ne d_k$, but
# here, as in the paper, they are equal). Afterwards
# the heads' answers are put side by side again (concatenated) and one more
# matrix $W_O$ mixes them and writes the result back into the residual stream.

# %% [markdown]
# ## The math, tied to the code
#
# For head $i = 1, \dots, h$ (`h` = `n_heads`):
#
# $$\text{head}_i = \text{Attention}(Q W^Q_i,\; K W^K_i,\; V W^V_i), \qquad
#   W^Q_i, W^K_i, W^V_i \in \mathbb{R}^{d_\text{model} \times d_k}$$
#
# $$\text{MultiHead}(Q, K, V) = \text{Concat}(\text{head}_1, \dots, \text{head}_h)\, W^O,
#   \qquad W^O \in \mathbb{R}^{h d_k \times d_\text{model}}$$
#
# with $\text{Attention}(q, k, v) = \text{softmax}\!\left(q k^\top / \sqrt{d_k}\right) v$ from
# notebook 02. In the code:
#
# | math | code | shape |
# |---|---|---|
# | $Q, K, V$ | `query`, `key`, `value` | `(B, q_len or k_len, d_model)` |
# | all $W^Q_i$ side by side | `self.w_q` (an `nn.Linear(d_model, d_model)`) | `d_model` → `n_heads * d_k` |
# | $Q W^Q_i$ for every $i$ at once | `split_heads(self.w_q(query), n_heads)` | `(B, H, q_len, d_k)` |
# | $\text{Concat}(\dots)$ | `merge_heads(out)` | `(B, q_len, d_model)` |
# | $W^O$ | `self.w_o` | `d_model` → `d_model` |
#
# The trick that makes this fast: instead of `n_heads` small matrix products,
# do **one** big one (`self.w_q(query)`), then *view* its `d_model` output
# features as `n_heads` blocks of `d_k`. Block $i$ of the output is exactly
# $Q W^Q_i$. The heads then run as one batched attention, with `n_heads` as an
# extra batch axis. In shape comments that axis is `H` (`H` = `n_heads` = $h$).

# %% [markdown]
# ## Setup

# %%
import matplotlib.pyplot as plt
import torch
from einops import rearrange
from torch import nn

import transformer_course as tc
from transformer_course import checks

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.seed_everything(0)
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
print(f"running on: {device}")

# %% [markdown]
# ## Exercise 1 · ★☆☆ · about 4 minutes: split into heads
#
# Write `split_heads(x, n_heads)`: `(B, L, d_model)` → `(B, H, L, d_k)`.
# Head 0 gets the **first** `d_k` features (a contiguous block), head 1 the
# next `d_k`, and so on; the heads axis goes *before* the positions `L`, so
# that attention (which works on the last two axes)
# treats each head like another batch element.
#
# <details><summary>Hint</summary>
#
# With einops, name the pieces: the last axis is `(h d_k)`, `n_heads` blocks
# of `d_k` features. Which order, `(h d_k)` or `(d_k h)`, makes the blocks
# contiguous?
# (Notebook 00's `chunk_sequence` is the same idea.)
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `rearrange(x, "b l (h d_k) -> b h l d_k", h=n_heads)`. Without einops:
# `x.view(batch, seq_len, n_heads, d_k).transpose(1, 2)`. A plain
# `x.view(batch, n_heads, seq_len, d_k)` *without* the transpose runs, has the
# right shape, and is wrong.
#
# </details>

# %%
def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, L, d_model) -> (B, H, L, d_k): head i gets features i*d_k .. (i+1)*d_k - 1."""
    ### BEGIN SOLUTION
    return rearrange(x, "b l (h d_k) -> b h l d_k", h=n_heads)
    ### END SOLUTION


# %%
split_heads = checks.multihead.check_split_heads(split_heads)

# %% [markdown]
# What it means: one position with features numbered 0..7, split over 2 heads.
# Head 0 should hold features 0-3 and head 1 features 4-7.

# %%
features = torch.arange(8.0).reshape(1, 1, 8)  # (B=1, L=1, d_model=8)
print(split_heads(features, 2)[0, :, 0])  # (n_heads=2, d_k=4)

# %% [markdown]
# ## Exercise 2 · ★☆☆ · about 3 minutes: merge the heads back
#
# Write `merge_heads(x)`: `(B, H, L, d_k)` → `(B, L, H * d_k)`, the inverse of `split_heads`: for each
# position, head 0's `d_k` numbers, then head 1's, ... This is the
# $\text{Concat}(\text{head}_1, \dots, \text{head}_h)$ of the formula.
#
# <details><summary>Hint</summary>
#
# Mirror the einops pattern of `split_heads`. Without einops, move the heads
# axis back next to `d_k` first (`transpose(1, 2)`), then join the last two
# axes (`.reshape(batch, seq_len, -1)`).
#
# </details>

# %%
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, d_k) -> (B, L, H * d_k): the heads concatenated per position."""
    ### BEGIN SOLUTION
    return rearrange(x, "b h l d_k -> b l (h d_k)")
    ### END SOLUTION


# %%
merge_heads = checks.multihead.check_merge_heads(merge_heads)

# %% [markdown]
# Splitting and merging moves numbers around and changes none of them, so
# merging a split gives back exactly the input:

# %%
x = torch.randn(2, 5, 12)  # (B, L, d_model)
print(torch.equal(merge_heads(split_heads(x, n_heads=3)), x))

# %% [markdown]
# ## Dropout, in one paragraph
#
# The layer below takes a `dropout` argument and hands `self.dropout` to the
# attention. **Dropout** is a regulariser that acts only in training: each
# forward pass sets a random fraction `p` of its input's entries to zero and
# multiplies the others by $1/(1-p)$, so that on average nothing changes; in
# eval mode (`model.eval()`) it passes its input through untouched. Applied to
# the attention weights, it keeps a query from relying on any single key
# always being there. The paper uses `p = 0.1` throughout the model; every
# example in this notebook uses the default `p = 0`, so nothing here is random.
# What it does to one query's weights over 8 keys:

# %%
drop = nn.Dropout(p=0.5)
weights_of_one_query = torch.full((8,), 1 / 8)  # sums to 1
torch.manual_seed(0)
print("training:", drop(weights_of_one_query))  # each entry zeroed with probability p, the rest doubled
print("eval:    ", drop.eval()(weights_of_one_query))  # unchanged

# %% [markdown]
# ## Exercise 3 · ★★★ · about 15 minutes: the multi-head attention layer
#
# Now the whole layer. `__init__` is written for you: `self.w_q`, `self.w_k`,
# `self.w_v` hold all heads' projections side by side, `self.w_o` is $W^O$.
# Write `forward(query, key, value, mask=None)`:
#
# 1. project: `self.w_q(query)`, `self.w_k(key)`, `self.w_v(value)`, each
#    `(B, L, d_model)` (with `L` = `q_len` for the query, `k_len` for key and value);
# 2. split each into heads: `(B, H, L, d_k)`;
# 3. attend in every head at once with `tc.scaled_dot_product_attention(q, k, v, mask, self.dropout)`:
#    the course's version of the function you wrote in notebook 02, with one
#    argument more, `dropout` (the module of the section above, applied to the
#    weights while training; yours from 02 had none, so use `tc.`'s here). It
#    returns `(output, weights)` and divides the scores by $\sqrt{d_k}$ for you
#    (with `d_k` read from `q`'s last axis: the *head's* width);
# 4. store the weights in `self.attn_weights` (the plots below read them);
# 5. merge the heads and apply `self.w_o`.
#
# The mask follows the course's convention: bool, True = "may attend",
# broadcastable to `(B, H, q_len, k_len)`, so a padding mask
# `(B, 1, 1, k_len)` or a causal mask `(q_len, k_len)` reaches every head
# as it is. `query` and `key` may have different lengths (cross-attention,
# notebook 02).
#
# <details><summary>Hint</summary>
#
# Keep the shapes in comments as you go: `(B, q_len, d_model)` →
# `(B, H, q_len, d_k)` → attention → `(B, H, q_len, d_k)` → merge →
# `(B, q_len, d_model)` → `self.w_o`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# ```python
# q = split_heads(self.w_q(query), self.n_heads)    # (B, H, q_len, d_k)
# k = ...                                           # (B, H, k_len, d_k)
# v = ...
# out, weights = tc.scaled_dot_product_attention(q, k, v, mask, self.dropout)
# ```
#
# </details>

# %%
class MultiHeadAttention(nn.Module):
    """n_heads attentions side by side: (B, q_len, d_model), (B, k_len, d_model) x2, mask -> (B, q_len, d_model)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must be divisible by n_heads"
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)  # all heads' W_Q_i side by side
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attn_weights = None  # (B, H, q_len, k_len) after each forward

    def forward(self, query, key, value, mask=None):
        ### BEGIN SOLUTION
        q = split_heads(self.w_q(query), self.n_heads)  # (B, H, q_len, d_k)
        k = split_heads(self.w_k(key), self.n_heads)  # (B, H, k_len, d_k)
        v = split_heads(self.w_v(value), self.n_heads)  # (B, H, k_len, d_k)
        out, weights = tc.scaled_dot_product_attention(q, k, v, mask, self.dropout)  # (B, H, q_len, d_k)
        self.attn_weights = weights.detach()
        return self.w_o(merge_heads(out))  # (B, q_len, d_model)
        ### END SOLUTION


# %%
MultiHeadAttention = checks.multihead.check_multi_head_attention(MultiHeadAttention)

# %% [markdown]
# **Your parts travel.** A check that passes saves your code in `my_parts/`
# next to this notebook (here `split_heads.py`, `merge_heads.py` and
# `MultiHeadAttention.py`): notebooks 05 and 06 build their layers on your
# multi-head attention, and notebook 07 trains a translator made of your
# parts. A wrong answer or a stub removes the file, and the reference takes
# its place; delete `my_parts/` to start over.

# %% [markdown]
# ### Why $\sqrt{d_k}$ and not $\sqrt{d_\text{model}}$?
#
# Notebook 02 showed why scores are divided at all: a dot product of two
# vectors with `d_k` random entries of variance 1 has variance `d_k`, and large
# scores saturate the softmax. Each head's queries and keys have `d_k`
# features, not `d_model`, so `d_k` is the right divisor. Dividing by
# $\sqrt{d_\text{model}}$ would make every head's softmax $\sqrt{h}$ times
# "softer" than intended. Calling `tc.scaled_dot_product_attention`, as step
# 3 says, you cannot make that mistake; it happens to those who write the
# scores out themselves (`q @ k.transpose(-2, -1) / math.sqrt(self.d_model)`),
# and the check above names it if you do.

# %% [markdown]
# ## Picture: one attention map per head
#
# Trained heads learn to ask different questions (notebook 07 shows the heads
# of a trained translator). To *see* that idea without training, we set the
# weights of four heads **by hand** so that each asks one clear question about
# the sentence below:
#
# | head | question | how |
# |---|---|---|
# | 0 | "which word came just before me?" | query of position $t$ = "position $t-1$", key = own position |
# | 1 | "where else does my word occur?" | query = key = "which word" |
# | 2 | "what is the first word?" | every query = "position 0" (a bias), key = own position |
# | 3 | nothing in particular | all-zero queries, so all scores are equal |
#
# Each token's input vector says which position it is at (features 0-7) and
# which word it is (features 8-12); notebook 04 shows how real models add
# position information.

# %%
words = "the cat saw the dog and the cat".split()
vocab = sorted(set(words))
seq_len, d_model, n_heads = len(words), 32, 4
d_k = d_model // n_heads  # 8: just enough room for a one-hot position per head

x = torch.zeros(1, seq_len, d_model)  # (B=1, L=8, d_model=32)
for t, word in enumerate(words):
    x[0, t, t] = 1.0  # features 0..7: which position
    x[0, t, seq_len + vocab.index(word)] = 1.0  # features 8..12: which word
print(vocab)

# %% [markdown]
# The rows `head(i)` of `w_q.weight` and `w_k.weight` produce head $i$'s
# queries and keys (that is what `split_heads` does with them). A `strength` of
# 20 makes a matching score $20/\sqrt{8} \approx 7$, so the softmax puts
# almost all weight on the matches.

# %%
demo = MultiHeadAttention(d_model, n_heads)
strength = 20.0


def head(i):
    """The rows of W_Q / W_K (the output features) that belong to head i."""
    return slice(i * d_k, (i + 1) * d_k)


with torch.no_grad():
    for linear in (demo.w_q, demo.w_k, demo.w_v, demo.w_o):
        linear.weight.zero_()
        linear.bias.zero_()
    for t in range(seq_len):  # head 0: query "position t-1", key "position t"
        demo.w_q.weight[head(0)][max(t - 1, 0), t] = strength
        demo.w_k.weight[head(0)][t, t] = 1.0
    for w in range(len(vocab)):  # head 1: query and key "which word"
        demo.w_q.weight[head(1)][w, seq_len + w] = strength
        demo.w_k.weight[head(1)][w, seq_len + w] = 1.0
    demo.w_q.bias[head(2)][0] = strength  # head 2: every query is "position 0"...
    for t in range(seq_len):
        demo.w_k.weight[head(2)][t, t] = 1.0  # ...and keys are positions
    # head 3: W_Q stays zero, so all its scores are 0

# %%
demo = demo.to(device)
with torch.no_grad():
    demo(x.to(device), x.to(device), x.to(device))
weights = demo.attn_weights[0].cpu()  # (H, q_len, k_len)

questions = ["0: previous word", "1: same word", "2: first word", "3: uniform"]
fig, axes = plt.subplots(1, n_heads, figsize=(15, 4), constrained_layout=True)
for i, ax in enumerate(axes):
    image = ax.imshow(weights[i], cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"head {questions[i]}")
    ax.set_xticks(range(seq_len), words, rotation=90)
    ax.set_yticks(range(seq_len), words if i == 0 else [])
    ax.set_xlabel("key (attended to)")
axes[0].set_ylabel("query (attending)")
fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
plt.show()

# %% [markdown]
# Read each map row by row: row $t$ is where position $t$ looks. Head 0 is a
# diagonal shifted by one (the first word, with no predecessor, looks at
# itself); head 1 lights up every "the" for each "the" and both "cat"s for each
# "cat"; head 2 is one column; head 3 spreads evenly. **Same input, same layer,
# four different averages**, computed in one batched call. Their outputs land in
# separate `d_k`-slices of the merged vector, and $W^O$ decides how to combine
# them. With one head of width 32 this layer could compute only one of these
# patterns.

# %% [markdown]
# ## Does splitting into heads cost anything?
#
# No parameters: `w_q`, `w_k`, `w_v`, `w_o` are `d_model x d_model` whatever
# `n_heads` is, so one head of width 512 and eight heads of width 64 have the
# same parameter count (and about the same compute). Splitting only changes
# *which products* the softmax sees.

# %%
for h in (1, 8):
    n_params = sum(p.numel() for p in MultiHeadAttention(512, h).parameters())
    print(f"d_model=512, n_heads={h}: {n_params:,} parameters")

# %% [markdown]
# ## Exercise 4 · ★★☆ · about 6 minutes: load PyTorch's weights into yours
#
# `torch.nn.MultiheadAttention` computes the same function, but stores the
# weights differently:
#
# - `mha.in_proj_weight` is `(3 * d_model, d_model)`: $W_Q$, $W_K$, $W_V$
#   **stacked** in that order (rows `0..d_model-1` are $W_Q$, and so on), and
#   `mha.in_proj_bias` is `(3 * d_model,)`, stacked the same way;
# - `mha.out_proj` is an `nn.Linear`, our $W_O$.
#
# Both use `nn.Linear`'s layout `(out_features, in_features)`, like our
# `self.w_q.weight`, so nothing needs transposing. Write
# `load_torch_weights(ours, mha)` that copies all eight tensors into `ours`
# and returns `ours`.
#
# <details><summary>Hint</summary>
#
# `w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)` cuts the stack into
# three `(d_model, d_model)` pieces. Copy with `ours.w_q.weight.copy_(w_q)`,
# inside `with torch.no_grad():` (PyTorch refuses in-place changes to
# parameters that track gradients otherwise).
#
# </details>

# %%
def load_torch_weights(ours: MultiHeadAttention, mha: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy mha's W_Q, W_K, W_V (stacked in in_proj_weight / in_proj_bias) and W_O (out_proj) into ours."""
    ### BEGIN SOLUTION
    w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)  # each (d_model, d_model)
    b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)  # each (d_model,)
    with torch.no_grad():
        for linear, w, b in ((ours.w_q, w_q, b_q), (ours.w_k, w_k, b_k), (ours.w_v, w_v, b_v)):
            linear.weight.copy_(w)
            linear.bias.copy_(b)
        ours.w_o.weight.copy_(mha.out_proj.weight)
        ours.w_o.bias.copy_(mha.out_proj.bias)
    return ours
    ### END SOLUTION


# %%
load_torch_weights = checks.multihead.check_load_torch_weights(load_torch_weights)

# %% [markdown]
# ## The proof: your layer is PyTorch's layer
#
# Build a `torch.nn.MultiheadAttention` (with `batch_first=True`, so inputs are
# `(B, L, d_model)` like ours), copy its weights into your
# `MultiHeadAttention`, and run both on the same input, with a causal mask
# and padding (three sequences of lengths 7, 5 and 2).
#
# One thing to translate: PyTorch's masks have the **opposite polarity**. In
# `attn_mask` and `key_padding_mask`, True means "may *not* attend" (or "is
# padding"), while the course's True means "may attend". So we pass `~mask`.

# %%
tc.seed_everything(0)
d_model, n_heads, batch, seq_len = 32, 4, 3, 7
torch_mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True).to(device).eval()
ours = MultiHeadAttention(d_model, n_heads).to(device).eval()
load_torch_weights(ours, torch_mha)

x = torch.randn(batch, seq_len, d_model).to(device)  # made on the CPU, then moved
lengths = torch.tensor([7, 5, 2])
is_token = torch.arange(seq_len)[None, :] < lengths[:, None]  # (B, L), True = real token
causal = tc.causal_mask(seq_len)  # (L, L), True = may attend
mask = (is_token[:, None, None, :] & causal).to(device)  # (B, 1, L, L)

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    our_out = ours(x, x, x, mask)
    torch_out, torch_weights = torch_mha(
        x, x, x,
        key_padding_mask=(~is_token).to(device),  # torch: True = padding
        attn_mask=(~causal).to(device),  # torch: True = may NOT attend
        average_attn_weights=False,  # keep one map per head, (B, H, q_len, k_len)
    )
out_diff = (our_out - torch_out).abs().max().item()
weight_diff = (ours.attn_weights - torch_weights).abs().max().item()
print(f"max |ours - torch| over the outputs:          {out_diff:.2e}")
print(f"max |ours - torch| over the attention weights: {weight_diff:.2e}")
assert out_diff < 1e-5 and weight_diff < 1e-5

# %% [markdown]
# The differences are at the level of float32 rounding (about $10^{-7}$): the
# same function, computed in a slightly different order. The layer you wrote
# in a dozen lines *is* the multi-head attention of PyTorch and of the paper.
# (`tc.MultiHeadAttention.from_torch(mha)` does this loading in the package, and
# later notebooks use it to compare whole encoder and decoder layers.)

# %% [markdown]
# ## Check your understanding
#
# 1. `d_model = 512`, `n_heads = 8`. What is `d_k`, and what shape does
#    `split_heads` give for an input of shape `(32, 10, 512)`?
#
#    <details><summary>Answer</summary>
#
#    `d_k = 64`; the shape is `(B, H, L, d_k) = (32, 8, 10, 64)`: batch, heads,
#    positions, features per head.
#
#    </details>
#
# 2. Why can one head not do the work of several, even with the same total width?
#
#    <details><summary>Answer</summary>
#
#    One head has one softmax per query, so one distribution over the positions:
#    if it spreads its weight over the previous word *and* the subject, their
#    values are averaged into one vector and can no longer be told apart. Heads
#    each have their own softmax and write into their own slice of the output,
#    so several relations are gathered side by side.
#
#    </details>
#
# 3. What would go wrong if `merge_heads` skipped the transpose and just reshaped
#    `(B, H, L, d_k)` to `(B, L, d_model)`?
#
#    <details><summary>Answer</summary>
#
#    The shape would be right, but the vector at position $t$ would be made of
#    numbers from *other positions* of the same head. Information would jump
#    between positions, and the output would no longer match the formula.
#
#    </details>
#
# 4. Suppose a model trained from scratch used `(d_k h)` (interleaved heads) in both
#    `split_heads` and `merge_heads`. Would it learn worse than with `(h d_k)`?
#
#    <details><summary>Answer</summary>
#
#    No: which features go to which head is just a relabelling of the rows of
#    $W_Q, W_K, W_V$ (and the columns of $W_O$), which are learned anyway. But its
#    weights would not be interchangeable with PyTorch's or the paper's layout:
#    loading `nn.MultiheadAttention` weights into it would give wrong outputs.
#    That is why the check insists on contiguous heads.
#
#    </details>
#
# 5. Why is $W_O$ needed? Could we return the concatenated heads directly?
#
#    <details><summary>Answer</summary>
#
#    Without $W_O$, head $i$ could only write into its own `d_k` slice of the
#    stream, and the heads' results would never be combined. $W_O$ mixes them and
#    maps the result into whatever directions of the `d_model`-wide residual
#    stream later layers read. (Rows $i d_k$ to $(i+1) d_k - 1$ of $W^O$, the
#    same columns of `w_o.weight`, are "how head $i$ writes into the stream".)
#
#    </details>
#
# 6. `torch.nn.MultiheadAttention` is given `attn_mask=causal` (the course's
#    True = may attend) by mistake. What happens?
#
#    <details><summary>Answer</summary>
#
#    PyTorch reads True as "may *not* attend", so each position would attend only
#    to the *future* (and the last position to nothing). Always convert with `~`.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - Multi-head attention runs `n_heads` attentions in parallel, each on a
#   `d_k = d_model // n_heads`-wide slice, then concatenates them and mixes
#   them with $W_O$:
#   $\text{MultiHead}(Q,K,V) = \text{Concat}(\text{head}_1..\text{head}_h) W^O$.
# - In code: one `nn.Linear` per $W_Q, W_K, W_V$ for all heads at once,
#   `split_heads` (`b l (h d_k) -> b h l d_k`, contiguous blocks), one batched
#   attention, `merge_heads` (`b h l d_k -> b l (h d_k)`), then `w_o`.
# - Scores are divided by $\sqrt{d_k}$, the head's width. Masks broadcast over
#   the heads axis unchanged.
# - Different heads can attend to different relations for the same input (the
#   four maps), at no extra parameter cost.
# - With its weights copied over (`in_proj_weight` chunks into $W_Q, W_K, W_V$),
#   your layer gives the same outputs as `torch.nn.MultiheadAttention`, whose
#   masks use the opposite polarity.
#
# Next: **04 · positional encoding**: attention, as built so far, cannot tell
# "dog bites man" from "man bites dog".
