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
# # 12 · From a blank page
#
# **You can now write a whole transformer and its training from nothing but a
# specification, and prove it works.**
#
# Every exercise so far filled a few lines into a class whose signature,
# shapes and neighbours were given. That is not the same skill as writing the
# thing. Here you get a blank file and a specification: the names a test will
# call, their arguments, the shapes in and out, and the parameter names a test
# uses to load known weights into your model. You write the embedding, the
# positional encoding, attention, multi-head attention, LayerNorm, the
# feed-forward network, the residual sub-layers, the encoder and decoder
# layers and stacks, the model, the masks, the label-smoothed loss, the
# learning-rate schedule, the training step and loop, and greedy decoding, in
# one file, alone. A battery of tests checks it piece by piece, in the order
# you build it, and names the piece and the mistake when one is wrong. Then
# your model trains on the number task of notebook 07 and must reach what the
# course's model reaches.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. Its twin in `notebooks/solutions/` runs the
# battery and the training on the course's own one-file transformer,
# `notebooks/solutions/my_transformer.py`; look at it only when you are done
# (or truly stuck).*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: the file it checks and trains is
# `notebooks/solutions/my_transformer.py`, the course's whole transformer in
# one file. The notebook to work in is the one in `notebooks/`, with the same
# name.*

# %% [markdown]
# ## Where this sits
#
# ```mermaid
# flowchart LR
#     S["the specification<br/>(this notebook)"] --> F["my_transformer.py<br/>(your file, only torch)"]
#     F --> B1["pieces 1-9<br/>rules, Embedding, PositionalEncoding,<br/>attention, MultiHeadAttention, LayerNorm,<br/>FeedForward, SublayerConnection, EncoderLayer"]
#     B1 --> B2["pieces 10-16<br/>Encoder, DecoderLayer, Decoder,<br/>Transformer, the three masks"]
#     B2 --> B3["pieces 17-22<br/>loss, learning rate, optimiser,<br/>train_step, train, greedy_decode"]
#     B3 -->|"all 22 correct"| T["train on the number task<br/>(notebook 07's settings)"]
#     T --> R["exact match per family,<br/>your curve beside the course's"]
# ```
#
# The battery checks the pieces in this order and stops at the first that
# is wrong, naming it and the mistake.

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/12_from_a_blank_page.png" alt="The specification in this notebook leads to your file my_transformer.py, written as pieces 1-9 (rules to EncoderLayer), pieces 10-16 (Encoder to the three masks) and pieces 17-22 (loss to greedy_decode); when all 22 are correct, your model is trained on the number task with notebook 07's settings and reports exact match per family and your curve beside the course's" width="760">
#
# </details>

# %% [markdown]
# ## Where you write: a file, `my_transformer.py`
#
# You write one Python file, `my_transformer.py`, beside this notebook
# (`notebooks/my_transformer.py`). In JupyterLab open it from the file
# browser on the left (double-click): it opens in JupyterLab's editor, next to
# this notebook if you drag its tab to the side. Why a file and not cells:
#
# - **It is what "from a blank page" means.** One file that imports and runs
#   on its own, with no notebook state behind it: nothing defined in an
#   earlier cell, no reference quietly standing in for a piece you have not
#   written.
# - **The tests can import it**, from this notebook and from a terminal,
#   the way a real project's tests import its code
#   (`python -m pytest notebooks/test_my_transformer.py`).
# - **Every check re-reads it.** Save the file (Ctrl+S) and run the check
#   cell again: the battery imports the file afresh, so there is no kernel to
#   restart and no stale class left over.
# - **It is yours.** The setup cell below creates the file with only a
#   header if it does not exist, and never writes to it again; git ignores
#   it (`.gitignore`), so updating the course never touches it. (For your
#   own CI to check it, commit it anyway: `git add -f notebooks/my_transformer.py`;
#   see the README, "Your own CI".)
#
# The rules, which the battery's first piece enforces and names: **only
# torch** (and `math`). `nn.Linear`, `nn.Embedding`, `nn.Dropout`,
# `nn.ModuleList` and `torch.optim.Adam` are given. Nothing from
# `transformer_course`, and none of `nn.Transformer*`,
# `nn.MultiheadAttention`, `F.scaled_dot_product_attention`, `nn.LayerNorm`,
# `F.layer_norm`: those are what you write.

# %% [markdown]
# ## Setup

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import transformer_course as tc
from transformer_course.checks import blank_page

tc.set_threads()
device = tc.get_device()
MY_FILE = Path(blank_page.FILE_NAME)  # my_transformer.py, beside this notebook
print(blank_page.create_if_missing(MY_FILE))

# %% [markdown]
# ## The specification
#
# Build in this order; the battery checks the pieces in the same order. The
# names, arguments and **parameter names** are fixed, because the battery
# loads the course's weights into each of your pieces by name and compares
# the outputs. Masks follow the course's convention: **bool, True = may
# attend**, broadcastable to (B, H, q_len, k_len). Shapes: B batch, S source
# length, T target length, L either, H heads, V vocabulary.
#
# | # | name and arguments | parameters (names fixed) | in → out | taught in |
# |---|---|---|---|---|
# | 2 | `Embedding(vocab_size, d_model)` | `lut` (an `nn.Embedding`) | ids (B, L) → (B, L, d_model), **times sqrt(d_model)** | 07 |
# | 3 | `PositionalEncoding(d_model, max_len, dropout=0.0)` | none (a buffer) | x (B, L, d_model) → dropout(x + PE[:L]); sin in even dims, cos in odd | 04 |
# | 4 | `attention(q, k, v, mask=None, dropout=None)` | | q (…, q_len, d_k), k, v (…, k_len, d_k) → (output (…, q_len, d_k), weights (…, q_len, k_len)); a query with every key masked gets zero weights, not NaN; `dropout` (a module) on the weights | 02 |
# | 5 | `MultiHeadAttention(d_model, n_heads, dropout=0.0)` | `w_q`, `w_k`, `w_v`, `w_o` (each `nn.Linear(d_model, d_model)`) | `forward(query, key, value, mask=None)`: (B, q_len, d_model), (B, k_len, d_model) ×2 → (B, q_len, d_model); keep the weights in `self.attn_weights` (B, H, q_len, k_len); dropout on the weights | 03 |
# | 6 | `LayerNorm(d_model, eps=1e-5)` | `weight`, `bias` | (…, d_model) → same; biased variance | 05 |
# | 7 | `FeedForward(d_model, d_ff, dropout=0.0)` | `linear1`, `linear2` | linear2(dropout(relu(linear1(x)))) | 05 |
# | 8 | `SublayerConnection(d_model, dropout=0.0)` | `norm` | `forward(x, sublayer)` = norm(x + dropout(sublayer(x))): **post-LN**, as in the paper | 05 |
# | 9 | `EncoderLayer(d_model, n_heads, d_ff, dropout=0.0)` | `self_attn`, `feed_forward`, `attn_sublayer`, `ff_sublayer` | `forward(x, mask=None)`: (B, S, d_model) → same | 05 |
# | 10 | `Encoder(n_layers, d_model, n_heads, d_ff, dropout=0.0)` | `layers` (an `nn.ModuleList`), no final norm | `forward(x, mask=None)` | 06 |
# | 11 | `DecoderLayer(d_model, n_heads, d_ff, dropout=0.0)` | `self_attn`, `cross_attn`, `feed_forward`, `self_attn_sublayer`, `cross_attn_sublayer`, `ff_sublayer` | `forward(x, memory, src_mask=None, tgt_mask=None)`: (B, T, d_model), (B, S, d_model) → (B, T, d_model) | 06 |
# | 12 | `Decoder(n_layers, d_model, n_heads, d_ff, dropout=0.0)` | `layers`, no final norm | `forward(x, memory, src_mask=None, tgt_mask=None)` | 06 |
# | 13 | `Transformer(src_vocab_size, tgt_vocab_size, d_model=64, n_heads=4, n_layers=2, d_ff=128, dropout=0.1, max_len=13)` | `src_embed`, `tgt_embed`, `pos_encoding`, `encoder`, `decoder`, `unembed` (`nn.Linear(d_model, tgt_vocab_size)`) | `encode(src, src_mask=None)` → memory (B, S, d_model); `decode(tgt, memory, src_mask=None, tgt_mask=None)` → logits (B, T, V); `forward(src, tgt, src_mask=None, tgt_mask=None)` → logits | 06, 07 |
# | 14 | `padding_mask(tokens, pad_id=0)` | | (B, L) ids → (B, 1, 1, L) bool | 02 |
# | 15 | `causal_mask(size, device=None)` | | → (size, size) bool, made on `device` | 02 |
# | 16 | `target_mask(tgt, pad_id=0)` | | (B, T) ids → (B, 1, T, T) bool | 06 |
# | 17 | `label_smoothing_loss(logits, target, smoothing=0.1, pad_id=0)` | | (B, T, V), (B, T) → a 0-d tensor: the mean over the real tokens | 07 |
# | 18 | `learning_rate(step, peak_lr, warmup, max_steps)` | | steps count from 1: rises linearly to `peak_lr` at step `warmup`, then falls along half a cosine to 0 at `max_steps` | 07 |
# | 19 | `make_optimizer(model)` | | → `torch.optim.Adam` over every parameter, betas (0.9, 0.98), eps 1e-9 | 07 |
# | 20 | `train_step(model, optimizer, src, tgt, lr, smoothing=0.1, pad_id=0, clip_norm=1.0)` | | one step of teacher forcing on a batch (src (B, S), tgt (B, T) = `<bos>` … `<eos>` `<pad>`…) at rate `lr`: masks, loss, gradients clipped to norm `clip_norm`; returns the loss as a float | 06, 07 |
# | 21 | `train(model, batches, max_steps, peak_lr=5e-3, warmup=60, smoothing=0.1, pad_id=0, clip_norm=1.0, on_step=None)` | | `max_steps` steps on an iterator of (src, tgt) batches, with a fresh `make_optimizer(model)` and `learning_rate(step, …)`; calls `on_step(step, loss)` after each; returns the list of losses | 07 |
# | 22 | `greedy_decode(model, src, max_len, pad_id=0, bos_id=1, eos_id=2)` | | src (B, S) → ids (B, ≤ max_len): `<bos>`, then the most likely token at each step, `<eos>`, then only `<pad>`; stops when every row is done; the model in eval mode | 07 |
#
# Piece 1 is the rules above. Dropout sits where notebooks 03-05 put it (on
# the attention weights, on the feed-forward's hidden layer, on each
# sub-layer's output before the residual sum, after adding the positions);
# the battery checks it in train mode. `Transformer` starts every weight
# matrix Xavier-uniform, as notebook 07's does. Special ids: `<pad>` 0,
# `<bos>` 1, `<eos>` 2 in both vocabularies.
#
# **Hints** only point back: each row says where the idea was taught. Open
# that notebook's solution if you must, but write the code here yourself.

# %% [markdown]
# ## The battery
#
# Run the cell below whenever you have saved a new piece. It imports your file
# afresh and checks each piece in build order: `✔` when right, `…` when not
# written yet, and at the first wrong piece it stops with `✘`, the piece's
# number and name, and what is wrong ("piece 11, DecoderLayer: … cross-attention
# gets the target mask …"). Each piece is checked by behaviour: loaded with the
# course's weights it must give the course's outputs, and properties that hold
# for any correct implementation must hold: each row of attention weights sums
# to 1, a masked key gets no weight, padding never changes a real token's
# output, a later target token never changes an earlier output, and the
# encoder without positions is permutation-equivariant.
#
# The same battery from a terminal, from the repository's root:
# `.venv/bin/python -m pytest notebooks/test_my_transformer.py` (one test per
# piece; pieces not written yet are skipped, and pieces after a failing one).

# %%
my = blank_page.run(MY_FILE)

# %% [markdown]
# ## The task and the target
#
# The task is notebook 07's: English number words to German
# ("twenty one" → "ein und zwanzig"), numbers 0 to 999,999, with the course's
# settings (`tc.CapstoneConfig()`): the data split by number (validation,
# test and the number families never trained on), batches of 64, 900 steps,
# peak rate 5e-3 after a warm-up of 60 steps, label smoothing 0.1, gradients
# clipped to norm 1, seed 0. The data comes from the course (the task is
# given; the model and its training are yours). Your `train` runs the steps;
# every 50 steps the cell below measures exact match on the validation
# numbers with your `greedy_decode`.
#
# **The target:** at least 99 % exact match on the held-out numbers (the
# uniform test numbers) and on every family of numbers of notebook 07, which
# is what the course's model reaches with the same settings.

# %%
config = tc.CapstoneConfig()
train_numbers, val_numbers, test_numbers = config.splits()
families = config.families()
reference_run = json.loads(Path("data" if Path("data").exists() else "../data", "12_reference_run.json")
                           .read_text(encoding="utf-8"))
print(f"{len(train_numbers):,} training examples, {len(val_numbers)} validation and {len(test_numbers):,} test "
      f"numbers; families: {', '.join(families)}")
print(f"settings: batches of {config.batch_size}, {config.max_steps} steps, peak rate {config.lr} after a warm-up of "
      f"{config.warmup} steps, label smoothing {config.label_smoothing}, clip_norm {config.clip_norm}, seed "
      f"{config.seed}, validation every {config.eval_every} steps")
size = config.model
print(f"the model: d_model={size.d_model}, n_heads={size.n_heads}, n_layers={size.n_layers}, d_ff={size.d_ff}, "
      f"dropout={size.dropout}, max_len={size.max_len}, source vocabulary {size.source_vocab_size}, target "
      f"vocabulary {size.vocab_size}")

# %% tags=["nbval-ignore-output"]
curve = {"steps": [], "val_exact_match": []}


def measure(step: int, loss: float) -> None:
    """Every 50 steps (and at the last): exact match on the validation numbers with your greedy_decode."""
    if step % config.eval_every == 0 or step == config.max_steps:
        curve["steps"].append(step)
        curve["val_exact_match"].append(blank_page.exact_match(my.greedy_decode, model, val_numbers))
        if step % 150 == 0 or step == config.max_steps:
            print(f"step {step:4d}  loss {loss:.3f}  validation exact match {curve['val_exact_match'][-1]:.1%}")


if getattr(my, "battery_passed", False):
    torch.manual_seed(config.seed)
    model = my.Transformer(size.source_vocab_size, size.vocab_size, size.d_model, size.n_heads, size.n_layers,
                           size.d_ff, size.dropout, size.max_len).to(device)
    batches = tc.batch_iterator(train_numbers, config.batch_size, seed=config.seed, epochs=None)
    losses = my.train(model, batches, config.max_steps, peak_lr=config.lr, warmup=config.warmup,
                      smoothing=config.label_smoothing, clip_norm=config.clip_norm, on_step=measure)
else:
    model, losses = None, []
    print("… training: not done yet — every piece must pass the battery first")

# %% [markdown]
# ## Your curve beside the course's
#
# The course's curve is stored in `notebooks/data/12_reference_run.json`,
# written by `python -m tools.blank_page_reference` (`train_capstone` with the
# same settings, seed 0, on the CPU). Yours starts from other random weights
# unless you built your model in the same order as the course's, so the two
# curves need not lie on top of each other; both should fall the same way and
# reach the top.

# %%
def smooth(values: list[float], k: int = 25) -> list[float]:
    """A running mean over k steps (the loss of one batch is noisy)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - k] if i >= k else 0.0)
        out.append(total / min(i + 1, k))
    return out


fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.6))
ax_loss.plot(range(1, len(reference_run["losses"]) + 1), smooth(reference_run["losses"]), label="the course's")
ax_acc.plot(reference_run["eval_steps"], reference_run["val_exact_match"], marker=".", label="the course's")
if losses:
    ax_loss.plot(range(1, len(losses) + 1), smooth(losses), "--", label="yours")
    ax_acc.plot(curve["steps"], curve["val_exact_match"], "--", marker=".", label="yours")
ax_loss.set(xlabel="step", ylabel="training loss (running mean of 25)", title="loss")
ax_acc.set(xlabel="step", ylabel="exact match", title="validation exact match (greedy)", ylim=(0, 1.02))
for ax in (ax_loss, ax_acc):
    ax.legend()
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Did it reach the target?
#
# Exact match with your `greedy_decode` on the uniform test numbers and on
# every family, beside the course's model's (from the stored run). Your model
# passes when every row is at least 99 %.

# %%
if model is not None:
    mine = {name: blank_page.exact_match(my.greedy_decode, model, numbers) for name, numbers in families.items()}
    mine["uniform (test)"] = blank_page.exact_match(my.greedy_decode, model, test_numbers)
else:
    mine = {}
print(f"{'numbers':24s} {'yours':>8s} {'the course':>11s}")
for name, reference_score in reference_run["exact_match"].items():
    yours = f"{mine[name]:.1%}" if name in mine else "—"
    print(f"{name:24s} {yours:>8s} {reference_score:>11.1%}")
blank_page.check_target(mine)

# %% [markdown]
# ## What you have now shown
#
# That you can write a transformer from a blank page: from a specification
# alone you wrote every part of the encoder-decoder of "Attention Is All You
# Need" (the scaled embedding, the sinusoidal positions, attention and its
# masks, many heads, LayerNorm, the feed-forward network, the post-LN residual
# sub-layers, both stacks), the label-smoothed loss, Adam with warm-up and
# decay, the training loop and greedy decoding; a battery confirmed each piece
# equal to the course's with the same weights and true to the properties
# every transformer has; and trained on its own it learned to translate
# numbers it had never seen, reordering words, as well as the course's model.
# That is the course's second goal, "implement a small transformer in PyTorch
# from scratch", done and measured.
#
# **What comes next.** Notebook **10 · tokens** replaces the word-level
# vocabulary with a tokenizer you write, byte-pair encoding, which learns its
# pieces from text and splits German written as one word ("einundzwanzig").
# Notebook **11 · sentences** moves from numbers to generated English and
# German sentences with real grammar (the verb at the end of a subordinate
# clause, gender and case), measured per phenomenon. Your file is a good
# place to try them: the model does not change, only what it reads.

# %% [markdown]
# ## Check your understanding
#
# 1. The battery loads the course's weights into your pieces by name. Why does
#    that test more than "the output has the right shape"?
#
#    <details><summary>Answer</summary>
#
#    With the same weights, a correct piece computes the same numbers. Any
#    mistake that changes the computation (a missing sqrt(d_model), a mask on
#    the wrong axis, pre-LN for post-LN) changes the output, even when the
#    shapes and the loss curve look fine; a wrong model often still trains.
#
#    </details>
#
# 2. Your `train_step` feeds the decoder `tgt[:, :-1]` and scores it against
#    `tgt[:, 1:]`. What would the loss do if you fed it `tgt` and scored it
#    against `tgt`?
#
#    <details><summary>Answer</summary>
#
#    It would fall to nearly zero at once: with the causal mask each position
#    may look at itself, so the decoder only copies its input. It learns
#    nothing about translating, and greedy decoding, which has no target to
#    copy, produces nonsense.
#
#    </details>
#
# 3. Which of the properties the battery tests would a decoder without a
#    causal mask break, and which would an encoder that ignores its padding
#    mask break?
#
#    <details><summary>Answer</summary>
#
#    The decoder: "a later target token never changes an earlier output".
#    The encoder: "padding never changes a real token's output" (what stands
#    in the padded positions leaks into the real ones through attention).
#
#    </details>

# %% [markdown]
# ## Summary
#
# - You wrote the whole encoder-decoder, its loss, its optimiser with warm-up,
#   its training loop and greedy decoding in one file, using only torch.
# - A battery checked it piece by piece in build order, by equality with the
#   course's pieces under the same weights and by properties every correct
#   implementation has, naming the first wrong piece.
# - Trained with the course's settings, it translates numbers it has never
#   seen as well as the course's model does, on every family.
# - The course's own version of the file, `notebooks/solutions/my_transformer.py`,
#   is the whole transformer in one readable file.
#
# Next: **10 · tokens** (a tokenizer of your own, byte-pair encoding) and
# **11 · sentences** (real grammar instead of numbers), each with the same
# model underneath.
