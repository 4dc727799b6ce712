"""Make every slide of the decks fit 1280x720: measure the cells in Chromium, start a subslide where one runs over.

``python -m tools.fit_slides [NN ...]`` (``make fit-slides``) builds the decks of the given notebooks (all by
default) as ``make slides`` does, opens each in headless Chromium at 1280x720, and walks its slides. Where a
slide is taller than the slide's height, the first cell that ends below the edge starts a new subslide (its
``metadata.slideshow.slide_type`` becomes ``subslide``); a code cell taller than a slide on its own is
tagged ``slides-output-only`` if it draws a plot (the slide shows the plot), else ``handout-only`` (the
deck then shows one line pointing to the handout). It rebuilds and measures
again until nothing changes. Only slide metadata and tags change: sources and stored outputs do not, so the
notebooks still pass strict nbval. A markdown cell taller than a slide is reported: split it by hand.

Run it after the notebooks are executed (their outputs decide the heights); tests/test_slides_browser.py
checks the result.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from tools import slides
from tools.handouts import find_chromium, series

REPO = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1280, "height": 720}
ROUNDS = 6  # rebuild-and-measure rounds: each round only splits further, so this ends

#: the present slide's height and, for each cell on it (not in speaker notes), its id and where it ends,
#: in the slide's own pixels (reveal.js scales the slide to the window)
MEASURE_JS = """() => {
  const slide = [...document.querySelectorAll('.reveal .slides section.present')].pop();
  const scale = Reveal.getScale();
  const top = slide.getBoundingClientRect().top;
  const cells = [...slide.querySelectorAll('.jp-Cell')].filter(c => !c.closest('aside.notes'))
    .map(c => [c.id.replace('cell-id=', ''), (c.getBoundingClientRect().bottom - top) / scale,
               c.getBoundingClientRect().height / scale]);
  return [slide.scrollHeight, cells];
}"""


def measure(page, url: str) -> list[tuple[int, list]]:
    """Each slide's height and its cells, [(height, [(cell id, bottom, height), ...]), ...]."""
    page.goto(url)
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    found = []
    for h, stack in enumerate(
        page.evaluate("() => Reveal.getHorizontalSlides().map(s => s.querySelectorAll('section').length || 1)")
    ):
        for v in range(stack):
            page.evaluate(f"() => Reveal.slide({h}, {v}, 99)")  # all its fragments shown: they take space anyway
            page.wait_for_timeout(30)
            found.append(page.evaluate(MEASURE_JS))
    return found


def plan_splits(notebook: nbformat.NotebookNode, measured: list, limit: int) -> tuple[dict, list, list]:
    """What to change: {cell index: "subslide"} splits, code cells to tag handout-only, markdown cells too tall."""
    shown = slides.for_slides(notebook)
    index_of = {cell.get("id"): i for i, cell in enumerate(shown.cells)}
    splits, handout_only, too_tall = {}, [], []
    for height, cells in measured:
        if height <= limit or not cells:
            continue
        first = index_of.get(cells[0][0])
        for cell_id, bottom, cell_height in cells:
            i = index_of.get(cell_id)
            if i is None or bottom <= limit:
                continue
            if cell_height > limit - 4:  # alone taller than a slide
                if notebook.cells[i].cell_type == "code":
                    handout_only.append(i)  # its output alone (a plot) if it has a picture, else the whole cell
                else:
                    too_tall.append(i)
            elif i != first:
                splits[i] = "subslide"
            break
    return splits, handout_only, too_tall


def fit(paths: list[Path], log=print) -> dict[str, int]:
    """Split the slides of ``paths`` until every one fits; returns the changes per notebook."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("error: Chromium is not installed (Debian: apt-get install chromium)")
    changes = dict.fromkeys((path.stem for path in paths), 0)
    work = Path(tempfile.mkdtemp(prefix="fit-slides-"))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport=VIEWPORT)
            pending = list(paths)
            for _ in range(ROUNDS):
                if not pending:
                    break
                staged = work / "notebooks"
                shutil.rmtree(staged, ignore_errors=True)
                staged.mkdir()
                for path in pending:
                    shutil.copy2(path, staged / path.name)
                slides.build(staged, work / "slides", log=lambda *_: None)
                still = []
                for path in pending:
                    notebook = nbformat.read(path, as_version=4)
                    measured = measure(page, (work / "slides" / f"{path.stem}.slides.html").as_uri())
                    splits, handout_only, too_tall = plan_splits(notebook, measured, VIEWPORT["height"])
                    for i in too_tall:
                        log(f"{path.name}: markdown cell {i} is taller than a slide on its own: split it by hand")
                    if not splits and not handout_only:
                        continue
                    for i, kind in splits.items():
                        notebook.cells[i].metadata.setdefault("slideshow", {})["slide_type"] = kind
                    for i in handout_only:
                        cell = notebook.cells[i]
                        plot = any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
                        tag = slides.OUTPUT_ONLY_TAG if plot else slides.HANDOUT_ONLY_TAG
                        if tag in cell.metadata.get("tags", []):  # still too tall: leave the cell off the slides
                            tag = slides.HANDOUT_ONLY_TAG
                        cell.metadata.setdefault("tags", []).append(tag)
                    nbformat.write(notebook, path)
                    changes[path.stem] += len(splits) + len(handout_only)
                    log(f"{path.name}: {len(splits)} new subslides, {len(handout_only)} long cells left to the handout")
                    still.append(path)
                pending = still
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", help="two-digit notebook numbers (default: all)")
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks")
    args = parser.parse_args(argv)
    paths = [path for path in series(args.notebooks) if not args.numbers or path.name[:2] in args.numbers]
    changes = fit(paths)
    print(f"{sum(changes.values())} changes in {sum(1 for n in changes.values() if n)} of {len(paths)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
