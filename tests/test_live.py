"""LiveOrPicture: one output holding the live widget and a PNG of its first figure."""

import base64

import pytest

from transformer_course.live import LiveOrPicture


def test_the_output_has_the_widget_and_a_png_of_the_figure():
    plt = pytest.importorskip("matplotlib.pyplot")
    widgets = pytest.importorskip("ipywidgets")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    shown = LiveOrPicture(widgets.IntSlider(value=3), fig)
    bundle = shown._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)  # drawn into the PNG only, not shown twice
