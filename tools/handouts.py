"""Classroom handouts of the notebook series: `make handouts` runs this.

Writes, into ``handouts/`` (or ``--out``):

* ``instructor/NN_name.html``: each notebook as stored, solutions included;
* ``student/NN_name.html``: the same with every cell tagged ``solution`` replaced by an
  "Exercise: your answer here" placeholder (source and outputs gone);
* ``index.html``: the series in order, a one-line summary each (the notebook's ``cs20.summary``
  metadata), with links to both editions;
* ``cs20-word2vec-student-notebooks.zip``: the student notebooks (outputs kept except in the
  placeholders) and a README saying how to open them;
* with Chromium installed (Debian's ``chromium``), ``instructor/*.pdf``, ``student/*.pdf`` and one
  ``instructor.pdf`` / ``student.pdf`` per edition with every notebook starting on a new page.

Every page is self-contained: images are embedded as data URIs, math is converted to MathML at
build time (Chromium and Firefox render MathML natively), and no script, stylesheet or font is
loaded from the network, so the pages open offline. The stylesheet names one font set first (DejaVu
Sans, DejaVu Sans Mono and the math font DejaVu Math TeX Gyre: Debian's ``fonts-dejavu-core`` and
``fonts-dejavu-extra``) so that they print the same wherever it is installed. The print stylesheet
wraps long code lines instead of cutting them at the page edge and scales plots to the page width;
display formulas keep within it (one too long for an A4 column is written over several lines in
the notebook, e.g. with ``\\begin{split}``).
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import latex2mathml.converter
import nbformat
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from cs20lib import course

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "handout"
SOLUTION_TAG = course.SOLUTION_TAG
PLACEHOLDER_TAG = course.PLACEHOLDER_TAG
PLACEHOLDER_CODE = course.PLACEHOLDER_CODE
PLACEHOLDER_MARKDOWN = course.PLACEHOLDER_MARKDOWN
EDITIONS = ("instructor", "student")
ZIP_NAME = "cs20-word2vec-student-notebooks.zip"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


class HandoutError(RuntimeError):
    """A notebook cannot be made into a handout; the message says what to fix."""


# --------------------------------------------------------------------------------------------
# The series


def series(notebook_dir: Path) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` of ``notebook_dir``, in order."""
    paths = sorted(path for path in Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise HandoutError(f"no notebooks named NN_name.ipynb in {notebook_dir}")
    return paths


def title_and_summary(notebook: nbformat.NotebookNode, path: Path) -> tuple[str, str]:
    """The notebook's first ``# `` heading and its ``cs20.summary`` metadata line."""
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        raise HandoutError(f"{path.name}: the first cell must be a markdown cell starting with '# title'")
    title = first.source.splitlines()[0][2:].strip()
    summary = notebook.metadata.get("cs20", {}).get("summary", "").strip()
    if not summary:
        raise HandoutError(f"{path.name}: add a one-line summary as notebook metadata cs20.summary")
    return title, summary


# --------------------------------------------------------------------------------------------
# Student edition


def student_edition(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with each ``solution`` cell replaced by an empty exercise placeholder
    (:func:`cs20lib.course.student_edition`, which ``python -m cs20lib notebooks --edition student`` uses too)."""
    return nbformat.from_dict(course.student_edition(notebook))


def solution_sources(notebook: nbformat.NotebookNode) -> list[str]:
    """The source of every ``solution`` cell (what the student edition must not show)."""
    return [cell.source for cell in notebook.cells if SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])]


# --------------------------------------------------------------------------------------------
# HTML


def tex_to_mathml(tex: str, display: bool) -> str:
    """LaTeX math as a MathML ``<math>`` element (latex2mathml); unconvertible input raises HandoutError."""
    try:
        return latex2mathml.converter.convert(tex, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises many kinds
        raise HandoutError(
            f"cannot convert the math {tex!r} to MathML ({type(error).__name__}: {error}); simplify it"
        ) from error


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with math written as MathML instead of left for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


def image_alt(cell) -> str:
    """Alt text for a plot: the first comment line of the cell that drew it, else a plain description."""
    for line in cell.get("source", "").splitlines():
        text = line.strip()
        if text.startswith("#") and text.lstrip("#").strip():
            return text.lstrip("#").strip()
    return "Plot drawn by the code cell above"


class MathMLMarkdown:
    """Mixin for nbconvert's HTML exporters: markdown rendered with math as MathML (no MathJax)."""

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)


class HandoutExporter(MathMLMarkdown, HTMLExporter):
    """nbconvert's JupyterLab HTML with embedded images, MathML math, no scripts and a print stylesheet."""

    def __init__(self, edition: str, index_href: str = "../index.html", **kwargs):
        super().__init__(
            template_name="handout", extra_template_basedirs=[str(TEMPLATE_DIR.parent)], embed_images=True, **kwargs
        )
        self.edition, self.index_href = edition, index_href
        self.register_filter("image_alt", image_alt)

    def render(self, notebook: nbformat.NotebookNode, name: str, folder: Path) -> str:
        """The page of ``notebook``; ``folder`` is where it lives (for images it links relatively)."""
        resources = {
            "metadata": {"name": name, "path": str(folder)},
            "handout": {"edition": self.edition, "index_href": self.index_href},
        }
        body, _ = self.from_notebook_node(notebook, resources=resources)
        return body


INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>cs20-word2vec handouts</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
        line-height: 1.45; color: #222; }}
h1 {{ font-size: 1.6rem; }}
ol {{ padding-left: 1.5rem; }}
li {{ margin: 0.7rem 0; }}
.title {{ font-weight: 600; }}
.links a {{ margin-right: 0.8rem; font-size: 0.9rem; }}
.summary {{ display: block; }}
.meta {{ display: block; color: #555; font-size: 0.9rem; }}
@media print {{ .links {{ display: none; }} }}
</style>
</head>
<body>
<h1>cs20-word2vec: the notebook series</h1>
<p>Stanford CS20's lecture <em>word2vec, structuring TensorFlow models, managing experiments,
autodiff</em>, on today's TensorFlow. Each notebook shows the lecture's TF1 idiom beside TF2's.
The <strong>student edition</strong> replaces each exercise's solution with a placeholder; the
<strong>instructor edition</strong> keeps them.
Student notebooks to run in JupyterLab: <a href="{zip_name}">{zip_name}</a>.{book_links}{cheat_sheet}</p>
<p>Notebooks 00-10 are the lecture's core; those marked <em>beyond</em> go further. Under each: its part,
the notebooks to read first, and how long its stored outputs took to make on the course's 2-core machine.</p>
<ol start="0">
{items}
</ol>
</body>
</html>
"""


def inline_code(text: str) -> str:
    """Escape ``text`` for HTML, showing markdown `code` spans as <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def index_page(entries: list[dict], with_pdf: bool) -> str:
    """The index: one ``<li>`` per notebook with its title, summary and links to both editions."""
    items = []
    for entry in entries:
        links = [f'<a href="{edition}/{entry["stem"]}.html">{edition} (HTML)</a>' for edition in EDITIONS]
        if with_pdf:
            links += [f'<a href="{edition}/{entry["stem"]}.pdf">{edition} (PDF)</a>' for edition in EDITIONS]
        meta = ""
        if entry.get("part"):
            needs = ", ".join(entry["needs"]) or "none"
            meta = f'<span class="meta">{entry["part"]} · read first: {needs} · run time: {entry["run_time"]}</span>'
        items.append(
            f'<li id="{entry["stem"]}"><span class="title">{inline_code(entry["title"])}</span>'
            f'<span class="summary">{html.escape(entry["summary"])}</span>{meta}'
            f'<span class="links">{"".join(links)}</span></li>'
        )
    book_links = ""
    if with_pdf:
        book_links = (
            " Whole series as one PDF: "
            + ", ".join(f'<a href="{edition}.pdf">{edition}</a>' for edition in EDITIONS)
            + "."
        )
    cheat_sheet = (
        f' The TF1 -> TF2 idioms on one page: <a href="{CHEAT_SHEET_PAGE}">{CHEAT_SHEET_PAGE}</a>.'
        if any(entry.get("cheat_sheet") for entry in entries)
        else ""
    )
    return INDEX_TEMPLATE.format(
        items="\n".join(items), zip_name=ZIP_NAME, book_links=book_links, cheat_sheet=cheat_sheet
    )


CHEAT_SHEET = "TF1_to_TF2.md"
CHEAT_SHEET_PAGE = "tf1_to_tf2.html"
CHEAT_SHEET_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>cs20-word2vec: TF1 to TF2</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: "DejaVu Sans", system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
        line-height: 1.45; color: #222; }}
code {{ font-family: "DejaVu Sans Mono", monospace; font-size: 0.88em; }}
table {{ border-collapse: collapse; margin: 0.6rem 0 1.2rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }}
@media print {{ body {{ margin: 0; max-width: none; }} }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def cheat_sheet_page(markdown_text: str) -> str:
    """The TF1 -> TF2 cheat sheet (notebooks/TF1_to_TF2.md) as a self-contained HTML page."""
    import mistune

    return CHEAT_SHEET_TEMPLATE.format(body=mistune.create_markdown(plugins=["table"])(markdown_text))


# --------------------------------------------------------------------------------------------
# Student zip

ZIP_README = """cs20-word2vec student notebooks
================================

The notebooks of the series with the exercises left for you: each cell that says
"# Exercise: your answer here" is yours to fill in. Every other cell shows the output
it gave when the course ran it.

To run them you need the course environment (a supported Python, TensorFlow and the cs20lib package):
install the course's wheel (`pip install cs20_word2vec-*.whl`, which `make wheel` builds in the project) or
run `make lab` in the project, then open these notebooks from JupyterLab with that environment's Python 3
kernel.
"""


def course_map_entry(notebook: nbformat.NotebookNode, path: Path) -> dict:
    """The notebook's line of the course map (tools/notebooks.py): part, read first, run time; empty if unknown."""
    from tools import notebooks

    known = notebooks.SYLLABUS.get(path.name[:2])
    if known is None:
        return {}
    part, needs = known
    return {"part": part, "needs": needs, "run_time": notebooks.rounded_time(notebooks.run_seconds(notebook))}


def write_student_zip(student_notebooks: list[tuple[str, nbformat.NotebookNode]], path: Path) -> None:
    """The student notebooks and a README in one zip, written to a temp file and renamed."""
    tmp = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cs20-word2vec-notebooks/README.txt", ZIP_README)
        for stem, notebook in student_notebooks:
            archive.writestr(f"cs20-word2vec-notebooks/{stem}.ipynb", nbformat.writes(notebook) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# PDF


def find_chromium() -> str | None:
    """The Chromium executable: ``$CS20_CHROMIUM`` or the first of chromium/chromium-browser/google-chrome on PATH."""
    configured = os.environ.get("CS20_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() or shutil.which(configured) else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_flags(user_data_dir: str) -> list[str]:
    """Headless flags that keep Chromium off the network (no sync, updates or background requests)."""
    flags = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={user_data_dir}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    return flags


def print_pdf(chromium: str, html_path: Path, pdf_path: Path, timeout: float = 120.0) -> None:
    """Print one HTML page to PDF with headless Chromium (``--print-to-pdf``, no header or footer)."""
    with tempfile.TemporaryDirectory(prefix="cs20-chromium-") as profile:
        tmp = pdf_path.with_suffix(".pdf.tmp")
        command = [
            chromium,
            *chromium_flags(profile),
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            html_path.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tmp.unlink(missing_ok=True)
            raise HandoutError(
                f"Chromium could not print {html_path.name} (exit {result.returncode}): {result.stderr.strip()[-500:]}"
            )
        os.replace(tmp, pdf_path)


def merge_pdfs(parts: list[Path], path: Path) -> None:
    """Concatenate PDFs (each notebook already starts on its own page) into one book."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(str(part), outline_item=part.stem)
    tmp = path.with_suffix(".pdf.tmp")
    with open(tmp, "wb") as handle:
        writer.write(handle)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Build


def build(notebook_dir: Path, out: Path, pdf: str = "auto", log=print) -> dict:
    """Write both editions, the index and the student zip into ``out``; PDFs per ``pdf`` (auto/yes/no).

    Everything is first written into a fresh folder beside ``out`` and moved into place at the end,
    so a failed build leaves the previous handouts untouched. Returns a summary dict.
    """
    chromium = find_chromium() if pdf != "no" else None
    if pdf == "yes" and chromium is None:
        raise HandoutError(
            "PDF handouts need Chromium: install Debian's package (sudo apt-get install chromium) or set CS20_CHROMIUM"
        )
    paths = series(notebook_dir)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; handouts are meant to be shared
    try:
        exporters = {edition: HandoutExporter(edition) for edition in EDITIONS}
        entries, students = [], []
        for edition in EDITIONS:
            (staging / edition).mkdir()
        for path in paths:
            notebook = nbformat.read(path, as_version=4)
            title, summary = title_and_summary(notebook, path)
            student = student_edition(notebook)
            students.append((path.stem, student))
            for edition, version in (("instructor", notebook), ("student", student)):
                (staging / edition / f"{path.stem}.html").write_text(
                    exporters[edition].render(version, path.stem, path.parent), encoding="utf-8"
                )
            entries.append({"stem": path.stem, "title": title, "summary": summary, **course_map_entry(notebook, path)})
            log(f"html  {path.stem}")
        if (Path(notebook_dir) / CHEAT_SHEET).is_file():
            (staging / CHEAT_SHEET_PAGE).write_text(
                cheat_sheet_page((Path(notebook_dir) / CHEAT_SHEET).read_text(encoding="utf-8")), encoding="utf-8"
            )
            entries[0]["cheat_sheet"] = True
        write_student_zip(students, staging / ZIP_NAME)
        if chromium:
            for edition in EDITIONS:
                parts = []
                for entry in entries:
                    part = staging / edition / f"{entry['stem']}.pdf"
                    print_pdf(chromium, staging / edition / f"{entry['stem']}.html", part)
                    parts.append(part)
                    log(f"pdf   {edition}/{entry['stem']}")
                merge_pdfs(parts, staging / f"{edition}.pdf")
        elif pdf == "auto":
            log(
                "PDF handouts skipped: Chromium is not installed (Debian: "
                "sudo apt-get install chromium; or set CS20_CHROMIUM)"
            )
        (staging / "index.html").write_text(index_page(entries, with_pdf=chromium is not None), encoding="utf-8")
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"out": out, "notebooks": [entry["stem"] for entry in entries], "pdf": chromium is not None}


def swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by the complete ``staging`` folder (the previous ``out`` is put back if that fails)."""
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        try:
            staging.rename(out)
        except OSError:
            old.rename(out)
            raise
        shutil.rmtree(old)
    else:
        staging.rename(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks", help="folder of NN_name.ipynb notebooks")
    parser.add_argument(
        "--out", type=Path, default=REPO / "handouts", help="output folder (replaced when the build succeeds)"
    )
    parser.add_argument(
        "--pdf",
        choices=["auto", "yes", "no"],
        default="auto",
        help="PDFs with Chromium: when installed (auto), required (yes), never (no)",
    )
    args = parser.parse_args(argv)
    try:
        result = build(args.notebooks, args.out, args.pdf)
    except HandoutError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"handouts for {len(result['notebooks'])} notebooks in {result['out']}: open {result['out'] / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
