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
# # 09 · Decoder-only: a GPT, its KV cache, and sampling
#
# **A GPT is the decoder alone, trained to predict the next token; it can
# translate too, by attending to its own prompt, and a KV cache makes
# generation fast.**
#
# The language models everyone talks about are not the 2017 encoder-decoder:
# they are its decoder, alone. Here you build one from your own parts, train
# it on notebook 07's task written as *one* sequence, put it side by side
# with the encoder-decoder, make its generation fast with a KV cache, and
# sample from it with temperature, top-k and top-p.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where this sits: the decoder, alone
#
# ```mermaid
# flowchart BT
#     subgraph ED["encoder-decoder (notebooks 06-07)"]
#         src["English ids (B, S)"] --> enc["encoder × N: self-attention, feed-forward"]
#         enc --> mem["memory (B, S, d_model)"]
#         tgt["&lt;bos&gt; German (B, T)"] --> dec["decoder × N: masked self-attention, cross-attention to memory, feed-forward"]
#         mem --> dec
#         dec --> out1["unembed: next German token"]
#     end
#     subgraph GPT["decoder-only (this notebook)"]
#         seq["&lt;bos&gt; English = German (B, L), one sequence"] --> blocks["block × N: masked self-attention, feed-forward"]
#         blocks --> norm["final LayerNorm"]
#         norm --> out2["unembed: next token, every position"]
#     end
# ```

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/09_decoder_only.png" alt="Left: the encoder-decoder, English into the encoder, memory into the decoder's cross-attention. Right: the decoder-only model, one sequence English = German through blocks of masked self-attention and feed-forward, a final LayerNorm and the unembedding" width="760">
#
# </details>

# %% [markdown]
# | | encoder-decoder (07) | decoder-only (GPT) |
# |---|---|---|
# | input | source `src` and target `tgt`, two sequences | one sequence: prompt and continuation |
# | attention | encoder self, decoder masked self, cross | masked self-attention only |
# | the source is read by | the encoder, in both directions | the same blocks, left to right (causal) |
# | trained to | predict the next target token | predict the next token, at every position |
# | where translation happens | cross-attention: target queries, source keys | self-attention from the German positions back to the English prompt |

# %% [markdown]
# ## Setup
#
# The parts come from earlier notebooks: yours where your version passed its
# check, the reference where it did not (the next cell says which).

# %%
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display
from torch import nn

import transformer_course as tc
import transformer_course.parts
from transformer_course import checks
from transformer_course.task import lm_data, lm_training
from transformer_course.task.lm_data import COUNT_VOCAB, LM_VOCAB
from transformer_course.task.number_words import BOS_ID, EOS_ID, PAD_ID

PAD, BOS, EOS = PAD_ID, BOS_ID, EOS_ID  # 0, 1, 2

parts = tc.parts.load("MultiHeadAttention", "FeedForward", "SublayerConnection", "LayerNorm",
                      "SinusoidalPositionalEncoding")

# %% tags=["nbval-ignore-output"]
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
device = tc.get_device()
tc.seed_everything(0)
print(f"running on: {device}")

# %% [markdown]
# ## The block: the decoder layer without cross-attention
#
# With no encoder there is no `memory` to attend to, so the decoder layer of
# notebook 06 loses its middle sub-layer. What is left is two residual
# sub-layers, exactly as in the encoder layer of notebook 05, but with the
# **causal mask**: position $t$ may read positions $0 \dots t$ only.
#
# $$x \leftarrow \mathrm{Sub}_1\big(x,\ \mathrm{MultiHead}(x, x, x, \texttt{mask})\big), \qquad
# x \leftarrow \mathrm{Sub}_2\big(x,\ \mathrm{FFN}(x)\big)$$
#
# where $\mathrm{Sub}$ is the `SublayerConnection` (residual and LayerNorm,
# post-LN or pre-LN).

# %% [markdown]
# ### Exercise 1 · ★☆☆ · about 3 minutes: the decoder-only block
#
# Write `forward(x, mask)`: `x (batch, seq_len, d_model)` → same shape.
#
# <details><summary>Hint</summary>
#
# Two lines, as in notebook 06's decoder layer without its cross-attention:
# `x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask))`, then
# `self.ff_sublayer(x, self.feed_forward)`.
#
# </details>

# %%
class DecoderOnlyBlock(nn.Module):
    """Masked self-attention then feed-forward, each residual: x (B, L, d_model) -> (B, L, d_model)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu"):
        super().__init__()
        self.self_attn = parts.MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = parts.FeedForward(d_model, d_ff, dropout, activation)
        self.attn_sublayer = parts.SublayerConnection(d_model, dropout, norm_first)
        self.ff_sublayer = parts.SublayerConnection(d_model, dropout, norm_first)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask))  # (B, L, d_model)
        return self.ff_sublayer(x, self.feed_forward)  # (B, L, d_model)
        ### END SOLUTION


# %%
DecoderOnlyBlock = checks.gpt.check_decoder_only_block(DecoderOnlyBlock)

# %% [markdown]
# ### Same numbers as PyTorch
#
# PyTorch has no "decoder-only layer": its `nn.TransformerDecoderLayer` always
# has cross-attention. But our block *is* an encoder layer with a causal mask,
# so `nn.TransformerEncoderLayer` run with a causal mask must give the same
# output. We load its weights into your block (`tc.DecoderOnlyBlock.from_torch`
# maps them as in notebook 06) and compare. PyTorch's mask polarity is the
# opposite of ours: True = *not* allowed, so it gets `~causal`.

# %% tags=["nbval-ignore-output"]
torch.manual_seed(0)
torch_layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True, norm_first=True).eval()
block = DecoderOnlyBlock(32, 4, 64, dropout=0.1, norm_first=True).eval()  # yours
block.load_state_dict(tc.DecoderOnlyBlock.from_torch(torch_layer).state_dict())
x = torch.randn(2, 7, 32)
causal = tc.causal_mask(7)
with torch.no_grad():
    difference = (block(x, causal) - torch_layer(x, src_mask=~causal, is_causal=True)).abs().max().item()
print(f"max |your block - nn.TransformerEncoderLayer with a causal mask| = {difference:.1e}")

# %% [markdown]
# A difference around $10^{-7}$ is float32 rounding: the same function.

# %% [markdown]
# ## The GPT: embed, add positions, blocks, final norm, unembed
#
# $$x_0 = \mathrm{Embed}(\texttt{tokens}) \cdot \sqrt{d_\text{model}} + PE_{0..L-1},\qquad
# x_{i+1} = \mathrm{Block}_i(x_i, \texttt{causal}),\qquad
# \texttt{logits} = \mathrm{LayerNorm}(x_N)\, W_U$$
#
# Our GPT is **pre-LN**, as GPT-2 and nearly every model since: each
# sub-layer normalises its *input* and adds its output to a stream that is
# itself never normalised (notebook 05). So one LayerNorm at the very end
# (`self.norm`) brings the stream to a steady scale before the unembedding.
# (With post-LN, the last block already ends with a LayerNorm and
# `self.norm` is None.) The model's size is a `tc.ModelConfig`; a GPT uses
# `vocab_size` only, one vocabulary in and out.
#
# `add_positions(x, start)` adds the sinusoids of positions
# `start .. start + L - 1`; here `start` is 0. It matters with the KV cache
# below.

# %% [markdown]
# ### Exercise 2 · ★★☆ · about 8 minutes: the GPT's forward pass
#
# Write `forward(tokens)`: ids `(batch, seq_len)` → logits
# `(batch, seq_len, vocab_size)`; position $t$'s logits predict token $t+1$.
#
# <details><summary>Hint</summary>
#
# `x = self.add_positions(self.tok_embed(tokens))`;
# `mask = tc.causal_mask(tokens.shape[1], device=tokens.device)`; each block
# `x = block(x, mask)`; then `self.norm(x)` if `self.norm` is not None; then
# `self.unembed(x)`.
#
# </details>

# %%
class GPT(nn.Module):
    """A decoder-only transformer of size `config` (a tc.ModelConfig): tokens (B, L) -> logits (B, L, vocab_size)."""

    def __init__(self, config: tc.ModelConfig):
        super().__init__()
        self.config = config
        d_model = config.d_model
        self.tok_embed = tc.Embedding(config.vocab_size, d_model)  # ids -> vectors, times sqrt(d_model)
        self.pos_encoding = parts.SinusoidalPositionalEncoding(d_model, config.max_len, config.dropout)
        self.blocks = nn.ModuleList(
            DecoderOnlyBlock(d_model, config.n_heads, config.d_ff, config.dropout, config.norm_first,
                             config.activation) for _ in range(config.n_layers))
        final_norm = config.norm_first if config.final_norm is None else config.final_norm
        self.norm = parts.LayerNorm(d_model) if final_norm else None
        self.unembed = nn.Linear(d_model, config.vocab_size)  # W_U
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def add_positions(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (B, L, d_model) of the tokens at positions start .. start + L - 1, plus their sinusoids, then dropout."""
        return self.pos_encoding.dropout(x + self.pos_encoding.pe[start:start + x.shape[1]])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = self.add_positions(self.tok_embed(tokens))  # (B, L, d_model)
        mask = tc.causal_mask(tokens.shape[1], device=tokens.device)  # (L, L): position t sees 0..t
        for block in self.blocks:
            x = block(x, mask)  # (B, L, d_model)
        if self.norm is not None:
            x = self.norm(x)
        return self.unembed(x)  # (B, L, vocab_size)
        ### END SOLUTION


# %%
GPT = checks.gpt.check_gpt(GPT)

# %% [markdown]
# ## The task as one sequence
#
# A decoder-only model has one input, so the translation becomes one
# sequence: the English, a separator `=`, the German, `<eos>`. One vocabulary
# holds both languages (no word is shared). The numbers and their
# train/validation/test split are notebook 07's.

# %%
tokens, loss_mask = lm_data.make_lm_batch([21, 321])
for row, counted in zip(tokens, loss_mask):
    print(" ".join(f"[{LM_VOCAB.itos[i]}]" if m else LM_VOCAB.itos[i] for i, m in zip(row.tolist(), counted.tolist())))
print(f"\nvocabulary: {len(LM_VOCAB)} tokens; the longest sequence has {lm_data.MAX_LM_LEN} tokens")

# %% [markdown]
# In brackets: the tokens the loss counts. The model is trained on every
# sequence as a language model, *predict token $t+1$ from tokens
# $0 \dots t$*, at every position at once (the causal mask hides the future,
# as teacher forcing did in 07). But the English is the *given* part: we do
# not ask the model to guess which number comes up. So the loss counts only
# the predictions of the German tokens and `<eos>`: the `loss_mask`. Padding
# is never counted.
#
# $$\mathcal{L} = \frac{1}{|M|}\sum_{(b, t) \in M} -\log p_\theta(\texttt{tokens}[b, t+1] \mid \texttt{tokens}[b, 0..t]),
# \qquad M = \{(b, t) : \texttt{loss\_mask}[b, t+1]\}$$

# %% [markdown]
# ### Exercise 3 · ★★☆ · about 8 minutes: the causal language-model loss
#
# Write `lm_loss(logits, tokens, loss_mask)`: logits `(B, L, V)`, tokens and
# loss_mask `(B, L)` → one number.
#
# <details><summary>Hint</summary>
#
# Position $t$ predicts token $t+1$: the predictions are `logits[:, :-1]`,
# the labels `tokens[:, 1:]`, and whether each label counts is
# `loss_mask[:, 1:]`. All three are `(B, L-1, ...)`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `nll = F.cross_entropy(predictions.transpose(1, 2), labels, reduction="none")`
# is `(B, L-1)` (cross_entropy wants the classes on axis 1). Then
# `(nll * counted).sum() / counted.sum()`.
#
# </details>

# %%
def lm_loss(logits: torch.Tensor, tokens: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """logits (B, L, V), tokens (B, L), loss_mask (B, L) bool -> scalar: mean next-token loss where counted."""
    ### BEGIN SOLUTION
    predictions, labels, counted = logits[:, :-1], tokens[:, 1:], loss_mask[:, 1:]  # position t predicts t + 1
    nll = F.cross_entropy(predictions.transpose(1, 2), labels, reduction="none")  # (B, L-1)
    return (nll * counted).sum() / counted.sum()
    ### END SOLUTION


# %%
lm_loss = checks.gpt.check_lm_loss(lm_loss)

# %% [markdown]
# ## Training the GPT, and the encoder-decoder beside it
#
# A fair comparison: both models get the same width (`d_model=64`, 4 heads,
# `d_ff=128`, dropout 0.1), the same number of layers in all (the GPT 4
# blocks, the encoder-decoder 2 + 2 layers), the same data, batch size 64, the
# same optimizer (Adam, 07's warm-up to a peak of $5\cdot10^{-3}$ at step 60,
# then $1/\sqrt{\text{step}}$) and the same **200 steps**, and plain
# cross-entropy (no label smoothing) for both. Each is timed while it trains.

# %%
STEPS = 200
gpt_config = tc.ModelConfig(vocab_size=len(LM_VOCAB), d_model=64, n_heads=4, n_layers=4, d_ff=128, dropout=0.1,
                            max_len=lm_data.MAX_LM_LEN + 2, norm_first=True)
lm_config = lm_training.LMTrainingConfig(batch_size=64, lr=5e-3, warmup=60, max_steps=STEPS, seed=0)
ed_config = tc.CapstoneConfig(n_val=500, n_test=2000, data_seed=0, batch_size=64, lr=5e-3, schedule="noam", warmup=60,
                              max_steps=STEPS, label_smoothing=0.0, clip_norm=1.0, seed=0)
print(ed_config.model)  # 07's size: the same width as the GPT, 2 + 2 layers
assert (ed_config.model.d_model, ed_config.model.n_heads, ed_config.model.d_ff) == (gpt_config.d_model, gpt_config.n_heads, gpt_config.d_ff)
train_numbers, val_numbers, test_numbers = ed_config.splits()
print(f"train {len(train_numbers):,}, test {len(test_numbers):,} numbers (notebook 07's split)")

# %% [markdown]
# The next cell trains the GPT with your loss (about 20 s on two CPU cores;
# the numbers on the progress bar vary from run to run).

# %% tags=["nbval-ignore-output"]
torch.manual_seed(lm_config.seed)
model = GPT(gpt_config).to(device)  # yours, from your parts
gpt_history = lm_training.train_lm(model, lm_data.lm_batch_iterator(train_numbers, lm_config.batch_size,
                                                                    seed=lm_config.seed), lm_config, loss_fn=lm_loss)
print(f"GPT: {tc.count_parameters(model):,} parameters, {STEPS} steps in {gpt_history.seconds:.1f} s, "
      f"last loss {gpt_history.losses[-1]:.3f}")

# %% [markdown]
# And the encoder-decoder of notebook 07, the same way (about 20 s):

# %% tags=["nbval-ignore-output"]
torch.manual_seed(ed_config.seed)
ed_model = ed_config.make_model().to(device)
optimizer, scheduler = ed_config.make_optimizer(ed_model)
batches = tc.batch_iterator(train_numbers, ed_config.batch_size, seed=ed_config.seed, epochs=None)
ed_losses, start = [], time.perf_counter()
for step in range(STEPS):
    ed_losses.append(tc.train_step(ed_model, next(batches), optimizer, scheduler, smoothing=0.0,
                                   clip_norm=ed_config.clip_norm))
ed_seconds = time.perf_counter() - start
print(f"encoder-decoder: {tc.count_parameters(ed_model):,} parameters, {STEPS} steps in {ed_seconds:.1f} s, "
      f"last loss {ed_losses[-1]:.3f}")

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(9, 3.4))
ax.plot(gpt_history.steps, gpt_history.losses, lw=0.9, label="GPT (loss on the German tokens)")
ax.plot(range(1, STEPS + 1), ed_losses, lw=0.9, label="encoder-decoder (loss on the German tokens)")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy")
ax.set_title("Same task, same budget")
ax.legend()
plt.show()

# %% [markdown]
# Both losses count the same thing: the cross-entropy of the German tokens
# and `<eos>`, given the English and the German so far.

# %% [markdown]
# ## Generating: one token at a time
#
# To translate, the GPT gets the prompt `<bos> English =` and writes on:
# run the model, take the most likely next token at the **last** position,
# append it, run again. Here is that loop written plainly: each step runs the
# model on the *whole* sequence so far.

# %%
@torch.no_grad()
def generate_uncached(model: nn.Module, prompt: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """prompt (B, P) -> (B, P + max_new_tokens), greedy, every step over the whole sequence."""
    model.eval()
    tokens = prompt
    for _ in range(max_new_tokens):
        logits = model(tokens)  # (B, t, V): every position, although only the last is used
        next_token = logits[:, -1].argmax(dim=-1)  # (B,)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, t + 1)
    return tokens


prompt = torch.tensor([lm_data.prompt_ids(21)], device=device)
out = generate_uncached(model, prompt, 4)
print(" ".join(LM_VOCAB.itos[i] for i in out[0].tolist()))

# %% [markdown]
# Look at what each step computes. At step $t$ the model recomputes the
# keys, values and outputs of **all** $t$ positions, but because of the
# causal mask, positions $0 \dots t-1$ come out exactly as they did at the
# step before: nothing after them can change them. Only the new position is
# new. Generating $n$ tokens this way costs about $1 + 2 + \dots + n \approx
# n^2/2$ position-passes through the model instead of $n$.

# %% [markdown]
# ## The KV cache
#
# What does the new position need from the old ones? In every layer its
# query meets the **keys** of all positions and averages their **values**.
# Those keys and values are fixed once computed. So keep them: the
# **KV cache** holds, for every layer, the keys and values `(B, H, t, d_k)`
# of the $t$ tokens read so far. Each step then feeds the model only the new
# token: its query, key and value are computed, its key and value are
# *appended* to the cache, and its query attends to all cached keys.
#
# `tc.KVCache(n_layers)` is that store. It keeps two lists with one entry
# per layer, `cache.keys` and `cache.values` (`None` until the layer's first
# tokens arrive, then a tensor `(B, H, t, d_k)`); `cache.append(layer, k, v)`
# adds the new tokens' keys and values to a layer's along the tokens axis and
# returns all of them; `cache.length` is how many tokens it holds.

# %%
cache = tc.KVCache(n_layers=2)
for new in (3, 1, 1):  # a prompt of 3 tokens, then one token at a time
    k = v = torch.randn(1, 4, new, 16)  # (B, H, new tokens, d_k)
    all_k, all_v = cache.append(0, k, v)
    print(f"appended {new} token(s): layer 0 now holds keys of shape {tuple(all_k.shape)}; cache.length = {cache.length}")
print("cache.keys[0] is the same tensor:", cache.keys[0] is all_k, "| layer 1, never appended to:", cache.keys[1])

# %% [markdown]
# ### Exercise 4 · ★★☆ · about 10 minutes: attention with a cache
#
# Write `attend_with_cache(attn, x, cache, layer, mask)`: the self-attention
# of the new positions `x (B, L_new, d_model)` using the multi-head
# attention `attn`'s own weights (`attn.w_q`, `w_k`, `w_v`, `w_o`,
# `attn.n_heads`). It returns `(B, L_new, d_model)` and grows `cache` by
# `L_new`. `mask` is None or `(L_new, past + L_new)`.
#
# <details><summary>Hint</summary>
#
# As in notebook 03's forward, but only for the new tokens:
# `q = tc.split_heads(attn.w_q(x), attn.n_heads)`, the same for `k` and `v`,
# all `(B, H, L_new, d_k)`. Then `k, v = cache.append(layer, k, v)`: now
# `(B, H, past + L_new, d_k)`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `out, weights = tc.scaled_dot_product_attention(q, k, v, mask)`; keep
# `attn.attn_weights = weights` if you like (the attention maps use it), and
# return `attn.w_o(tc.merge_heads(out))`.
#
# </details>

# %%
def attend_with_cache(attn: nn.Module, x: torch.Tensor, cache: tc.KVCache, layer: int,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    """New positions x (B, L_new, d_model) attend to every cached position and themselves -> (B, L_new, d_model)."""
    ### BEGIN SOLUTION
    q = tc.split_heads(attn.w_q(x), attn.n_heads)  # (B, H, L_new, d_k)
    k = tc.split_heads(attn.w_k(x), attn.n_heads)  # (B, H, L_new, d_k)
    v = tc.split_heads(attn.w_v(x), attn.n_heads)  # (B, H, L_new, d_k)
    k, v = cache.append(layer, k, v)  # (B, H, past + L_new, d_k)
    out, weights = tc.scaled_dot_product_attention(q, k, v, mask)  # (B, H, L_new, d_k)
    attn.attn_weights = weights.detach()
    return attn.w_o(tc.merge_heads(out))  # (B, L_new, d_model)
    ### END SOLUTION


# %%
attend_with_cache = checks.gpt.check_attend_with_cache(attend_with_cache)

# %% [markdown]
# ### The model with a cache: positions and mask go on from the past
#
# Now the whole model. Two things change when `past = cache.length` tokens
# are already cached and `L` new ones come in:
#
# - **Positions.** The new tokens sit at positions `past .. past + L - 1`,
#   not `0 .. L - 1`: `model.add_positions(x, start=past)`.
# - **The mask.** New token $i$ is at position `past + i` and may see keys
#   $0 \dots$ `past + i`: the mask is `(L, past + L)`, the **last** `L` rows of
#   the causal mask, `tc.causal_mask(past + L)[past:]`. For a single new token
#   it is one row of Trues: the newest token may see everything.
#
# Each block then runs its two sub-layers as before, with your
# `attend_with_cache` in place of the attention's forward.

# %% [markdown]
# ### Exercise 5 · ★★★ · about 15 minutes: the forward pass with a KV cache
#
# Write `forward_with_cache(model, tokens, cache)`: the ids `(B, L)` that come
# after the `cache.length` tokens already read → logits `(B, L, vocab_size)`,
# equal to the last `L` positions of `model` run on the whole sequence.
#
# <details><summary>Hint</summary>
#
# `past, L = cache.length, tokens.shape[1]`;
# `x = model.add_positions(model.tok_embed(tokens), start=past)`;
# `mask = tc.causal_mask(past + L, device=tokens.device)[past:]`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# `for layer, block in enumerate(model.blocks):`
# `x = block.attn_sublayer(x, lambda y: attend_with_cache(block.self_attn, y, cache, layer, mask))`, then
# `x = block.ff_sublayer(x, block.feed_forward)`. After the loop:
# `model.norm` (if not None) and `model.unembed`.
#
# </details>

# %%
def forward_with_cache(model: nn.Module, tokens: torch.Tensor, cache: tc.KVCache) -> torch.Tensor:
    """tokens (B, L) after the cache.length tokens already read -> logits (B, L, vocab_size); grows the cache by L."""
    ### BEGIN SOLUTION
    past, L = cache.length, tokens.shape[1]
    x = model.add_positions(model.tok_embed(tokens), start=past)  # (B, L, d_model): positions past..past+L-1
    mask = tc.causal_mask(past + L, device=tokens.device)[past:]  # (L, past + L)
    for layer, block in enumerate(model.blocks):
        x = block.attn_sublayer(x, lambda y: attend_with_cache(block.self_attn, y, cache, layer, mask))
        x = block.ff_sublayer(x, block.feed_forward)  # (B, L, d_model)
    if model.norm is not None:
        x = model.norm(x)
    return model.unembed(x)  # (B, L, vocab_size)
    ### END SOLUTION


# %% [markdown]
# The check generates with your function (the prompt read in one go or in
# chunks, then one token at a time) and without a cache, and compares them
# token for token: caches whose output silently differs are a classic bug.

# %%
forward_with_cache = checks.gpt.check_forward_with_cache(forward_with_cache)

# %% [markdown]
# Now the generation loop with the cache: read the prompt once, then feed
# one token per step. `pick` chooses the next token from the last logits:
# greedy by default (sampling comes later in this notebook).

# %%
def greedy(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, V) -> the most likely token (B,)."""
    return logits.argmax(dim=-1)


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, max_new_tokens: int, use_cache: bool = True,
             pick=greedy, eos_id: int | None = None) -> torch.Tensor:
    """prompt (B, P) -> (B, P + n) with n <= max_new_tokens (it stops early once every row wrote eos_id)."""
    model.eval()
    cache = tc.KVCache(len(model.blocks)) if use_cache else None
    logits = forward_with_cache(model, prompt, cache) if use_cache else model(prompt)  # (B, P, V)
    tokens, done = prompt, torch.zeros(len(prompt), dtype=torch.bool, device=prompt.device)
    for step in range(max_new_tokens):
        next_token = pick(logits[:, -1])  # (B,)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, t + 1)
        done |= next_token == eos_id
        if done.all() or step == max_new_tokens - 1:
            break
        if use_cache:
            logits = forward_with_cache(model, next_token[:, None], cache)  # only the new token goes in
        else:
            logits = model(tokens)  # the whole sequence again
    return tokens


# %% [markdown]
# **Prompts of different lengths in one batch.** Every row of `prompt` above
# has the same length `P`, and that is how we translate: `gpt_translate`
# puts prompts of the same length in one batch. A batch of prompts of
# *different* lengths needs padding, and for a decoder-only model it goes on
# the **left** (`<pad> <pad> <bos> two =` beside `<bos> twenty one =`), so
# that every row's last position is its real last token and the next token
# is read from `logits[:, -1]` for all rows alike. Three things then change:
# the attention mask must also hide the pad keys (the causal mask combined
# with a padding mask, per row); each row's positions must start at its first
# real token, not at 0, so the positional encoding is offset per row; and the
# cache holds the pads' keys and values too, masked out at every step. Our
# `generate` has none of that, which is why it is only ever given prompts of
# one length.

# %% [markdown]
# ## Side by side: the GPT and the encoder-decoder
#
# Exact match on the 2000 test numbers, which neither model saw in
# training. The GPT translates with your cached `generate` (prompts of the
# same length go in one batch); the encoder-decoder with greedy decoding.
# For the time it takes, compare like with like: the course's encoder-decoder
# has no KV cache (its greedy decoding runs the decoder over the whole target
# at every step, though the encoder only once), so the table times both
# models *without* a cache on the first 500 test numbers, and the GPT
# with your cache on all 2000 besides.

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
gpt_out = lm_training.gpt_translate(model, test_numbers, generate=generate)
gpt_seconds_translate = time.perf_counter() - start
gpt_right = [out == tc.german_tokens(n) for n, out in zip(test_numbers, gpt_out)]
ed_out = tc.translate(ed_model, test_numbers)
ed_right = [out == tc.german_tokens(n) for n, out in zip(test_numbers, ed_out)]
subset = test_numbers[:500]
start = time.perf_counter()
uncached_out = lm_training.gpt_translate(model, subset, use_cache=False, generate=generate)
gpt_seconds_uncached = time.perf_counter() - start
start = time.perf_counter()
tc.translate(ed_model, subset)
ed_seconds_uncached = time.perf_counter() - start


def row(name, n_params, seconds, right, seconds_uncached, seconds_cached=None):
    cached = "— (no KV cache in this course)" if seconds_cached is None else f"{seconds_cached:.1f} s"
    return (f"| {name} | {n_params:,} | {seconds:.1f} s ({1000 * seconds / STEPS:.0f} ms/step) | "
            f"{sum(right) / len(right):.2%} ({sum(right)} of {len(right)}) | {seconds_uncached:.1f} s | {cached} |")


display(Markdown("\n".join([
    f"| model | parameters | training, {STEPS} steps | test exact match | translating the first {len(subset)}, "
    f"no KV cache | translating the {len(test_numbers)}, with a KV cache |",
    "|---|---|---|---|---|---|",
    row("GPT, 4 blocks (yours)", tc.count_parameters(model), gpt_history.seconds, gpt_right, gpt_seconds_uncached,
        gpt_seconds_translate),
    row("encoder-decoder, 2 + 2 layers", tc.count_parameters(ed_model), ed_seconds, ed_right, ed_seconds_uncached),
])))

# %% [markdown]
# What to read in it (measured above, on this machine): the GPT has fewer
# parameters for the same number of layers (no cross-attention: a
# decoder-only block is two sub-layers, a decoder layer three, an encoder
# layer two), and its steps take longer since it runs every block over the
# whole sequence, English and German together (up to 23 tokens), where the
# encoder-decoder runs the encoder over the English and the decoder over the
# German. On this small task both reach high exact match in the same 200
# steps; neither needs the other's architecture to translate.

# %% [markdown]
# And the cache changes nothing in what is written: the first 500 test
# numbers, translated without the cache for the table, compared token for
# token with the cached translations.

# %% tags=["nbval-ignore-output"]
same = sum(a == b for a, b in zip(gpt_out, uncached_out))
print(f"cached and uncached translations identical for {same} of {len(uncached_out)} test numbers")

# %% [markdown]
# ## How a decoder-only model translates: attention to its own prompt
#
# There is no cross-attention, so where does the GPT read the English? In
# its masked self-attention: when it writes a German token, its query can
# reach every earlier position, and the English prompt is all earlier. We run
# the model once over a translated sequence and keep each block's attention
# weights; row $t$ is the step that *wrote* token $t+1$, so we label rows by
# the token written.

# %%
def gpt_attention(model: nn.Module, number: int) -> tuple[list[str], torch.Tensor]:
    """The tokens of the GPT's translation of `number` and its attention weights (layers, heads, L, L)."""
    prompt = torch.tensor([lm_data.prompt_ids(number)], device=device)
    tokens = generate(model, prompt, lm_training.MAX_GERMAN, eos_id=EOS)  # (1, L)
    with torch.no_grad():
        model(tokens)  # one uncached pass; each MultiHeadAttention keeps its weights
    weights = torch.stack([block.self_attn.attn_weights[0].float().cpu() for block in model.blocks])
    return [LM_VOCAB.itos[i] for i in tokens[0].tolist()], weights


# %% [markdown]
# Which block does it? For 50 test numbers we ask, block by block: for each
# German word that translates one English word ("ein" ← "one", "zwanzig" ←
# "twenty", "hundert" ← "hundred", ...), is that English word the prompt
# position its step attends to most (mean over heads)?

# %%
TRANSLATES = {tc.german_tokens(k)[0]: tc.english_tokens(k)[0] for k in [*range(1, 20), *range(20, 100, 10)]}
TRANSLATES.update({"ein": "one", "hundert": "hundred", "tausend": "thousand"})


def alignment_per_block(model: nn.Module, numbers: list[int]) -> torch.Tensor:
    """(n_layers,): share of German content words whose most-attended prompt word is the English word they translate."""
    hits, total = torch.zeros(len(model.blocks)), 0
    for n in numbers:
        words, weights = gpt_attention(model, n)
        sep = words.index("=")
        for t in range(sep, len(words) - 1):  # the step at position t writes words[t + 1]
            if words[t + 1] in TRANSLATES:
                strongest = weights[:, :, t, :sep].mean(dim=1).argmax(dim=-1)  # (layers,): a prompt position
                hits += torch.tensor([words[j] == TRANSLATES[words[t + 1]] for j in strongest.tolist()]).float()
                total += 1
    return hits / total


alignment = alignment_per_block(model, test_numbers[:50])
best_block = int(alignment.argmax())
for layer, share in enumerate(alignment.tolist()):
    print(f"block {layer}: the most-attended prompt word is the one being translated for {share:.0%} of the German words"
          + ("   <- drawn below" if layer == best_block else ""))

# %%
examples = [21, 321, 45_678]
fig, axes = plt.subplots(1, len(examples), figsize=(17, 5.6), constrained_layout=True)
for ax, n in zip(axes, examples):
    words, weights = gpt_attention(model, n)
    sep = words.index("=")
    rows = range(sep, len(words) - 1)  # the steps that wrote the German tokens and <eos>
    mean = weights[best_block].mean(dim=0)[sep:len(words) - 1, :sep + 1]  # mean over heads; keys: the prompt
    ax.imshow(mean, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(sep + 1), words[:sep + 1], rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), [words[t + 1] for t in rows])
    ax.set_title(f"{n:,}", fontsize=10)
    ax.set_xlabel("keys: the prompt")
axes[0].set_ylabel("token written (query)")
fig.suptitle(f"The GPT's self-attention from the German steps to the English prompt, block {best_block}, "
             f"mean over heads (each row's weight on the German written so far is left out)", fontsize=11)
plt.show()

# %% [markdown]
# Each row is the step that wrote one German token, its weights on the
# English prompt (its weights on the German written so far are left out, so
# a row's sum is the share of attention the prompt gets). Compare with 07's
# cross-attention maps. In 321, to write "ein" of "ein und zwanzig" the step
# looks ahead to "one", the *last* English word, and for "zwanzig" back to
# "twenty": the inversion, found by self-attention over the model's own
# prompt (in 45,678, twice). The rows of "und" and `<eos>` have no single
# English word to look at. The function below draws any block and head.

# %%
def draw_gpt_attention(number: int = 45_678, layer: int = 1, head: str = "mean"):
    """The GPT's full self-attention map (queries x keys, lower triangle) for one translation."""
    words, weights = gpt_attention(model, number)
    w = weights[layer].mean(dim=0) if head == "mean" else weights[layer][int(head)]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(w[:-1, :-1], cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(words) - 1), words[:-1], rotation=70, ha="right")
    ax.set_yticks(range(len(words) - 1), [f"{a} → {b}" for a, b in zip(words[:-1], words[1:])])
    ax.set_title(f"{number:,}: block {layer}, head {head}  (row label: token read → token written)", fontsize=10)
    plt.show()


draw_gpt_attention(45_678, layer=best_block, head="mean")

# %% [markdown]
# One map, all of it: the lower triangle is the causal mask. The English
# rows (top) can only look at English; the German rows (bottom) look back at
# the prompt and at the German written so far. Try other blocks and heads:
# `draw_gpt_attention(321, layer=0, head="2")`.

# %% [markdown]
# ## What the cache buys: speed, measured here
#
# Generation is where the cache pays. We time your `generate` with and
# without the cache on a larger GPT with random weights (speed does not
# depend on what a model learnt): `d_model=128`, 4 heads, 2 blocks,
# `d_ff=512`, a prompt of 8 tokens, batch 1, 64 and 256 new tokens. Each
# timing is the median of 3 runs, interleaved. The numbers are this
# machine's, now; `python -m tools.bench --only kvcache` measures a bigger
# model, up to 1024 tokens.

# %% tags=["nbval-ignore-output"]
torch.manual_seed(0)
speed_config = tc.ModelConfig(vocab_size=len(LM_VOCAB), d_model=128, n_heads=4, n_layers=2, d_ff=512, dropout=0.0,
                              max_len=300, norm_first=True)
speed_model = GPT(speed_config).to(device).eval()
speed_prompt = torch.randint(3, len(LM_VOCAB), (1, 8)).to(device)
generate(speed_model, speed_prompt, 8), generate(speed_model, speed_prompt, 8, use_cache=False)  # warm-up


def seconds_to_generate(n_new: int, use_cache: bool) -> float:
    start = time.perf_counter()
    generate(speed_model, speed_prompt, n_new, use_cache=use_cache)
    return time.perf_counter() - start


speed = {}
for n_new in (64, 256):
    runs = [(seconds_to_generate(n_new, False), seconds_to_generate(n_new, True)) for _ in range(3)]
    without, with_cache = (sorted(r[i] for r in runs)[1] for i in (0, 1))
    speed[n_new] = (n_new / without, n_new / with_cache)
    print(f"{n_new:4d} new tokens: without cache {n_new / without:7.1f} tokens/s, with cache "
          f"{n_new / with_cache:7.1f} tokens/s: {without / with_cache:.1f}x faster")

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6.5, 3.4))
labels = [str(n) for n in speed]
ax.bar([i - 0.2 for i in range(len(speed))], [s[0] for s in speed.values()], 0.4, label="without cache")
ax.bar([i + 0.2 for i in range(len(speed))], [s[1] for s in speed.values()], 0.4, label="with cache")
for i, (without, with_cache) in enumerate(speed.values()):
    ax.text(i + 0.2, with_cache, f"{with_cache / without:.1f}x", ha="center", va="bottom")
ax.set_xticks(range(len(speed)), labels)
ax.set_xlabel("new tokens generated")
ax.set_ylabel("tokens per second")
ax.set_ylim(0, 1.15 * max(s[1] for s in speed.values()))
ax.set_title("Greedy generation on this machine (higher is faster)")
ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
plt.show()

# %% [markdown]
# Without the cache, the tokens per second fall as the sequence grows (each
# step is longer than the last); with it, they fall much less (each step
# reads one token, plus attention over the cached keys, which grows slowly).
# So the longer the generation, the larger the speed-up. (Timings on a busy
# machine jitter; the trend is what to read.) How large it gets depends
# on the model: the cache removes the *model's* work on old positions, so it
# pays most when that work dominates, in wide and deep models; in a tiny one
# Python's overhead per step is a large part of both (the benchmark,
# `python -m tools.bench --only kvcache`, measures a wider and deeper GPT).

# %% [markdown]
# ### What the cache costs: memory
#
# For each layer it keeps a key and a value of $d_k$ numbers per head per
# token: $2 \times \text{layers} \times \text{heads} \times d_k \times
# \text{tokens} \times \text{bytes per number}$ (per sequence in the batch;
# heads $\times\, d_k = d_\text{model}$). We fill a cache and compare with
# what its tensors take.

# %%
cache = tc.KVCache(len(speed_model.blocks))
n_tokens = 264
with torch.no_grad():
    forward_with_cache(speed_model, torch.randint(3, len(LM_VOCAB), (1, n_tokens)).to(device), cache)
c = speed_config
formula = 2 * c.n_layers * c.n_heads * c.d_k * n_tokens * 4  # float32: 4 bytes per number
measured = sum(t.numel() * t.element_size() for t in cache.keys + cache.values)
print(f"formula: 2 x {c.n_layers} layers x {c.n_heads} heads x {c.d_k} d_k x {n_tokens} tokens x 4 bytes "
      f"= {formula:,} bytes")
print(f"measured: {len(cache.keys)} key and {len(cache.values)} value tensors of shape "
      f"{tuple(cache.keys[0].shape)}, float32: {measured:,} bytes")

# %% [markdown]
# The same formula says why the cache matters at scale: a model with 32
# layers, 32 heads of $d_k = 128$, in 16-bit numbers, keeps
# $2 \times 32 \times 32 \times 128 \times 2 = 524{,}288$ bytes, half a
# megabyte, **per token**: 2 GB for one 4000-token conversation. Memory,
# not arithmetic, is what limits how many sequences a server can generate at
# once.

# %% [markdown]
# ## Sampling: temperature, top-k, top-p
#
# Greedy decoding always writes the most likely token. For a translation that
# is what we want: there is one right answer. When many continuations are
# good (a story, a chat), greedy gives one dull, repetitive answer, and we
# **sample** the next token from the model's distribution instead. Three
# knobs shape that distribution:
#
# - **temperature** $\tau$: sample from $\mathrm{softmax}(\texttt{logits}/\tau)$.
#   $\tau < 1$ sharpens it, $\tau > 1$ flattens it; as $\tau \to 0$ it
#   becomes greedy (at $\tau = 0$ we take the argmax: dividing by 0 is not
#   defined).
# - **top-k**: keep only the $k$ most likely tokens (set the others' logits to
#   $-\infty$), then sample among them.
# - **top-p** (nucleus): keep the *smallest* set of most likely tokens whose
#   probabilities add up to at least $p$; the token that crosses $p$ is in
#   it. Its size adapts: one token when the model is sure, many when not.
#
# The order used here, as in most libraries: temperature, then top-k, then
# top-p (each on what the one before left), then softmax and draw.

# %%
examples = {"a sure model": torch.tensor([4.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0]),
            "an unsure model": torch.tensor([1.0, 0.8, 0.6, 0.4, 0.2, 0.0, -0.2])}
fig, axes = plt.subplots(2, 5, figsize=(17, 5.4), sharey=True, constrained_layout=True)
for ax_row, (kind, example) in zip(axes, examples.items()):
    for ax, (title, logits) in zip(ax_row, [("temperature 1", example), ("temperature 0.5", example / 0.5),
                                            ("temperature 2", example / 2),
                                            ("temperature 1, top-k 3", tc.top_k_filter(example, 3)),
                                            ("temperature 1, top-p 0.8", tc.top_p_filter(example, 0.8))]):
        kept = int(torch.isfinite(logits).sum())
        ax.bar(range(len(example)), logits.softmax(-1))
        ax.set_title(f"{title}" + (f": keeps {kept}" if "top" in title else ""), fontsize=10)
        ax.set_xlabel("token (by rank)")
    ax_row[0].set_ylabel(f"{kind}\nprobability")
plt.show()
for kind, example in examples.items():
    print(f"{kind}: the most likely token has probability {example.softmax(-1)[0]:.2f}; top-k 3 keeps "
          f"{int(torch.isfinite(tc.top_k_filter(example, 3)).sum())} tokens, top-p 0.8 keeps "
          f"{int(torch.isfinite(tc.top_p_filter(example, 0.8)).sum())}")

# %% [markdown]
# Top-k keeps three tokens whatever the model thinks. Top-p adapts: when
# the model is sure (top row) the most likely token alone already holds more
# than 0.8 of the probability, so it keeps one token and sampling is greedy;
# when the model is unsure (bottom row), it keeps as many tokens as it takes
# to reach 0.8 (the counts are printed above). That is top-p's point: cut the
# tail only where there is a clear head.

# %% [markdown]
# ### Exercise 6 · ★★☆ · about 12 minutes: sample the next token
#
# Write `sample_next(logits, temperature, top_k, top_p, generator)`: logits
# `(B, V)` → token ids `(B,)`. `top_k`/`top_p` None means "not used". Draw
# with the `generator` you are given, so that the same seed gives the same
# sample. The check tests properties: temperature 0 is greedy, top-k never
# picks outside the $k$ most likely, top-p keeps exactly the smallest set
# with mass $\ge p$, the samples follow the right distribution, a seed
# repeats.
#
# <details><summary>Hint</summary>
#
# `if temperature == 0: return logits.argmax(dim=-1)`. Else
# `logits = logits / temperature`. Top-k:
# `kth = logits.topk(top_k, dim=-1).values[:, -1:]`, then
# `logits = logits.masked_fill(logits < kth, float("-inf"))`.
#
# </details>
#
# <details><summary>Second hint</summary>
#
# Top-p: `sorted_logits, order = logits.sort(dim=-1, descending=True)`,
# `probs = sorted_logits.softmax(-1)`, `before = probs.cumsum(-1) - probs`
# (the mass of the tokens ranked above each one). Drop a token when
# `before >= top_p`; map that back to the vocabulary's order with
# `drop = drop_sorted.scatter(-1, order, drop_sorted)`. Finally
# `torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]`.
#
# </details>

# %%
def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits (B, V) -> next token ids (B,): greedy at temperature 0, else sampled after temperature, top-k, top-p."""
    ### BEGIN SOLUTION
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature  # (B, V)
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1): the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
        probs = sorted_logits.softmax(dim=-1)
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p  # the tokens above already reach top_p
        logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)[:, 0]  # (B,)
    ### END SOLUTION


# %%
sample_next = checks.gpt.check_sample_next(sample_next)

# %% [markdown]
# ## A task where sampling matters: counting in words
#
# Translation has one right answer. Here is a task with several: continue a
# count, `seventeen , nineteen , twenty one , ...`, five numbers below 100,
# counting by ones, twos or threes. Given only the first number, the step is
# open (three good continuations); after two numbers it is fixed. We train a
# small GPT on random counts (all tokens after `<bos>` counted), 400 steps.

# %% tags=["nbval-ignore-output"]
count_config = tc.ModelConfig(vocab_size=len(COUNT_VOCAB), d_model=64, n_heads=4, n_layers=2, d_ff=128,
                              dropout=0.0, max_len=lm_data.COUNT_MAX_LEN, norm_first=True)
torch.manual_seed(0)
count_model = GPT(count_config).to(device)
count_history = lm_training.train_lm(count_model, lm_data.count_batch_iterator(64, seed=0),
                                     lm_training.LMTrainingConfig(max_steps=400), loss_fn=lm_loss)
print(f"{tc.count_parameters(count_model):,} parameters, 400 steps in {count_history.seconds:.1f} s, "
      f"last loss {count_history.losses[-1]:.3f}")

# %% [markdown]
# Now 300 continuations of `seventeen ,` at each temperature (a fixed seed,
# so the page repeats), with your `sample_next`. A count is *valid* when it
# has five numbers going up by the same step, 1, 2 or 3.

# %%
def continue_counts(start: int, n: int, seed: int = 0, **sampling) -> list[list]:
    """n sampled continuations of a count that starts at `start`, each read back as numbers."""
    generator = torch.Generator().manual_seed(seed)
    pick = lambda logits: sample_next(logits.cpu(), generator=generator, **sampling).to(logits.device)  # noqa: E731
    prompt = torch.tensor([lm_data.count_prompt(start)] * n, device=device)
    out = generate(count_model, prompt, lm_data.COUNT_MAX_LEN - prompt.shape[1], pick=pick, eos_id=EOS)
    return [lm_data.read_count(row) for row in out.cpu()]


def summary(counts: list[list]) -> tuple[float, dict]:
    """(share of valid counts, how often each step was chosen among the valid ones)."""
    valid = [c for c in counts if lm_data.is_valid_count(c)]
    steps = {s: sum(c[1] - c[0] == s for c in valid) / len(counts) for s in lm_data.COUNT_STEPS}
    return len(valid) / len(counts), steps


settings = [dict(temperature=0.0), dict(temperature=0.5), dict(temperature=1.0), dict(temperature=1.5),
            dict(temperature=2.0), dict(temperature=2.0, top_k=3), dict(temperature=2.0, top_p=0.8)]
results = {}
for setting in settings:
    name = ", ".join(f"{k.replace('temperature', 'T')} {v}" for k, v in setting.items())
    counts = continue_counts(17, 300, **setting)
    results[name] = (summary(counts), counts)
rows = ["| sampling | valid counts | by ones | by twos | by threes | an example |", "|---|---|---|---|---|---|"]
for name, ((valid, steps), counts) in results.items():
    rows.append(f"| {name} | {valid:.0%} | {steps[1]:.0%} | {steps[2]:.0%} | {steps[3]:.0%} | "
                f"{', '.join('?' if x is None else str(x) for x in counts[1])} |")
display(Markdown("\n".join(rows)))

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(10, 3.6))
names = list(results)
bottom = [0.0] * len(names)
for step, color in zip(lm_data.COUNT_STEPS, ["tab:blue", "tab:orange", "tab:green"]):
    heights = [results[n][0][1][step] for n in names]
    ax.bar(names, heights, bottom=bottom, color=color, label=f"valid, by {step}s")
    bottom = [b + h for b, h in zip(bottom, heights)]
ax.bar(names, [1 - b for b in bottom], bottom=bottom, color="lightgrey", label="not a valid count")
ax.set_ylabel("share of 300 samples")
ax.set_title("Continuing 'seventeen , ...': what sampling does")
ax.tick_params(axis="x", labelrotation=20)
ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
plt.show()

# %% [markdown]
# Read it from left to right (the table above has the exact shares; they
# depend on the trained model, so read yours). At temperature 0 every sample
# is the same count: greedy picks one step and never the others. As the
# temperature rises, the other steps appear, as the model's own probabilities
# for them allow; higher still, the flattened distribution gives weight to
# tokens the model thinks unlikely, and counts break ("?" marks a piece that
# is not a number). Top-k and top-p at the same high temperature cut that
# tail off: they keep the variety among the plausible tokens and drop the
# implausible ones, so many more counts are valid than at the same
# temperature without them.

# %% [markdown]
# ## Check your understanding
#
# 1. What is left of the decoder layer in a decoder-only model, and why does
#    PyTorch's *encoder* layer compute the same thing?
#
#    <details><summary>Answer</summary>
#
#    Masked self-attention and the feed-forward network, each in a residual
#    sub-layer; the cross-attention goes, as there is no encoder output to
#    attend to. That is the encoder layer's structure; the only difference
#    is the causal mask, which `nn.TransformerEncoderLayer` takes as
#    `src_mask`.
#
#    </details>
#
# 2. Why does the loss count only the German tokens, and what would happen if
#    it counted the English too?
#
#    <details><summary>Answer</summary>
#
#    The English is the prompt: at use time it is given, so there is nothing
#    to gain from predicting it. Counting it would spend part of the model on
#    guessing random numbers (which cannot be predicted from `<bos>`) and mix
#    that irreducible loss into the number we watch. The model still reads the
#    English: the mask only decides which *predictions* are scored.
#
#    </details>
#
# 3. With a KV cache, why must the new token's position be `cache.length`,
#    and what goes wrong if it is 0?
#
#    <details><summary>Answer</summary>
#
#    The model was trained with each token carrying the sinusoid of its
#    position. Fed alone, the new token would carry position 0's signal,
#    so the model would read it as the first token of a sequence: every
#    later prediction is computed from a wrong input, and the text
#    silently differs from uncached generation.
#
#    </details>
#
# 4. Why does the new token need no mask over the cached keys, while a chunk
#    of several new tokens does?
#
#    <details><summary>Answer</summary>
#
#    Every cached token is in the past of the newest one, so it may see all of
#    them (and itself). Within a chunk of new tokens, each must still not see
#    the ones after it: the mask is the last `L` rows of the causal mask,
#    `(L, past + L)`.
#
#    </details>
#
# 5. How much memory does a KV cache need, and what grows it?
#
#    <details><summary>Answer</summary>
#
#    $2 \times \text{layers} \times \text{heads} \times d_k \times
#    \text{tokens} \times \text{bytes}$ per sequence: linear in the number of
#    tokens and in the batch. Measured above for our models; for a large
#    model it is about half a megabyte per token.
#
#    </details>
#
# 6. What do temperature, top-k and top-p each do, and what is temperature
#    0?
#
#    <details><summary>Answer</summary>
#
#    Temperature divides the logits: below 1 it sharpens the distribution,
#    above 1 it flattens it, and temperature 0 is defined as greedy (argmax).
#    Top-k keeps a fixed number of most likely tokens; top-p keeps the
#    smallest set whose probability reaches $p$, so its size follows the
#    model's certainty. Both cut off the unlikely tail that a high
#    temperature would otherwise sample from.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - **A GPT** is the decoder without cross-attention: blocks of masked
#   self-attention and feed-forward (an encoder layer with a causal mask,
#   equal to PyTorch's), between a token embedding with positions and a final
#   LayerNorm and unembedding.
# - **Training** is next-token prediction at every position at once; for a
#   prompted task the loss counts only the continuation.
# - **It translates** by attending from the German steps back to the English
#   in its own prompt; side by side with the encoder-decoder on the same
#   budget, both translate the held-out numbers (the table above).
# - **The KV cache** keeps every layer's keys and values: each step feeds
#   only the new token, at position `cache.length`, with a mask over the
#   whole past; output identical to uncached generation, measured faster,
#   memory $2 \times$ layers $\times$ heads $\times\, d_k \times$ tokens
#   $\times$ bytes.
# - **Sampling**: temperature shapes the distribution (0 = greedy), top-k and
#   top-p cut its unlikely tail.
