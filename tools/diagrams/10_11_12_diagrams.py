"""Draw the fallback PNGs of the Mermaid diagrams of notebooks 10, 11 and 12 (same boxes, labels and arrows).

    python tools/diagrams/10_11_12_diagrams.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parents[2] / "notebooks" / "images"  # where the pictures go
COLORS = {"io": "#eeeeee", "stack": "#cfe2ff", "attn": "#fff3cd", "out": "#d1e7dd"}


class Box:
    """A rounded box centred at (x, y), w wide and h high; its sides give the arrows' ends."""

    def __init__(self, ax, x, y, text, kind, w=3.0, h=0.9):
        self.x, self.y, self.w, self.h = x, y, w, h
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.06",
                                    fc=COLORS[kind], ec="#333333", lw=1.2))
        ax.text(x, y, text, ha="center", va="center", fontsize=9.5)

    def left(self):
        return self.x - self.w / 2 - 0.08, self.y

    def right(self):
        return self.x + self.w / 2 + 0.08, self.y

    def top(self):
        return self.x, self.y + self.h / 2 + 0.08

    def bottom(self):
        return self.x, self.y - self.h / 2 - 0.08


def arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2})


def figure(width, height, xmax, ymax):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, ymax)
    ax.axis("off")
    return fig, ax


def tokens() -> None:
    """Notebook 10: text to ids through the tokenizer, the model, and ids back to text."""
    fig, ax = figure(12, 3.4, 17.2, 4.4)
    # top row, left to right: the way in
    text = Box(ax, 1.6, 3.5, "text: 'einundzwanzig'", "io", w=2.9)
    raw = Box(ax, 5.1, 3.5, "UTF-8 bytes (13)", "attn", w=2.7)
    merges = Box(ax, 8.8, 3.5, "merges, in the\norder learned", "attn", w=2.7, h=1.0)
    ids = Box(ax, 12.4, 3.5, "token ids:\neinund | zwanzig", "out", w=2.8, h=1.0)
    # right: the model
    model = Box(ax, 15.4, 2.1, "the transformer\n(notebooks 01-09)", "stack", w=3.0, h=1.0)
    # bottom row, right to left: the way out
    out = Box(ax, 12.4, 0.7, "token ids", "out", w=2.8)
    decode = Box(ax, 8.8, 0.7, "bytes joined,\ndecoded once", "attn", w=2.7, h=1.0)
    back = Box(ax, 5.1, 0.7, "text", "io", w=2.7)
    arrow(ax, text.right(), raw.left())
    arrow(ax, raw.right(), merges.left())
    arrow(ax, merges.right(), ids.left())
    arrow(ax, ids.right(), (model.x - 0.6, model.y + model.h / 2 + 0.08))
    arrow(ax, (model.x - 0.6, model.y - model.h / 2 - 0.08), out.right())
    arrow(ax, out.left(), decode.right())
    arrow(ax, decode.left(), back.right())
    fig.savefig(HERE / "10_tokens.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def sentences() -> None:
    """Notebook 11: the grammar writes both sentences; the model's German is scored against the reference."""
    fig, ax = figure(11, 3.2, 16.4, 4.2)
    grammar = Box(ax, 1.7, 2.0, "grammar + lexicon\n(generated, seeded)", "io", w=3.1, h=1.0)
    english = Box(ax, 5.6, 3.4, "English sentence", "io", w=2.8)
    german = Box(ax, 5.6, 0.6, "German sentence", "io", w=2.8)
    model = Box(ax, 9.5, 3.4, "your encoder-decoder\n(notebooks 03-07)", "stack", w=3.1, h=1.0)
    its = Box(ax, 13.0, 3.4, "its German", "out", w=2.3)
    scores = Box(ax, 13.0, 0.6, "scores", "out", w=2.3)
    arrow(ax, (grammar.x + 0.6, grammar.y + grammar.h / 2 + 0.08), english.left())
    arrow(ax, (grammar.x + 0.6, grammar.y - grammar.h / 2 - 0.08), german.left())
    arrow(ax, english.right(), model.left())
    arrow(ax, model.right(), its.left())
    arrow(ax, its.bottom(), scores.top())
    ax.text(13.25, 2.0, "exact match, chrF, BLEU\nper phenomenon", ha="left", va="center", fontsize=9,
            color="#555555")
    arrow(ax, german.right(), scores.left())
    fig.savefig(HERE / "11_sentences.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def blank_page() -> None:
    """Notebook 12: the specification, your file, the 22 pieces in three groups, then training and scores."""
    fig, ax = figure(13.5, 4.6, 20.0, 6.0)
    # top row, left to right
    spec = Box(ax, 1.9, 4.6, "the specification\n(this notebook)", "io", w=3.1, h=1.0)
    mine = Box(ax, 6.0, 4.6, "my_transformer.py\n(your file, only torch)", "io", w=3.5, h=1.0)
    first = Box(ax, 12.0, 4.6, "pieces 1-9\nrules, Embedding, PositionalEncoding,\nattention, MultiHeadAttention, "
                "LayerNorm,\nFeedForward, SublayerConnection, EncoderLayer", "attn", w=7.0, h=1.9)
    # right: the middle group
    second = Box(ax, 18.0, 2.6, "pieces 10-16\nEncoder, DecoderLayer,\nDecoder, Transformer,\nthe three masks",
                 "attn", w=3.5, h=1.7)
    # bottom row, right to left
    third = Box(ax, 12.0, 0.9, "pieces 17-22\nloss, learning rate, optimiser,\ntrain_step, train, greedy_decode",
                "attn", w=4.4, h=1.4)
    train = Box(ax, 6.0, 0.9, "train on the number task\n(notebook 07's settings)", "stack", w=3.7, h=1.0)
    result = Box(ax, 1.9, 0.9, "exact match per family,\nyour curve beside\nthe course's", "out", w=3.4, h=1.3)
    arrow(ax, spec.right(), mine.left())
    arrow(ax, mine.right(), first.left())
    arrow(ax, first.right(), second.top())
    arrow(ax, second.bottom(), third.right())
    arrow(ax, third.left(), train.right())
    ax.text((third.left()[0] + train.right()[0]) / 2, 1.05, "all 22\ncorrect", ha="center", va="bottom",
            fontsize=9, color="#555555")
    arrow(ax, train.left(), result.right())
    fig.savefig(HERE / "12_from_a_blank_page.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    tokens()
    sentences()
    blank_page()


if __name__ == "__main__":
    main()
