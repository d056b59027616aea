"""The browser test can fail: a notebook with planted faults is reported fault by fault, its healthy twin not at all."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labdriver import run_notebook

NOT_DONE = 'print("… demo: not done yet — the reference implementation is used from here on")'

WIDGET = '''\
import ipywidgets as widgets
from IPython.display import display

{name} = widgets.{control}
{name}_out = widgets.Output()


def {name}_redraw(change):
    """Redraw the explorer for the control's new value."""
{body}


{name}.observe({name}_redraw, names="value")
display(widgets.VBox([{name}, {name}_out]))
'''
SLIDER = 'IntSlider(value=1, min=0, max=5, description="{name}")'
DROPDOWN = 'Dropdown(options=["a", "b", "c"], value="a", description="{name}")'
CHOICES = 'ToggleButtons(options=["x", "y", "z"], value="x", description="{name}")'
REDRAW = '''\
    with {name}_out:
        {name}_out.clear_output(wait=True)
        print("value:", change["new"])'''


def widget_cell(name: str, control: str, body: str):
    return new_code_cell(WIDGET.format(name=name, control=control.format(name=name), body=body.format(name=name)))


def notebook(faulty: bool):
    """The same small notebook, healthy or with one fault of each kind the browser test looks for."""
    mermaid = "flowchart LR\n    A[token ids] --> B((broken" if faulty else "flowchart LR\n    A[token ids] --> B[embedding]"
    math = (r"A formula MathJax cannot typeset: $\frac{1}$. One without its dollars: \sqrt{d_k}." if faulty
            else r"A formula: $\frac{1}{\sqrt{d_k}}$. Another: $\sqrt{d_k}$.")
    picture = "planted_missing.png" if faulty else "planted_picture.png"
    cells = [
        new_markdown_cell("# A notebook for the browser test\n\n```mermaid\n" + mermaid + "\n```\n\n"
                          f'<details><summary>The picture</summary>\n\n<img src="{picture}" alt="a picture">\n\n</details>'),
        new_markdown_cell(math),
        new_code_cell(NOT_DONE),  # an untouched exercise's line: never a problem
        widget_cell("dead", SLIDER, '    raise ValueError("planted: this callback always fails")' if faulty else REDRAW),
        widget_cell("loud", DROPDOWN, '    with {name}_out:\n        raise RuntimeError("planted: raised inside the explorer")'
                    if faulty else REDRAW),
        widget_cell("choices", CHOICES, REDRAW),  # three options, one already chosen: two changes
        new_code_cell('gone = widgets.IntSlider(description="gone")\ndisplay(gone)\n' + ("gone.close()" if faulty else "")),
        new_code_cell('from IPython.display import Javascript, display\n'
                      + ('display(Javascript("console.error(\'planted console error\')"))' if faulty
                         else 'display(Javascript("console.log(\'all well\')"))')),
        new_code_cell("1 / 0" if faulty else "1 / 1"),
        new_code_cell('print("the last cell")'),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def reports(lab, browser, screenshots):
    """Run both notebooks once; the tests below read the reports."""
    from PIL import Image

    Image.new("RGB", (40, 20), "steelblue").save(lab.root / "planted_picture.png")
    found = {}
    for name, faulty in [("planted_faults.ipynb", True), ("planted_healthy.ipynb", False)]:
        nbformat.write(notebook(faulty), lab.root / name)
        found[faulty] = run_notebook(browser, lab, name, screenshots, redraw_timeout=10)
        print(found[faulty].summary())
    return found


def test_healthy_twin_passes(reports):
    assert not reports[False].problems, reports[False].summary()
    assert reports[False].widgets_changed == 4


def problems(report, kind):
    return [str(p) for p in report.problems if p.kind == kind]


def test_error_output_is_caught_and_not_done_yet_is_not(reports):
    errors = problems(reports[True], "error output")
    assert len(errors) == 1 and "ZeroDivisionError" in errors[0], errors
    assert problems(reports[True], "cell not run") == ["[cell not run] cell 10: Run All did not reach it: print(\"the last cell\")"]


def test_broken_mermaid_is_caught(reports):
    mermaid = problems(reports[True], "mermaid")
    assert len(mermaid) == 1 and "not rendered, Mermaid says: " in mermaid[0], reports[True].summary()


def test_missing_picture_is_caught(reports):
    assert problems(reports[True], "image") == ["[image] Markdown: picture not shown: planted_missing.png"], \
        reports[True].summary()


def test_untypeset_math_is_caught(reports):
    tex = "\n".join(problems(reports[True], "tex"))
    assert "MathJax could not typeset a formula: Missing argument for \\frac" in tex, reports[True].summary()
    assert "raw TeX on the page, not typeset: \\sqrt" in tex, reports[True].summary()


def test_widget_whose_callback_raises_is_caught(reports):
    widget = "\n".join(problems(reports[True], "widget"))
    assert "changing 'dead' did not redraw" in widget, reports[True].summary()
    assert "planted: raised inside the explorer" in widget, reports[True].summary()


def test_widget_not_live_is_caught(reports):
    assert "widget in cell 7: not live" in "\n".join(problems(reports[True], "widget")), reports[True].summary()


def test_console_error_is_caught(reports):
    assert any("planted console error" in p for p in problems(reports[True], "console")), reports[True].summary()
