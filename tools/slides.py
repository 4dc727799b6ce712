"""Slide decks of the notebook series, reveal.js, fully offline: `make slides` runs this.

Each notebook's cells carry ``metadata.slideshow.slide_type`` (slide, subslide, fragment, skip,
notes or ``-`` to continue the slide); nbconvert's slides exporter turns a notebook into one deck of
its lecture code and stored outputs (solution cells are skipped). A cell tagged ``handout-only`` (a long
listing, a long table) is not on the slides: one line there says that the handout has it; a long cell
tagged ``slides-output-only`` shows its output (a plot) under one line that points to the handout for its
code. So every slide fits 1280x720 and nothing runs below the slide's edge (``python -m tools.fit_slides``
sets the slide breaks and these tags from the decks as Chromium draws them). Into ``slides/`` (or ``--out``):

* ``NN_name.slides.html``: one deck per notebook, 1280x720 slides; math as MathML and images as data
  URIs (as in the handouts), no script or stylesheet from a CDN;
* ``reveal.js/``: the reveal.js files the decks load (``dist/`` and the speaker-notes plugin), from
  the npm package ``reveal.js`` at the pinned version, downloaded once into the cache
  (``$CS20_CACHE_DIR``, default ``~/.cache/cs20-word2vec``) and checked against npm's sha512
  before use; offline, put ``reveal.js-<version>.tgz`` there by hand;
* ``index.html``: the series in order, a one-line summary and the slide count of each deck.

Open ``slides/index.html`` in a browser (from the disk or any local web server); press ``s`` in a
deck for the speaker view. ``make lab`` offers the same slides live (jupyterlab-rise). Builds in a
staging folder, swapped in only when complete.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter

from cs20lib.files import cache_dir
from tools.handouts import MathMLMarkdown, image_alt, inline_code, series, swap_in, title_and_summary

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REVEAL_VERSION = "5.2.1"
#: npm's ``dist.integrity`` for reveal.js 5.2.1 (https://registry.npmjs.org/reveal.js/5.2.1)
REVEAL_SHA512 = "r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ=="
REVEAL_URL = f"https://registry.npmjs.org/reveal.js/-/reveal.js-{REVEAL_VERSION}.tgz"
REVEAL_THEME = "white"  # its fonts come with the package; some other themes import Google Fonts
#: what the decks load from the package: reveal.js itself, the theme and its fonts, the speaker notes
REVEAL_PARTS = (
    "package/dist/reveal.js",
    "package/dist/reveal.css",
    f"package/dist/theme/{REVEAL_THEME}.css",
    "package/dist/theme/fonts/",
    "package/plugin/notes/",
    "package/LICENSE",
)
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
HANDOUT_ONLY_TAG = "handout-only"
OUTPUT_ONLY_TAG = "slides-output-only"  # a long cell whose output (a plot) is the point: the slide shows that


def for_slides(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as the deck shows it: each ``handout-only`` cell replaced by a line that points to the
    handout (in the cell's place on its slide)."""
    notebook = nbformat.from_dict(notebook)  # a copy
    for index, cell in enumerate(notebook.cells):
        if OUTPUT_ONLY_TAG in cell.metadata.get("tags", []) and cell.cell_type == "code":
            cell.source = f"# the code ({len(cell.source.splitlines())} lines) is in the handout; its output:"
            continue
        if HANDOUT_ONLY_TAG not in cell.metadata.get("tags", []):
            continue
        lines = len(cell.source.splitlines())
        what = f"the code ({lines} lines) and its output" if cell.cell_type == "code" else "this part"
        note = nbformat.v4.new_markdown_cell(f"*In the handout: {what}.*")
        note.metadata["slideshow"] = dict(cell.metadata.get("slideshow", {"slide_type": "-"}))
        if "id" in cell:
            note["id"] = cell["id"]  # the cell's place in the deck keeps its id (tools/fit_slides.py)
        notebook.cells[index] = note
    return notebook


class SlidesError(RuntimeError):
    """The decks cannot be built; the message says what to fix."""


def sha512_b64(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def reveal_tarball(log=print) -> Path:
    """The pinned reveal.js package from the cache, downloaded and checked first when it is not there."""
    path = cache_dir() / f"reveal.js-{REVEAL_VERSION}.tgz"
    if path.exists() and sha512_b64(path) == REVEAL_SHA512:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    log(f"downloading {REVEAL_URL}")
    try:
        with urllib.request.urlopen(REVEAL_URL, timeout=60) as response, open(tmp, "wb") as handle:
            shutil.copyfileobj(response, handle)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise SlidesError(
            f"cannot download reveal.js {REVEAL_VERSION} ({error}); offline, put {path.name} from {REVEAL_URL} "
            f"into {path.parent}"
        ) from error
    if sha512_b64(tmp) != REVEAL_SHA512:
        tmp.unlink()
        raise SlidesError(f"{REVEAL_URL} does not match its pinned sha512; nothing was kept")
    os.replace(tmp, path)
    return path


def unpack_reveal(tarball: Path, folder: Path) -> None:
    """The parts of the package the decks load, into ``folder`` (``reveal.js/``)."""
    with tarfile.open(tarball, "r:gz") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.startswith(REVEAL_PARTS)]
        if not any(m.name == "package/dist/reveal.js" for m in members):
            raise SlidesError(f"{tarball.name} holds no package/dist/reveal.js")
        for member in members:
            target = folder / member.name.removeprefix("package/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())


def slide_count(notebook: nbformat.NotebookNode, path: Path) -> int:
    """Slides of a deck: its cells that start a slide or a subslide (checked: every cell says what it is)."""
    count = 0
    for index, cell in enumerate(notebook.cells):
        slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
        if slide_type not in SLIDE_TYPES:
            raise SlidesError(f"{path.name}, cell {index}: metadata slideshow.slide_type must be one of {SLIDE_TYPES}")
        count += slide_type in ("slide", "subslide")
    if notebook.cells[0].metadata["slideshow"]["slide_type"] != "slide":
        raise SlidesError(f"{path.name}: the first cell must start a slide")
    return count


class DeckExporter(MathMLMarkdown, SlidesExporter):
    """nbconvert's reveal.js slides with MathML math, embedded images and the local reveal.js."""

    def __init__(self, **kwargs):
        super().__init__(
            template_name="slides",
            extra_template_basedirs=[str(TEMPLATE_DIR)],
            embed_images=True,
            reveal_url_prefix="reveal.js",
            reveal_theme=REVEAL_THEME,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            **kwargs,
        )
        self.register_filter("image_alt", image_alt)


INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>cs20-word2vec slides</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
        line-height: 1.45; color: #222; }}
li {{ margin: 0.7rem 0; }}
.title {{ font-weight: 600; }}
.summary {{ display: block; }}
.count {{ color: #666; font-size: 0.9rem; }}
</style>
</head>
<body>
<h1>cs20-word2vec: slides</h1>
<p>One reveal.js deck per notebook: the lecture's code and its stored outputs. Arrow keys or space
to move, <kbd>s</kbd> for the speaker view, <kbd>Esc</kbd> for the overview. reveal.js {version}, served
from this folder: nothing is fetched from the network.</p>
<ol start="0">
{items}
</ol>
</body>
</html>
"""


def index_page(entries: list[dict]) -> str:
    items = [
        f'<li id="{entry["stem"]}">'
        f'<a class="title" href="{entry["stem"]}.slides.html">{inline_code(entry["title"])}</a>'
        f' <span class="count">({entry["slides"]} slides)</span>'
        f'<span class="summary">{html.escape(entry["summary"])}</span></li>'
        for entry in entries
    ]
    return INDEX_TEMPLATE.format(items="\n".join(items), version=REVEAL_VERSION)


def build(notebook_dir: Path, out: Path, log=print) -> dict:
    """Every deck, reveal.js and the index into ``out`` (replaced only when the build is complete)."""
    paths = series(notebook_dir)
    tarball = reveal_tarball(log)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)
    try:
        unpack_reveal(tarball, staging / "reveal.js")
        exporter, entries = DeckExporter(), []
        for path in paths:
            notebook = nbformat.read(path, as_version=4)
            title, summary = title_and_summary(notebook, path)
            count = slide_count(notebook, path)
            resources = {"metadata": {"name": path.stem, "path": str(path.parent)}}
            body, _ = exporter.from_notebook_node(for_slides(notebook), resources=resources)
            (staging / f"{path.stem}.slides.html").write_text(body, encoding="utf-8")
            entries.append({"stem": path.stem, "title": title, "summary": summary, "slides": count})
            log(f"slides {path.stem}: {count}")
        (staging / "index.html").write_text(index_page(entries), encoding="utf-8")
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"out": out, "slides": {entry["stem"]: entry["slides"] for entry in entries}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks", help="folder of NN_name.ipynb notebooks")
    parser.add_argument("--out", type=Path, default=REPO / "slides", help="output folder (replaced on success)")
    args = parser.parse_args(argv)
    try:
        result = build(args.notebooks, args.out)
    except SlidesError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(result['slides'])} decks in {result['out']}: open {result['out'] / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
