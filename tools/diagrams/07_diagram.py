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
    ax.text(x, y, text, ha="center", va="center", fontsize=12)


def arrow(ax, x0, y0, x1, y1, text=None):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2})
    if text:
        ax.text((x0 + x1) / 2 + 0.15, (y0 + y1) / 2, text, ha="left", fontsize=11, color="#555555")


def main() -> None:
    fig, ax = plt.subplots(figsize=(7.6, 7.4))
    ax.set_xlim(0, 10.0)
    ax.set_ylim(0.2, 10.2)
    ax.axis("off")
    box(ax, 5.0, 9.4, "numbers 0..999,999\nsplit by number: train / val / test", "io", w=5.4)
    box(ax, 5.0, 7.6, "padded batches\nsrc (B, S) English ids, tgt (B, T) <bos> German <eos>", "io", w=8.4)
    box(ax, 5.0, 5.6, "train_step\ndecoder reads tgt[:, :-1], predicts tgt[:, 1:]\n"
                      "label-smoothed loss, backward, Adam + warm-up", "train", w=7.6, h=1.5)
    box(ax, 5.0, 3.5, "Transformer: encoder + decoder\nassembled from your parts", "model", w=5.4)
    box(ax, 2.55, 1.6, "greedy decoding\nor beam search\n-> German tokens, exact match\non held-out numbers, per family",
        "use", w=5.0, h=1.7)
    box(ax, 7.75, 1.6, "attention maps:\nencoder self, decoder self,\ncross-attention", "use", w=4.2, h=1.7)
    arrow(ax, 5.0, 8.85, 5.0, 8.15)
    arrow(ax, 5.0, 7.05, 5.0, 6.35)
    arrow(ax, 4.6, 4.85, 4.6, 4.05, "updates")
    arrow(ax, 4.2, 2.95, 3.0, 2.45)
    arrow(ax, 5.8, 2.95, 7.0, 2.45)
    ax.set_title("Notebook 07: train the whole model, then translate and look inside", fontsize=13)
    fig.savefig(HERE / "07_training_a_translator.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
