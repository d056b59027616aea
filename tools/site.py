"""Build the course as a static web book in site/ (git ignores it).

    python -m tools.site                 # execute every solution notebook, render the whole course
    python -m tools.site --only 00 04    # some notebooks (a stem or its number prefix)
    python -m tools.site --jobs 1        # one notebook at a time (default: 2 at once)

What it does:

- finds the notebooks from ``notebooks/src/`` (``tools.build.sources``), in the course's order;
- executes each *solution* notebook (``notebooks/solutions/``) in a fresh kernel, on the CPU, in
  strict mode (a solution that leaves an exercise undone fails the build), with the parts saved to
  a folder of the build's own; the notebooks bound their training by steps and seed themselves.
  Two at a time by default: a notebook waits only for the earlier notebooks whose parts travel
  (``transformer_course.parts.PARTS``), so 00-02 run beside 03-07;
- renders each with nbconvert's HTML exporter (its JupyterLab page, ``tools/site_templates/course``):
  prose, math (MathJax 3), code, outputs and plots, Mermaid diagrams drawn in the page. The
  widget explorers show the picture they carry for viewers without widgets (``LiveOrPicture``);
- rewrites links: a notebook's ``.ipynb`` to its page, a file of ``notebooks/images/`` (pictures,
  the whiteboard PDFs) to the site's copy, and a mention of a whiteboard PDF in the prose becomes
  a link to it;
- leaves out the Colab install cell (it does nothing outside Colab); the Colab badge opens the
  exercise notebook;
- writes ``index.html``, the contents in the course's order, and copies ``notebooks/images/``.

Nothing is loaded from outside at view time: MathJax and Mermaid come from their npm packages
(versions and hashes pinned below), fetched once with ``npm pack`` into ``build/site-cache/``
and copied into ``site/``. So building needs Node's ``npm`` and the npm registry (once); viewing
needs neither.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import copy
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools import build, colab

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "site_templates"
CACHE = ROOT / "build" / "site-cache"
# npm packages vendored into the site: name -> (version, the registry's sha512 integrity of the tarball).
VENDORED = {
    "mermaid": ("12.3.0", "sha512-4113TdXeLAsMruJ79OpFL5O8+LTFXhQqZ260rF3tgUmiNAtRm4Uume04I+65PRN6yZ69J4f8rVYWW8zRk65UYw=="),
    "mathjax": ("3.2.2", "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="),
}
MERMAID_URL = "./_static/mermaid/mermaid.esm.min.mjs"
MATHJAX_URL = "_static/mathjax/tex-chtml-full.js"
CSS_URL = "_static/course.css"
COLAB = "https://colab.research.google.com/"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT_S = 1200

CSS = """\
body { max-width: 1100px; margin: 0 auto; padding: 0 1em; }
.course-nav { display: flex; gap: 1.5em; padding: 0.8em 0; font-family: sans-serif; font-size: 14px;
  border-bottom: 1px solid #ddd; }
.course-nav-bottom { border-bottom: none; border-top: 1px solid #ddd; margin-top: 2em; }
.course-nav a { text-decoration: none; }
.course-index { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.5; }
.course-contents li { margin: 0.6em 0; }
.course-contents .purpose { color: #555; }
"""


class SiteError(Exception):
    """The site cannot be built: a notebook failed, or a tool is missing."""


@dataclass
class Page:
    """One notebook of the course: its stem, its title and its one-sentence purpose."""

    stem: str
    title: str
    purpose: str

    @property
    def html_name(self) -> str:
        return f"{self.stem}.html"


# --- vendored JavaScript ------------------------------------------------------


def npm_package(name: str, cache: Path = CACHE) -> Path:
    """The unpacked npm package `name` at its pinned version (``npm pack`` once, then from the cache)."""
    version, integrity = VENDORED[name]
    unpacked = cache / f"{name}-{version}"
    if (unpacked / "package" / "package.json").is_file():
        return unpacked / "package"
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{name}-{version}.tgz"
    if not tarball.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise SiteError("`npm` (Node.js) is needed once, to fetch MathJax and Mermaid from the npm registry")
        subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", str(cache), "--silent"],
                       check=True, stdout=subprocess.DEVNULL)
    algorithm, digest = integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != digest:
        tarball.unlink()
        raise SiteError(f"{tarball.name} does not match its pinned hash; removed it, run again")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(unpacked, ignore_errors=True)
        shutil.move(tmp, unpacked)
        Path(tmp).mkdir()  # for TemporaryDirectory's own clean-up
    return unpacked / "package"


def copy_vendored(out: Path, cache: Path = CACHE) -> None:
    """MathJax's browser build and fonts, Mermaid's ESM build and its chunks, with their licences, into _static/."""
    no_maps = shutil.ignore_patterns("*.map")
    mathjax = npm_package("mathjax", cache)
    shutil.copytree(mathjax / "es5", out / "_static" / "mathjax", ignore=no_maps, dirs_exist_ok=True)
    shutil.copy2(mathjax / "LICENSE", out / "_static" / "mathjax" / "LICENSE")
    mermaid = npm_package("mermaid", cache)
    target = out / "_static" / "mermaid"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(mermaid / "dist" / "mermaid.esm.min.mjs", target)
    shutil.copytree(mermaid / "dist" / "chunks" / "mermaid.esm.min", target / "chunks" / "mermaid.esm.min",
                    ignore=no_maps, dirs_exist_ok=True)
    shutil.copy2(mermaid / "LICENSE", target / "LICENSE")


# --- executing ----------------------------------------------------------------


def solution_path(stem: str, root: Path = ROOT) -> Path:
    return build.target_path(stem, "solution", root)


def part_notebooks() -> set[str]:
    """The notebooks whose parts travel to later ones (later notebooks wait for them)."""
    from transformer_course.parts import PARTS

    return {part.notebook for part in PARTS.values()}


def execute(stem: str, parts_dir: str, root: Path = ROOT) -> tuple[str, str, float, float]:
    """Run one solution notebook in a fresh kernel; return (stem, the executed notebook as JSON, wall s, CPU s)."""
    from nbclient import NotebookClient

    os.environ.update({"TRANSFORMER_COURSE_DEVICE": "cpu", "TRANSFORMER_COURSE_STRICT": "1",
                       "TRANSFORMER_COURSE_PARTS_DIR": parts_dir, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    path = solution_path(stem, root)
    nb = nbformat.read(str(path), as_version=4)
    start, cpu_start = time.perf_counter(), _children_cpu()
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return stem, nbformat.writes(nb), time.perf_counter() - start, _children_cpu() - cpu_start


def _children_cpu() -> float:
    """CPU seconds of this process and its finished children (the kernels)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def execute_all(stems: Sequence[str], jobs: int, root: Path = ROOT, log=print) -> dict[str, nbformat.NotebookNode]:
    """Execute the solution notebooks, `jobs` at a time, each after the earlier notebooks whose parts travel."""
    savers = part_notebooks()
    done: dict[str, nbformat.NotebookNode] = {}
    pending = list(stems)
    with tempfile.TemporaryDirectory(prefix="site-parts-") as parts_dir, \
            concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        running: dict[concurrent.futures.Future, str] = {}
        while pending or running:
            for stem in list(pending):
                if len(running) >= jobs:
                    break
                waits_for = [s for s in stems if s < stem and s in savers and s not in done]
                if not waits_for:
                    pending.remove(stem)
                    running[pool.submit(execute, stem, parts_dir, root)] = stem
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                stem = running.pop(future)
                try:
                    _, text, wall, cpu = future.result()
                except Exception as err:
                    for other in running:
                        other.cancel()
                    raise SiteError(f"{solution_path(stem, root).relative_to(root)} failed to run:\n{err}") from err
                done[stem] = nbformat.reads(text, as_version=4)
                log(f"executed   {stem} ({wall:.0f} s, {cpu:.0f} s CPU)")
    return done


# --- rendering ----------------------------------------------------------------


def page_of(stem: str, nb: nbformat.NotebookNode) -> Page:
    """Title (the first heading) and purpose (the first bold line) of a notebook."""
    title, purpose = stem, ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        heading = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
        if heading:
            title = heading.group(1).strip()
            bold = re.search(r"\*\*(.+?)\*\*", cell.source, flags=re.DOTALL)
            purpose = re.sub(r"[*_`]", "", " ".join(bold.group(1).split())) if bold else ""
            break
    return Page(stem, title, purpose)


def without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with live widgets taken out: an output that also carries a picture keeps the picture."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                if not any(key.startswith("image/") for key in data):
                    continue  # a widget with no picture (a progress bar): nothing to show on a static page
            kept.append(output)
        cell.outputs = kept
    return nb


def nav_html(pages: list[Page], index: int | None) -> str:
    """Contents, previous and next."""
    links = ['<a href="index.html">Contents</a>']
    if index is not None:
        if index > 0:
            links.append(f'<a href="{pages[index - 1].html_name}">&larr; {html.escape(pages[index - 1].title)}</a>')
        if index + 1 < len(pages):
            links.append(f'<a href="{pages[index + 1].html_name}">{html.escape(pages[index + 1].title)} &rarr;</a>')
    return " ".join(links)


def rewrite_links(page_html: str, stems: set[str], images: set[str]) -> str:
    """Links to notebooks -> their pages; files of notebooks/images -> the site's copies; PDF mentions -> links.

    The pages are the solution notebooks; their Colab badge opens the exercise notebook instead.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, "html.parser")
    for tag, attribute in (("img", "src"), ("a", "href"), ("source", "src")):
        for element in soup.find_all(tag):
            target = element.get(attribute)
            if target and target.startswith(COLAB) and "/notebooks/solutions/" in target:
                element[attribute] = target.replace("/notebooks/solutions/", "/notebooks/")  # Colab: the exercises
                continue
            if not target or re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path, _, fragment = target.partition("#")
            name = path.rsplit("/", 1)[-1]
            if name.endswith(".ipynb") and name[: -len(".ipynb")] in stems:
                element[attribute] = name[: -len(".ipynb")] + ".html" + (f"#{fragment}" if fragment else "")
            elif name in images:
                element[attribute] = f"images/{name}"
    for code in soup.find_all("code"):
        if code.parent.name in ("a", "pre"):
            continue
        match = re.fullmatch(r"(?:(?:\.\./)?(?:notebooks/)?images/)?([\w.-]+\.pdf)", code.get_text())
        if match and match.group(1) in images:
            link = soup.new_tag("a", href=f"images/{match.group(1)}")
            code.wrap(link)
    return str(soup)


def exporter():
    """nbconvert's HTML exporter with the course's template: nothing loaded from outside."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="course")
    exporter.mathjax_url = MATHJAX_URL
    exporter.mermaid_js_url = MERMAID_URL
    exporter.mermaid_layout_elk_js_url = ""
    exporter.require_js_url = ""
    return exporter


def render(pages: list[Page], executed: dict[str, nbformat.NotebookNode], out: Path, root: Path = ROOT) -> list[Path]:
    """Write one HTML page per notebook and the contents page; return the pages written."""
    stems = {page.stem for page in pages}
    images = {path.name for path in (root / "notebooks" / "images").iterdir() if path.is_file()}
    html_exporter = exporter()
    written = []
    for index, page in enumerate(pages):
        resources = {"site_nav": nav_html(pages, index), "site_css_url": CSS_URL,
                     "metadata": {"name": page.title}}
        nb = without_widgets(executed[page.stem])
        nb.cells = [cell for cell in nb.cells if cell.get("id") != colab.INSTALL_ID]  # Colab's set-up: not for reading
        body, _ = html_exporter.from_notebook_node(nb, resources=resources)
        path = out / page.html_name
        path.write_text(rewrite_links(body, stems, images), encoding="utf-8")
        written.append(path)
    path = out / "index.html"
    path.write_text(contents_html(pages, sorted(name for name in images if name.endswith(".pdf"))), encoding="utf-8")
    return [path, *written]


def contents_html(pages: list[Page], pdfs: list[str]) -> str:
    """The contents page: every notebook in the course's order, and the printable pages."""
    items = "\n".join(
        f'<li><a href="{page.html_name}">{html.escape(page.title)}</a><br>'
        f'<span class="purpose">{html.escape(page.purpose)}</span></li>' for page in pages)
    printable = "\n".join(f'<li><a href="images/{name}">{html.escape(name)}</a></li>' for name in pdfs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>transformer-course</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{CSS_URL}">
</head>
<body class="course-index">
<main>
<h1>transformer-course</h1>
<p>Understand transformers by building one. These pages are the course's solution notebooks, run
from top to bottom on a CPU, with their outputs: read them before you install anything. To do the
exercises, install the course (see the README) or open a notebook in Colab from the badge at its top.</p>
<h2>Contents</h2>
<ul class="course-contents">
{items}
</ul>
<h2>Printable pages</h2>
<ul>
{printable}
</ul>
</main>
</body>
</html>
"""


# --- the whole build ----------------------------------------------------------


def build_site(stems: Sequence[str] = (), out: Path | None = None, jobs: int = 2, root: Path = ROOT,
               cache: Path = CACHE, log=print) -> list[Path]:
    """Execute and render the chosen notebooks (default: all) into `out` (default: site/); return the pages."""
    out = Path(out or root / "site")
    chosen = [path.stem for path in build.select(stems, root)]
    if not chosen:
        raise SiteError(f"no notebook sources in {build.src_dir(root)}")
    executed = execute_all(chosen, jobs, root, log)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_vendored(out, cache)
    (out / "_static" / "course.css").write_text(CSS, encoding="utf-8")
    shutil.copytree(root / "notebooks" / "images", out / "images")
    (out / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve _static/ as it is
    pages = [page_of(stem, executed[stem]) for stem in chosen]
    written = render(pages, executed, out, root)
    (out / "site.json").write_text(json.dumps({"pages": [p.html_name for p in pages]}, indent=1), encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", nargs="*", default=[], help="notebooks to build, e.g. 00 04 (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="where to write the site (default: site/)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default: 2)")
    args = parser.parse_args(argv)
    start, cpu_start = time.perf_counter(), _children_cpu()
    try:
        written = build_site(args.only, args.out, max(1, args.jobs))
    except (SiteError, build.BuildError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f"wrote {len(written)} pages to {args.out} in {time.perf_counter() - start:.0f} s "
          f"({_children_cpu() - cpu_start:.0f} s CPU); open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
