"""Draw the printable whiteboards (notebook 08): notebooks/images/08_whiteboard{,_decoder_only}.png and .pdf.

    python tools/diagrams/whiteboard.py

The picture is drawn by ``transformer_course.whiteboard.draw`` from the same data the notebook
shows (``WHITEBOARDS`` and the results file ``notebooks/data/ablations.json``); both files carry
the data's fingerprint, and ``tests/test_ablation.py`` fails when it no longer matches (rerun this).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from transformer_course import whiteboard  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "notebooks" / "images"
RESULTS = ROOT / "notebooks" / "data" / "ablations.json"


def main() -> None:
    runs = json.loads(RESULTS.read_text())["runs"]
    for name, stem in [("encoder-decoder", "08_whiteboard"), ("decoder-only", "08_whiteboard_decoder_only")]:
        fig = whiteboard.draw(runs, name)
        stamp = f"whiteboard fingerprint {whiteboard.fingerprint(whiteboard.WHITEBOARDS[name], runs)}"
        fig.savefig(IMAGES / f"{stem}.png", dpi=110, metadata={"Description": stamp})
        fig.savefig(IMAGES / f"{stem}.pdf", metadata={"Subject": stamp, "CreationDate": None})
        print(f"wrote {IMAGES / stem}.png and .pdf ({stamp})")


if __name__ == "__main__":
    main()
