"""Run notebooks in JupyterLab in headless Chromium, as a learner would, and report what a learner would see go wrong.

One :class:`LabServer` (JupyterLab on 127.0.0.1, a random port and token, settings of its own in a
temporary folder) serves copies of the notebooks; :func:`run_notebook` opens one in a fresh
browser context, clicks Run > Run All Cells, waits for the kernel, and returns a :class:`Report`:
every :class:`Problem` it found and the screenshots it saved. What counts as a problem:

- ``error output``: a cell's output is an error (an untouched exercise's "… not done yet" is a
  printed line, not an error); cells tagged ``raises-exception`` may raise;
- ``cell not run``: Run All stopped before a code cell (after an error, or the kernel died);
- ``mermaid``: a Mermaid block not rendered as an SVG picture;
- ``tex``: raw TeX left on the page (``$...$``, ``\\frac``), or a MathJax error;
- ``image``: a picture in the Markdown that does not load (folded ``<details>`` are opened first);
- ``widget``: a widget not live (a text stand-in instead of controls), a control whose change
  does not redraw its explorer (a callback that raises outside the explorer shows up so), or an
  error inside an explorer;
- ``console``: an error in the browser's console, or an uncaught page error.

Playwright for Python drives the Chromium found on the machine (Debian's ``chromium``
package); Playwright's own browser download is never used.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ENV_VAR = "TRANSFORMER_COURSE_CHROMIUM"
# Headless, and nothing that phones home: on a machine without internet Chromium's background
# connections are refused, and each refusal would be logged.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}

# JupyterLab settings of the test's own (the learner's are never read): every cell kept in the page
# (so every diagram and formula is rendered and can be checked), no autosave, no news or update
# checks (they would reach for the internet).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def find_chromium() -> str | None:
    """Path of the Chromium to drive: $TRANSFORMER_COURSE_CHROMIUM, else `chromium` on the PATH."""
    forced = os.environ.get(CHROMIUM_ENV_VAR, "").strip()
    if forced:
        return forced if Path(forced).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Problem:
    """One thing a learner would see go wrong: its kind (see the module docstring), where, and what."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.detail}"


@dataclass
class Report:
    """What running one notebook found."""

    notebook: str
    problems: list[Problem] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    widgets_changed: int = 0

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def summary(self) -> str:
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.phases.items())
        lines = [f"{self.notebook}: {len(self.problems)} problem(s) in {self.seconds:.0f} s ({phases}); "
                 f"{self.widgets_changed} widget control(s) changed, {len(self.screenshots)} screenshot(s)"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """JupyterLab on 127.0.0.1 serving `root`, with its own settings, config and data folders under `home`."""

    def __init__(self, root: Path, home: Path, log_path: Path):
        self.root, self.home, self.log_path = Path(root), Path(home), Path(log_path)
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def _environment(self) -> dict[str, str]:
        """This process's environment with every Jupyter folder moved into `home`."""
        env = dict(os.environ)
        for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]:
            env[var] = str(self.home / sub)
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        env.setdefault("OMP_NUM_THREADS", "1")  # the browser needs the other core
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _write_settings(self) -> None:
        for plugin, values in LAB_SETTINGS.items():
            path = self.home / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")

    def start(self, timeout: float = 120) -> None:
        """Start the server and wait until it answers."""
        env = self._environment()
        self._write_settings()
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read the kernel's state and the cells' outputs
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root; JupyterLab refuses root without it
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                self.api("GET", "api/status")
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s; see {self.log_path}")

    def api(self, method: str, path: str):
        """Call the server's REST API; the decoded JSON answer (None for an empty one)."""
        request = urllib.request.Request(self.url(path), method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every session and kernel, so the next notebook starts afresh and memory is freed."""
        for session in self.api("GET", "api/sessions"):
            self.api("DELETE", f"api/sessions/{session['id']}")
        for kernel in self.api("GET", "api/kernels"):
            self.api("DELETE", f"api/kernels/{kernel['id']}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()


def launch_chromium(playwright, executable: str):
    """Chromium from the machine (never Playwright's own download), headless."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)


# ---------------------------------------------------------------------------------------------
# JavaScript run in the page. `window.jupyterapp` is there because the server exposes it.

_FIND_PANEL = """(path) => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
        if (w.context && w.context.path === path && w.content && w.content.model) { window.__panel = w; return true; }
    }
    return false;
}"""

_KERNEL_READY = """() => {
    const kernel = window.__panel.sessionContext.session?.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""

_RUN_STATE = """() => {
    const kernel = window.__panel.sessionContext.session?.kernel;
    const prompts = [...window.__panel.node.querySelectorAll('.jp-InputPrompt')].map(e => e.textContent);
    return {status: kernel ? kernel.status : 'none', running: prompts.filter(t => t.includes('*')).length};
}"""

_CELLS = """() => {
    const cells = [];
    for (const cell of window.__panel.content.model.cells) {
        cells.push({type: cell.type, source: cell.sharedModel.getSource(),
                    tags: cell.getMetadata ? (cell.getMetadata('tags') || []) : [],
                    execution_count: cell.type === 'code' ? cell.executionCount : null,
                    outputs: cell.type === 'code' ? cell.outputs.toJSON() : []});
    }
    return cells;
}"""

_MERMAID = """() => [...window.__panel.node.querySelectorAll('.jp-RenderedMermaid')].map(el => {
    const img = el.querySelector('img');
    const svg = el.querySelector('svg');
    let text = '';
    if (img && img.src.startsWith('data:image/svg+xml')) text = decodeURIComponent(img.src.split(',', 2)[1] || '');
    else if (svg) text = svg.outerHTML;
    const error = el.querySelector('details > pre');  // JupyterLab shows Mermaid's parse error there
    return {warning: el.classList.contains('jp-mod-warning'), text: error ? error.textContent : el.innerText,
            svg: text.includes('<svg'), loaded: img ? (img.complete && img.naturalWidth > 0) : !!svg,
            syntaxError: /Syntax error in (text|graph)/i.test(text)};
})"""

_RAW_TEX = """() => {
    const found = [];
    const where = window.__panel.node.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedLatex');
    for (const el of where) {
        const copy = el.cloneNode(true);
        copy.querySelectorAll('code, pre, mjx-container, .jp-RenderedMermaid, script, style').forEach(n => n.remove());
        const text = copy.textContent;
        const m = text.match(/\\$\\$?[^$]*?\\$\\$?|\\\\[a-zA-Z]{2,}|\\\\[\\[\\(]/);
        if (m) found.push(m[0].slice(0, 80));
    }
    const errors = [...window.__panel.node.querySelectorAll('mjx-merror')]
        .map(el => (el.getAttribute('data-mjx-error') || el.textContent).slice(0, 120));
    return {raw: found, errors, typeset: window.__panel.node.querySelectorAll('mjx-container').length};
}"""

# Open every folded <details> in the Markdown (their pictures load only then) and list the pictures
# that have not loaded (Mermaid's own pictures are checked apart).
_IMAGES = """() => {
    window.__panel.node.querySelectorAll('.jp-RenderedMarkdown details').forEach(d => { d.open = true; });
    const images = [...window.__panel.node.querySelectorAll('.jp-RenderedMarkdown img, .jp-RenderedHTMLCommon img')]
        .filter(img => !img.closest('.jp-RenderedMermaid'));
    const path = img => {  // JupyterLab turns "images/x.png" into ".../files/images/x.png?_xsrf=..."
        const src = img.getAttribute('src') || '';
        try { const url = new URL(src, document.baseURI); const at = url.pathname.indexOf('/files/');
              return at >= 0 ? decodeURIComponent(url.pathname.slice(at + 7)) : src; } catch (e) { return src; }
    };
    return {loading: images.filter(img => !img.complete).length,
            broken: images.filter(img => img.complete && img.naturalWidth === 0).map(path)};
}"""

# Mark the DOM node of each widget view among the cells' outputs (given as [cell index, output index],
# read from the notebook's model) with data-bt-widget = "<cell>.<output>", and say whether it is live.
_WIDGETS = """(places) => places.map(([i, j]) => {
    const area = window.__panel.content.widgets[i].node.querySelector('.jp-OutputArea');
    const child = area ? [...area.children].filter(c => c.classList.contains('jp-OutputArea-child'))[j] : null;
    const out = child ? child.querySelector('.jp-OutputArea-output') : null;
    if (!out) return {id: `${i}.${j}`, live: false, text: 'no output shown'};
    out.setAttribute('data-bt-widget', `${i}.${j}`);
    return {id: `${i}.${j}`, live: !!out.querySelector('.jupyter-widgets'), text: out.innerText.slice(0, 200)};
})"""

_CONTROLS = """(id) => {
    const area = document.querySelector(`[data-bt-widget="${id}"]`);
    const controls = [];
    const selector = '.noUi-handle, select, input, textarea, button';
    area.querySelectorAll(selector).forEach((el, k) => {
        if (el.closest('.widget-output')) return;  // inside an explorer's drawing, not a control
        if (el.disabled) return;
        el.setAttribute('data-bt-control', String(k));
        const box = el.closest('.widget-inline-hbox, .widget-inline-vbox, .jupyter-widgets');
        const label = box && box.querySelector('.widget-label') ? box.querySelector('.widget-label').textContent : '';
        controls.push({key: String(k), tag: el.tagName.toLowerCase(), type: el.getAttribute('type') || '',
                       slider: el.classList.contains('noUi-handle'), label: label || el.textContent || el.tagName,
                       value: el.value !== undefined ? String(el.value) : el.getAttribute('aria-valuenow'),
                       max: el.getAttribute('max') || el.getAttribute('aria-valuemax'),
                       options: el.tagName === 'SELECT' ? el.options.length : 0,
                       // the chosen option of radio buttons or toggle buttons: clicking it changes nothing
                       chosen: (el.type === 'radio' && el.checked) ||
                               (el.classList.contains('mod-active') && !!el.closest('.widget-toggle-buttons')),
                       selected: el.tagName === 'SELECT' ? el.selectedIndex : -1});
    });
    return {controls, outputs: area.querySelectorAll('.widget-output').length};
}"""

_SNAPSHOT = """(id) => [...document.querySelector(`[data-bt-widget="${id}"]`).querySelectorAll('.widget-output')]
    .map(o => o.innerHTML).join('\\n')"""

_WIDGET_ERRORS = """(id) => [...document.querySelector(`[data-bt-widget="${id}"]`)
    .querySelectorAll('.widget-output [data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.innerText.slice(-300))"""


def _mermaid_blocks(cells: list[dict]) -> int:
    return sum(len(re.findall(r"^\s*```mermaid", c["source"], flags=re.M)) for c in cells if c["type"] == "markdown")


def _error_text(output: dict) -> str:
    text = "\n".join(output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"])
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    return text.splitlines()[-1] if text else output.get("ename", "error")


class _NotebookRun:
    """One notebook, open in one page: the steps of :func:`run_notebook`."""

    def __init__(self, browser, server: LabServer, name: str, shots: Path, redraw_timeout: float):
        self.server, self.name, self.shots, self.redraw_timeout = server, name, shots, redraw_timeout
        self.report = Report(name)
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.problem("console", "page", f"uncaught: {error}"))

    def problem(self, kind: str, where: str, detail: str) -> None:
        self.report.problems.append(Problem(kind, where, detail))

    def _on_console(self, message) -> None:
        text = message.text[:300]
        if message.type == "error" and not any(p.kind == "console" and p.detail == text for p in self.report.problems):
            self.problem("console", "browser console", text)  # each distinct message once

    def open(self, timeout: float) -> None:
        """Open the notebook in a workspace of its own (nothing else restored) and wait for its kernel."""
        workspace = re.sub(r"[^A-Za-z0-9]", "-", Path(self.name).stem) + "-" + secrets.token_hex(3)
        self.page.goto(self.server.url(f"lab/workspaces/{workspace}/tree/{self.name}?token={self.server.token}"))
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=timeout * 1000)
        self.page.wait_for_function(_FIND_PANEL, arg=self.name, timeout=timeout * 1000)
        self.page.wait_for_function(_KERNEL_READY, timeout=timeout * 1000, polling=250)

    def run_all(self) -> None:
        """Run > Run All Cells, from the menu, as a learner would."""
        self.page.locator(".jp-NotebookPanel .jp-Notebook").click()
        self.page.keyboard.press("Escape")
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    def wait_idle(self, timeout: float, settle: float = 1.0) -> bool:
        """Wait until no cell is queued or running and the kernel is idle, twice `settle` s apart."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            state = self.page.evaluate(_RUN_STATE)
            if state["status"] in ("dead", "unknown", "none"):
                self.problem("error output", "kernel", f"the kernel is {state['status']}")
                return False
            quiet = quiet + 1 if state["status"] == "idle" and state["running"] == 0 else 0
            if quiet >= 2:
                return True
            time.sleep(settle)
        return False

    def check_cells(self) -> list[dict]:
        """Error outputs, and code cells Run All never reached."""
        cells = self.page.evaluate(_CELLS)
        for index, cell in enumerate(cells):
            if cell["type"] != "code":
                continue
            where = f"cell {index + 1}"
            if cell["execution_count"] is None and cell["source"].strip():
                self.problem("cell not run", where, "Run All did not reach it: " + cell["source"].strip().splitlines()[0][:80])
            if "raises-exception" in cell["tags"]:
                continue
            for output in cell["outputs"]:
                if output.get("output_type") == "error":
                    self.problem("error output", where, _error_text(output))
        return cells

    def check_mermaid(self, cells: list[dict], timeout: float = 60) -> None:
        """Every ```mermaid block in the Markdown is an SVG picture (rendering is lazy: wait for it)."""
        expected = _mermaid_blocks(cells)
        deadline = time.monotonic() + timeout
        while True:
            blocks = self.page.evaluate(_MERMAID)
            done = len(blocks) >= expected and all(b["warning"] or (b["svg"] and b["loaded"]) for b in blocks)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if len(blocks) < expected:
            self.problem("mermaid", "Markdown", f"{expected} Mermaid block(s) in the cells, {len(blocks)} rendered")
        for k, block in enumerate(blocks, 1):
            if block["warning"]:
                error = " ".join(block["text"].split())
                self.problem("mermaid", f"Mermaid block {k}", "not rendered, Mermaid says: " + error[:300])
            elif not (block["svg"] and block["loaded"]) or block["syntaxError"]:
                self.problem("mermaid", f"Mermaid block {k}", "not an SVG picture" if not block["syntaxError"]
                             else "Mermaid drew a syntax-error picture")

    def check_math(self, timeout: float = 20) -> None:
        """No raw TeX on the page and no MathJax error, once MathJax has finished typesetting.

        MathJax typesets lazily; raw TeX counts once the number of typeset formulas has stopped
        changing for three seconds (or after `timeout`).
        """
        deadline = time.monotonic() + timeout
        typeset, steady = -1, 0
        while True:
            found = self.page.evaluate(_RAW_TEX)
            steady = steady + 1 if found["typeset"] == typeset else 0
            typeset = found["typeset"]
            if not found["raw"] or steady >= 6 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for text in found["raw"]:
            self.problem("tex", "Markdown", f"raw TeX on the page, not typeset: {text}")
        for text in found["errors"]:
            self.problem("tex", "Markdown", f"MathJax could not typeset a formula: {text}")

    def check_images(self, timeout: float = 30) -> None:
        """Every picture in the Markdown loads."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.page.evaluate(_IMAGES)
            if not found["loading"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for src in found["broken"]:
            self.problem("image", "Markdown", f"picture not shown: {src[:120]}")
        if found["loading"]:
            self.problem("image", "Markdown", f"{found['loading']} picture(s) still loading after {timeout:.0f} s")

    def check_widgets(self, cells: list[dict]) -> None:
        """Every widget is live; changing each control of an explorer redraws it, without errors."""
        places = [[i, j] for i, cell in enumerate(cells) for j, output in enumerate(cell["outputs"])
                  if "application/vnd.jupyter.widget-view+json" in (output.get("data") or {})]
        views = self.page.evaluate(_WIDGETS, places)
        for view in views:
            where = f"widget in cell {int(view['id'].split('.')[0]) + 1}"
            if not view["live"] or re.search(r"Error displaying widget|Loading widget", view["text"]):
                self.problem("widget", where, f"not live: {view['text'].strip()[:120]!r}")
                continue
            self._exercise_controls(view["id"], where)

    def _exercise_controls(self, widget_id: str, where: str) -> None:
        found = self.page.evaluate(_CONTROLS, widget_id)
        if not (found["controls"] and found["outputs"]):
            return  # not an explorer (a progress bar, a lone control): being live is all it must be
        area = self.page.locator(f'[data-bt-widget="{widget_id}"]')
        area.scroll_into_view_if_needed()
        for control in found["controls"]:
            before = self.page.evaluate(_SNAPSHOT, widget_id)
            label = control["label"].strip() or control["tag"]
            outcome = self._change(area.locator(f'[data-bt-control="{control["key"]}"]'), control)
            if outcome == "nothing to change":
                continue
            if outcome == "unknown":
                self.problem("widget", where, f"the browser test does not know how to change the control "
                                               f"{label!r} ({control['tag']} {control['type']}); teach _change")
                continue
            self.report.widgets_changed += 1
            if not self._wait_redraw(widget_id, before):
                self.problem("widget", where, f"changing {label!r} did not redraw the explorer "
                                               f"within {self.redraw_timeout:.0f} s")
            self.shoot_element(area, f"widget-{widget_id}-{control['key']}-{re.sub(r'[^A-Za-z0-9]+', '_', label)}")
        for text in self.page.evaluate(_WIDGET_ERRORS, widget_id):
            self.problem("widget", where, "error in the explorer: " + text.strip().splitlines()[-1][:200])

    def _change(self, locator, control: dict) -> str:
        """Change one control by one step, the way a learner would: "changed", "nothing to change" or "unknown"."""
        tag, kind = control["tag"], control["type"]
        if control["slider"]:
            locator.focus()
            at_max = control["value"] is not None and control["max"] is not None and \
                float(control["value"]) >= float(control["max"])
            locator.press("ArrowLeft" if at_max else "ArrowRight")
        elif tag == "select":
            if control["options"] < 2:
                return "nothing to change"
            locator.select_option(index=(control["selected"] + 1) % control["options"])
        elif tag == "input" and kind in ("number", "text", ""):
            value = control["value"] or "0"
            if kind == "number":
                step = -1 if control["max"] and float(value) >= float(control["max"]) else 1
                new = str(int(float(value)) + step)
            else:
                new = value + "x"
            locator.fill(new)
            locator.press("Enter")
        elif tag == "textarea":
            locator.fill((control["value"] or "") + "x")
            locator.press("Tab")
        elif (tag == "input" and kind == "radio") or tag == "button":
            if control["chosen"]:
                return "nothing to change"
            locator.click()
        elif tag == "input" and kind == "checkbox":
            locator.click()
        else:
            return "unknown"
        return "changed"

    def _wait_redraw(self, widget_id: str, before: str) -> bool:
        deadline = time.monotonic() + self.redraw_timeout
        while time.monotonic() < deadline:
            if self.page.evaluate(_SNAPSHOT, widget_id) != before:
                self.wait_idle(max(1.0, deadline - time.monotonic()), settle=0.5)
                return True
            time.sleep(0.25)
        return False

    def shoot_element(self, locator, label: str) -> None:
        path = self.shots / f"{Path(self.name).stem}--{label}.png"
        locator.screenshot(path=str(path))
        self.report.screenshots.append(path)

    def shoot_notebook(self, height: int = 2400) -> None:
        """The whole notebook as one tall picture, pasted together from views `height` pixels tall."""
        from PIL import Image

        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        self.page.wait_for_timeout(300)
        scroller = self.page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
        box = scroller.bounding_box()
        total, step = self.page.evaluate(
            "() => { const s = window.__panel.node.querySelector('.jp-WindowedPanel-outer');"
            " return [s.scrollHeight, s.clientHeight]; }")
        picture = Image.new("RGB", (int(box["width"]), int(total)), "white")
        for top in range(0, int(total), int(step)):
            actual = self.page.evaluate(
                "(y) => { const s = window.__panel.node.querySelector('.jp-WindowedPanel-outer');"
                " s.scrollTop = y; return s.scrollTop; }", top)
            self.page.wait_for_timeout(150)
            part = Image.open(io.BytesIO(self.page.screenshot(clip=box)))
            picture.paste(part.crop((0, 0, part.width, min(part.height, int(total) - int(actual)))), (0, int(actual)))
        path = self.shots / f"{Path(self.name).stem}.png"
        picture.save(path, optimize=True)
        self.report.screenshots.append(path)
        self.page.set_viewport_size(VIEWPORT)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()
        with contextlib.suppress(Exception):
            self.server.shut_down_kernels()


def run_notebook(browser, server: LabServer, name: str, shots: Path, run_timeout: float = 300,
                 redraw_timeout: float = 60) -> Report:
    """Open `name` (relative to the server's root) in JupyterLab, Run All, check the page; a Report."""
    shots.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    run = _NotebookRun(browser, server, name, shots, redraw_timeout)
    phase_start = time.monotonic()

    def phase(label: str) -> None:
        nonlocal phase_start
        run.report.phases[label] = time.monotonic() - phase_start
        phase_start = time.monotonic()

    try:
        run.open(timeout=120)
        phase("open")
        run.run_all()
        if not run.wait_idle(run_timeout):
            run.problem("cell not run", "notebook", f"Run All had not finished after {run_timeout:.0f} s")
        phase("run all")
        cells = run.check_cells()
        run.check_mermaid(cells)
        run.check_math()
        phase("check page")
        run.shoot_notebook()
        phase("screenshot")
        run.check_images()
        phase("pictures")
        run.check_widgets(cells)
        phase("widgets")
    finally:
        run.report.seconds = time.monotonic() - start
        run.close()
    return run.report
