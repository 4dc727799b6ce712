"""The handouts and the JupyterLab walkthrough in a real headless browser (Debian's Chromium + Playwright).

Skipped, with the reason, when Chromium or the ``playwright`` package is missing; `.ci/run` installs
Chromium so that CI runs them. Playwright drives the system's ``/usr/bin/chromium`` (no browser
download). A screenshot of a student handout is saved in ``build/test-artifacts/`` (or
``$CS20_TEST_ARTIFACTS``).
"""

import functools
import http.server
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from tools import handouts

CHROMIUM = handouts.find_chromium()
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install -e '.[test]')"
)
pytestmark = [pytest.mark.browser, pytest.mark.slow] + [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium); browser tests skipped"
    )
]

ARTIFACTS = Path(os.environ.get("CS20_TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))
NOTEBOOKS = handouts.series(REPO / "notebooks")
#: A4 at 96 px per inch (210 mm) less the print stylesheet's 12 mm margins each side.
PRINT_WIDTH_PX = round((210 - 2 * 12) / 25.4 * 96)
LAB_NOTEBOOK = "10_autodiff.ipynb"  # runs in seconds, has a plot, and no cell that must raise
KERNEL_DISPLAY_NAME = "Python 3 (cs20-word2vec)"


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def built_handouts(tmp_path_factory):
    out = tmp_path_factory.mktemp("handouts") / "handouts"
    handouts.build(REPO / "notebooks", out, pdf="yes", log=lambda line: None)
    return out


@pytest.fixture(scope="module")
def handout_server(built_handouts):
    handler = functools.partial(QuietHandler, directory=str(built_handouts))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class PageWatch:
    """Console errors, uncaught exceptions, failed requests and requests that leave 127.0.0.1."""

    def __init__(self, page):
        self.errors, self.offsite, self.failed = [], [], []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("requestfailed", lambda request: self.failed.append(request.url))
        page.on("request", self._request)

    def _request(self, request):
        if not re.match(r"(https?://127\.0\.0\.1[:/]|data:|blob:|about:)", request.url):
            self.offsite.append(request.url)


def open_page(browser, url, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    watch = PageWatch(page)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response.status if response else 'no response'}"
    return context, page, watch


# --------------------------------------------------------------------------------------------
# Handouts


def test_index_lists_the_series_in_order_and_every_link_works(browser, handout_server, built_handouts):
    context, page, watch = open_page(browser, f"{handout_server}/index.html")
    items = page.locator("ol > li")
    assert items.count() == len(NOTEBOOKS)
    for item, path in zip(items.all(), NOTEBOOKS):
        assert item.get_attribute("id") == path.stem
        title, summary = handouts.title_and_summary(nbformat.read(path, as_version=4), path)
        assert (
            item.locator(".title").inner_text() == title.replace("`", "")
            and item.locator(".summary").inner_text() == summary
        )
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    assert len(hrefs) == 4 * len(NOTEBOOKS) + 4  # 2 editions x (HTML, PDF) each, the zip, 2 books, the cheat sheet
    for href in hrefs:
        assert (built_handouts / href).is_file(), href
    assert watch.errors == [] and watch.offsite == [] and watch.failed == []
    context.close()


@pytest.mark.parametrize("edition", handouts.EDITIONS)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_handout_page_renders_offline_and_prints_within_the_page(browser, handout_server, path, edition):
    notebook = nbformat.read(path, as_version=4)
    shown = handouts.student_edition(notebook) if edition == "student" else notebook
    context, page, watch = open_page(
        browser, f"{handout_server}/{edition}/{path.stem}.html", viewport={"width": 1200, "height": 900}
    )

    # every code cell rendered, with its source
    code_cells = [cell for cell in shown.cells if cell.cell_type == "code"]
    rendered = page.locator(".jp-CodeCell .jp-InputArea-editor").all_inner_texts()
    assert len(rendered) == len(code_cells)
    for text, cell in zip(rendered, code_cells):
        first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
        assert first_line.strip() in text, f"code cell starting {first_line!r} not rendered"

    # images loaded (none broken) and as many as the stored image outputs
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert all(complete and width > 0 for complete, width in images), images
    stored_images = sum(
        1 for cell in code_cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})
    )
    assert len(images) >= stored_images

    # math rendered as MathML boxes, no TeX left for a script to typeset
    math_boxes = page.eval_on_selector_all("math", "ms => ms.map(m => m.getBoundingClientRect().width)")
    assert all(width > 0 for width in math_boxes)
    markdown_text = "\n".join(page.locator(".jp-MarkdownCell").all_inner_texts())
    assert "\\frac" not in markdown_text and "\\sigma" not in markdown_text

    # the student edition shows no solution, and one placeholder per exercise
    body = page.locator("body").inner_text()
    solutions = handouts.solution_sources(notebook)
    if edition == "student":
        elsewhere = "\n".join(
            cell.source
            + "".join(
                str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                for output in cell.get("outputs", [])
            )
            for cell in notebook.cells
            if "solution" not in cell.metadata.get("tags", [])
        )
        distinctive = [
            line.strip()
            for source in solutions
            for line in source.splitlines()
            if len(line.strip()) >= 20 and line.strip() not in elsewhere
        ]
        assert distinctive, f"{path.name}: no solution line to look for"
        for line in distinctive:
            assert line not in body, f"solution text visible in the student edition: {line!r}"
        assert body.count("Exercise: your answer here") == len(solutions)
    else:
        assert "Exercise: your answer here" not in body

    # printed on A4: no code line runs past the page, no plot is wider than it
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1100})
    page.emulate_media(media="print")
    overflowing = page.eval_on_selector_all(
        "pre, img, math, table",
        f"""els => els.filter(e => e.scrollWidth > e.clientWidth + 1
                              || e.getBoundingClientRect().right > {PRINT_WIDTH_PX} + 1)
                      .map(e => e.tagName + ': ' + (e.innerText || e.getAttribute('src') || '').slice(0, 80))""",
    )
    assert overflowing == [], overflowing
    if edition == "student" and path.stem.startswith("08"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1200, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"handout-student-{path.stem}.png"), full_page=True)

    assert watch.errors == [], watch.errors
    assert watch.offsite == [], f"the page asked the network for {watch.offsite}"
    assert watch.failed == [], watch.failed
    context.close()


def test_pdf_handouts_start_each_notebook_on_a_new_page(built_handouts):
    from pypdf import PdfReader

    for edition in handouts.EDITIONS:
        book = PdfReader(built_handouts / f"{edition}.pdf")
        first_pages, total = [], 0
        for path in NOTEBOOKS:
            part = PdfReader(built_handouts / edition / f"{path.stem}.pdf")
            title, _ = handouts.title_and_summary(nbformat.read(path, as_version=4), path)
            first_text = part.pages[0].extract_text()
            assert "cs20-word2vec" in first_text and path.stem[:2] in first_text, (
                f"{edition}/{path.stem}.pdf does not open with its notebook"
            )
            first_pages.append(total)
            total += len(part.pages)
        assert len(book.pages) == total
        for start, path in zip(first_pages, NOTEBOOKS):
            text = book.pages[start].extract_text()
            assert f"{edition} edition" in text and path.stem[:2] + " ·" in text.replace("\u00b7", "·"), (
                f"{edition}.pdf page {start + 1}"
            )
        assert [item.title for item in book.outline] == [path.stem for path in NOTEBOOKS]


# --------------------------------------------------------------------------------------------
# JupyterLab


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, over a copy of one notebook with its outputs cleared.

    A copy, so that JupyterLab's autosave never touches the repository's notebooks; cleared, so the
    outputs the test sees are the ones this run produced. Settings and workspaces live in the temp
    folder, so a developer's own JupyterLab state plays no part.
    """
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.read(REPO / "notebooks" / LAB_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, notebooks / LAB_NOTEBOOK)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
    )
    log = open(root / "jupyterlab.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],  # CI runs as root
        cwd=notebooks,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
                json.load(response)
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield {"base": base, "token": token, "root": notebooks, "log": root / "jupyterlab.log"}
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_jupyterlab_opens_runs_and_shows_the_outputs(browser, jupyterlab):
    context, page, watch = open_page(
        browser, f"{jupyterlab['base']}/lab?token={jupyterlab['token']}", viewport={"width": 1400, "height": 1000}
    )
    # open the notebook from the file browser, as a student would
    item = page.locator(".jp-DirListing-item", has_text=LAB_NOTEBOOK)
    item.wait_for(timeout=60_000)
    item.dblclick()
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.wait_for(timeout=60_000)
    kernel_name = page.locator(
        ".jp-NotebookPanel-toolbar .jp-KernelName, .jp-NotebookPanel-toolbar [data-jp-item-name='kernelName']"
    ).first
    kernel_name.wait_for(timeout=60_000)
    page.wait_for_function(
        "name => [...document.querySelectorAll('.jp-NotebookPanel-toolbar .jp-KernelName, "
        ".jp-NotebookPanel-toolbar [data-jp-item-name=kernelName]')]"
        ".some(e => e.innerText.trim() === name)",
        arg=KERNEL_DISPLAY_NAME,
        timeout=60_000,
    )
    assert page.locator(".jp-Dialog").count() == 0, (
        "JupyterLab asked to select a kernel: " + page.locator(".jp-Dialog").first.inner_text()
    )
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)

    # Run > Run All Cells, through the menu
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    notebook = nbformat.read(REPO / "notebooks" / LAB_NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    page.wait_for_function(
        "n => { const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-CodeCell .jp-InputPrompt')];"
        " return prompts.length === n && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)); }",
        arg=len(code_cells),
        timeout=300_000,
        polling=500,
    )
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)

    # textContent, not innerText: JupyterLab skips rendering the cells scrolled out of view
    prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt").all_text_contents()
    assert [int(re.search(r"\d+", prompt)[0]) for prompt in prompts] == list(range(1, len(code_cells) + 1))
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, "error output shown: " + "\n".join(errors.all_text_contents())[:2000]
    assert page.locator(".jp-OutputArea-output img").count() == sum(
        1 for cell in code_cells for output in cell.outputs if "image/png" in output.get("data", {})
    )
    # each cell's printed text is what the stored (nbval-checked) notebook shows
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").all()
    for cell_locator, cell in zip(cells, code_cells):
        stdout = "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")
        if stdout.strip():
            shown = cell_locator.locator(".jp-OutputArea").text_content()
            assert " ".join(stdout.split()) in " ".join(shown.split()), (
                f"cell {cell.source[:60]!r}: expected {stdout[:200]!r}, shown {shown[:200]!r}"
            )
    assert watch.errors == [] or all("favicon" in error for error in watch.errors), watch.errors
    assert watch.offsite == [], f"JupyterLab asked the network for {watch.offsite}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-run-all.png"))
    context.close()
