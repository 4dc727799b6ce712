"""Screenshots of TensorBoard as students see it, taken from a real TensorBoard in headless Chromium.

`make screenshots` runs this. For each shot it starts TensorBoard (``--host 127.0.0.1 --port 0``, so on a
free loopback port; ended when the shot is taken) on a log directory that a notebook of the series wrote
under ``notebooks/runs/``, opens the dashboard in Chromium through Playwright, waits until the page shows
what the caption promises (the scopes as boxes, the loss curve, the projector's point count), and saves
the screenshot as a PNG in ``notebooks/figures/tensorboard/``. It then embeds each PNG as an attachment
of the notebook's markdown cell that shows it (``![...](attachment:NAME.png)``), so that the notebooks,
their handouts and slides carry the pictures wherever they are copied. ``screenshots.json`` beside the
PNGs records what each page showed (e.g. the projector's point count), the TensorBoard version and the
log directory.

The log directories come from running the notebooks (``make notebooks``, or ``python -m tools.notebooks
run 03 07 08``); a missing one is named with the command that makes it. Nothing is drawn by hand: if
TensorBoard does not show what a caption says, the shot fails with what it found instead.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools import handouts

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
OUT = NOTEBOOKS / "figures" / "tensorboard"
VIEWPORT = {"width": 1280, "height": 760}
START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 60_000


class ScreenshotError(RuntimeError):
    """A shot cannot be taken, or TensorBoard does not show what its caption says; the message says why."""


@dataclass(frozen=True)
class Shot:
    """One screenshot: which notebook's log directory, which dashboard, and what it must show."""

    name: str  # the PNG's stem, and the attachment's name in the notebook
    notebook: str  # the notebook whose run wrote the logs, and whose markdown shows the picture
    logdir: str  # relative to notebooks/runs/
    dashboard: str  # the URL fragment: graphs, scalars, projector
    caption: str
    expect: tuple[str, ...] = field(default_factory=tuple)  # texts the page must show
    select: str | None = None  # the projector: the word to select, whose nearest neighbours it lists


SHOTS = (
    Shot(
        "03_graph_without_scopes",
        "03_structuring_a_model",
        "03_structuring_a_model/small_graph/without_scopes",
        "graphs",
        "The small graph without name scopes: every op at the top level.",
        expect=("Square", "embedding", "centers"),
    ),
    Shot(
        "03_graph_with_scopes",
        "03_structuring_a_model",
        "03_structuring_a_model/small_graph/with_scopes",
        "graphs",
        "The same graph with name scopes: data, embed and loss drawn as boxes.",
        expect=("data", "embed", "loss"),
    ),
    Shot(
        "03_model_graph",
        "03_structuring_a_model",
        "03_structuring_a_model/graph",
        "graphs",
        "The lecture's SkipGramModel: its scopes and TensorFlow's (gradients, GradientDescent, save).",
        expect=("data", "embed", "loss", "gradients"),
    ),
    Shot(
        "07_scalars_loss",
        "07_summaries_and_tensorboard",
        "07_summaries_and_tensorboard/word2vec",
        "scalars",
        "The Scalars dashboard: the word2vec run's loss against the step.",
        expect=("loss",),
    ),
    Shot(
        "08_projector",
        "08_embedding_visualization",
        "08_embedding_visualization/projector_tf2",
        "projector",
        "The Projector: the embedding's points and a word's nearest neighbours.",
        expect=("Points:",),
        select="france",
    ),
)


# -- TensorBoard -------------------------------------------------------------------------------
@contextlib.contextmanager
def tensorboard(logdir: Path, cwd: Path | None = None) -> Iterator[str]:
    """A TensorBoard on ``logdir`` (relative to ``cwd``, as the page shows it), on 127.0.0.1 and a free port;
    yields its URL and ends it (and its children)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--load_fast",
            "false",  # no separate data server process
            "--reload_interval",
            "0",  # read the logs once: they do not change while a shot is taken
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        url = _serving_url(process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        process.stderr.close()


def _serving_url(process: subprocess.Popen) -> str:
    """Read TensorBoard's start-up messages until it says where it serves (bounded by START_TIMEOUT_S)."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_S
    seen = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=1):
            if process.poll() is not None:
                break
            continue
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line.rstrip())
        match = re.search(r"TensorBoard \S+ at (http://127\.0\.0\.1:\d+/)", line)
        if match:
            return match[1]
    raise ScreenshotError(
        f"TensorBoard did not start within {START_TIMEOUT_S} s; it printed:\n" + "\n".join(seen[-20:])
    )


# -- pages -------------------------------------------------------------------------------------
def _wait_for_texts(page, texts: tuple[str, ...], what: str) -> None:
    for text in texts:
        try:
            page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        except Exception as error:
            raise ScreenshotError(
                f"{what}: TensorBoard's page does not show {text!r} ({error.__class__.__name__})"
            ) from None


def _graphs(page, url: str, shot: Shot) -> dict:
    page.goto(f"{url}#graphs")
    page.locator("tf-graph-dashboard").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    names = page.locator("svg g.node")  # the drawing's nodes (not words of the legend or the menus)
    for label in shot.expect:
        try:
            page.locator(f"svg g.node[data-name='{label}']").first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
        except Exception:
            shown = sorted(names.evaluate_all("nodes => nodes.map(n => n.dataset.name)"))
            raise ScreenshotError(f"{shot.name}: the graph has no node {label!r}; it shows {shown}") from None
    page.get_by_text("Fit to screen").first.click()
    page.wait_for_timeout(2000)  # the zoom's transition
    shown = sorted(set(names.evaluate_all("nodes => nodes.map(n => n.dataset.name)")))
    return {"nodes_drawn": len(shown), "nodes": shown}


def _scalars(page, url: str, shot: Shot) -> dict:
    page.goto(f"{url}#scalars&_smoothingWeight=0&tagFilter=%5Eloss%24")
    _wait_for_texts(page, shot.expect, shot.name)
    outliers = page.get_by_role("checkbox", name="Ignore outliers in chart scaling")
    if outliers.is_checked():  # every point on the chart, the first reports' high losses included
        outliers.click()
    page.locator("tf-scalar-card paper-icon-button[icon='fullscreen']").first.click()  # the card's full width
    page.wait_for_timeout(2000)
    return {"tags_shown": sorted(set(shot.expect))}


def _projector_frame(page):
    """The projector's page: TensorBoard loads it in an iframe inside the plugin's iframe."""
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame.url.endswith("projector_binary.html"):
                return frame
        page.wait_for_timeout(250)
    raise ScreenshotError("the projector's page did not load")


def _projector(page, url: str, shot: Shot, word: str) -> dict:
    page.goto(f"{url}#projector")
    frame = _projector_frame(page)
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    points = dimension = None
    while time.monotonic() < deadline:  # "Points: 0 | Dimension: 0" until the checkpoint has loaded
        text = frame.evaluate(_DEEP_TEXT)
        points = re.search(r"Points:\s*([\d,]+)", text)
        dimension = re.search(r"Dimension:\s*(\d+)", text)
        if points is not None and int(points[1].replace(",", "")) > 0:
            break
        page.wait_for_timeout(250)
    else:
        raise ScreenshotError(f"{shot.name}: the projector shows no points (its status: {points and points[0]!r})")
    search = frame.locator("vz-projector-inspector-panel input").first
    search.fill(word)
    search.press("Enter")
    match = frame.locator("vz-projector-inspector-panel .matches-list .row a.label").filter(
        has_text=re.compile(f"^\\s*{re.escape(word)}\\s*$")
    )
    neighbours = frame.locator("vz-projector-inspector-panel .nn-list .neighbor")
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:  # one match is selected by the projector itself; several are listed
        if neighbours.count() > 0 and re.search(r"\b1 matches\b", frame.evaluate(_DEEP_TEXT)):
            break
        if match.count() > 0:
            match.first.click()  # select the word: its nearest neighbours are listed
            neighbours.first.wait_for(timeout=PAGE_TIMEOUT_MS)
            break
        page.wait_for_timeout(250)
    else:
        raise ScreenshotError(f"{shot.name}: searching the projector for {word!r} found no point")
    page.mouse.move(VIEWPORT["width"] - 5, VIEWPORT["height"] - 5)  # no tooltip left where the click was
    page.wait_for_timeout(3000)  # the camera's move to the selection
    listed = neighbours.evaluate_all(
        """rows => rows.map(row => row.querySelector('.label').textContent.trim() + ' '
                                 + row.querySelector('.value').textContent.trim())"""
    )
    return {
        "points": int(points[1].replace(",", "")),
        "dimension": int(dimension[1]) if dimension else None,
        "selected": word,
        "neighbours_listed": listed[:10],
    }


#: all text of a page, inside its shadow roots too (Polymer elements keep theirs there)
_DEEP_TEXT = """() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { out.push(node.textContent); return; }
    if (node.nodeName === "STYLE" || node.nodeName === "SCRIPT") return;
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return out.join(" ").replace(/\\s+/g, " ");
}"""


def take(shot: Shot, runs: Path, out: Path, browser) -> dict:
    """Take ``shot`` from the logs under ``runs`` into ``out``/NAME.png; return what the page showed."""
    logdir = runs / shot.logdir
    if not logdir.is_dir() or not any(logdir.rglob("*")):
        number = shot.notebook[:2]
        raise ScreenshotError(
            f"{logdir} is missing: run notebook {shot.notebook} first "
            f"(python -m tools.notebooks run {number}, or make notebooks)"
        )
    # started beside runs/, on runs/<notebook>/..., so the page shows the path the notebook printed
    with tensorboard(Path(runs.name) / shot.logdir, cwd=runs.parent) as url:
        page = browser.new_page(viewport=VIEWPORT)
        try:
            if shot.dashboard == "graphs":
                facts = _graphs(page, url, shot)
            elif shot.dashboard == "scalars":
                facts = _scalars(page, url, shot)
            elif shot.dashboard == "projector":
                facts = _projector(page, url, shot, shot.select)
            else:
                raise ScreenshotError(f"{shot.name}: no dashboard {shot.dashboard!r}")
            out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out / f"{shot.name}.png"))
        finally:
            page.close()
    return {"name": shot.name, "caption": shot.caption, "logdir": shot.logdir, **facts}


# -- notebooks ---------------------------------------------------------------------------------
def attach(notebooks: Path, out: Path, shots=SHOTS) -> list[str]:
    """Embed each shot's PNG in the markdown cell of its notebook that shows ``attachment:NAME.png``.

    Returns the notebooks changed. A shot that no cell shows is an error: every screenshot is on a page.
    """
    changed = []
    for notebook in sorted({shot.notebook for shot in shots}):
        path = notebooks / f"{notebook}.ipynb"
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for shot in (s for s in shots if s.notebook == notebook):
            reference = f"attachment:{shot.name}.png"
            cells = [cell for cell in nb.cells if cell.cell_type == "markdown" and reference in cell.source]
            if not cells:
                raise ScreenshotError(f"{path.name} has no markdown cell that shows ![...]({reference})")
            data = base64.b64encode((out / f"{shot.name}.png").read_bytes()).decode()
            for cell in cells:
                cell.setdefault("attachments", {})[f"{shot.name}.png"] = {"image/png": data}
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed


def launch(playwright):
    chromium = handouts.find_chromium()
    if chromium is None:
        raise ScreenshotError("Chromium is not installed (Debian: apt-get install chromium); no screenshots")
    return playwright.chromium.launch(
        executable_path=chromium,
        args=[
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    )


def take_all(runs: Path, out: Path, shots=SHOTS, log: Callable[[str], None] = print) -> list[dict]:
    import tensorboard as tensorboard_package
    from playwright.sync_api import sync_playwright

    taken = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for shot in shots:
                facts = take(shot, runs, out, browser)
                log(f"{shot.name}.png: {json.dumps({k: v for k, v in facts.items() if k != 'caption'})}")
                taken.append(facts)
        finally:
            browser.close()
    record = {"tensorboard": tensorboard_package.__version__, "viewport": VIEWPORT, "shots": taken}
    (out / "screenshots.json").write_text(json.dumps(record, indent=2) + "\n")
    return taken


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=str(NOTEBOOKS / "runs"), help="the notebooks' runs folder")
    parser.add_argument("--out", default=str(OUT), help="where the PNGs and screenshots.json go")
    parser.add_argument(
        "--no-attach", action="store_true", help="write the PNGs only; do not embed them in the notebooks"
    )
    parser.add_argument("--only", default=None, help="comma-separated shot names (default: all)")
    args = parser.parse_args(argv)
    shots = SHOTS if not args.only else tuple(s for s in SHOTS if s.name in args.only.split(","))
    try:
        take_all(Path(args.runs), Path(args.out), shots)
        if not args.no_attach:
            for name in attach(NOTEBOOKS, Path(args.out), shots):
                print(f"embedded in {name}")
    except ScreenshotError as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
