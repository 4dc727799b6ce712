"""The slide decks in a real headless browser (Debian's Chromium + Playwright), served from 127.0.0.1.

Every deck opens with no console error, failed request or request off the machine; moving forward
(the space key, as a presenter does) reaches its last slide, visiting every slide; on each slide at
1280x720 no code cell, output or plot is wider than the slide. A screenshot of one slide is saved in
``build/test-artifacts/`` (or ``$CS20_TEST_ARTIFACTS``). Skipped, with the reason, without Chromium.
"""

import functools
import http.server
import threading

import nbformat
import pytest
from conftest import REPO
from test_browser import ARTIFACTS, CHROMIUM, QuietHandler, open_page, playwright_api

from tools import handouts, slides

pytestmark = [pytest.mark.browser, pytest.mark.slow] + [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium); browser tests skipped"
    )
]
NOTEBOOKS = handouts.series(REPO / "notebooks")
VIEWPORT = {"width": 1280, "height": 720}
SCREENSHOT_DECK = "10_autodiff"  # has a plot

#: the present slide's height as laid out (reveal.js scales the 1280x720 canvas to the window; the slide's own
#: box keeps its unscaled height in offsetHeight), and the slide's first words
HEIGHT_JS = """() => {
  const slide = [...document.querySelectorAll('.reveal .slides section.present')].pop();
  return [slide.scrollHeight, (slide.innerText || '').trim().slice(0, 60)];
}"""

OVERFLOW_JS = """() => {
  const slide = [...document.querySelectorAll('.reveal .slides section.present')].pop();
  const box = slide.getBoundingClientRect();
  return [...slide.querySelectorAll('.jp-CodeCell, pre, img, .jp-OutputArea-output, table, math')]
    .filter(e => e.getBoundingClientRect().width > 0)
    .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > box.right + 1
                 || e.getBoundingClientRect().left < box.left - 1)
    .map(e => e.tagName + '.' + e.className + ': ' + (e.innerText || e.getAttribute('src') || '').slice(0, 80));
}"""


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def slide_server(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides") / "slides"
    try:
        result = slides.build(REPO / "notebooks", out, log=lambda line: None)
    except slides.SlidesError as error:
        pytest.skip(str(error))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", result
    server.shutdown()
    server.server_close()


def test_the_index_links_every_deck(browser, slide_server):
    base, result = slide_server
    context, page, watch = open_page(browser, f"{base}/index.html")
    links = page.eval_on_selector_all("ol > li a", "links => links.map(a => a.getAttribute('href'))")
    assert links == [f"{path.stem}.slides.html" for path in NOTEBOOKS]
    assert watch.errors == [] and watch.offsite == [] and watch.failed == []
    context.close()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_deck_opens_offline_and_every_slide_fits(browser, slide_server, path):
    base, result = slide_server
    context, page, watch = open_page(browser, f"{base}/{path.stem}.slides.html", viewport=VIEWPORT)
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    total = page.evaluate("() => Reveal.getTotalSlides()")
    assert total == result["slides"][path.stem] == slides.slide_count(nbformat.read(path, as_version=4), path)
    assert page.evaluate("() => [Reveal.getConfig().width, Reveal.getConfig().height]") == [1280, 720]
    assert page.locator("math").count() == 0 or page.eval_on_selector_all(
        "math", "ms => ms.every(m => m.getBoundingClientRect().width > 0 || !m.closest('section.present'))"
    )

    visited, overflowing, too_tall, images = set(), {}, {}, 0
    for _ in range(20 * total):  # slides and fragments: bounded
        index = page.evaluate("() => Reveal.getSlidePastCount()")
        if index not in visited:
            visited.add(index)
            page.wait_for_timeout(50)
            found = page.evaluate(OVERFLOW_JS)
            if found:
                overflowing[index] = found
            height, opening = page.evaluate(HEIGHT_JS)
            if height > VIEWPORT["height"] + 1:
                too_tall[index + 1] = f"{height} px: {opening!r}"
            shown = page.evaluate(
                "() => [...[...document.querySelectorAll('.reveal .slides section.present')].pop()"
                ".querySelectorAll('img')].map(i => [i.complete, i.naturalWidth])"
            )
            assert all(done and width > 0 for done, width in shown), f"slide {index}: broken image"
            if shown and path.stem == SCREENSHOT_DECK and not images:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.evaluate(
                    "() => [...document.querySelectorAll('.reveal .slides section.present')].pop()"
                    ".querySelector('img').scrollIntoView({block: 'end'})"
                )
                page.screenshot(path=str(ARTIFACTS / f"slide-{path.stem}-{index + 1}.png"))
            images += len(shown)
        if page.evaluate("() => Reveal.isLastSlide() && Reveal.availableFragments().next === false"):
            break
        page.keyboard.press("Space")
    assert page.evaluate("() => Reveal.isLastSlide()"), "moving forward did not reach the last slide"
    assert visited == set(range(total)), f"slides never shown: {sorted(set(range(total)) - visited)}"
    assert overflowing == {}, f"wider than the slide at 1280x720: {overflowing}"
    assert too_tall == {}, (
        f"{path.stem}: slides taller than 720 px (split them, or tag a long cell handout-only): {too_tall}"
    )
    shown_cells = [
        cell
        for cell in nbformat.read(path, as_version=4).cells
        if cell.metadata.get("slideshow", {}).get("slide_type") != "skip"
        and slides.HANDOUT_ONLY_TAG not in cell.metadata.get("tags", [])
    ]
    plots = sum("image/png" in output.get("data", {}) for cell in shown_cells for output in cell.get("outputs", []))
    pictures = sum(len(cell.get("attachments", {})) for cell in shown_cells if cell.cell_type == "markdown")
    assert images == plots + pictures, "every stored plot and picture (TensorBoard's screenshots) is on a slide"
    if path.stem == SCREENSHOT_DECK:
        assert list(ARTIFACTS.glob(f"slide-{path.stem}-*.png"))
    assert watch.errors == [], watch.errors
    assert watch.offsite == [], f"the deck asked the network for {watch.offsite}"
    assert watch.failed == [], watch.failed
    context.close()
