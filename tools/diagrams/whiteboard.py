"""Draw the printable whiteboard (notebook 08): notebooks/images/08_whiteboard.png and .pdf.

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
    fig = whiteboard.draw(runs)
    stamp = f"whiteboard fingerprint {whiteboard.fingerprint(whiteboard.ENCODER_DECODER, runs)}"
    fig.savefig(IMAGES / "08_whiteboard.png", dpi=110, metadata={"Description": stamp})
    fig.savefig(IMAGES / "08_whiteboard.pdf", metadata={"Subject": stamp, "CreationDate": None})
    print(f"wrote {IMAGES / '08_whiteboard.png'} and .pdf ({stamp})")


if __name__ == "__main__":
    main()
