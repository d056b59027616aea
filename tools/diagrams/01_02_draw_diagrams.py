"""Draw the fallback pictures of notebooks 01 and 02's Mermaid diagrams (for viewers that cannot render Mermaid).

    python tools/diagrams/01_02_draw_diagrams.py   # writes 01_residual_stream.png and 02_attention.png here
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go
STREAM, BLOCK, OUT = "#dbe9f6", "#fde2c4", "#d9f0d3"


def box(ax, x, y, text, w=0.5, h=0.07, color=STREAM):
    """A rounded box centred at (x, y); returns its (top, bottom, left, right) edges."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                facecolor=color, edgecolor="#444444", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)
    return {"top": (x, y + h / 2 + 0.01), "bottom": (x, y - h / 2 - 0.01),
            "left": (x - w / 2 - 0.01, y), "right": (x + w / 2 + 0.01, y)}


def plus(ax, x, y, r=0.025):
    """A circled + at (x, y); returns its edges."""
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor="#444444", linewidth=1))
    ax.text(x, y, "+", ha="center", va="center", fontsize=12)
    return {"top": (x, y + r), "bottom": (x, y - r), "left": (x - r, y), "right": (x + r, y)}


def arrow(ax, start, end, label="", dashed=False, rad=0.0):
    """An arrow from start to end, optionally labelled at its middle."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(
        arrowstyle="-|>", color="#333333", linestyle="--" if dashed else "-",
        connectionstyle=f"arc3,rad={rad}", linewidth=1))
    if label:
        ax.text((start[0] + end[0]) / 2 + 0.01, (start[1] + end[1]) / 2, label, fontsize=8,
                color="#333333", va="center")


def new_axes(width, height):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")
    return fig, ax


def residual_stream() -> None:
    fig, ax = new_axes(6, 7)
    tokens = box(ax, 0.35, 0.95, "token ids (B, L)")
    embed = box(ax, 0.35, 0.83, "embedding: x₀ (B, L, d_model)")
    arrow(ax, tokens["bottom"], embed["top"])
    above, y = embed, 0.68
    # block l reads x_l and adds f_l(x_l), giving x_{l+1}: counted from 0, as in the notebook's formula
    for n, (x_in, x_out) in enumerate([("x₀", "x₁"), ("x₁", "x₂")]):
        add = plus(ax, 0.35, y)
        block = box(ax, 0.8, y + 0.05, f"block {n}: f{'₀₁'[n]}", w=0.3, color=BLOCK)
        arrow(ax, above["bottom"], add["top"], x_in if n > 0 else "")
        arrow(ax, (0.36, y + 0.1), block["left"], "reads", dashed=True)
        arrow(ax, (block["bottom"][0], block["bottom"][1]), add["right"], rad=-0.3)
        ax.text(0.7, y - 0.06, f"adds f{'₀₁'[n]}({x_in})", fontsize=8, color="#333333")
        above, y = add, y - 0.17
    dots = box(ax, 0.35, 0.36, "x₂ ... x_N  (N blocks in all)", w=0.42, h=0.05, color="white")
    arrow(ax, above["bottom"], dots["top"], "x₂")
    unembed = box(ax, 0.35, 0.22, "unembedding W_U: logits\n(B, L, V)", h=0.09, color=OUT)
    arrow(ax, dots["bottom"], unembed["top"], "x_N")
    probs = box(ax, 0.35, 0.07, "softmax over the vocabulary:\nnext-token probabilities", h=0.09, color=OUT)
    arrow(ax, unembed["bottom"], probs["top"])
    fig.savefig(HERE / "01_residual_stream.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def attention() -> None:
    fig, ax = new_axes(7, 7.5)
    x = box(ax, 0.5, 0.95, "residual stream x (B, L, d_model)", w=0.6)
    heads = {}
    for name, cx, shape in [("Q = x W_Q", 0.22, "(…, q_len, d_k)"), ("K = x W_K", 0.5, "(…, k_len, d_k)"),
                            ("V = x W_V", 0.8, "(…, k_len, d_v)")]:
        heads[name[0]] = box(ax, cx, 0.8, f"{name}\n{shape}", w=0.24, h=0.08)
        arrow(ax, x["bottom"], heads[name[0]]["top"])
    scores = box(ax, 0.36, 0.64, "scores = Q Kᵀ / √d_k\n(…, q_len, k_len)", w=0.4, h=0.08, color=BLOCK)
    arrow(ax, heads["Q"]["bottom"], scores["top"])
    arrow(ax, heads["K"]["bottom"], scores["top"])
    mask = box(ax, 0.36, 0.5, "mask: −inf where a query may not look", w=0.5, h=0.06, color=BLOCK)
    arrow(ax, scores["bottom"], mask["top"])
    weights = box(ax, 0.36, 0.37, "weights = softmax over the keys", w=0.46, h=0.06, color=BLOCK)
    arrow(ax, mask["bottom"], weights["top"])
    output = box(ax, 0.55, 0.24, "output = weights V\n(…, q_len, d_v)", w=0.36, h=0.08, color=OUT)
    arrow(ax, weights["bottom"], output["top"])
    arrow(ax, heads["V"]["bottom"], output["right"], rad=-0.2)
    add = plus(ax, 0.55, 0.12)
    arrow(ax, output["bottom"], add["top"])
    ax.plot([x["left"][0], 0.04, 0.04], [0.95, 0.95, 0.12], color="#333333", linewidth=1)
    ax.text(0.05, 0.55, "x (the residual connection)", rotation=90, fontsize=8, color="#333333", va="center")
    arrow(ax, (0.04, 0.12), add["left"])
    after = box(ax, 0.55, 0.03, "stream for the next block", w=0.4, h=0.05)
    arrow(ax, add["bottom"], after["top"])
    fig.savefig(HERE / "02_attention.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    residual_stream()
    attention()
