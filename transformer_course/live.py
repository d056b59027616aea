"""A widget that is also a picture: live where widgets run, a PNG where they do not (notebooks 04 and 07)."""

from __future__ import annotations

import base64
import io


class LiveOrPicture:
    """Display ``widget`` where widgets run (a live Jupyter), else a static PNG of ``figure``.

    Jupyter gets both in one output (the widget's view and an ``image/png``), and each viewer shows
    what it can: JupyterLab, Notebook 7 and VS Code the live widget; a viewer without widgets
    (GitHub, say) the picture. ``figure`` (a matplotlib figure) is drawn into the PNG only and then
    closed, so it is not also shown on its own.
    """

    def __init__(self, widget, figure):
        import matplotlib.pyplot as plt  # imported here: the package itself needs no matplotlib

        self.widget = widget
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(figure)
        self.png = base64.b64encode(buffer.getvalue()).decode()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return {**self.widget._repr_mimebundle_(**kwargs), "image/png": self.png}
