"""Drive the course's notebooks in a real JupyterLab, in headless Chromium, the way a learner runs them.

``JupyterLab`` starts ``jupyter lab`` from this virtual environment on 127.0.0.1 with every Jupyter folder
(config, data, runtime, settings, workspaces) in a temporary folder, so nothing of the user's own setup leaks
in. ``run_notebook`` opens one notebook, waits for its kernel, runs the code cells one by one (JupyterLab's
Run All stops at the first error and ignores the ``raises-exception`` tag) and returns what a learner would
have seen go wrong, and ``save_screenshot`` stores the whole notebook as one picture.

Measured with JupyterLab 4.6.6 and Chromium 156: ``window.jupyterapp`` exists only with
``--expose-app-in-browser``; ``?reset`` keeps a saved workspace from reopening other tabs; the status bar reads
"Idle" before the kernel has started, so we wait on the kernel object; ``"windowingMode": "none"`` keeps every
cell in the DOM; Mermaid renders offline as ``.jp-RenderedMermaid`` holding an SVG image, and a diagram that
fails gets ``.jp-mod-warning``.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heroes_lib.serve import free_port
from scripts.build_site import CHROMIUM, CHROMIUM_ARGS  # one browser setup for the site and the tests

VIEWPORT = {"width": 1280, "height": 900}
SERVER_START_TIMEOUT = 120  # seconds; the machine may be busy
PAGE_TIMEOUT = 120
CELL_TIMEOUT = 180
MERMAID_TIMEOUT = 60
MAX_SCREENSHOT_HEIGHT = 32_000  # pixels; a taller notebook is cut (the test prints each height)

# Learner-facing defaults, written as user settings: every cell stays in the DOM (no virtual scrolling), the
# file is never saved, and no "news" toast covers the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none", "scrollPastEnd": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

MERMAID_FENCE = re.compile(r"^[ \t]*(?:```|~~~)[ \t]*mermaid\b", re.MULTILINE)


def mermaid_block_count(notebook: dict[str, Any]) -> int:
    """How many fenced ```mermaid blocks the notebook's Markdown cells hold."""
    return sum(
        len(MERMAID_FENCE.findall(_source(cell))) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1, isolated in ``home``, serving ``root``; use as a context manager."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyterlab.log"
        self._process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        """This process's environment (the scratch database included), with every Jupyter folder in ``home``."""
        folders = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython",  # no profile or startup file of the user's runs in the kernels
        }
        env = dict(os.environ)
        for variable, name in folders.items():
            env[variable] = str(self.home / name)
            (self.home / name).mkdir(parents=True, exist_ok=True)
        return env

    def write_settings(self) -> None:
        """Store ``LAB_SETTINGS`` as the isolated user settings."""
        for relative, values in LAB_SETTINGS.items():
            path = self.home / "settings" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def command(self) -> list[str]:
        """The server's command line."""
        # sys.executable: the server, and so the "python3" kernel (ipykernel's own kernelspec), run in this venv.
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--expose-app-in-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.token=",  # loopback only, and a throw-away server
            "--ServerApp.password=",
            f"--ServerApp.root_dir={self.root}",
            # Listing a notebook's checkpoints creates notebooks/.ipynb_checkpoints/; keep them in the temp home.
            f"--FileCheckpoints.checkpoint_dir={self.home / 'checkpoints'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        return command

    def start(self) -> None:
        """Start the server and wait until its REST API answers."""
        env = self.environment()
        self.write_settings()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command(), cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {SERVER_START_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (and so its kernels); kill it if it does not stop within 30 s."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()  # SIGTERM: the server shuts its kernels down
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> JupyterLab:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium from Debian's package, launched by Playwright (no browser download)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


# --- In the page -------------------------------------------------------------------------------------------
# Each snippet finds the notebook's panel by its path among the main area's widgets.
_PANEL = """
    const app = window.jupyterapp;
    const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
    if (!panel) throw new Error('no open notebook at ' + path);
"""

_KERNEL_READY = (
    "(path) => {"
    + _PANEL.replace("throw new Error('no open notebook at ' + path);", "return false;")
    + """
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
)

_KERNEL_FACTS = (
    "async (path) => {"
    + _PANEL
    + """
    // A silent request: no execution count, no output in the notebook. Each value comes back as its repr.
    const kernel = panel.sessionContext.session.kernel;
    const future = kernel.requestExecute({code: '', silent: true, store_history: false, user_expressions: {
        prefix: "__import__('sys').prefix",
        database: "__import__('os').environ.get('HEROES_DATABASE_URL')",
    }});
    const reply = await future.done;
    const facts = reply.content.user_expressions;
    return {prefix: facts.prefix.data['text/plain'], database: facts.database.data['text/plain']};
}"""
)

_CELLS = (
    "(path) => {"
    + _PANEL
    + """
    return panel.content.widgets.map(cell => ({
        type: cell.model.type,
        source: cell.model.sharedModel.getSource(),
        tags: cell.model.getMetadata('tags') || [],
    }));
}"""
)

_DIALOG_TEXTS = "[...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.trim().slice(0, 300))"
_DIALOGS = "() => " + _DIALOG_TEXTS

_RUN_CELL = (
    "async ([path, index, timeoutMs]) => {"
    + _PANEL
    + """
    const notebook = panel.content;
    app.shell.activateById(panel.id);
    notebook.activeCellIndex = index;
    notebook.deselectAll();
    let timer;
    const timeout = new Promise(resolve => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const outcome = await Promise.race([app.commands.execute('notebook:run-cell'), timeout]);
    clearTimeout(timer);
    const model = notebook.widgets[index].model;
    return {
        timedOut: outcome === 'timeout',
        executionCount: model.executionCount,
        outputs: model.outputs.toJSON(),
        dialogs: """
    + _DIALOG_TEXTS
    + """,
    };
}"""
)

_INTERRUPT = "async (path) => {" + _PANEL + "await panel.sessionContext.session.kernel.interrupt(); }"

_EXECUTION_COUNTS = (
    "(path) => {" + _PANEL + "return panel.content.widgets.map(cell => cell.model.executionCount ?? null); }"
)

_MERMAID_STATE = """() => {
    const rendered = [...document.querySelectorAll('.jp-RenderedMermaid')];
    const isOk = e => !e.classList.contains('jp-mod-warning')
        && !!e.querySelector('img[src^="data:image/svg+xml"], svg');
    const warnings = [...document.querySelectorAll('.jp-RenderedMarkdown .jp-mod-warning')]
        .filter(e => !rendered.includes(e));
    return {
        ok: rendered.filter(isOk).length,
        failed: rendered.filter(e => !isOk(e)).map(e => e.innerText.trim().slice(0, 200))
            .concat(warnings.map(e => e.innerText.trim().slice(0, 200))),
    };
}"""

# The rendered solution blocks of the cells tagged "solution": folded unless the learner opens them.
_SOLUTIONS = (
    "(path) => {"
    + _PANEL
    + """
    const blocks = panel.content.widgets
        .filter(cell => (cell.model.getMetadata('tags') || []).includes('solution'))
        .map(cell => cell.node.querySelector('.jp-RenderedMarkdown details'));
    return {shown: blocks.filter(Boolean).length, open: blocks.filter(block => block && block.open).length};
}"""
)

# The picture shows the lesson, not the editing state: no active-cell bar, no cell toolbar over the code.
_SCREENSHOT_CSS = """
.jp-Notebook .jp-Cell .jp-Collapser { background: transparent !important; }
.jp-Notebook .jp-cell-toolbar { display: none !important; }
"""

_PREPARE_SCREENSHOT = (
    "(path) => {"
    + _PANEL
    + """
    app.shell.collapseLeft();
    app.shell.collapseRight();
    panel.content.activeCellIndex = 0;
    panel.content.deselectAll();
    // The notebook scrolls inside its own box: find that box and report how tall the page must be.
    const scroller = [panel.content.node, ...panel.content.node.querySelectorAll('*')]
        .find(e => e.scrollHeight > e.clientHeight + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
        || panel.content.node;
    scroller.scrollTop = 0;
    // Measure to the last cell's bottom: the scroller's own height can include space for estimated cells.
    const last = panel.content.widgets[panel.content.widgets.length - 1];
    const contentHeight = last
        ? last.node.getBoundingClientRect().bottom - scroller.getBoundingClientRect().top + 24
        : scroller.scrollHeight;
    return window.innerHeight - scroller.clientHeight + Math.min(contentHeight, scroller.scrollHeight);
}"""
)


@dataclass
class NotebookRun:
    """What happened when a notebook ran in JupyterLab; ``problems`` is empty when a learner saw no fault."""

    path: str
    problems: list[str] = field(default_factory=list)
    code_cells: int = 0
    mermaid_expected: int = 0
    mermaid_rendered: int = 0
    kernel_prefix: str = ""
    kernel_database_url: str | None = None
    blocked_writes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    screenshot_height: int = 0
    #: The first line each exercise check printed, in order ("Exercise 1: not solved yet").
    check_verdicts: list[str] = field(default_factory=list)
    #: The solution cells' rendered <details> blocks: how many, and how many a learner sees opened.
    solutions_shown: int = 0
    solutions_open: int = 0


def _describe(index: int, tags: list[str], source: str = "") -> str:
    """``cell 14 [raises-exception] `client = ...```: the cell's 0-based position in the file, tags, first line."""
    first_line = source.strip().splitlines()[0][:60] if source.strip() else ""
    return f"cell {index}" + (f" [{', '.join(tags)}]" if tags else "") + (f" `{first_line}`" if first_line else "")


def check_outputs(index: int, tags: list[str], outputs: list[dict[str, Any]], source: str = "") -> list[str]:
    """A learner's view of one executed code cell: an error only where the lesson expects one, no stderr."""
    problems = []
    where = _describe(index, tags, source)
    errors = [output for output in outputs if output.get("output_type") == "error"]
    expected_error = "raises-exception" in tags
    if errors and not expected_error:
        first = errors[0]
        problems.append(f"{where}: unexpected {first.get('ename')}: {first.get('evalue', '')[:300]}")
    if expected_error and not errors:
        problems.append(f"{where}: tagged raises-exception but did not raise")
    stderr = [output for output in outputs if output.get("output_type") == "stream" and output.get("name") == "stderr"]
    # A cell tagged shows-warning writes a warning on purpose (lesson 02's forgotten await): it must, and may.
    if "shows-warning" in tags:
        if not stderr:
            problems.append(f"{where}: tagged shows-warning but wrote nothing to stderr")
        return problems
    for output in stderr:
        text = output.get("text", "")
        text = text if isinstance(text, str) else "".join(text)
        problems.append(f"{where}: wrote to stderr: {text.strip()[:300]!r}")
    return problems


def _first_printed_line(outputs: list[dict[str, Any]]) -> str:
    """The first line a cell printed on stdout ("" if it printed nothing)."""
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            text = text if isinstance(text, str) else "".join(text)
            return text.strip().splitlines()[0] if text.strip() else ""
    return ""


def run_notebook(page: Any, lab: JupyterLab, relative_path: str, mermaid_expected: int) -> NotebookRun:
    """Open ``relative_path`` (relative to the server root) in ``page``, run its code cells one by one."""
    started = time.monotonic()
    run = NotebookRun(path=relative_path, mermaid_expected=mermaid_expected)

    def block_write(route: Any) -> None:
        # Opening and running must never change the repository: JupyterLab's checkpoint on opening a file is
        # answered here (it would write notebooks/.ipynb_checkpoints/), and any other write fails the test.
        request = route.request
        if request.method == "POST" and request.url.split("?")[0].endswith("/checkpoints"):
            route.fulfill(status=201, json={"id": "checkpoint", "last_modified": "2000-01-01T00:00:00Z"})
        elif request.method in {"PUT", "PATCH", "POST", "DELETE"}:
            run.blocked_writes.append(f"{request.method} {request.url}")
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/api/contents/.*"), block_write)
    page.set_default_timeout(PAGE_TIMEOUT * 1000)
    page.goto(f"{lab.url}/lab/tree/{relative_path}?reset", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp !== undefined")
    page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
    page.wait_for_function(_KERNEL_READY, arg=relative_path, polling=100)
    facts = page.evaluate(_KERNEL_FACTS, relative_path)
    run.kernel_prefix = ast.literal_eval(facts["prefix"])
    run.kernel_database_url = ast.literal_eval(facts["database"])

    cells = page.evaluate(_CELLS, relative_path)
    code_indexes = [index for index, cell in enumerate(cells) if cell["type"] == "code"]
    run.code_cells = len(code_indexes)
    for index in code_indexes:
        tags, source = cells[index]["tags"], cells[index]["source"]
        if not source.strip():
            run.problems.append(f"{_describe(index, tags)}: empty code cell (it cannot run)")
            continue
        result = page.evaluate(_RUN_CELL, [relative_path, index, CELL_TIMEOUT * 1000])
        if result["timedOut"]:
            run.problems.append(f"{_describe(index, tags, source)}: still running after {CELL_TIMEOUT} s")
            page.evaluate(_INTERRUPT, relative_path)
            break
        run.problems.extend(check_outputs(index, tags, result["outputs"], source))
        if "exercise-check" in tags:
            run.check_verdicts.append(_first_printed_line(result["outputs"]))
        if result["dialogs"]:
            run.problems.append(f"{_describe(index, tags, source)}: a dialog opened: {result['dialogs']}")
            break

    counts = page.evaluate(_EXECUTION_COUNTS, relative_path)
    for index in code_indexes:
        if cells[index]["source"].strip() and counts[index] is None:
            run.problems.append(f"{_describe(index, cells[index]['tags'], cells[index]['source'])}: left unexecuted")

    if mermaid_expected:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        with contextlib.suppress(PlaywrightTimeout):  # diagrams still missing are reported below
            page.wait_for_function(
                f"() => ({_MERMAID_STATE})().ok + ({_MERMAID_STATE})().failed.length >= {mermaid_expected}",
                timeout=MERMAID_TIMEOUT * 1000,
                polling=200,
            )
    mermaid = page.evaluate(_MERMAID_STATE)
    run.mermaid_rendered = mermaid["ok"]
    for failure in mermaid["failed"]:
        run.problems.append(f"a Mermaid diagram failed to render: {failure!r}")
    if mermaid["ok"] != mermaid_expected:
        run.problems.append(f"{mermaid['ok']} of {mermaid_expected} Mermaid diagrams rendered as SVG")
    solutions = page.evaluate(_SOLUTIONS, relative_path)
    run.solutions_shown, run.solutions_open = solutions["shown"], solutions["open"]
    dialogs = page.evaluate(_DIALOGS)
    if dialogs and not any(": a dialog opened: " in problem for problem in run.problems):  # once is enough
        run.problems.append(f"a dialog is open at the end: {dialogs}")
    if run.blocked_writes:
        run.problems.append(f"JupyterLab tried to change files: {run.blocked_writes}")
    run.seconds = time.monotonic() - started
    return run


def save_screenshot(page: Any, relative_path: str, target: Path) -> int:
    """Store the whole notebook (sidebars closed, 1280 px wide) as one PNG; return its height in pixels."""
    page.add_style_tag(content=_SCREENSHOT_CSS)
    height = 0
    for _ in range(3):  # closing the sidebars and resizing reflow the text: measure again until it settles
        page.wait_for_timeout(400)
        wanted = page.evaluate(_PREPARE_SCREENSHOT, relative_path)
        wanted = max(VIEWPORT["height"], min(int(wanted), MAX_SCREENSHOT_HEIGHT))
        if abs(wanted - height) <= 4:
            break
        height = wanted
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    # Each diagram on its own too, at the size the learner sees it, to judge whether it is legible.
    for number, diagram in enumerate(page.locator(".jp-RenderedMermaid").all(), 1):
        diagram.screenshot(path=str(target.with_name(f"{target.stem}.diagram-{number}.png")))
    return height


def shutdown_kernel(page: Any, relative_path: str) -> None:
    """Stop the notebook's kernel, so kernels do not pile up during the session."""
    page.evaluate("async (path) => {" + _PANEL + "await panel.sessionContext.shutdown(); }", relative_path)
