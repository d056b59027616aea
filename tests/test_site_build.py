"""The web book's build (tools/site.py), the parts that need no browser and no notebook run.

The whole site, built and opened in Chromium, is tests/browser/test_site.py.
"""

from __future__ import annotations

import nbformat

from tools import build
from tools import site as site_tool

STEMS = {"03_multi_head_attention"}
IMAGES = {"08_whiteboard.pdf", "08_whiteboard_decoder_only.pdf", "04_positional_encoding.png", "colab-badge.svg"}


def test_links_to_notebooks_become_pages_and_files_of_images_the_sites_copies():
    page = ('<a href="03_multi_head_attention.ipynb#Split">a</a> <a href="solutions/03_multi_head_attention.ipynb">b</a>'
            '<img src="../images/04_positional_encoding.png"><img src="images/colab-badge.svg">'
            '<a href="https://example.org/x.ipynb">c</a>')
    out = site_tool.rewrite_links(page, STEMS, IMAGES)
    assert '<a href="03_multi_head_attention.html#Split">' in out and '<a href="03_multi_head_attention.html">' in out
    assert '<img src="images/04_positional_encoding.png"/>' in out and '<img src="images/colab-badge.svg"/>' in out
    assert 'href="https://example.org/x.ipynb"' in out  # outside links are left alone


def test_whiteboard_pdfs_named_in_the_prose_become_links():
    out = site_tool.rewrite_links("<p><code>notebooks/images/08_whiteboard.pdf</code>, "
                                  "<code>08_whiteboard_decoder_only.pdf</code>, <code>other.pdf</code></p>", STEMS, IMAGES)
    assert '<a href="images/08_whiteboard.pdf"><code>notebooks/images/08_whiteboard.pdf</code></a>' in out
    assert '<a href="images/08_whiteboard_decoder_only.pdf"><code>' in out
    assert "<code>other.pdf</code></p>" in out  # not a file of the course: no link


def test_the_colab_badge_of_a_page_opens_the_exercise_notebook():
    solution = "https://colab.research.google.com/github/o/r/blob/v1/notebooks/solutions/00_x.ipynb"
    out = site_tool.rewrite_links(f'<a href="{solution}">c</a>', STEMS, IMAGES)
    assert 'href="https://colab.research.google.com/github/o/r/blob/v1/notebooks/00_x.ipynb"' in out


def test_widgets_give_way_to_their_picture_and_progress_bars_go():
    nb = nbformat.v4.new_notebook()
    view = {"model_id": "m", "version_major": 2, "version_minor": 0}
    both = nbformat.v4.new_output("display_data", data={site_tool.WIDGET_VIEW: view, "image/png": "iVBOR", "text/plain": "VBox()"})
    bar = nbformat.v4.new_output("display_data", data={site_tool.WIDGET_VIEW: view, "text/plain": "IntProgress()"})
    text = nbformat.v4.new_output("stream", name="stdout", text="✔ f: correct\n")
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[both, bar, text])]
    nb.metadata["widgets"] = {"state": {}}
    static = site_tool.without_widgets(nb)
    assert "widgets" not in static.metadata
    (cell,) = static.cells
    assert [set(o.get("data", {})) for o in cell.outputs] == [{"image/png", "text/plain"}, set()]
    assert cell.outputs[1].text == "✔ f: correct\n"


def test_the_book_finds_its_notebooks_in_the_sources_in_order(tmp_path):
    (tmp_path / "notebooks" / "src").mkdir(parents=True)
    for stem in ("11_later", "10_new", "00_first"):
        (tmp_path / "notebooks" / "src" / f"{stem}.py").write_text("# %% [markdown]\n# # T\n", encoding="utf-8")
    assert [p.stem for p in build.select([], tmp_path)] == ["00_first", "10_new", "11_later"]


def test_title_and_purpose_come_from_the_notebooks_first_heading():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("<a href='x'>badge</a>"),
                nbformat.v4.new_markdown_cell("# 04 · Positional encoding\n\n**Attention alone cannot\ntell order.**\n")]
    page = site_tool.page_of("04_positional_encoding", nb)
    assert (page.title, page.purpose, page.html_name) == ("04 · Positional encoding", "Attention alone cannot tell order.",
                                                         "04_positional_encoding.html")
