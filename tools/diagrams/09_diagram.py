"""Draw the fallback PNG of notebook 09's Mermaid diagram: the encoder-decoder beside the decoder-only model.

    python tools/diagrams/09_diagram.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go
COLORS = {"io": "#eeeeee", "stack": "#cfe2ff", "attn": "#fff3cd", "out": "#d1e7dd"}


def box(ax, x, y, text, kind, w=3.4, h=0.9):
    """A rounded box centred at (x, y)."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.06",
                                fc=COLORS[kind], ec="#333333", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5)


def arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2})


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 6.2))
    ax.set_xlim(0, 16)
    ax.set_ylim(0, 8.4)
    ax.axis("off")
    # left: the encoder-decoder
    ax.text(4.0, 8.1, "encoder-decoder (notebooks 06-07)", ha="center", fontsize=12, weight="bold")
    box(ax, 2.0, 0.8, "English ids src (B, S)", "io", w=3.0)
    box(ax, 2.0, 2.6, "encoder × N:\nself-attention, feed-forward", "stack", w=3.2, h=1.1)
    box(ax, 2.0, 4.4, "memory (B, S, d_model)", "io", w=3.0)
    box(ax, 6.0, 0.8, "<bos> German tgt (B, T)", "io", w=3.0)
    box(ax, 6.0, 3.4, "decoder × N: masked\nself-attention, CROSS-attention\nto memory, feed-forward",
        "attn", w=3.4, h=1.5)
    box(ax, 6.0, 6.2, "unembed:\nnext German token", "out", w=3.0, h=1.0)
    arrow(ax, 2.0, 1.25, 2.0, 2.05)
    arrow(ax, 2.0, 3.15, 2.0, 3.95)
    arrow(ax, 3.5, 4.4, 4.3, 3.6)
    arrow(ax, 6.0, 1.25, 6.0, 2.65)
    arrow(ax, 6.0, 4.15, 6.0, 5.7)
    # right: the decoder-only model
    ax.plot([8.6, 8.6], [0.2, 8.0], color="#999999", lw=1, ls=":")
    ax.text(12.3, 8.1, "decoder-only, a GPT (this notebook)", ha="center", fontsize=12, weight="bold")
    box(ax, 12.3, 0.8, "one sequence (B, L):\n<bos> English = German <eos>", "io", w=4.4, h=1.0)
    box(ax, 12.3, 2.9, "block × N:\nmasked self-attention, feed-forward\n(no cross-attention)", "stack",
        w=4.4, h=1.4)
    box(ax, 12.3, 4.8, "final LayerNorm", "stack", w=3.0, h=0.8)
    box(ax, 12.3, 6.2, "unembed: next token,\nat every position", "out", w=3.4, h=1.0)
    arrow(ax, 12.3, 1.3, 12.3, 2.2)
    arrow(ax, 12.3, 3.6, 12.3, 4.4)
    arrow(ax, 12.3, 5.2, 12.3, 5.7)
    ax.text(12.3, 7.15, "generation: a KV cache keeps each block's keys and values,\nso each step feeds only "
            "the new token", ha="center", fontsize=9, color="#555555")
    fig.savefig(HERE / "09_decoder_only.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
