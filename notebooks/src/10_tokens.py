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
# # 10 · Tokens: byte-pair encoding, and German as Germans write it
#
# **A tokenizer turns text into the ids the model reads; byte-pair encoding
# learns its pieces from the text itself, so German written as one word
# ("einundzwanzig") is split into pieces a model can learn.**
#
# Every notebook so far began at the ids. Notebook 07's German side was even
# cut into morphemes *by hand*, "drei hundert ein und zwanzig", when German
# writes "dreihunderteinundzwanzig", one word. Here you build the tool that
# does that cutting for every large model since GPT-2: a byte-level
# byte-pair-encoding (BPE) tokenizer. You compare it with Hugging Face's
# `tokenizers`, then train notebook 07's translator on real German spelling
# through your own tokenizer.

# %% [markdown] tags=["exercise_only"]
# *This is the exercise notebook. The same notebook with every exercise filled
# in is in `notebooks/solutions/`; look there only when you are stuck.*

# %% [markdown] tags=["solution_only"]
# *This is the solution notebook: every exercise is filled in. The notebook to
# work in is the one in `notebooks/`, with the same name.*

# %% [markdown]
# ## Where this sits: before the first layer, and after the last
#
# ```mermaid
# flowchart LR
#     text["text: 'einundzwanzig'"] --> bytes["UTF-8 bytes (13)"]
#     bytes --> merges["merges, in the order learned"]
#     merges --> ids["token ids: einund | zwanzig"]
#     ids --> model["the transformer (notebooks 01-09)"]
#     model --> out["token ids"]
#     out --> decode["bytes joined, decoded once"]
#     decode --> back["text"]
# ```
#
# The tokenizer is not trained with the model: it is learned once, from
# text, by counting. The model only ever sees its ids, and the vocabulary
# size `vocab_size` of every notebook so far *is* the tokenizer's.

# %% [markdown]
# <details><summary>The same diagram as a picture (if the one above does not render)</summary>
#
# <img src="images/10_tokens.png" alt="Text einundzwanzig becomes 13 UTF-8 bytes, the learned merges turn them into the token ids einund and zwanzig, which go into the transformer; the token ids it puts out are turned back into bytes, joined and decoded once into text" width="720">
#
# </details>

# %% [markdown]
# ## Setup

# %%
import random
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

import transformer_course as tc
from transformer_course import checks
from transformer_course import tokenizer as ref
from transformer_course.task import spelling
from transformer_course.task.number_words import MAX_TGT_LEN, german_tokens, german_written
from transformer_course.task.training import CapstoneConfig

# %% tags=["nbval-ignore-output"]
tc.set_threads()  # one CPU thread: for tensors this small it is as fast as two, and far faster on a busy machine
device = tc.get_device()
print(f"running on: {device}")

# %% [markdown]
# ## Why bytes, not characters or words
#
# A vocabulary of *words* cannot write a word it has never seen. A vocabulary
# of *characters* needs an entry for every one of Unicode's ~150,000
# characters, most of which the training text never shows. **Bytes** have
# neither problem: UTF-8 writes every character as 1 to 4 bytes, and there
# are only 256 byte values. So a byte-level tokenizer starts from a
# vocabulary of exactly 256 tokens and can write *any* string. The price:
# "ß" and "ü" are two bytes each, "€" three, so sequences get long. Merges
# (below) win that length back.

# %%
for text in ["a", "ß", "ü", "€", "🙂", "dreißig"]:
    print(f"{text!r:10} {len(text)} character(s) -> UTF-8 bytes {list(text.encode('utf-8'))}")

# %% [markdown]
# ### Exercise 1 · ★☆☆ · about 2 minutes: text to bytes
#
# Write `to_bytes(text)`: a `str` → its UTF-8 bytes as a list of ints 0..255.
#
# <details><summary>Hint</summary>
#
# `text.encode("utf-8")` is a `bytes` object; `list(...)` of it is the list
# of ints.
#
# </details>

# %%
def to_bytes(text: str) -> list[int]:
    """Text -> its UTF-8 bytes as ints 0..255: 'ü' -> [195, 188]."""
    ### BEGIN SOLUTION
    return list(text.encode("utf-8"))
    ### END SOLUTION


# %%
to_bytes = checks.tokens.check_to_bytes(to_bytes)

# %% [markdown]
# ### Exercise 2 · ★☆☆ · about 3 minutes: bytes back to text
#
# Write `from_bytes(ids)`: a list of ints 0..255 → the text. A model can
# write bytes that are not a whole character (the first byte of "ü" alone);
# that must not crash: such bytes become the replacement character '�'.
#
# <details><summary>Hint</summary>
#
# `bytes(ids)` makes a `bytes` object; `.decode("utf-8", errors="replace")`
# turns it into text. Why not `"".join(chr(i) for i in ids)`? Try it on
# `[195, 188]`.
#
# </details>

# %%
def from_bytes(ids: list[int]) -> str:
    """UTF-8 bytes -> text; an incomplete character becomes '\ufffd' instead of an error."""
    ### BEGIN SOLUTION
    return bytes(ids).decode("utf-8", errors="replace")
    ### END SOLUTION


# %%
from_bytes = checks.tokens.check_from_bytes(from_bytes)

# %% [markdown]
# ## Byte-pair encoding: merge the most frequent pair, again and again
#
# BPE (Sennrich et al. 2016, after a 1994 compression method; the
# transformer paper used it) learns a vocabulary by counting:
#
# 1. Write the training text as bytes.
# 2. Count every pair of neighbouring tokens.
# 3. The most frequent pair becomes a new token: token 256 for the first
#    merge, 257 for the second, ... Replace the pair by it everywhere.
# 4. Repeat until the vocabulary has `vocab_size` tokens.
#
# The result is a list `merges`: `merges[i]` is the pair $(a, b)$ that became
# token $256 + i$. Each merge shortens the text by one token wherever its pair
# occurs. A tiny example: in "aaabdaaabac" the pair "aa" occurs 4 times (the
# overlapping ones count: "aaa" has two), so it becomes token 256.

# %% [markdown]
# ### Exercise 3 · ★☆☆ · about 3 minutes: count the pairs
#
# Write `count_pairs(ids)`: a list of ids → a dict `{(a, b): how often}` of
# neighbouring pairs. `[1, 2, 1, 2]` → `{(1, 2): 2, (2, 1): 1}`, and
# `[97, 97, 97]` has the pair `(97, 97)` **twice**.
#
# <details><summary>Hint</summary>
#
# `zip(ids, ids[1:])` walks over the neighbouring pairs;
# `counts[pair] = counts.get(pair, 0) + 1`.
#
# </details>

# %%
def count_pairs(ids: list[int]) -> dict[tuple[int, int], int]:
    """How often each pair of neighbours occurs: [1, 2, 1, 2] -> {(1, 2): 2, (2, 1): 1}."""
    ### BEGIN SOLUTION
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    ### END SOLUTION


# %%
count_pairs = checks.tokens.check_count_pairs(count_pairs)

# %% [markdown]
# ### Exercise 4 · ★★☆ · about 5 minutes: merge a pair
#
# Write `merge(ids, pair, new_id)`: a new list in which every occurrence of
# `pair`, read left to right, is replaced by `new_id`. Overlaps: in
# `[97, 97, 97]` the first `(97, 97)` uses up two tokens, so the result is
# `[new_id, 97]`, not `[new_id, new_id]`. Do not change `ids` itself.
#
# <details><summary>Hint</summary>
#
# Walk with an index `i`: if `ids[i], ids[i + 1]` is the pair, append
# `new_id` and move on by **two**; else append `ids[i]` and move on by one.
# Mind the end: there is no pair starting at the last position.
#
# </details>

# %%
def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of `pair`, left to right, by `new_id`: [97, 97, 97], (97, 97) -> [new_id, 97]."""
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %%
merge = checks.tokens.check_merge(merge)

# %% [markdown]
# ## Training: the rules this page fixes
#
# Three choices make a BPE tokenizer what it is; the checks hold you to these:
#
# - **Pre-split.** The text is first cut into chunks by a regular expression,
#   `ref.PRE_SPLIT` = `' ?\S+|\s+'`: a word with the space in front of it, or
#   a run of whitespace. Pairs are counted, and merged, *inside* a chunk
#   only, so no token ever spans two words ("g u" from "zwanzig und").
#   `ref.pre_split(text)` does the cutting for you.
# - **Tie rule.** When several pairs are equally frequent, merge the
#   **smallest** pair $(a, b)$ (by ids, $a$ first): the most frequent pair is
#   `max(counts, key=lambda p: (counts[p], -p[0], -p[1]))`. (minbpe takes the
#   pair seen first; Hugging Face's `tokenizers` the smallest in *its* order,
#   which sorts some bytes differently: see the comparison below.)
# - **Stop** when there are `vocab_size` tokens (256 bytes + one per merge),
#   or earlier when no pair occurs at least twice.
#
# Repeated words need counting only once: count the pairs of each distinct
# chunk and multiply by how often the chunk occurs (`collections.Counter`).

# %%
print(ref.pre_split("dreihundert einundzwanzig\nund  so"))

# %% [markdown]
# ### Exercise 5 · ★★☆ · about 10 minutes: learn the merges
#
# Write `train(text, vocab_size)` → the list of merges, with your
# `count_pairs` and `merge` and the three rules above.
#
# <details><summary>Hint</summary>
#
# Keep one list of ids per distinct chunk of `ref.pre_split(text)` (and how
# often it occurs). Each round: add up the pair counts of every chunk
# (times its frequency), stop if the best count is below 2, take the pair by
# the tie rule, `merge` it in every chunk with `new_id = 256 + len(merges)`,
# and append it to `merges`.
#
# </details>

# %%
def train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Learn merges from `text` until there are `vocab_size` tokens (256 bytes + one per merge)."""
    ### BEGIN SOLUTION
    from collections import Counter

    words = Counter(ref.pre_split(text))          # each distinct chunk once, with how often it occurs
    chunks = [to_bytes(word) for word in words]
    freqs = list(words.values())
    merges = []
    while 256 + len(merges) < vocab_size:
        counts = {}
        for ids, freq in zip(chunks, freqs):
            for pair, n in count_pairs(ids).items():
                counts[pair] = counts.get(pair, 0) + n * freq
        if not counts or max(counts.values()) < 2:
            break
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        chunks = [merge(ids, pair, 256 + len(merges)) for ids in chunks]
        merges.append(pair)
    return merges
    ### END SOLUTION


# %%
train = checks.tokens.check_train(train)

# %% [markdown]
# ### What it learns from German numbers
#
# The corpus: the German words of 2,000 of notebook 07's training numbers,
# one per line (0..999 are among them), as Germans write them. We learn
# merges up to a vocabulary of 350 tokens, i.e. 94 merges, and print a few
# learned pieces in the order they were learned.

# %%
config = CapstoneConfig()                      # notebook 07's settings
train_numbers, _, test_numbers = config.splits()
corpus = spelling.tokenizer_corpus(train_numbers[:2000])
VOCAB_SIZE = 350
print(f"corpus: {len(corpus.splitlines())} words, {len(corpus.encode('utf-8')):,} bytes; e.g. "
      f"{corpus.splitlines()[:3]}")

# %% tags=["nbval-ignore-output"]
start_wall, start_cpu = time.perf_counter(), time.process_time()
merges = train(corpus, VOCAB_SIZE)
ours_wall, ours_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
print(f"your train: {len(merges)} merges in {ours_wall:.2f} s (CPU time {ours_cpu:.2f} s)")

# %%
pieces = [piece.decode("utf-8", errors="replace") for piece in ref.vocab(merges)[256:]]
print(f"{len(merges)} merges; the first 20: {pieces[:20]}")
print(f"the last 20: {pieces[-20:]}")

# %% [markdown]
# The first merges are frequent letter pairs ("nd", "er", "ei"); soon the
# morphemes of notebook 07's hand split appear as single tokens ("und",
# "hundert", "tausend", "zig"), and then whole pieces that occur often
# *together*, such as "fünfund" or "zwanzigtausend". A '�' marks a piece that
# holds one byte of a two-byte letter ("ß", "ü"): bytes are merged before the
# characters they form, and that is fine, as long as decoding joins bytes
# before it decodes them (Exercise 7).

# %% [markdown]
# ## Encoding new text: the merges, in the order they were learned
#
# To encode a chunk, start from its bytes and, as long as some neighbouring
# pair is in `merges`, merge the pair that was learned **first** (the lowest
# new id), wherever it stands. Not the longest piece that fits, nor the
# leftmost pair: training built each token from pieces that existed *before*
# it, and encoding must retrace that order, or the same word gets different
# tokens at training and at use time. An example: with the merges a+b,
# then b+c, then a+bc (learned from other words), "abc" is ab | c: a+b was
# learned first, and once it is made, the "bc" that a+bc needs is gone.
# "Longest piece first" would write the one token abc, which training never
# made from this word.

# %% [markdown]
# ### Exercise 6 · ★★☆ · about 8 minutes: encode
#
# Write `encode(text, merges)` → a list of ids: for each chunk of
# `ref.pre_split(text)`, its bytes, then merges by rank until none applies.
#
# <details><summary>Hint</summary>
#
# `rank = {pair: 256 + i for i, pair in enumerate(merges)}` is each pair's
# new id. In a chunk: `pair = min(zip(ids, ids[1:]), key=lambda p:
# rank.get(p, float("inf")))`; stop when `pair not in rank` (or fewer than
# two ids are left), else `ids = merge(ids, pair, rank[pair])`.
#
# </details>

# %%
def encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Text -> token ids: pre-split, then each chunk's bytes merged in the order the merges were learned."""
    ### BEGIN SOLUTION
    rank = {pair: 256 + i for i, pair in enumerate(merges)}
    out = []
    for chunk in ref.pre_split(text):
        ids = to_bytes(chunk)
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, float("inf")))
            if pair not in rank:
                break
            ids = merge(ids, pair, rank[pair])
        out += ids
    return out
    ### END SOLUTION


# %%
encode = checks.tokens.check_encode(encode)

# %% [markdown]
# ### Exercise 7 · ★★☆ · about 5 minutes: decode, without breaking a character
#
# Write `decode(ids, merges, specials)` → the text. Ids below 256 are bytes;
# id $256 + i$ stands for the bytes of `merges[i]`'s two tokens, joined; the
# special tokens come right after the merges: `<pad>` is `256 + len(merges)`,
# then `<bos>`, then `<eos>`. A token may hold half of a character (a '�'
# above), so: **join all the bytes first, then decode once**.
#
# <details><summary>Hint</summary>
#
# Build the table `pieces = [bytes([b]) for b in range(256)]`, then for each
# `(a, b)` in `merges` append `pieces[a] + pieces[b]` (it is `ref.vocab(merges)`).
# A special `i` is `specials[i - len(pieces)].encode("utf-8")`. Then
# `b"".join(...)` and `from_bytes`.
#
# </details>

# %%
def decode(ids: list[int], merges: list[tuple[int, int]], specials=ref.SPECIALS) -> str:
    """Token ids -> text: every token's bytes joined first, then decoded as UTF-8 once."""
    ### BEGIN SOLUTION
    pieces = [bytes([b]) for b in range(256)]
    for a, b in merges:
        pieces.append(pieces[a] + pieces[b])
    data = b"".join(pieces[i] if i < len(pieces) else specials[i - len(pieces)].encode("utf-8") for i in ids)
    return from_bytes(list(data))
    ### END SOLUTION


# %%
decode = checks.tokens.check_decode(decode)

# %% [markdown]
# ### Exercise 8 · ★★☆ · about 5 minutes: special tokens, kept whole
#
# `<pad>`, `<bos>` and `<eos>` are not text: each must become its one id,
# never five bytes `<`, `b`, `o`, `s`, `>` and never merged with its
# neighbours. Write `encode_with_specials(text, merges, specials)`: cut the
# text at the specials, give each special its id (`256 + len(merges) +` its
# index in `specials`) and `encode` the text in between.
#
# <details><summary>Hint</summary>
#
# `re.split("(<pad>|<bos>|<eos>)", text)` cuts the text and, thanks to the
# parentheses, keeps the specials in the list. Build the pattern from
# `specials` with `re.escape`. Skip the empty strings.
#
# </details>

# %%
def encode_with_specials(text: str, merges: list[tuple[int, int]], specials=ref.SPECIALS) -> list[int]:
    """Like `encode`, but each special token in the text becomes its one id."""
    ### BEGIN SOLUTION
    import re

    special_ids = {s: 256 + len(merges) + i for i, s in enumerate(specials)}
    ids = []
    for part in re.split("(" + "|".join(re.escape(s) for s in specials) + ")", text):
        if part in special_ids:
            ids.append(special_ids[part])
        elif part:
            ids += encode(part, merges)
    return ids
    ### END SOLUTION


# %%
encode_with_specials = checks.tokens.check_encode_with_specials(encode_with_specials)

# %% [markdown]
# ### Your tokenizer, whole
#
# `ref.BPETokenizer` only holds the merges and the specials and calls *your*
# functions (those that passed their checks; the reference for any not done
# yet). The round trip must be exact for **any** string, including letters
# it never saw in training: those simply stay bytes. Like the model's parts,
# your `train`, `encode_with_specials` and `decode` are saved in `my_parts/`
# when their checks pass: notebook 11 learns its tokenizers with them.

# %%
tokenizer = ref.BPETokenizer(merges, encode_fn=encode_with_specials, decode_fn=decode)
for text in ["<bos>dreihunderteinundzwanzigtausend<eos>", "größer als 🙂", "<pad>"]:
    ids = tokenizer.encode(text)
    print(f"{text!r}\n   -> {ids}\n   -> pieces {tokenizer.pieces(ids)}\n   -> back: {tokenizer.decode(ids)!r}")

# %%
failures = checks.tokens.round_trip_failures(encode, decode, merges, n=300, seed=0)
print(f"random Unicode strings whose round trip is not exact: {len(failures)} of 300")

# %% [markdown]
# ## Against the ecosystem: Hugging Face `tokenizers`
#
# `tokenizers` (in Rust) trains BPE too. To compare like with like we
# configure it to do exactly what ours does: **no normalizer** (no Unicode
# normalisation or lower-casing), **our pre-split** (`Split` with the same
# regular expression), then **byte-level** (`ByteLevel` without its own
# regular expression: it only writes each byte as a printable character,
# GPT-2's trick so that merges can be stored as text), an **initial alphabet
# of all 256 bytes**, and `min_frequency=2` (our "stop when no pair occurs
# twice"). Same corpus, same `vocab_size`.

# %%
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers


def hf_bpe(text: str, vocab_size: int) -> Tokenizer:
    """Hugging Face's BPE configured as ours: no normalizer, our pre-split, byte-level, 256 bytes, min count 2."""
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(ref.PRE_SPLIT.pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator([text], trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return hf


def hf_merges(hf: Tokenizer) -> set[tuple[bytes, bytes]]:
    """HF's merges as pairs of byte strings (it stores bytes 0-32, 127-160, 173 as characters from U+0100 on)."""
    import json

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    byte_of = {chr(b): b for b in printable}
    byte_of.update({chr(256 + k): b for k, b in enumerate(b for b in range(256) if b not in printable)})
    merged = json.loads(hf.to_str())["model"]["merges"]
    pairs = (m if isinstance(m, list) else m.split(" ") for m in merged)
    return {(bytes(byte_of[c] for c in a), bytes(byte_of[c] for c in b)) for a, b in pairs}


# %% tags=["nbval-ignore-output"]
start_wall, start_cpu = time.perf_counter(), time.process_time()
hf = hf_bpe(corpus, VOCAB_SIZE)
hf_wall, hf_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
print(f"your train (Python): {ours_wall:.2f} s (CPU {ours_cpu:.2f} s); HF tokenizers (Rust): {hf_wall:.3f} s "
      f"(CPU {hf_cpu:.3f} s); ratio {ours_wall / hf_wall:.0f}x in wall-clock time, "
      f"{ours_cpu / max(hf_cpu, 1e-9):.0f}x in CPU time")

# %%
table = ref.vocab(merges)
ours_set = {(table[a], table[b]) for a, b in merges}
hf_set = hf_merges(hf)
agreement = len(ours_set & hf_set) / len(ours_set)
print(f"vocabulary: ours {256 + len(merges)}, HF {hf.get_vocab_size()}; merges in common: "
      f"{len(ours_set & hf_set)} of {len(ours_set)} = {agreement:.1%}")
print("only ours:", sorted(ours_set - hf_set))
print("only HF:  ", sorted(hf_set - ours_set))

held_out = spelling.tokenizer_corpus(random.Random(1).sample(test_numbers, 500))
n_bytes = len(held_out.encode("utf-8"))
ours_bpt = n_bytes / len(encode(held_out, merges))
hf_ids = hf.encode(held_out).ids
hf_bpt = n_bytes / len(hf_ids)
print(f"held-out text ({n_bytes:,} bytes): {ours_bpt:.3f} bytes per token (ours), {hf_bpt:.3f} (HF); "
      f"difference {abs(ours_bpt / hf_bpt - 1):.2%}; HF's round trip exact: {hf.decode(hf_ids) == held_out}")

# %% [markdown]
# The two agree on nearly all merges; the few that differ are one tie broken
# two ways. "ß" is the bytes `0xC3 0x9F`. `0x9F` is not printable, so HF writes
# it as a character above U+0100 and it sorts *after* the letters in HF's
# order, while in ours, by byte value, it sorts before them: at equal counts
# the two pick different pairs first ("drei" + "ß" vs "ß" + "ig"), and build
# "dreißig" along different paths. Compression on text neither was trained on
# is the same (the difference printed above). The speed ratio is the price of
# plain Python (and of recounting every pair after each merge, where the
# library updates only the counts a merge changes): for a course the readable
# version is the point, for a corpus of gigabytes only the fast one is usable.

# %% [markdown]
# ## German as Germans write it
#
# `german_written(n)` writes the number as one word, by German's rules:
#
# - units before tens, joined by "und": 21 = "einundzwanzig";
# - "eins" only for a one that *ends* the number (1, 101 "einhunderteins",
#   1001 "eintausendeins"); before "und", "hundert" and "tausend" it is "ein";
# - a leading one hundred or one thousand is written "einhundert" /
#   "eintausend" or just "hundert" / "tausend": both are standard; we write the
#   "ein" (`einhundert=True`, as `num2words` does), the other is
#   `einhundert=False`.
#
# The tests check it against `num2words` (`lang="de"`), an independent
# implementation, on tens of thousands of numbers.

# %%
for n in [1, 21, 100, 101, 1001, 21_000, 101_000, 321_000, 777_777]:
    print(f"{n:>7,}  {german_written(n):<70} (or {german_written(n, einhundert=False)})")

# %% [markdown]
# ### Which pieces does BPE find, and how many tokens per number?
#
# Notebook 07 cut the German into morphemes by hand ("ein und zwanzig", 3
# tokens). BPE learns its own pieces; how many tokens a number takes depends
# on the vocabulary size. Per family of numbers (07's families), the mean
# number of tokens per German number:

# %%
families = config.families()
families["uniform (test numbers)"] = test_numbers[:300]
sizes = [300, VOCAB_SIZE, 400]
tokenizers = {size: ref.BPETokenizer(ref.train(corpus, size)) for size in sizes if size != VOCAB_SIZE}
tokenizers[VOCAB_SIZE] = tokenizer


def mean_tokens(tok, numbers) -> float:
    return sum(len(tok.encode(german_written(n))) for n in numbers) / len(numbers)


rows = ["| family | hand-split (07) | " + " | ".join(f"BPE, {s} tokens" for s in sizes) + " |",
        "|---" * (2 + len(sizes)) + "|"]
for name, numbers in families.items():
    hand = sum(len(german_tokens(n)) for n in numbers) / len(numbers)
    rows.append(f"| {name} | {hand:.2f} | " + " | ".join(f"{mean_tokens(tokenizers[s], numbers):.2f}"
                                                        for s in sizes) + " |")
display(Markdown("\n".join(rows)))

# %%
for n in [21, 321_000, 45_678, 777_777, 101_001]:
    print(f"{n:>7,}  hand: {' '.join(german_tokens(n)):<52} BPE {VOCAB_SIZE}: "
          f"{' | '.join(tokenizer.pieces(tokenizer.encode(german_written(n))))}")

# %% [markdown]
# With 300 tokens BPE has learned little more than letter pairs and a few
# morphemes, so a number takes *more* tokens than the hand split. With 350
# it has the morphemes and common pairs of them ("einund", "zwanzigtausend"),
# and a number takes *fewer* tokens than by hand; with 400, fewer still, as
# longer and longer combinations become tokens. The pieces are not the
# grammar's morphemes: "einund" + "zwanzig" is not "ein" + "und" + "zwanzig".
# BPE knows frequencies, not grammar. Whether a model can learn from such
# pieces is the next question.

# %% [markdown]
# ## The translator, on real spelling, through your tokenizer
#
# Notebook 07's model (`tc.Transformer`, the reference parts), 07's settings
# (`CapstoneConfig()`: the same data, 900 steps, the same seed), with one
# change: the German target is `<bos>` + the real word + `<eos>`, encoded by
# your tokenizer (vocabulary 350 + 3 specials). The tokenizer puts its
# specials last; the model keeps the course's `<pad>`, `<bos>`, `<eos>` =
# 0, 1, 2, so `spelling.to_model_ids` shifts every id by 3 (modulo the
# vocabulary size), which moves exactly the three specials to the front.

# %%
max_len = max(spelling.max_target_len(tokenizer, ns) for ns in [*families.values(), train_numbers])
spelling_config = spelling.spelling_config(tokenizer, max_len, config)
print(f"German vocabulary: {tokenizer.vocab_size} (07: {len(tc.DE_VOCAB)}); longest target with <bos>, <eos>: "
      f"{max_len} tokens (07: {MAX_TGT_LEN})")
src, tgt = spelling.make_spelling_batch([21, 321_000], tokenizer)
print("targets as model ids:", tgt.tolist())

# %% [markdown]
# **Sequence lengths.** The cost of attention grows with the length of the
# sequences. Over the training numbers, the mean German target (with `<bos>`
# and `<eos>`):

# %%
sample = train_numbers[:5000]
hand_len = sum(len(german_tokens(n)) + 2 for n in sample) / len(sample)
bpe_len = sum(len(spelling.target_ids(n, tokenizer)) for n in sample) / len(sample)
print(f"mean target length: hand-split {hand_len:.2f} tokens, BPE {bpe_len:.2f} tokens "
      f"({bpe_len / hand_len:.0%} of the hand split)")

# %% tags=["nbval-ignore-output"]
start_wall, start_cpu = time.perf_counter(), time.process_time()
model, history, splits = spelling.train_spelling(tokenizer, spelling_config, device=device)
print(f"trained {spelling_config.max_steps} steps in {time.perf_counter() - start_wall:.0f} s "
      f"(CPU time {time.process_time() - start_cpu:.0f} s); final loss {history.losses[-1]:.3f}")

# %% [markdown]
# ### Exact match per family, as in notebook 07
#
# Greedy decoding; a number counts as right only if the whole German word,
# the pieces joined, is exactly right. Every family but 0..999 was kept out
# of training, as in 07.

# %%
scores, wrong = {}, {}
for name, numbers in families.items():
    words = spelling.translate_spelling(model, numbers, tokenizer, max_len)
    wrong[name] = [(n, w) for n, w in zip(numbers, words) if w != german_written(n)]
    scores[name] = 1 - len(wrong[name]) / len(numbers)
rows = ["| family | numbers | exact match | a wrong answer, if any |", "|---|---|---|---|"]
for name, numbers in families.items():
    example = (f"{wrong[name][0][0]:,}: **{wrong[name][0][1]}** (right: {german_written(wrong[name][0][0])})"
               if wrong[name] else "")
    rows.append(f"| {name} | {len(numbers)} | {scores[name]:.1%} | {example} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# **Speed.** The same model size and batch size, one training step on 07's
# hand-split targets against one on BPE targets (40 steps each, fresh
# models, the same numbers), in CPU time per step:

# %% tags=["nbval-ignore-output"]
def seconds_per_step(model, batches, steps: int = 40) -> float:
    """Mean CPU time of one training step (07's optimiser and schedule)."""
    optimizer, scheduler = config.make_optimizer(model)
    start = time.process_time()
    for _, batch in zip(range(steps), batches):
        tc.train_step(model, batch, optimizer, scheduler)
    return (time.process_time() - start) / steps


torch.manual_seed(0)
hand_step = seconds_per_step(config.make_model().to(device), tc.batch_iterator(train_numbers, 64, epochs=None))
bpe_step = seconds_per_step(spelling_config.make_model().to(device),
                            spelling.spelling_batches(train_numbers, tokenizer, 64))
print(f"CPU time per step: hand-split {hand_step * 1000:.0f} ms, BPE {bpe_step * 1000:.0f} ms "
      f"(ratio {bpe_step / hand_step:.2f})")

# %% [markdown]
# Compare the table with notebook 07's (the same settings, hand-split
# German). What changes, honestly:
#
# - **Shorter targets** (the mean lengths printed above): BPE pieces are
#   longer than morphemes. That makes a step somewhat cheaper (the ratio
#   above), not in proportion to the length: attention over a dozen
#   positions is cheap, much of a step is spent elsewhere.
# - **A larger output vocabulary** (353 tokens instead of 07's 35): the
#   unembedding has ten times the rows, and each piece is seen less often in
#   training than each morpheme was.
# - **The reordering is partly inside tokens now.** "einund" is one token:
#   the model writes "one-and" in one step, then "zwanzig"; the inversion is
#   still there, between pieces (the maps below).
# - **Errors can be inside a word, even inside a letter.** With morphemes,
#   every output is a string of real morphemes, at worst in a wrong order or
#   one missing. With BPE pieces a wrong piece gives another number's word
#   ("vierhundert" where "vier" ends the number) or no German word at all;
#   and since "ö" and "ß" are two bytes that BPE may keep in two
#   tokens, a model can write half of a letter, which decodes as '�'. Look at
#   the wrong answers in the table: each is one of these.

# %% [markdown]
# ### Cross-attention over sub-word pieces
#
# Each row is one step of the decoder (the piece it wrote), each column an
# English word; the last decoder layer, its heads averaged.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), gridspec_kw={"width_ratios": [2, 7], "wspace": 0.5})
for ax, number in zip(axes, [21, 321_045]):
    maps = spelling.spelling_attention(model, number, tokenizer, max_len)
    weights = maps["cross"][-1].mean(dim=0)                   # (T, S): last layer, heads averaged
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(maps["source"])), maps["source"], rotation=45, ha="right")
    ax.set_yticks(range(len(maps["output"])), maps["output"])
    ax.set_title(f"{number:,}: {german_written(number)}", fontsize=10)
    ax.set_xlabel("English (source)")
axes[0].set_ylabel("German piece written")
fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
plt.show()

# %% [markdown]
# For "twenty one" the step that writes "einund" looks at "one", the step
# that writes "zwanzig" back at "twenty": the inversion of notebook 07,
# now between pieces that BPE chose, not morphemes we chose.

# %% [markdown]
# ## What GPT-style tokenizers add
#
# Ours is the core. Tokenizers of large models add two things:
#
# - **A pre-split by a regular expression** that knows letters, digits and
#   punctuation apart (GPT-2:
#   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`),
#   so no token mixes a word with a comma or a number, and "'s" is its own
#   chunk. Hugging Face's `ByteLevel` pre-tokenizer with `use_regex=True` is
#   that split (and GPT-2's byte-to-character table), offline:
# - **Byte fallback.** A byte-level tokenizer like ours and GPT-2's can write
#   any string, since all 256 bytes are tokens. Tokenizers that work on
#   *characters* (SentencePiece, used by Llama 2) have an "unknown" problem
#   for characters they never saw; their "byte fallback" option writes such
#   a character as its UTF-8 bytes, `<0xC3>` `<0x9F>`, instead.

# %%
gpt2_split = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
sample_text = "It's 2,500 km: einundzwanzig Größen!"
print("GPT-2's pre-split:", [chunk for chunk, _ in gpt2_split.pre_tokenize_str(sample_text)])
print("ours:             ", ref.pre_split(sample_text))

# %% [markdown]
# (Ġ is how GPT-2's table writes the space byte.) GPT-2's own *merges* are
# not on this machine: `tiktoken`, OpenAI's tokenizer library, ships its
# code but not its merge tables (about 50,000 merges each); it downloads them
# on first use, and so does `tokenizers`' `Tokenizer.from_pretrained("gpt2")`.
# The course downloads nothing at run time, so it shows the pre-split only.

# %% [markdown]
# ## Check your understanding
#
# 1. Why do byte-level tokenizers start from bytes and not from characters?
#
#    <details><summary>Answer</summary>
#
#    256 byte values write every string that exists, so nothing is ever
#    "unknown", and the base vocabulary is small and fixed. Characters would
#    need an entry for each of Unicode's ~150,000, most never seen in
#    training. The price is length ("ü" is two bytes), which the merges win
#    back for frequent text.
#
#    </details>
#
# 2. In "aaa", why is the pair "aa" counted twice but merged once?
#
#    <details><summary>Answer</summary>
#
#    Counting asks how often the pair *could* be merged starting at each
#    position: both positions 0 and 1 start an "aa". Merging uses tokens up:
#    once the first "aa" is one token, the second "a" has no partner left.
#    So "aaa" becomes [aa, a].
#
#    </details>
#
# 3. Why must encoding apply the merges in the order they were learned, and
#    not take the longest piece that fits?
#
#    <details><summary>Answer</summary>
#
#    Training saw every token built from pieces that existed before it; the
#    model learned what those pieces mean. Encoding new text the same way
#    gives the same pieces for the same word. Longest-first can cut a word
#    into pieces training never produced for it, so the model would see
#    ids in contexts it never learned.
#
#    </details>
#
# 4. Why must decoding join the bytes of all tokens before it decodes them?
#
#    <details><summary>Answer</summary>
#
#    A token may hold only part of a character (one of the two bytes of
#    "ß"). Decoded alone, that part is not valid UTF-8 and becomes '�'; joined
#    with the next token's bytes it is the right character.
#
#    </details>
#
# 5. What do the special tokens need that ordinary text does not?
#
#    <details><summary>Answer</summary>
#
#    To be one id each, always: the model must see `<eos>` as one token it can
#    predict, never as five bytes that ordinary text could also contain. So
#    the text is cut at the specials before the merges run, and the merges
#    never cross them.
#
#    </details>
#
# 6. The translator learned from BPE pieces as well as from morphemes. What
#    is different about its mistakes?
#
#    <details><summary>Answer</summary>
#
#    With morphemes every output is a sequence of real German morphemes, at
#    worst in a wrong order. With BPE pieces an error can be *inside* a word:
#    a wrong or missing piece gives a string that is not German at all. Exact
#    match of the whole word counts both the same.
#
#    </details>

# %% [markdown]
# ## Summary
#
# - **Bytes first.** UTF-8 writes any text as bytes 0..255, so a byte-level
#   tokenizer has no unknown tokens; "ß" and "ü" are two bytes each.
# - **BPE training**: count neighbouring pairs inside each pre-split chunk,
#   merge the most frequent (ties: the smallest pair), repeat up to
#   `vocab_size`; "aaa" counts "aa" twice and merges it once.
# - **Encoding** applies the merges in the order they were learned;
#   **decoding** joins the bytes before it decodes; **special tokens** are
#   cut out first and kept whole.
# - **Against Hugging Face `tokenizers`**, configured to do the same: nearly
#   the same merges (the rest a tie broken in another byte order), the same
#   compression, many times faster in Rust.
# - **German as written** ("dreihunderteinundzwanzigtausend") is cut by BPE
#   into frequent pieces ("einund", "zwanzigtausend"), not the grammar's
#   morphemes, and notebook 07's translator learns from those pieces too; its
#   errors, if any, can now be inside a word.
