"""Draw the fallback pictures of notebooks 03 and 04's Mermaid diagrams (for viewers without Mermaid).

    python tools/diagrams/03_04_diagrams.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go
PLAIN, FOCUS = "#eef2f7", "#ffd966"


def draw(boxes, arrows, size, path, title=""):
    """boxes: {name: (label, x, y, highlighted)}; arrows: [(from, to)]; saves a PNG at `path`."""
    fig, ax = plt.subplots(figsize=size)
    w, h = 2.0, 0.66
    for label, x, y, focus in boxes.values():
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                    fc=FOCUS if focus else PLAIN, ec="#333333", lw=1.2))
        ax.text(x, y, label, ha="center", va="center", fontsize=9)
    for a, b in arrows:
        (_, xa, ya, _), (_, xb, yb, _) = boxes[a], boxes[b]
        dx, dy = xb - xa, yb - ya
        start = (xa + (w / 2 if dx > 0.5 else 0), ya + (0 if abs(dx) > 0.5 else h / 2 * (1 if dy > 0 else -1)))
        end = (xb - (w / 2 if dx > 0.5 else 0), yb - (0 if abs(dx) > 0.5 else h / 2 * (1 if dy > 0 else -1)))
        if abs(dx) > 0.5 and abs(dy) > 0.1:  # diagonal: leave and enter by the sides
            start, end = (xa + w / 2, ya), (xb - w / 2, yb)
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="#333333", lw=1.2))
    xs = [x for _, x, _, _ in boxes.values()]
    ys = [y for _, _, y, _ in boxes.values()]
    ax.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def multi_head_attention():
    boxes = {
        "q": ("query\n(B, q_len, d_model)", 0, 2, False),
        "k": ("key\n(B, k_len, d_model)", 0, 1, False),
        "v": ("value\n(B, k_len, d_model)", 0, 0, False),
        "wq": ("W_Q, split\ninto heads", 2.5, 2, True),
        "wk": ("W_K, split\ninto heads", 2.5, 1, True),
        "wv": ("W_V, split\ninto heads", 2.5, 0, True),
        "att": ("n_heads x attention\nin parallel\n(B, H, q_len, d_k)", 5.1, 1, True),
        "merge": ("merge heads\n(concatenate)", 7.6, 1, True),
        "wo": ("W_O\n(mix heads)", 10.1, 1, True),
        "out": ("output\n(B, q_len, d_model)", 12.6, 1, False),
    }
    arrows = [("q", "wq"), ("k", "wk"), ("v", "wv"), ("wq", "att"), ("wk", "att"), ("wv", "att"),
              ("att", "merge"), ("merge", "wo"), ("wo", "out")]
    draw(boxes, arrows, (13, 3.4), HERE / "03_multi_head_attention.png",
         "multi-head attention: one sub-layer of every encoder and decoder block")


def positional_encoding():
    boxes = {
        "tok": ("token ids\n(B, L)", 0, 1, False),
        "emb": ("embedding\n(B, L, d_model)", 2.6, 1, False),
        "add": ("+", 5.2, 1, True),
        "pe": ("positional encoding\n(L, d_model)", 5.2, 0, True),
        "blocks": ("N blocks:\nattention + FFN", 7.8, 1, False),
        "out": ("unembedding\n-> probabilities", 10.4, 1, False),
    }
    arrows = [("tok", "emb"), ("emb", "add"), ("pe", "add"), ("add", "blocks"), ("blocks", "out")]
    draw(boxes, arrows, (11, 2.8), HERE / "04_positional_encoding.png",
         "the positional encoding is added once, to the embeddings, before the first block")


if __name__ == "__main__":
    multi_head_attention()
    positional_encoding()
