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
# # 00 · How this course works
#
# **Exercises are stubs you fill in; a check right below tells you at once
# whether you got it right and, if not, what is wrong.**
#
# This notebook shows that loop on three small tensor-shape exercises, the
# kind of shape bookkeeping every later notebook relies on. Nothing about
# transformers yet: the point is to get fluent with the tools first.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## The loop of every exercise
#
# ```mermaid
# flowchart LR
#     stub["exercise cell:<br/>a stub you fill in"] --> check{"check cell<br/>right below"}
#     check -->|right| ok["✔ name: correct<br/>your version is used"]
#     check -->|wrong| bad["✘ what is wrong<br/>(shape, axis, scale, ...)"]
#     check -->|still a stub| todo["… not done yet<br/>the reference is used"]
#     bad -->|fix it, run both cells again| stub
# ```
#
# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/00_how_this_course_works.png" alt="A stub goes into the check cell, which says correct, what is wrong, or not done yet" width="560">
#
# </details>

# %% [markdown]
# Each exercise has:
#
# - **a heading with difficulty and time**, e.g. *Exercise 1 · ★☆☆ · about 2
#   minutes*. Three stars means "take your time, it is the heart of the notebook";
# - **a stub**: a function (or class) whose body is
#   `# YOUR CODE HERE` and `raise NotImplementedError`. Replace both lines;
# - **hints, folded away**. Click *Hint* to open one only when you want it;
# - **a check cell right below**, like
#   `mean_over_positions = checks.warmup.check_mean_over_positions(mean_over_positions)`.
#   It runs your code on several seeded inputs (batch of 1, length 1, square
#   and non-square shapes, ...) and compares with the reference implementation
#   in the `transformer_course` package.

# %% [markdown]
# ## Skipping is safe
#
# **Run All always finishes.** A check on an untouched stub prints
# `… name: not done yet — the reference implementation is used from here on`
# and hands back the reference, so every later cell still runs. You can skip
# an exercise and come back to it: fill in the stub, then run the exercise
# cell and its check cell again.
#
# (Want every exercise enforced, or wonder what happens to your filled-in
# notebooks when the course is updated? The README's section "How exercises
# work" has the answers; you do not need them to work through the course.)

# %% [markdown]
# ## Setup: imports and the device
#
# `transformer_course` is the package that holds the reference implementation
# of everything the course teaches, and `transformer_course.checks` the checks.

# %%
import torch
from einops import rearrange

import transformer_course as tc
from transformer_course import checks

# %% [markdown]
# The device is chosen once, for the whole course: a CUDA GPU if there is one,
# then an Apple GPU, else the CPU. Seeding makes every run repeat exactly.
# Every notebook runs in well under a minute on a 2-core CPU, so no GPU is
# needed.

# %% tags=["nbval-ignore-output"]
device = tc.get_device()
tc.seed_everything(0)
print(f"running on: {device}")

# %% [markdown]
# ## Warm-up: reading shapes
#
# In this course a sequence of token vectors always has its axes in this
# order, written in shape comments as `(B, L, d_model)`:
#
# | axis | in shape comments | in check messages | meaning |
# |---|---|---|---|
# | 0 | `B` | `batch` | independent sequences processed together |
# | 1 | `L` | `seq_len` | positions (tokens) in a sequence |
# | 2 | `d_model` | `d_model` | numbers describing one token |
#
# Later notebooks add a few more letters: `S` and `T` for the lengths of a
# source and a target sentence (notebook 06), `H` for attention heads
# (notebook 03), `V` for the size of the vocabulary (notebook 01).
#
# So a batch of 2 sentences, 3 tokens each, each token a vector of 4 numbers,
# is a tensor of shape `(2, 3, 4)`:

# %%
x = torch.arange(24.0).reshape(2, 3, 4)  # (B=2, L=3, d_model=4)
print(x.shape)
print(x[0])  # the first sentence: 3 tokens x 4 numbers

# %% [markdown]
# ### Exercise 1 · ★☆☆ · about 2 minutes: average over positions
#
# A simple summary of a whole sequence is the mean of its token vectors.
# For each sequence $b$ with $L$ = `seq_len` positions,
#
# $$\bar{x}_{b} = \frac{1}{L} \sum_{t=1}^{L} x_{b,t} \qquad (\text{shape } (B, d_\text{model})).$$
#
# Write `mean_over_positions(x)`: `(B, L, d_model)` → `(B, d_model)`.
#
# <details><summary>Hint</summary>
#
# Reductions such as `x.sum(dim=...)` and `x.mean(dim=...)` take the axis to
# remove. Which axis holds the positions, `L`?
#
# </details>

# %%
def mean_over_positions(x: torch.Tensor) -> torch.Tensor:
    """(B, L, d_model) -> (B, d_model): the mean of each sequence's token vectors."""
    ### BEGIN SOLUTION
    return x.mean(dim=1)
    ### END SOLUTION


# %%
mean_over_positions = checks.warmup.check_mean_over_positions(mean_over_positions)

# %% [markdown]
# ### What a failed check looks like
#
# Here is a deliberately wrong version that averages over the last axis. A
# check normally stops the notebook with its message; this cell catches the
# failure only to show you the message without stopping "Run All".

# %%
def mean_over_wrong_axis(x):
    return x.mean(dim=-1)


try:
    checks.warmup.check_mean_over_positions(mean_over_wrong_axis)
except checks.CheckFailed as failure:
    print("✘", failure)

# %% [markdown]
# The message names the function, says what is wrong in words, and which
# input it was tested on. Most checks in the course know the usual mistakes
# (softmax over the wrong axis, a missing $1/\sqrt{d_k}$, a mask with the wrong
# polarity, ...) and name them; for anything else they say where the largest
# difference from the reference is.
#
# Checks also run your code the way later notebooks will: on copies of the
# inputs, so an input changed in place (`x -= ...`) is reported; and as if the
# inputs lived on a GPU, so a tensor made on the CPU (`torch.arange(n)` without
# `device=`) that meets them is reported with the line that made it. When your
# code raises an error, you see your own lines and the inputs' shapes, not the
# check's insides.

# %% [markdown]
# ### Exercise 2 · ★☆☆ · about 3 minutes: every row against every row
#
# Given `a` of shape `(B, n, d)` and `b` of shape `(B, m, d)`, compute
# the dot product of every row of `a` with every row of `b`, separately for
# each batch element:
#
# $$S_{b,i,j} = \sum_{k=1}^{d} a_{b,i,k}\, b_{b,j,k}, \qquad S = A B^\top \text{ for each batch element.}$$
#
# The result has shape `(B, n, m)`. (In notebook 02 this is exactly how
# attention compares every query with every key.)
#
# <details><summary>Hint</summary>
#
# `@` (matrix product) works on the last two axes and treats any axes before
# them as a batch: `(B, n, d) @ (B, d, m) -> (B, n, m)`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `b.transpose(-2, -1)` swaps the last two axes of `b`. (`b.T` would reverse
# *all* axes, including the batch axis.)
#
# </details>

# %%
def pairwise_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, n, d), (B, m, d) -> (B, n, m): a[z, i] . b[z, j] for every i, j."""
    ### BEGIN SOLUTION
    return a @ b.transpose(-2, -1)
    ### END SOLUTION


# %%
pairwise_dot = checks.warmup.check_pairwise_dot(pairwise_dot)

# %% [markdown]
# ### einops: reshapes you can read
#
# `einops.rearrange` spells a reshape by naming the axes before and after the
# arrow. Parentheses group axes: `(n c)` is *one* axis of size `n * c`,
# read as `n` blocks of `c` consecutive entries. For example, a sequence of 6
# positions viewed as 2 rows of 3:

# %%
seq = torch.arange(6)  # positions 0..5
print(rearrange(seq, "(n c) -> n c", c=3))

# %% [markdown]
# ### Exercise 3 · ★★☆ · about 4 minutes: cut a sequence into chunks
#
# Write `chunk_sequence(x, chunk_len)`: `(B, L, d_model)` →
# `(B, n_chunks, chunk_len, d_model)`, where chunk 0 holds positions
# `0 .. chunk_len-1`, chunk 1 the next `chunk_len` positions, and so on
# (`L` is a multiple of `chunk_len`). Use `rearrange`.
#
# <details><summary>Hint</summary>
#
# Only the `L` axis changes: it splits into `(n c)`. The batch axis `b` and
# the `d_model` axis keep their names on both sides of the arrow.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `rearrange(seq, "(n c) -> n c", c=3)` above put *consecutive* positions
# together. Writing `(c n)` instead would put every `n`-th position together.
#
# </details>

# %%
def chunk_sequence(x: torch.Tensor, chunk_len: int) -> torch.Tensor:
    """(B, L, d_model) -> (B, n_chunks, chunk_len, d_model), consecutive positions per chunk."""
    ### BEGIN SOLUTION
    return rearrange(x, "b (n c) d_model -> b n c d_model", c=chunk_len)
    ### END SOLUTION


# %%
chunk_sequence = checks.warmup.check_chunk_sequence(chunk_sequence)

# %% [markdown]
# What it means: with one sequence of 12 positions and one number per
# position (its own index), chunks of 4 should read 0-3, 4-7, 8-11.

# %%
positions = torch.arange(12.0).reshape(1, 12, 1)  # (B=1, L=12, d_model=1)
print(chunk_sequence(positions, 4)[0, :, :, 0])  # (n_chunks=3, chunk_len=4)

# %% [markdown]
# ## Check your understanding
#
# 1. You run a check cell without touching the stub above it. What happens,
#    and what do the cells further down use?
#
#    <details><summary>Answer</summary>
#
#    The check prints `… name: not done yet — the reference implementation is
#    used from here on` and returns the reference implementation, which the
#    check cell binds to the exercise's name. Later cells run with it. Run
#    the check cell again and it says the same: the name now holds the
#    reference, not your code, until you run your cell.
#
#    </details>
#
# 2. `x` has shape `(B, L, d_model) = (2, 3, 4)`. What is the shape of
#    `x.mean(dim=-1)`, and what does each of its numbers describe? Why is it
#    not a summary of the sequence?
#
#    <details><summary>Answer</summary>
#
#    `(2, 3)`: one number per token, the average of that token's 4 features.
#    It removes the `d_model` axis, so the positions are never combined: each
#    token is summarised on its own. A summary of the sequence averages over
#    the positions, `dim=1`, and has shape `(2, 4)`: one vector per sequence.
#
#    </details>
#
# 3. `x` has shape `(B, L, d_model) = (8, 10, 64)` and `p` has shape
#    `(10, 64)`. What is `x + p`, and which entries of `p` are added to
#    `x[b, t]`?
#
#    <details><summary>Answer</summary>
#
#    Broadcasting lines the shapes up from the right: `p` is treated as
#    `(1, 10, 64)` and repeated over the batch, so `x + p` has shape
#    `(8, 10, 64)` with `(x + p)[b, t] = x[b, t] + p[t]`: row `t` of `p` is
#    added to position `t` of every sequence. (Notebook 04 adds one vector per
#    position to every sequence exactly like this.)
#
#    </details>
#
# 4. `q` has shape `(8, 10, 64)` and `k` shape `(8, 12, 64)`. What is the shape
#    of `q @ k.transpose(-2, -1)`, and what does entry `[0, 3, 5]` mean?
#
#    <details><summary>Answer</summary>
#
#    `(8, 10, 12)`. Entry `[0, 3, 5]` is the dot product of row 3 of `q` with
#    row 5 of `k`, in batch element 0.
#
#    </details>
#
# 5. `x` has shape `(2, 12, 16)`. What is the shape of
#    `rearrange(x, "b (n c) d_model -> b n c d_model", c=4)`, and which
#    positions are in chunk 1? And with `"b (c n) d_model -> b n c d_model"`?
#
#    <details><summary>Answer</summary>
#
#    `(2, 3, 4, 16)`; chunk 1 holds positions 4, 5, 6, 7. With `(c n)`, chunk 1
#    holds positions 1, 4, 7, 10: every third position, starting at 1.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - Each exercise is a stub (`raise NotImplementedError`) with a difficulty,
#   a time estimate and folded hints; the check cell right below runs it
#   against the reference on several inputs.
# - A check says `✔ correct`, says *what* is wrong, or, for an untouched
#   stub, says *not done yet* and hands on the reference so "Run All" finishes.
#   Solutions are in `notebooks/solutions/`.
# - Shapes are written `(B, L, d_model)` (batch, sequence length, width of a
#   token vector); reductions remove the axis you name; broadcasting lines
#   shapes up from the right; `@` multiplies the last two axes and batches over
#   the rest; `einops.rearrange` splits and moves axes by name, `(n c)` meaning
#   consecutive blocks.
#
# Next: **01 · the residual stream**, the big picture of a transformer.
