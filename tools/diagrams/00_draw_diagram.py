"""Draw the fallback picture of notebook 00's Mermaid diagram (for viewers that cannot render Mermaid).

    python tools/diagrams/00_draw_diagram.py   # writes 00_how_this_course_works.png here
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go


def box(ax, x, y, text, color, w=0.2, h=0.16):
    """A rounded box centred at (x, y)."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                facecolor=color, edgecolor="#444444", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def arrow(ax, start, end, label="", rad=0.0):
    """An arrow from start to end, labelled near its middle."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="#333333",
                                                          connectionstyle=f"arc3,rad={rad}", linewidth=1))
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.03, label, fontsize=8,
                ha="center", color="#333333")


def main() -> None:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.05, 1)
    ax.axis("off")
    box(ax, 0.12, 0.5, "exercise cell:\na stub you fill in", "#fde2c4")
    box(ax, 0.42, 0.5, "check cell\nright below", "#dbe9f6")
    box(ax, 0.82, 0.82, "✔ name: correct\nyour version is used", "#d9f0d3", w=0.26)
    box(ax, 0.82, 0.5, "✘ what is wrong\n(shape, axis, scale, ...)", "#f6d5d5", w=0.26)
    box(ax, 0.82, 0.18, "… not done yet\nthe reference is used", "#eeeeee", w=0.26)
    arrow(ax, (0.23, 0.5), (0.31, 0.5))
    arrow(ax, (0.53, 0.55), (0.68, 0.8), "right")
    arrow(ax, (0.53, 0.5), (0.68, 0.5), "wrong")
    arrow(ax, (0.53, 0.45), (0.68, 0.2), "still a stub")
    arrow(ax, (0.69, 0.44), (0.12, 0.41), rad=-0.3)  # back from "wrong" to the stub
    ax.text(0.3, 0.12, "fix it, run both cells again", fontsize=8, ha="center", color="#333333")
    fig.savefig(HERE / "00_how_this_course_works.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
