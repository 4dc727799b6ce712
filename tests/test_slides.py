"""Slides (tools/slides.py, `make slides`): slide metadata, the decks and their offline references; no browser.

The browser checks (navigation, layout at 1280x720, network) are in tests/test_slides_browser.py.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from tools import handouts, slides

NOTEBOOKS = handouts.series(REPO / "notebooks")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides") / "slides"
    try:
        result = slides.build(REPO / "notebooks", out, log=lambda line: None)
    except slides.SlidesError as error:  # reveal.js neither cached nor downloadable
        pytest.skip(str(error))
    return out, result


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_is_a_lecture_of_10_to_50_slides(path):
    notebook = nbformat.read(path, as_version=4)
    assert 10 <= slides.slide_count(notebook, path) <= 50  # more short slides rather than any running over
    for cell in notebook.cells:
        if handouts.SOLUTION_TAG in cell.metadata.get("tags", []):
            assert cell.metadata.slideshow.slide_type == "skip", "solutions are not shown in the lecture"
    code = [
        cell for cell in notebook.cells if cell.cell_type == "code" and "solution" not in cell.metadata.get("tags", [])
    ]
    shown = [cell for cell in code if cell.metadata.slideshow.slide_type != "skip"]
    assert len(shown) == len(code), "every lecture code cell and its outputs are on a slide"


def test_decks_reference_only_local_files(built):
    out, result = built
    assert list(result["slides"]) == [path.stem for path in NOTEBOOKS]
    for path in NOTEBOOKS:
        page = (out / f"{path.stem}.slides.html").read_text()
        # what the page loads (scripts, images, stylesheets); links in the text may point anywhere
        references = re.findall(r"""(?:src=|<link[^>]*href=)["']([^"'#][^"']*)""", page)
        for reference in references:
            assert not re.match(r"(https?:)?//", reference), f"{path.stem} loads {reference}"
            if not reference.startswith("data:"):
                assert (out / reference).is_file(), f"{path.stem}: {reference} is not in the build"
        assert "require(" not in page and "MathJax" not in page
        solution = handouts.solution_sources(nbformat.read(path, as_version=4))
        assert not any(source.splitlines()[0] in page for source in solution if len(source.splitlines()[0]) > 25)
    for css in (out / "reveal.js").rglob("*.css"):
        assert not re.search(r"url\((['\"]?)(https?:)?//", css.read_text(errors="replace")), (
            f"{css.name} loads from the network"
        )
    index = (out / "index.html").read_text()
    for path in NOTEBOOKS:
        assert f'href="{path.stem}.slides.html"' in index and f"({result['slides'][path.stem]} slides)" in index


def test_reveal_js_is_the_pinned_package(built, tmp_path, monkeypatch):
    out, _ = built
    assert f"reveal.js {slides.REVEAL_VERSION}" in (out / "index.html").read_text()
    tarball = slides.reveal_tarball(log=lambda line: None)
    assert slides.sha512_b64(tarball) == slides.REVEAL_SHA512
    # a damaged copy in the cache is not used: it is fetched again (here: refused, the network being cut off)
    monkeypatch.setenv("CS20_CACHE_DIR", str(tmp_path))
    (tmp_path / tarball.name).write_bytes(b"not reveal.js")
    monkeypatch.setattr(slides, "REVEAL_URL", "http://127.0.0.1:9/reveal.js.tgz")
    with pytest.raises(slides.SlidesError, match=f"put {re.escape(tarball.name)}"):
        slides.reveal_tarball(log=lambda line: None)


def test_a_bad_slide_type_is_reported_and_keeps_the_previous_slides(built, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = nbformat.read(REPO / "notebooks" / "10_autodiff.ipynb", as_version=4)
    nbformat.write(notebook, folder / "10_autodiff.ipynb")
    out = tmp_path / "slides"
    slides.build(folder, out, log=lambda line: None)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    notebook.cells[3].metadata.slideshow.slide_type = "sldie"
    nbformat.write(notebook, folder / "10_autodiff.ipynb")
    with pytest.raises(slides.SlidesError, match="cell 3: metadata slideshow.slide_type must be one of"):
        slides.build(folder, out, log=lambda line: None)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "slides"]


def test_make_slides_target_and_live_slides_in_lab():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^slides: .*\n\t.*-m tools\.slides", makefile, re.M)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'"jupyterlab-rise==[\d.]+"', pyproject)
    assert Path(sys.prefix, "share", "jupyter", "labextensions", "jupyterlab-rise").is_dir()


def test_long_cells_leave_the_slides_but_keep_their_place():
    """handout-only: one line in the cell's place (same id, same slide type); slides-output-only: the plot
    stays on the slide under one line that points to the handout for the code."""
    listing = nbformat.v4.new_code_cell("x = 1\n" * 40, metadata={"tags": [slides.HANDOUT_ONLY_TAG]})
    listing.metadata["slideshow"] = {"slide_type": "subslide"}
    plot = nbformat.v4.new_code_cell("y = 2\n" * 30, metadata={"tags": [slides.OUTPUT_ONLY_TAG]})
    plot.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    ]
    notebook = nbformat.v4.new_notebook(cells=[listing, plot])
    shown = slides.for_slides(notebook)
    note, shown_plot = shown.cells
    assert note.cell_type == "markdown" and note.source == "*In the handout: the code (40 lines) and its output.*"
    assert note.id == listing.id and note.metadata["slideshow"] == {"slide_type": "subslide"}
    assert shown_plot.source == "# the code (30 lines) is in the handout; its output:"
    assert shown_plot.outputs == plot.outputs and notebook.cells[1].source == "y = 2\n" * 30  # a copy changed
