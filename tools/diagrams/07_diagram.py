"""Draw the fallback PNG of notebook 07's Mermaid diagram (for viewers without Mermaid).

    python tools/diagrams/07_diagram.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go
COLORS = {"io": "#eeeeee", "train": "#fff3cd", "model": "#cfe2ff", "use": "#d1e7dd"}


def box(ax, x, y, text, kind, w=3.0, h=1.1):
    """A rounded box centred at (x, y)."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.06",
                                fc=COLORS[kind], ec="#333333", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5)


def arrow(ax, x0, y0, x1, y1, text=None):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2})
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.15, text, ha="center", fontsize=8.5, color="#555555")


def main() -> None:
    fig, ax = plt.subplots(figsize=(13, 3.8))
    ax.set_xlim(0, 17.0)
    ax.set_ylim(0.9, 5.0)
    ax.axis("off")
    box(ax, 2.0, 4.2, "numbers 0..999,999\nsplit by number:\ntrain / val / test", "io")
    box(ax, 2.0, 1.8, "padded batches\nsrc (B, S) English ids\ntgt (B, T) <bos> German <eos>", "io", w=3.8)
    box(ax, 6.9, 1.8, "train_step: decoder reads tgt[:, :-1],\npredicts tgt[:, 1:]; label-smoothed\n"
                      "loss, backward, Adam + warm-up", "train", w=4.6, h=1.3)
    box(ax, 6.9, 4.2, "Transformer\nencoder + decoder", "model")
    box(ax, 11.6, 4.2, "greedy decoding\nor beam search", "use")
    box(ax, 11.6, 1.8, "attention maps:\nencoder self, decoder self,\ncross-attention", "use", w=3.8)
    box(ax, 15.4, 4.2, "German tokens\n-> exact match on\nheld-out numbers", "io")
    arrow(ax, 2.0, 3.6, 2.0, 2.4)
    arrow(ax, 3.95, 1.8, 4.55, 1.8)
    arrow(ax, 6.6, 2.5, 6.6, 3.6, "updates")
    arrow(ax, 7.2, 3.6, 7.2, 2.5)
    arrow(ax, 8.45, 4.2, 10.05, 4.2)
    arrow(ax, 8.45, 3.9, 9.65, 2.4)
    arrow(ax, 13.15, 4.2, 13.85, 4.2)
    ax.set_title("Notebook 07: train the whole model, then translate and look inside", fontsize=12)
    fig.savefig(HERE / "07_training_a_translator.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
