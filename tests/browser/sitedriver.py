"""Open every page of the web book (`python -m tools.site`) in headless Chromium and report what a reader would see go wrong.

The site is served over HTTP on 127.0.0.1 (a random port; nothing outside is reachable, and a page
that reached for the internet would fail here). Every page linked from the contents page, and every
page those link to, is opened; each one must:

- load with no error in the browser's console and no request that fails (``console``, ``request``);
- have its math typeset by MathJax: no MathJax error, and no TeX left in the prose (``tex``);
- show every picture, folded ``<details>`` opened first (``image``);
- draw every Mermaid block as an SVG picture (``mermaid``);
- link only to pages and files that exist (``link``: every internal link is fetched).
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from pathlib import Path
from typing import ClassVar, Self

from labdriver import Problem  # the browser test's: kind, where (here the page), detail

PAGE_TIMEOUT_MS = 60_000


class SiteServer:
    """A static HTTP server for one folder, on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a page closed while a file was still sent
            super().handle_error(request, client_address)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args) -> None:
        pass


# Waits (in the page) until MathJax has typeset it and every Mermaid block is drawn or has failed;
# returns whether the blocks were all done in time.
_SETTLE = """async (timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    const done = () => [...document.querySelectorAll('.jp-Mermaid')].every(b => b.classList.contains('jp-RenderedMermaid'));
    while (!done() && Date.now() < deadline) { await new Promise(r => setTimeout(r, 100)); }
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
    return done();
}"""

_INSPECT = """async () => {
    document.querySelectorAll('details').forEach(d => d.open = true);
    const images = [...document.querySelectorAll('img')];
    await Promise.all(images.map(img => img.complete ? null : new Promise(r => {
        img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 10000); })));
    const prose = [...document.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedHTMLCommon')].map(el => {
        const copy = el.cloneNode(true);
        copy.querySelectorAll('pre, code, mjx-container, script, style').forEach(x => x.remove());
        return copy.textContent;
    }).join('\\n');
    return {
        broken: images.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute('src').slice(0, 120)),
        mermaid: [...document.querySelectorAll('.jp-Mermaid')].map(b => ({
            rendered: b.classList.contains('jp-RenderedMermaid'),
            warning: b.classList.contains('jp-mod-warning'),
            svg: !!b.querySelector('figure img[src^="data:image/svg+xml"]'),
        })),
        math: document.querySelectorAll('mjx-container').length,
        mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent),
        prose: prose,
        links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    };
}"""

_TEX_LEFT = ("$", "\\frac", "\\sqrt", "\\mathrm", "\\begin{")


def _internal(href: str) -> bool:
    return not (href.startswith("#") or urllib.parse.urlparse(href).scheme in ("http", "https", "mailto", "data", "javascript"))


def _exists(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def check_page(browser, url: str, name: str) -> tuple[list[Problem], list[str]]:
    """Open one page; return the problems found and the internal links it makes (absolute URLs)."""
    problems: list[Problem] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and problems.append(Problem("console", name, msg.text[:300])))
    page.on("pageerror", lambda err: problems.append(Problem("console", name, f"uncaught: {err}"[:300])))
    page.on("requestfailed", lambda req: problems.append(Problem("request", name, f"{req.url[:160]} ({req.failure})")))
    try:
        response = page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        if response is None or response.status != 200:
            problems.append(Problem("link", name, f"page not found ({response and response.status})"))
            return problems, []
        if not page.evaluate(_SETTLE, PAGE_TIMEOUT_MS):
            problems.append(Problem("mermaid", name, f"Mermaid blocks still not drawn after {PAGE_TIMEOUT_MS / 1000:.0f} s"))
        found = page.evaluate(_INSPECT)
    finally:
        context.close()
    problems += [Problem("image", name, f"picture not shown: {src}") for src in found["broken"]]
    for k, block in enumerate(found["mermaid"]):
        if not block["svg"] or block["warning"]:
            problems.append(Problem("mermaid", name, f"Mermaid block {k} not drawn as an SVG picture"
                                    + (" (Mermaid reported a syntax error)" if block["warning"] else "")))
    problems += [Problem("tex", name, f"MathJax error: {err[:120]}") for err in found["mathErrors"]]
    for raw in _TEX_LEFT:
        if raw in found["prose"]:
            at = found["prose"].index(raw)
            problems.append(Problem("tex", name, f"TeX left untypeset: ...{found['prose'][max(0, at - 40):at + 40]!r}..."))
            break
    links = []
    for href in found["links"]:
        if _internal(href):
            target = urllib.parse.urljoin(url, href).split("#", 1)[0]
            links.append(target)
    return problems, links


def check_site(browser, root: Path) -> tuple[list[Problem], list[str]]:
    """Open every page reachable from index.html and fetch every internal link; return the problems and the pages opened."""
    problems: list[Problem] = []
    with SiteServer(root) as server:
        queue, seen, fetched = deque([server.url + "index.html"]), set(), {}
        while queue:
            url = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            name = url[len(server.url):] or "index.html"
            page_problems, links = check_page(browser, url, name)
            problems += page_problems
            for target in links:
                if target not in fetched:
                    fetched[target] = _exists(target)
                if not fetched[target]:
                    problems.append(Problem("link", name, f"link to a missing file: {target[len(server.url):]}"))
                elif target.endswith(".html") and target not in seen:
                    queue.append(target)
        pages = sorted(url[len(server.url):] for url in seen)
    return problems, pages
