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
    box(ax, x, 0.3, "x  (B, L, d_model)", "io", w=3.0)
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


def add_norm_sublayer(ax, x, bottom, text, kind, w=3.0, h=0.55):
    """From the stream at height `bottom`: a sub-layer, then its "Add & Norm", with the residual path (red)
    branching off the stream below the sub-layer and entering the Add & Norm. Returns the height of the top."""
    y = bottom + 0.45 + h / 2                      # the sub-layer's centre
    arrow(ax, x, bottom, x, y - h / 2 - 0.06)
    box(ax, x, y, text, kind, w=w, h=h)
    norm_y = y + h / 2 + 0.65                      # the Add & Norm's centre
    arrow(ax, x, y + h / 2 + 0.06, x, norm_y - 0.31)
    box(ax, x, norm_y, "Add & Norm", "norm", w=w, h=0.5)
    side, branch = x - w / 2 - 0.3, bottom + 0.2  # the residual path runs left of the sub-layer
    ax.plot([x, side, side], [branch, branch, norm_y], color="#c0392b", lw=1.3)
    arrow(ax, side, norm_y, x - w / 2 - 0.06, norm_y, color="#c0392b")
    return norm_y + 0.31


def draw_06():
    fig, ax = plt.subplots(figsize=(10.5, 10))
    # encoder column
    ex = 2.3
    box(ax, ex, 0.3, "source ids  src (B, S)", "io", w=3.0)
    arrow(ax, ex, 0.6, ex, 1.0)
    box(ax, ex, 1.3, "embedding + positions", "io", w=3.0)
    top = add_norm_sublayer(ax, ex, 1.61, "self-attention (src_mask)", "attn")
    top = add_norm_sublayer(ax, ex, top, "feed-forward", "ff")
    ax.add_patch(FancyBboxPatch((0.45, 1.85), 3.75, top - 1.75, boxstyle="round,pad=0.05", fc="none", ec="#555",
                                ls="--"))
    ax.text(0.5, top + 0.2, "encoder layer × N", fontsize=9, style="italic", va="bottom")
    memory_y = top + 1.0
    arrow(ax, ex, top, ex, memory_y - 0.31)
    box(ax, ex, memory_y, "memory (B, S, d_model)", "io", w=3.0)
    # decoder column
    dx = 7.8
    box(ax, dx, 0.3, "decoder input: <bos> + target[:-1]  (B, T)", "io", w=4.2)
    arrow(ax, dx, 0.6, dx, 1.0)
    box(ax, dx, 1.3, "embedding + positions", "io", w=3.4)
    top = add_norm_sublayer(ax, dx, 1.61, "masked self-attention (tgt_mask)", "attn", w=3.6)
    cross_y = top + 0.45 + 0.75 / 2
    top = add_norm_sublayer(ax, dx, top, "cross-attention (src_mask)\nQ from decoder, K, V from memory", "attn",
                            w=3.6, h=0.75)
    top = add_norm_sublayer(ax, dx, top, "feed-forward", "ff", w=3.6)
    ax.add_patch(FancyBboxPatch((5.6, 1.85), 4.35, top - 1.75, boxstyle="round,pad=0.05", fc="none", ec="#555",
                                ls="--"))
    ax.text(5.65, top + 0.2, "decoder layer × N", fontsize=9, style="italic", va="bottom")
    arrow(ax, ex + 1.55, memory_y, dx - 1.86, cross_y, color="#1f4e9c", lw=1.8)  # memory -> cross-attention (K, V)
    out_y = top + 1.0
    arrow(ax, dx, top, dx, out_y - 0.31)
    box(ax, dx, out_y, "unembed W_U: logits (B, T, V), then softmax", "out", w=4.2)
    arrow(ax, dx, out_y + 0.31, dx, out_y + 0.65)
    ax.text(dx, out_y + 0.75, "next-token probabilities (B, T, V)\ncompared with labels = target", ha="center",
            va="bottom", fontsize=9)
    ax.text(5.1, -0.5, "Add & Norm: add the sub-layer's input back (red, the residual connection), then "
            "LayerNorm (post-LN, notebook 05)", ha="center", fontsize=9, color="#c0392b")
    ax.set_xlim(0, 10.3)
    ax.set_ylim(-0.8, out_y + 1.5)
    ax.axis("off")
    fig.savefig(HERE / "06_encoder_decoder.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    draw_05()
    draw_06()
