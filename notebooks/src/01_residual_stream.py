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
# # 01 · The residual stream
#
# **Every layer reads the stream and *adds* its contribution back, so the
# output is the embedding plus a sum of updates, turned into next-token
# probabilities by the unembedding and a softmax.**
#
# This notebook is the big picture. Before we open up attention (02), heads
# (03) or LayerNorm (05), we look at the road they all travel on, and at the
# two ends of that road: where the numbers come from (the embedding) and how
# they become a prediction (the unembedding and the softmax).

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
#     tokens["token ids (B, L)"] --> embed["embedding: x₀ (B, L, d_model)"]
#     embed --> add1(("+"))
#     embed -. reads .-> f0["block 0: f₀"]
#     f0 -- "adds f₀(x₀)" --> add1
#     add1 -- "x₁" --> add2(("+"))
#     add1 -. reads .-> f1["block 1: f₁"]
#     f1 -- "adds f₁(x₁)" --> add2
#     add2 -- "x₂ ... x_N (N blocks in all)" --> unembed["unembedding W_U: logits (B, L, V)"]
#     unembed --> softmax["softmax over the vocabulary: next-token probabilities"]
# ```

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/01_residual_stream.png" alt="The residual stream: embedding, blocks adding updates, unembedding, softmax" width="520">
#
# </details>

# %% [markdown]
# ## Intuition: a shared workspace that every block writes into
#
# Each token starts as a vector of `d_model` numbers, its embedding $x_0$. That
# vector travels up through the layers, one per position, and is called the
# **residual stream**. A block (attention, or the feed-forward network) does not
# *replace* the vector; it **reads** it, computes an **update**, and **adds** the
# update back:
#
# $$x_{l+1} = x_l + f_l(x_l).$$
#
# Blocks are counted from 0, nearest the input. Unroll that over $N$ blocks
# (the paper's name for the number of layers) and the final stream is the
# embedding plus the sum of every block's update:
#
# $$x_N = x_0 + f_0(x_0) + f_1(x_1) + \dots + f_{N-1}(x_{N-1}).$$
#
# In code, `x = x + block.update(x)` in a loop. Three consequences, each met
# again later in the course:
#
# - **A block only has to learn a change.** Doing nothing is easy to represent
#   (an update of zero), so adding a block can never make it harder to
#   represent what the stack already did.
# - **Information is kept.** What the embedding put in the stream stays there
#   unless some block actively writes over it; later blocks can still read it.
# - **Gradients have a straight path.** The loss reaches every layer through
#   the `+`, not only through every block above it. We measure this below.

# %% [markdown]
# ## Setup

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

import transformer_course as tc
from transformer_course import checks

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.seed_everything(0)
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
print(f"running on: {device}")

# %% [markdown]
# ## The end of the stream: from an $L \times d_\text{model}$ matrix to probabilities
#
# For one sequence of $L$ tokens, the final stream $x_N$ is an
# $L \times d_\text{model}$ matrix: one vector per position. A language model
# has to output, at every position $t$, a probability for every word of its
# vocabulary of size $V$ = `vocab_size`: *which token comes after position $t$?*
#
# Two steps get there:
#
# 1. **Unembedding.** Multiply by a learned matrix $W_U$ (`W_U`, shape
#    `(d_model, V)`): `logits = stream @ W_U`, shape $L \times V$. The
#    logit $z_{t,w}$ is the dot product of position $t$'s vector with word $w$'s
#    column, a score for "$w$ comes next". Many models reuse the embedding
#    matrix for this ($W_U = W_E^\top$, "tied embeddings").
# 2. **Softmax** over the vocabulary, separately for each position:
#
# $$p_{t,w} = \mathrm{softmax}(z_t)_w = \frac{e^{z_{t,w}}}{\sum_{w'=1}^{V} e^{z_{t,w'}}}.$$
#
# So the $L \times d_\text{model}$ output becomes $L$ probability
# distributions, one per position. In training all $L$ are used at once
# (position $t$ is scored on predicting token $t+1$), so one sequence gives $L$
# lessons. When generating, only the last row matters: it is the distribution
# of the next, new token.

# %% [markdown]
# ### Exercise 1 · ★☆☆ · about 3 minutes: softmax
#
# Write `softmax(logits)`: `(..., n)` → `(..., n)`, the softmax over the
# **last** axis, without calling `torch.softmax`. Each row must be positive and
# sum to 1.
#
# One practical detail: `exp(1000)` overflows to `inf`, and `inf / inf` is
# `NaN`. Since $\mathrm{softmax}(z - c) = \mathrm{softmax}(z)$ for any constant
# $c$ (the $e^{-c}$ cancels), subtract each row's maximum first.
#
# <details><summary>Hint</summary>
#
# `logits.max(dim=-1, keepdim=True).values` is each row's maximum, shape
# `(..., 1)`, ready to broadcast against `logits`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# Divide `exp` by `exp.sum(dim=-1, keepdim=True)`. Without `keepdim=True` the
# sum loses its last axis, and the division lines up with the wrong axis.
#
# </details>

# %%
def softmax(logits: torch.Tensor) -> torch.Tensor:
    """(..., n) -> (..., n): exp(logits) normalised to sum to 1 over the last axis."""
    ### BEGIN SOLUTION
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    exp = torch.exp(shifted)
    return exp / exp.sum(dim=-1, keepdim=True)
    ### END SOLUTION


# %%
softmax = checks.residual.check_softmax(softmax)

# %% [markdown]
# ### Picture: logits → probabilities
#
# Here are made-up logits for the word after "the cat sat on the", over a tiny
# vocabulary of 8 words. Softmax keeps the order, makes every number positive,
# and makes them sum to 1; a logit 1 higher means a probability $e \approx 2.7$
# times higher.

# %%
vocab = ["the", "cat", "sat", "on", "mat", "dog", "ran", "."]
logits = torch.tensor([0.5, 1.0, -1.0, -0.5, 3.0, 1.5, -2.0, 0.0])  # (V,)
probs = softmax(logits)

fig, (ax_z, ax_p) = plt.subplots(1, 2, figsize=(10, 3.2))
ax_z.bar(vocab, logits, color=["tab:red" if z < 0 else "tab:blue" for z in logits])
ax_z.axhline(0, color="black", linewidth=0.8)
ax_z.set(title="logits z (any real number)", ylabel="logit")
ax_p.bar(vocab, probs, color="tab:green")
ax_p.set(title=f"softmax(z): positive, sum = {probs.sum():.2f}", ylabel="probability", ylim=(0, 1))
for i, p in enumerate(probs):
    ax_p.text(i, p + 0.02, f"{p:.2f}", ha="center", fontsize=8)
fig.suptitle('next word after "the cat sat on the"')
fig.tight_layout()
plt.show()

# %% [markdown]
# Adding the same number to every logit changes nothing, which is exactly why
# subtracting the maximum is safe:

# %%
print(torch.allclose(softmax(logits), softmax(logits + 100.0)))
print(softmax(torch.tensor([1000.0, 1001.0])))  # no overflow

# %% [markdown]
# ### Exercise 2 · ★☆☆ · about 3 minutes: next-token probabilities
#
# Write `next_token_probs(stream, W_U)`: the final stream `(B, L, d_model)`
# and the unembedding `W_U` `(d_model, V)` → `(B, L, V)`, where `[b, t]` is
# the probability distribution over the token after position `t` of
# sequence `b`:
#
# $$P = \mathrm{softmax}(x_N W_U) \quad\text{over the vocabulary axis.}$$
#
# <details><summary>Hint</summary>
#
# `stream @ W_U` multiplies the last axis (`d_model`) away and batches over the
# rest. Then use your `softmax` from exercise 1 (or `torch.softmax(..., dim=-1)`).
#
# </details>

# %%
def next_token_probs(stream: torch.Tensor, W_U: torch.Tensor) -> torch.Tensor:
    """(B, L, d_model), (d_model, V) -> (B, L, V), rows sum to 1."""
    ### BEGIN SOLUTION
    logits = stream @ W_U  # (B, L, V)
    return softmax(logits)
    ### END SOLUTION


# %%
next_token_probs = checks.residual.check_next_token_probs(next_token_probs)

# %% [markdown]
# ### A zero-block model
#
# The smallest "language model" is an embedding followed directly by the
# unembedding: no blocks at all, $x_N = x_0$. With tied embeddings
# ($W_U = W_E^\top$), position $t$'s logit for word $w$ is the dot product of
# the two words' embeddings. Random embeddings are nearly orthogonal, so every
# position predicts **its own token** again:

# %%
d_model = 16
tc.seed_everything(0)
W_E = torch.randn(len(vocab), d_model).to(device)  # (V, d_model): one row per word
W_U = W_E.T  # (d_model, V): the unembedding, tied to the embedding
sentence = ["the", "cat", "sat", "on", "the"]
tokens = torch.tensor([[vocab.index(w) for w in sentence]], device=device)  # (B=1, L=5)
x0 = W_E[tokens]  # (1, 5, d_model), the embedding: the start of the stream
P = next_token_probs(x0, W_U)  # (1, 5, V)
print("stream", tuple(x0.shape), "-> probabilities", tuple(P.shape))
print("each row sums to", P.sum(dim=-1).cpu())

# %%
fig, ax = plt.subplots(figsize=(6, 3))
image = ax.imshow(P[0].cpu(), cmap="Greens", vmin=0, vmax=1)
fig.colorbar(image, ax=ax, label="probability")
ax.set_xticks(range(len(vocab)), vocab)
ax.set_yticks(range(len(sentence)), [f"{t}: {w}" for t, w in enumerate(sentence)])
ax.set(xlabel="next token", ylabel="position", title="zero blocks: each position predicts itself")
plt.show()

# %% [markdown]
# That is the job of the blocks: to move each position's vector away from "I
# am the word *sat*" towards "the word after me is probably *on*", using what
# they read from the other positions (attention) and what they know
# (the feed-forward network). Every one of those moves is an addition to the
# stream.

# %% [markdown]
# ## A residual block
#
# A block computes an update $f(x)$ from the stream and adds it back. Here $f$
# is a small two-layer network (the shape of the feed-forward network of
# notebook 05), applied to every position on its own:
#
# $$\text{out} = x + W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2,$$
#
# where `self.linear1` holds $W_1, b_1$ (`d_model` → `d_hidden`) and
# `self.linear2` holds $W_2, b_2$ (`d_hidden` → `d_model`). The update must have
# the stream's width `d_model`, or it could not be added.
#
# ### Exercise 3 · ★☆☆ · about 3 minutes: `ResidualBlock.forward`
#
# The layers are made for you in `__init__`; write `forward`.
#
# <details><summary>Hint</summary>
#
# Compute the update `self.linear2(torch.relu(self.linear1(x)))` first, then
# return it added to `x`. Only the update goes through the ReLU.
#
# </details>

# %%
class ResidualBlock(nn.Module):
    """x + f(x) with f(x) = linear2(relu(linear1(x))): (B, L, d_model) -> same shape."""

    def __init__(self, d_model: int, d_hidden: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_hidden)
        self.linear2 = nn.Linear(d_hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        update = self.linear2(torch.relu(self.linear1(x)))  # f(x): (B, L, d_model)
        return x + update
        ### END SOLUTION


# %%
ResidualBlock = checks.residual.check_residual_block(ResidualBlock)

# %% [markdown]
# ### The output is the embedding plus a sum of updates
#
# Stack four blocks, record what each one added, and check the identity
# $x_N = x_0 + \sum_l f_l(x_l)$. (Each update is measured as `block(x) - x`, so
# this works with your block and with the reference.) We also measure how large
# each update is next to the stream it is added to.

# %%
tc.seed_everything(0)
blocks = [ResidualBlock(d_model, 4 * d_model).to(device) for _ in range(4)]
x = x0
updates = []
with torch.no_grad():
    for block in blocks:
        new_x = block(x)
        updates.append(new_x - x)  # what this block wrote into the stream
        x = new_x
print("x_N == x_0 + sum of updates:", torch.allclose(x, x0 + sum(updates), atol=1e-5))
stream = x0
for i, update in enumerate(updates):
    ratio = (update.norm(dim=-1) / stream.norm(dim=-1)).mean().item()  # per position, averaged
    print(f"block {i}: its update is {ratio:.0%} of the size of the stream it is added to")
    stream = stream + update
similarity = torch.cosine_similarity(x, x0, dim=-1).mean().item()
print(f"cosine similarity of x_N and x_0, averaged over the positions: {similarity:.2f}")

# %% [markdown]
# So you can read the final stream as a sum of contributions and ask which
# block wrote what: the basis of much of the research that takes trained
# transformers apart.
#
# Note what the sizes say about a block *at initialisation*: it is not "doing
# nothing". With PyTorch's default random weights each of these updates is
# roughly a fifth to a third of the size of the stream it is added to. What the
# `+` guarantees is that the embedding is never overwritten: after four blocks
# the stream still points mostly the way $x_0$ did (the cosine similarity
# above), and each block's job in training is to turn its random update into
# a useful one. (Some models start their blocks closer to "do nothing" on
# purpose: GPT-2 scales down the initial weights of the layer that writes each
# update, by $1/\sqrt{\text{number of residual layers}}$.)

# %% [markdown]
# ## Why add instead of replace? Measuring the gradient
#
# Training needs the gradient of the loss with respect to every layer's
# weights. By the chain rule, the gradient reaching layer $l$ is multiplied by
# the Jacobian $\partial x_{l+1} / \partial x_l$ of every layer above it. (A
# layer's **Jacobian** is the matrix of all its partial derivatives: entry
# $(i, j)$ is $\partial (x_{l+1})_i / \partial (x_l)_j$, how much output
# feature $i$ moves when input feature $j$ moves a little. For a
# $d_\text{model}$-wide layer it is $d_\text{model} \times d_\text{model}$,
# and backpropagation multiplies the gradient by it, layer by layer.)
#
# - **Without** a residual connection, $x_{l+1} = f_l(x_l)$ and each factor is
#   $\partial f_l / \partial x_l$. If these shrink vectors even a little, say by
#   half, the product over 30 layers is $2^{-30} \approx 10^{-9}$: the bottom
#   layers get no signal (*vanishing gradients*).
# - **With** a residual connection, $x_{l+1} = x_l + f_l(x_l)$ and each factor
#   is $I + \partial f_l / \partial x_l$. The identity $I$ is a straight path: the
#   gradient at the top reaches every layer directly.
#
# `tc.DeepStack(n_layers, d_model, residual)` is a stack of
# `x -> tanh(W x + b)` layers, either added to the stream or replacing it, and
# `tc.gradient_norms(model, x, target)` backpropagates a mean-squared error and
# returns $\lVert \partial L / \partial W_l \rVert$ for every layer. Both stacks
# start from the same weights.

# %%
n_layers, width = 30, 64
x_in = torch.randn(32, width).to(device)  # (B, d_model), made on the CPU, then moved
target = torch.randn(32, width).to(device)
norms = {}
for residual in (True, False):
    tc.seed_everything(1)  # the same initial weights for both
    stack = tc.DeepStack(n_layers, width, residual=residual).to(device)
    norms[residual] = tc.gradient_norms(stack, x_in, target)
print(f"layer 0 (bottom): with residual {norms[True][0]:.2g}, without {norms[False][0]:.2g}")
print(f"layer {n_layers - 1} (top):  with residual {norms[True][-1]:.2g}, without {norms[False][-1]:.2g}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.semilogy(range(n_layers), norms[True], "o-", label="with residual: x + f(x)")
ax.semilogy(range(n_layers), norms[False], "s-", label="without: f(x)")
ax.set(xlabel="layer (0 = nearest the input)", ylabel="gradient norm ||dL/dW||",
       title=f"gradient reaching each layer of a {n_layers}-layer stack")
ax.legend()
ax.grid(True, which="major", alpha=0.3)
plt.show()

# %% [markdown]
# **What it means.** With the residual connections every layer gets a gradient
# of roughly the same size, so all of them learn from the first step. Without
# them the gradient shrinks by a constant factor per layer and the bottom
# layers receive about a millionth of what the top one gets: in practice they barely
# train at all. This is why transformers (and ResNets before them) can be
# dozens of layers deep. Notebook 08 takes the residual connections out of
# notebook 07's two-layer translator and measures what that costs; the cell
# below reads its results file. (Its runs are shorter than notebook 07's
# training, 600 steps on uniformly drawn numbers, so its full model scores a
# little below the 100 % that notebook 07 and the README report.)

# %%
import json
from pathlib import Path

from transformer_course.task.ablation import summarize

results = next(p for p in (Path("data/ablations.json"), Path("../data/ablations.json")) if p.exists())
sweep = summarize(json.loads(results.read_text())["runs"])
without, full = sweep["base", "no residual"], sweep["base", "full"]
print(f"notebook 08, held-out exact match over {len(full.seeds)} seeds (mean, min-max): "
      f"without residual connections {without.exact_text()}, with them {full.exact_text()}")

# %% [markdown]
# ## Check your understanding
#
# 1. The final stream of one sequence is an $L \times d_\text{model}$ matrix.
#    Where do the next-token probabilities come from, and how many
#    distributions are there?
#
#    <details><summary>Answer</summary>
#
#    Multiply by the unembedding $W_U$ ($d_\text{model} \times V$) to get
#    $L \times V$ logits, then take the softmax over the vocabulary axis for
#    each row: $L$ distributions, row $t$ being the prediction of the token
#    after position $t$. Training uses all $L$; generation uses the last.
#
#    </details>
#
# 2. Why does `next_token_probs` take the softmax over the last axis and not
#    over the positions?
#
#    <details><summary>Answer</summary>
#
#    Each position predicts one token out of the vocabulary, so the
#    probabilities of all possible words *at one position* must sum to 1. A
#    softmax over positions would compare different positions' scores for the
#    same word, which is meaningless as a prediction.
#
#    </details>
#
# 3. If every block's update $f_l$ were zero, what would the model compute?
#    Why does that make adding blocks safe? Is it how the blocks above started?
#
#    <details><summary>Answer</summary>
#
#    $x_N = x_0$: the zero-block model, a prediction from the current token
#    alone. Because "do nothing" is just an update of zero, a stack with more
#    blocks can always represent what a smaller one does; each block only has
#    to learn a useful change. But it is not where the blocks above started:
#    at random initialisation their updates were a fifth to a third of the
#    stream's size. The `+` keeps the embedding in the stream anyway (the
#    stream still points mostly the way $x_0$ did), and training shapes the
#    updates.
#
#    </details>
#
# 4. In the gradient experiment, why do the gradients vanish without residual
#    connections but not with them?
#
#    <details><summary>Answer</summary>
#
#    Without them the gradient reaching layer $l$ is a product of one Jacobian
#    $\partial f / \partial x$ per layer above it; when these shrink vectors,
#    the product shrinks exponentially with depth. With them each factor is
#    $I + \partial f / \partial x$, and the identity carries the gradient
#    straight down.
#
#    </details>
#
# 5. Why subtract the maximum inside the softmax, and why is that allowed?
#
#    <details><summary>Answer</summary>
#
#    `exp` of a large logit overflows to `inf` and `inf / inf` is `NaN`. After
#    subtracting the maximum the largest exponent is $e^0 = 1$. It is allowed
#    because $e^{z - c} / \sum e^{z' - c} = e^{z} / \sum e^{z'}$.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - The **residual stream** is the vector of `d_model` numbers per position that
#   flows through the model. Every block reads it and adds an update:
#   $x_{l+1} = x_l + f_l(x_l)$, so $x_N = x_0 + \sum_l f_l(x_l)$.
# - The final $L \times d_\text{model}$ stream becomes $L$ next-token
#   distributions by the **unembedding** $W_U$ (logits $= x_N W_U$,
#   $L \times V$) and a **softmax over the vocabulary**.
# - Softmax: exponentiate, normalise each row; subtract the row maximum first.
# - The `+` gives gradients a straight path to every layer: measured above,
#   gradient norms stay level with residual connections and vanish
#   exponentially without them.
#
# Next: **02 · attention**, the block that lets a position read from the others.
