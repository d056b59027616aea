"""Draw the fallback PNGs of notebooks 05 and 06's Mermaid diagrams (for viewers without Mermaid).

    python tools/diagrams/05_06_diagrams.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go
COLORS = {"attn": "#cfe2ff", "ff": "#d1e7dd", "norm": "#fff3cd", "io": "#eeeeee", "add": "#ffffff",
          "out": "#f8d7da"}


def box(ax, x, y, text, kind, w=2.6, h=0.55):
    """A rounded box centred at (x, y)."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                fc=COLORS[kind], ec="#333333", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def plus(ax, x, y):
    ax.add_patch(plt.Circle((x, y), 0.2, fc="white", ec="#333333", lw=1.2))
    ax.text(x, y, "+", ha="center", va="center", fontsize=13)


def arrow(ax, x0, y0, x1, y1, **kw):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2, **kw})


def residual(ax, x, y0, y1, side=1.7):
    """The skip connection: from the stream at y0 around the sub-layer into the + at y1."""
    ax.plot([x, x + side, x + side], [y0, y0, y1], color="#c0392b", lw=1.5)
    arrow(ax, x + side, y1, x + 0.22, y1, color="#c0392b")


def layer(ax, x, title, norm_first):
    """One encoder layer, post-LN (the paper) or pre-LN, drawn bottom to top."""
    ax.text(x, 8.3, title, ha="center", fontsize=12, weight="bold")
    box(ax, x, 0.3, "x  (batch, seq_len, d_model)", "io", w=3.0)
    y = 0.3
    for name, kind in (("multi-head self-attention", "attn"), ("feed-forward", "ff")):
        if norm_first:
            arrow(ax, x, y + 0.3, x, y + 0.85)
            box(ax, x, y + 1.1, "LayerNorm", "norm")
            arrow(ax, x, y + 1.4, x, y + 1.85)
            box(ax, x, y + 2.1, name, kind)
            arrow(ax, x, y + 2.4, x, y + 2.95)
            plus(ax, x, y + 3.15)
            residual(ax, x, y + 0.6, y + 3.15)
            y += 3.15
        else:
            arrow(ax, x, y + 0.3, x, y + 0.85)
            box(ax, x, y + 1.1, name, kind)
            arrow(ax, x, y + 1.4, x, y + 1.9)
            plus(ax, x, y + 2.1)
            residual(ax, x, y + 0.6, y + 2.1)
            arrow(ax, x, y + 2.3, x, y + 2.65)
            box(ax, x, y + 2.9, "LayerNorm", "norm")
            y += 2.9 + 0.25
    arrow(ax, x, y + 0.25, x, y + 0.7)
    ax.text(x, y + 0.85, "to the next layer" + ("\n(final LayerNorm after the last)" if norm_first else ""),
            ha="center", va="bottom", fontsize=9)


def draw_05():
    fig, ax = plt.subplots(figsize=(9, 6.4))
    layer(ax, 2.2, "post-LN (the paper)\nLayerNorm(x + Sublayer(x))", norm_first=False)
    layer(ax, 7.6, "pre-LN (most modern code)\nx + Sublayer(LayerNorm(x))", norm_first=True)
    ax.text(4.9, -0.55, "red: the residual connection, the stream flowing past each sub-layer", ha="center",
            fontsize=9, color="#c0392b")
    ax.set_xlim(-0.5, 10.5)
    ax.set_ylim(-0.8, 8.7)
    ax.axis("off")
    fig.savefig(HERE / "05_transformer_block.png", dpi=110, bbox_inches="tight")


def draw_06():
    fig, ax = plt.subplots(figsize=(10, 6.8))
    # encoder column
    box(ax, 2, 0.3, "source ids  src (B, S)", "io", w=3.0)
    arrow(ax, 2, 0.6, 2, 1.0)
    box(ax, 2, 1.3, "embedding + positions", "io", w=3.0)
    arrow(ax, 2, 1.6, 2, 2.1)
    ax.add_patch(FancyBboxPatch((0.3, 2.1), 3.4, 2.3, boxstyle="round,pad=0.05", fc="none", ec="#555",
                                ls="--"))
    ax.text(0.4, 4.2, "encoder layer × N", fontsize=9, style="italic")
    box(ax, 2, 2.6, "self-attention (src_mask)", "attn", w=3.0)
    arrow(ax, 2, 2.9, 2, 3.3)
    box(ax, 2, 3.6, "feed-forward", "ff", w=3.0)
    arrow(ax, 2, 4.4, 2, 4.9)
    box(ax, 2, 5.2, "memory (B, S, d_model)", "norm", w=3.0)
    # decoder column
    box(ax, 7.6, 0.3, "decoder input: <bos> + target[:-1]  (B, T)", "io", w=4.2)
    arrow(ax, 7.6, 0.6, 7.6, 1.0)
    box(ax, 7.6, 1.3, "embedding + positions", "io", w=3.4)
    arrow(ax, 7.6, 1.6, 7.6, 2.1)
    ax.add_patch(FancyBboxPatch((5.6, 2.1), 4.0, 3.4, boxstyle="round,pad=0.05", fc="none", ec="#555", ls="--"))
    ax.text(5.7, 5.3, "decoder layer × N", fontsize=9, style="italic")
    box(ax, 7.6, 2.6, "masked self-attention (tgt_mask)", "attn", w=3.6)
    arrow(ax, 7.6, 2.9, 7.6, 3.3)
    box(ax, 7.6, 3.6, "cross-attention (src_mask)\nQ from decoder, K, V from memory", "attn", w=3.6, h=0.75)
    arrow(ax, 7.6, 4.0, 7.6, 4.4)
    box(ax, 7.6, 4.7, "feed-forward", "ff", w=3.6)
    arrow(ax, 3.5, 5.2, 5.75, 3.7, color="#1f4e9c", lw=1.8)
    arrow(ax, 7.6, 5.5, 7.6, 5.95)
    box(ax, 7.6, 6.25, "linear (generator) + softmax", "out", w=3.6)
    arrow(ax, 7.6, 6.55, 7.6, 6.95)
    ax.text(7.6, 7.05, "next-token probabilities (B, T, vocab)\ncompared with labels = target", ha="center",
            va="bottom", fontsize=9)
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.2, 7.8)
    ax.axis("off")
    fig.savefig(HERE / "06_encoder_decoder.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    draw_05()
    draw_06()
