"""The web book (`python -m tools.site`): built, then every page opened in headless Chromium.

Builds the site into a temporary folder from every notebook (set TRANSFORMER_COURSE_SITE_NOTEBOOKS
to e.g. "00 04" for a quicker run on some of them), serves it on 127.0.0.1 and opens every page
reachable from the contents page (see sitedriver.py for what counts as a problem). A copy of one
page with planted faults (a broken link, a missing picture, a Mermaid syntax error, a TeX error, a
console error) is shown to be reported fault by fault, while its healthy twin passes.

Needs what the browser test needs (Playwright, a Chromium) and Node's `npm` (the build fetches
MathJax and Mermaid from the npm registry once, into build/site-cache/).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from devtools import require
from sitedriver import check_site

from tools import site as site_tool

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_ENV_VAR = "TRANSFORMER_COURSE_SITE_NOTEBOOKS"


def _npm_missing() -> str | None:
    cached = all((site_tool.CACHE / f"{name}-{version}" / "package").is_dir()
                 for name, (version, _) in site_tool.VENDORED.items())
    if cached or shutil.which("npm"):
        return None
    return "`npm` (Node.js) is not installed: the web book fetches MathJax and Mermaid with it"


@pytest.fixture(scope="module")
def built_site(chromium_path, tmp_path_factory) -> tuple[Path, list[str]]:
    require(_npm_missing())
    chosen = os.environ.get(NOTEBOOKS_ENV_VAR, "").split()
    out = tmp_path_factory.mktemp("site") / "site"
    site_tool.build_site(chosen, out, jobs=2, log=lambda line: None)
    stems = [path.stem for path in site_tool.build.select(chosen)]
    return out, stems


def test_every_page_of_the_web_book_loads_whole(browser, built_site):
    site, stems = built_site
    problems, pages = check_site(browser, site)
    assert sorted(pages) == sorted(["index.html", *(f"{stem}.html" for stem in stems)])
    assert not problems, "\n".join(map(str, problems))


def outputs(page: Path) -> str:
    """The text of a page's cell outputs (not its prose or code)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return "\n".join(el.get_text() for el in soup.select(".jp-OutputArea-output"))


def test_the_book_shows_what_the_notebooks_printed_and_drew(built_site):
    site, stems = built_site
    for stem in stems:
        text = outputs(site / f"{stem}.html")
        assert "not done yet" not in text, f"{stem}: a solution left an exercise undone"
        assert "widget-view+json" not in (site / f"{stem}.html").read_text(encoding="utf-8"), f"{stem}: a live widget"
    if "00_how_this_course_works" in stems:
        assert ": correct" in outputs(site / "00_how_this_course_works.html")
    if "04_positional_encoding" in stems:  # the explorer's picture (LiveOrPicture), not a widget
        page = (site / "04_positional_encoding.html").read_text(encoding="utf-8")
        assert page.count('src="data:image/png;base64,') >= 3


PLANTED = """
<div class="jp-RenderedMarkdown"><p>A link to <a href="no_such_notebook.html">a page that is not there</a>.</p>
<p><img src="images/no_such_picture.png" alt="a picture that is not there"></p>
<p>A formula with an error: $\\frac{1}$</p></div>
<div class="jp-Mermaid"><pre class="mermaid">
flowchart LR
    a --> b -->
</pre></div>
<script>console.error("planted console error")</script>
"""


def test_planted_faults_are_reported_fault_by_fault(browser, built_site, tmp_path):
    site, stems = built_site
    for name in ("_static", "images"):
        try:
            (tmp_path / name).symlink_to(site / name, target_is_directory=True)
        except OSError:  # Windows without the right to make links
            shutil.copytree(site / name, tmp_path / name)
    page = (site / f"{stems[0]}.html").read_text(encoding="utf-8")
    healthy = re.sub(r'<nav class="course-nav[^"]*">.*?</nav>', "", page, flags=re.DOTALL)
    (tmp_path / "healthy.html").write_text(healthy, encoding="utf-8")
    (tmp_path / "planted.html").write_text(healthy.replace("</main>", PLANTED + "</main>"), encoding="utf-8")
    (tmp_path / "index.html").write_text('<link rel="icon" href="data:,"><a href="healthy.html">h</a> <a href="planted.html">p</a>', encoding="utf-8")

    problems, pages = check_site(browser, tmp_path)

    assert sorted(pages) == ["healthy.html", "index.html", "planted.html"]
    assert not [p for p in problems if p.where != "planted.html"], "\n".join(map(str, problems))
    found = {p.kind: str(p) for p in problems}
    assert set(found) == {"link", "image", "mermaid", "tex", "console"}, "\n".join(map(str, problems))
    assert "no_such_notebook.html" in found["link"]
    assert "no_such_picture.png" in found["image"]
    assert "syntax error" in found["mermaid"]
    assert any("planted console error" in str(p) for p in problems if p.kind == "console")
