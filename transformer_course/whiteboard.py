"""The whole model on one page: each part with its one sentence, its equation, its shapes and its cost.

One data source, :data:`WHITEBOARDS`, feeds both the table and the diagram notebook 08 shows
(:func:`table_markdown`, :func:`draw`) and the printable picture in ``notebooks/images/``
(``python -m tools.diagrams.whiteboard``), so the two cannot drift; the picture carries a
fingerprint of the data it was drawn from (:func:`fingerprint`), which a test compares.
The measured cost of removing a part comes from the ablation results file
(``notebooks/data/ablations.json``, written by ``python -m tools.ablations``).

A model is a list of :class:`Card` (one per part); ``WHITEBOARDS`` maps a model's name to its cards, so a
decoder-only whiteboard can be added beside the encoder-decoder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from .task.ablation import summarize, verdict


@dataclass(frozen=True)
class Card:
    """One part of the model as it goes on the whiteboard: its card.

    ``sentence``: what it is for, in one sentence (from the notebook that builds it);
    ``equation``: its operation in the code's names; ``shapes``: what goes in and comes out;
    ``removed``: the (setting, ablation) experiments of notebook 08 that take it out (or change it).
    """

    number: int
    name: str
    notebook: str
    sentence: str
    equation: str
    shapes: str
    removed: tuple[tuple[str, str], ...] = ()
    not_removed_because: str = ""


ENCODER_DECODER: list[Card] = [
    Card(1, "Embedding", "01",
         "Each token id picks a learned vector: the start of the residual stream.",
         "x = src_embed.lut[src] * sqrt(d_model)",
         "src (B, S) ids -> x (B, S, d_model)",
         not_removed_because="without it there is no input"),
    Card(2, "Positional encoding", "04",
         "Attention alone cannot tell word order, so a position signal is added to each embedding.",
         "x = x + pe[:L];  pe[pos, 2i] = sin(pos / 10000^(2i/d_model)), pe[pos, 2i+1] = cos(...)",
         "pe (L, d_model), x (B, L, d_model)",
         removed=(("base", "no positional encoding"),)),
    Card(3, "Attention", "02",
         "Each position builds a context-aware version of itself: a weighted average of the values, "
         "weighted by how well its query matches their keys.",
         "weights = softmax(q @ k.T / sqrt(d_k) masked);  out = weights @ v",
         "q (B, H, q_len, d_k), k, v (B, H, k_len, d_k) -> weights (B, H, q_len, k_len)",
         removed=(("base", "no 1/sqrt(d_k)"), ("wide heads", "no 1/sqrt(d_k)"))),
    Card(4, "Multi-head attention", "03",
         "Several small heads look for different relations in parallel; their results are "
         "concatenated and mixed back into the stream.",
         "w_o(merge_heads(head_1 .. head_H)),  head_h = attention(x w_q_h, x w_k_h, x w_v_h)",
         "(B, L, d_model) -> (B, H, L, d_k) -> (B, L, d_model)",
         removed=(("base", "one head"),)),
    Card(5, "Residual connection (Add)", "01",
         "Every sub-layer reads the stream and adds its update back: x + Sublayer(x).",
         "x = x + dropout(sublayer(x))",
         "(B, L, d_model) -> (B, L, d_model)",
         removed=(("base", "no residual"),)),
    Card(6, "LayerNorm (Norm)", "05",
         "LayerNorm keeps the stream's scale steady: each position's features to mean 0, variance 1, "
         "then a learned scale and shift.",
         "(x - mean) / sqrt(var + eps) * weight + bias   (over d_model, var biased)",
         "(B, L, d_model) -> (B, L, d_model)",
         removed=(("base", "no LayerNorm"), ("deep", "no LayerNorm"))),
    Card(7, "Post-LN vs pre-LN", "05",
         "Where the norm sits: the paper's LayerNorm(x + Sublayer(x)), or x + Sublayer(LayerNorm(x)).",
         "post: norm(x + sublayer(x));  pre: x + sublayer(norm(x))",
         "(B, L, d_model) -> (B, L, d_model)",
         removed=(("base", "pre-LN"), ("base", "pre-LN, no warm-up"), ("deep", "post-LN"))),
    Card(8, "Feed-forward network", "05",
         "Transforms each position on its own, the same two-layer network at every position.",
         "linear2(relu(linear1(x)))",
         "(B, L, d_model) -> (B, L, d_ff) -> (B, L, d_model)",
         removed=(("base", "no feed-forward"), ("one layer", "no feed-forward"),
                  ("narrow, one layer", "no feed-forward"))),
    Card(9, "Masked self-attention", "06",
         "The decoder attends to its own past only: the causal mask hides the future.",
         "weights = softmax(scores masked by tgt_mask),  tgt_mask = causal & not padding",
         "tgt_mask (B, 1, T, T)",
         not_removed_because="without the mask the decoder reads the answer it must predict"),
    Card(10, "Cross-attention", "06",
         "Queries from the target, keys and values from the encoder's memory: where translation happens.",
         "cross_attn(x, memory, memory, src_mask)",
         "x (B, T, d_model), memory (B, S, d_model) -> (B, T, d_model)",
         not_removed_because="without it the decoder never sees the source"),
    Card(11, "Unembedding + softmax", "01",
         "The last stream vector at each position becomes next-token probabilities.",
         "logits = unembed(x) = x @ W_U.T + b;  probs = softmax(logits)",
         "x (B, T, d_model) -> logits (B, T, vocab_size)",
         not_removed_because="without it there is no output"),
    Card(12, "Training: warm-up", "07",
         "The learning rate rises from 0 over the first steps, then decays.",
         "lr(step) = lr * min(step / warmup, 1) * cosine decay",
         "",
         removed=(("base", "no warm-up"), ("base", "pre-LN, no warm-up"), ("deep", "post-LN"),
                  ("deep", "post-LN, long warm-up"))),
    Card(13, "Training: label smoothing", "07",
         "The target puts 1 - eps on the right token and spreads eps over all, so no logit is pushed to infinity.",
         "loss = (1 - eps) * -log p[target] + eps * mean_v(-log p[v])",
         "logits (B, T, V), target (B, T) -> scalar",
         removed=(("base", "no label smoothing"),)),
]


def _as_in_the_gpt(number: int, **changes: str) -> Card:
    """A part of the encoder-decoder as the GPT of notebook 09 uses it; its cost was measured on the encoder-decoder."""
    part = next(p for p in ENCODER_DECODER if p.number == number)
    return replace(part, removed=(), not_removed_because="on this page; the encoder-decoder's page gives its measured cost", **changes)


DECODER_ONLY: list[Card] = [
    _as_in_the_gpt(1, sentence="Each token id picks a learned vector; one vocabulary, one table, for the prompt "
                               "and the answer alike.",
                   equation="x = tok_embed.lut[tokens] * sqrt(d_model)", shapes="tokens (B, L) ids -> x (B, L, d_model)"),
    _as_in_the_gpt(2),
    _as_in_the_gpt(3),
    _as_in_the_gpt(4),
    _as_in_the_gpt(5),
    _as_in_the_gpt(6),
    _as_in_the_gpt(7, sentence="GPTs put the norm first, x + sublayer(norm(x)), and one final LayerNorm before "
                               "the unembedding: deep stacks train without a long warm-up.",
                   equation="x = x + sublayer(norm(x));  ...;  logits = unembed(norm_f(x))"),
    _as_in_the_gpt(8),
    _as_in_the_gpt(9, notebook="09", sentence="The only attention a GPT has: each position attends to itself and "
                                              "the positions before it, the prompt included, so it translates by "
                                              "reading its own prompt.",
                   equation="weights = softmax(scores masked by causal_mask(L))", shapes="mask (L, L)"),
    _as_in_the_gpt(11, shapes="x (B, L, d_model) -> logits (B, L, vocab_size)"),
    Card(14, "Causal language-model loss", "09",
         "Predict token t+1 from tokens 0..t, at every position at once; for translation only the answer counts.",
         "loss = mean over counted t of -log softmax(logits[:, t])[tokens[:, t+1]]",
         "logits (B, L, V), tokens (B, L), loss_mask (B, L) -> scalar",
         not_removed_because="it is what the GPT is trained to do"),
    Card(15, "KV cache", "09",
         "Generation keeps each layer's keys and values and feeds only the new token, so a step costs one "
         "position, not the whole sequence again.",
         "k = cat(cache.k[layer], split_heads(x_new @ W_K));  v likewise;  q_new attends to all of k",
         "per layer: k, v (B, H, past + new, d_k); bytes = 2 x layers x H x d_k x tokens x 4",
         not_removed_because="cached == uncached, token for token; only speed and memory change (notebook 09)"),
    Card(16, "Sampling", "09",
         "The next token is drawn from the softmax sharpened or flattened by a temperature, cut to the top k "
         "or the smallest set with mass >= p.",
         "p = softmax(logits / T); keep top-k / top-p; token = multinomial(p / p.sum())",
         "logits (B, V) -> token ids (B,)",
         not_removed_because="temperature -> 0 is greedy decoding"),
]

WHITEBOARDS: dict[str, list[Card]] = {"encoder-decoder": ENCODER_DECODER, "decoder-only": DECODER_ONLY}


def cost_of_removal(part: Card, runs: list[dict]) -> list[str]:
    """One line per experiment that removes ``part``: the exact match without it vs the full model."""
    summaries = summarize(runs)
    lines = []
    for setting, ablation in part.removed:
        if (setting, ablation) not in summaries or (setting, "full") not in summaries:
            lines.append(f"{setting}, {ablation}: not measured")
            continue
        ablated, full = summaries[setting, ablation], summaries[setting, "full"]
        lines.append(f"{setting}, {ablation}: {ablated.exact_text()} vs {full.exact_text()} "
                     f"-> {verdict(ablated, full)}")
    return lines or [f"not removed: {part.not_removed_because}"]


def fingerprint(parts: list[Card], runs: list[dict]) -> str:
    """A short hash of what the whiteboard shows: the parts and their costs of removal."""
    content = [asdict(p) | {"cost": cost_of_removal(p, runs)} for p in parts]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def table_markdown(parts: list[Card], runs: list[dict]) -> str:
    """The whiteboard's table in Markdown: part, sentence, equation, shapes, measured cost of removal."""
    rows = ["| # | part (notebook) | what it is for | equation (the code's names) | shapes | without it "
            "(test exact match, mean and min-max over seeds, vs the full model) |",
            "|---|---|---|---|---|---|"]
    for p in parts:
        cost = "<br>".join(cost_of_removal(p, runs)).replace("|", "\\|")
        rows.append(f"| {p.number} | **{p.name}** ({p.notebook}) | {p.sentence} | `{p.equation}` | "
                    f"{p.shapes} | {cost} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------
# The picture: the encoder-decoder on the left, the parts' cards on the right
# --------------------------------------------------------------------------

# The diagram's boxes: (label, part numbers, x, y, kind); the encoder on the left, the decoder on the right.
_BOXES = [
    ("src (B, S): English ids", (), 2.0, 0.6, "io"),
    ("Embedding", (1,), 2.0, 1.6, "embed"),
    ("+ positional encoding", (2,), 2.0, 2.6, "embed"),
    ("multi-head self-attention", (3, 4), 2.0, 4.0, "attn"),
    ("Add & Norm", (5, 6, 7), 2.0, 5.1, "norm"),
    ("feed-forward", (8,), 2.0, 6.3, "ff"),
    ("Add & Norm", (5, 6, 7), 2.0, 7.4, "norm"),
    ("tgt[:, :-1] (B, T): <bos> German", (), 6.6, 0.6, "io"),
    ("Embedding", (1,), 6.6, 1.6, "embed"),
    ("+ positional encoding", (2,), 6.6, 2.6, "embed"),
    ("masked multi-head self-attention", (9, 3, 4), 6.6, 4.0, "attn"),
    ("Add & Norm", (5, 6, 7), 6.6, 5.1, "norm"),
    ("cross-attention (k, v: memory)", (10, 3, 4), 6.6, 6.3, "attn"),
    ("Add & Norm", (5, 6, 7), 6.6, 7.4, "norm"),
    ("feed-forward", (8,), 6.6, 8.6, "ff"),
    ("Add & Norm", (5, 6, 7), 6.6, 9.7, "norm"),
    ("unembed: logits (B, T, vocab_size)", (11,), 6.6, 11.2, "out"),
    ("softmax: next-token probabilities", (11,), 6.6, 12.2, "out"),
    ("loss vs tgt[:, 1:] with label smoothing; Adam with warm-up", (12, 13), 4.3, 13.5, "train"),
]
_COLORS = {"io": "#eeeeee", "embed": "#e2d9f3", "attn": "#cfe2ff", "norm": "#fff3cd", "ff": "#d1e7dd",
           "out": "#f8d7da", "train": "#ffffff"}


def _draw_diagram(ax) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.set_xlim(0, 8.8)
    ax.set_ylim(0, 14.2)
    ax.axis("off")
    for x0, y0, y1, label in [(0.2, 3.35, 8.0, "encoder layer\n× n_layers"), (4.8, 3.35, 10.3,
                                                                           "decoder layer\n× n_layers")]:
        ax.add_patch(FancyBboxPatch((x0, y0), 3.6, y1 - y0, boxstyle="round,pad=0.08", fc="#fafafa",
                                    ec="#888888", lw=1, ls="--"))
        ax.text(x0 + 1.8, y1 + 0.12, label.replace("\n", " "), fontsize=7.5, color="#555555", ha="center")
    for label, numbers, x, y, kind in _BOXES:
        w = 3.3 if kind != "train" else 8.2
        ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.32), w, 0.64, boxstyle="round,pad=0.05",
                                    fc=_COLORS[kind], ec="#333333", lw=1))
        tag = f"  [{', '.join(map(str, numbers))}]" if numbers else ""
        ax.text(x, y, label + tag, ha="center", va="center", fontsize=7.2)
    arrow = {"arrowstyle": "->", "color": "#333333", "lw": 1}
    for x, ys in [(2.0, [0.6, 1.6, 2.6, 4.0, 5.1, 6.3, 7.4]),
                  (6.6, [0.6, 1.6, 2.6, 4.0, 5.1, 6.3, 7.4, 8.6, 9.7, 11.2, 12.2])]:
        for a, b in zip(ys, ys[1:]):
            ax.annotate("", xy=(x, b - 0.34), xytext=(x, a + 0.34), arrowprops=arrow)
    # the residual connections: around each sub-layer, into its Add & Norm
    res = {"arrowstyle": "->", "color": "#b02a37", "lw": 1.2, "connectionstyle": "bar,fraction=-0.25"}
    for x, pairs in [(2.0, [(3.3, 5.1), (5.7, 7.4)]), (6.6, [(3.3, 5.1), (5.7, 7.4), (8.0, 9.7)])]:
        for y_from, y_to in pairs:
            ax.annotate("", xy=(x - 1.7, y_to), xytext=(x - 1.7, y_from), arrowprops=res)
    ax.text(0.1, 2.9, "residual [5]", color="#b02a37", fontsize=7, rotation=90, va="bottom")
    # memory: the encoder's output into every decoder layer's cross-attention
    blue = "#0a58ca"
    ax.plot([2.0, 2.0, 4.3, 4.3], [7.74, 8.9, 8.9, 6.3], color=blue, lw=1.4)
    ax.annotate("", xy=(4.93, 6.3), xytext=(4.3, 6.3), arrowprops={"arrowstyle": "->", "color": blue, "lw": 1.4})
    ax.text(2.1, 9.05, "memory (B, S, d_model)", color=blue, fontsize=7.5)
    ax.annotate("", xy=(6.6, 13.15), xytext=(6.6, 12.55), arrowprops=arrow)


_GPT_BOXES = [
    ("tokens (B, L): prompt = answer <eos>", (), 0.6, "io"),
    ("Embedding (one table)", (1,), 1.6, "embed"),
    ("+ positional encoding", (2,), 2.6, "embed"),
    ("LayerNorm", (6, 7), 4.0, "norm"),
    ("masked multi-head self-attention", (9, 3, 4), 5.0, "attn"),
    ("+ (residual)", (5,), 6.0, "norm"),
    ("LayerNorm", (6, 7), 7.2, "norm"),
    ("feed-forward", (8,), 8.2, "ff"),
    ("+ (residual)", (5,), 9.2, "norm"),
    ("final LayerNorm", (6, 7), 10.5, "norm"),
    ("unembed: logits (B, L, vocab_size)", (11,), 11.5, "out"),
    ("softmax: next-token probabilities", (11,), 12.4, "out"),
    ("train: causal LM loss on the answer [14]; generate: KV cache [15], sampling [16]", (), 13.5, "train"),
]


def _draw_gpt_diagram(ax) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.set_xlim(0, 8.8)
    ax.set_ylim(0, 14.2)
    ax.axis("off")
    x = 4.4
    ax.add_patch(FancyBboxPatch((x - 2.0, 3.4), 4.0, 6.4, boxstyle="round,pad=0.08", fc="#fafafa", ec="#888888",
                                lw=1, ls="--"))
    ax.text(x, 9.92, "decoder-only block × n_layers (pre-LN)", fontsize=7.5, color="#555555", ha="center")
    for label, numbers, y, kind in _GPT_BOXES:
        w = 3.6 if kind != "train" else 8.4
        ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.3), w, 0.6, boxstyle="round,pad=0.05",
                                    fc=_COLORS[kind], ec="#333333", lw=1))
        tag = f"  [{', '.join(map(str, numbers))}]" if numbers else ""
        ax.text(x, y, label + tag, ha="center", va="center", fontsize=7.2)
    arrow = {"arrowstyle": "->", "color": "#333333", "lw": 1}
    ys = [y for _, _, y, _ in _GPT_BOXES]
    for a, b in zip(ys, ys[1:]):
        ax.annotate("", xy=(x, b - 0.32), xytext=(x, a + 0.32), arrowprops=arrow)
    res = {"arrowstyle": "->", "color": "#b02a37", "lw": 1.2, "connectionstyle": "bar,fraction=-0.3"}
    for y_from, y_to in [(3.3, 6.0), (6.6, 9.2)]:  # around each sub-layer, norm included, into its +
        ax.annotate("", xy=(x - 1.85, y_to), xytext=(x - 1.85, y_from), arrowprops=res)
    ax.text(1.2, 4.4, "residual [5]", color="#b02a37", fontsize=7, rotation=90, va="bottom")
    ax.text(6.35, 1.6, "no encoder, no\ncross-attention:\nthe prompt is the\nstart of the sequence",
            fontsize=7, color="#0a58ca", ha="left", va="center")


def _card_lines(part: Card, runs: list[dict], width: int) -> list[tuple[str, str]]:
    """The lines of one part's card as (kind, text): head, sentence, equation, shapes, cost."""
    import textwrap

    lines = [("head", f"[{part.number}] {part.name}  (notebook {part.notebook})")]
    lines += [("text", s) for s in textwrap.wrap(part.sentence, width)]
    lines += [("code", s) for s in textwrap.wrap(part.equation, width - 4)]
    if part.shapes:
        lines += [("shape", s) for s in textwrap.wrap("shapes: " + part.shapes, width)]
    for cost in cost_of_removal(part, runs):
        lines += [("cost", s) for s in textwrap.wrap(cost, width)]
    return lines


def draw(runs: list[dict], name: str = "encoder-decoder"):
    """The whiteboard as one A3-landscape matplotlib figure (returns it): diagram left, the parts' cards right."""
    import matplotlib.pyplot as plt

    parts = WHITEBOARDS[name]
    fig = plt.figure(figsize=(16.5, 11.7))
    fig.suptitle(f"The transformer ({name}) on one page: each part, what it is for, its equation, its shapes, "
                 + ("and what removing it cost (notebook 08)" if name == "encoder-decoder" else
                    "and where it differs from the encoder-decoder (notebook 09)"),
                 fontsize=12, fontweight="bold", y=0.985)
    (_draw_diagram if name == "encoder-decoder" else _draw_gpt_diagram)(fig.add_axes((0.01, 0.02, 0.34, 0.93)))
    styles = {"head": dict(fontsize=9.6, fontweight="bold"), "text": dict(fontsize=9),
              "code": dict(fontsize=8.4, family="monospace", color="#0a3d8f"),
              "shape": dict(fontsize=8.4, color="#444444"), "cost": dict(fontsize=8.4, color="#8a1c1c")}
    cards = [_card_lines(part, runs, width=70) for part in parts]
    heights = [len(card) + 0.7 for card in cards]
    split = min(range(1, len(cards)), key=lambda i: max(sum(heights[:i]), sum(heights[i:])))  # even columns
    step = min(0.0168, 0.9 / max(sum(heights[:split]), sum(heights[split:])))
    for c, column in enumerate([cards[:split], cards[split:]]):
        x, y = 0.365 + c * 0.315, 0.945
        for card in column:
            for kind, text in card:
                fig.text(x, y, text, va="top", **styles[kind])
                y -= step
            y -= step * 0.7
    if name != "encoder-decoder":
        return fig
    fig.text(0.365, 0.008, "Costs: held-out test exact match, mean (min-max) over 3 seeds, without the part vs the full "
             "model of the same setting; 'no measurable difference' when the seeds' ranges\noverlap or the means "
             "differ by less than two standard errors of the 1000-number test set. Settings: base = the number "
             "translator, 2 layers, d_model 64, 4 heads of d_k 16, post-LN,\n600 steps, warm-up 60; deep = 6 layers, "
             "pre-LN; one layer; narrow, one layer = d_model 32; wide heads = d_model 128, 1 head of d_k 128.",
             fontsize=7.2, color="#444444")
    return fig
