"""Handouts (tools/handouts.py): both editions, the index, the student zip; no browser needed here.

The browser checks of the same pages (console errors, images, print layout, PDFs) are in
tests/test_browser.py.
"""

import ast
import json
import re
import zipfile

import nbformat
import pytest
from conftest import REPO

from tools import handouts

NOTEBOOKS = handouts.series(REPO / "notebooks")
PNG_1x1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="


def small_notebook(number: int, summary: str = "A one-line summary.") -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["cs20"] = {"summary": summary}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {number:02d} · Topic {number}\n\nInline math $x^2$ and display "
            f"math:\n\n$$\\frac{{a}}{{b}}$$\n\nA `$HOME` in code stays as is."
        ),
        nbformat.v4.new_code_cell(
            "print('shown to everyone')",
            execution_count=1,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="shown to everyone\n")],
        ),
        nbformat.v4.new_code_cell(
            "plot()",
            execution_count=2,
            outputs=[nbformat.v4.new_output("display_data", data={"image/png": PNG_1x1, "text/plain": "<Figure>"})],
        ),
        nbformat.v4.new_markdown_cell("## Exercises\n\n1. Square seven."),
        nbformat.v4.new_code_cell(
            "secret_answer = 7 ** 2\nprint(secret_answer)",
            execution_count=3,
            metadata={"tags": ["solution"]},
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="49\n")],
        ),
    ]
    return notebook


@pytest.fixture
def series_dir(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for number in (1, 0):
        nbformat.write(
            small_notebook(number, summary=f"Summary of topic {number}."), folder / f"{number:02d}_topic.ipynb"
        )
    return folder


def test_student_edition_replaces_only_solution_cells():
    notebook = small_notebook(3)
    student = handouts.student_edition(notebook)
    assert len(student.cells) == len(notebook.cells)
    for before, after in zip(notebook.cells, student.cells):
        if "solution" in before.metadata.get("tags", []):
            assert after.source == handouts.PLACEHOLDER_CODE and after.outputs == [] and after.execution_count is None
            assert after.metadata["tags"] == ["exercise-placeholder"]
        else:
            assert after == before
    assert "secret_answer" in notebook.cells[4].source  # the original is not modified


def test_build_writes_both_editions_index_and_zip(series_dir, tmp_path):
    out = tmp_path / "handouts"
    result = handouts.build(series_dir, out, pdf="no", log=lambda line: None)
    assert result["notebooks"] == ["00_topic", "01_topic"]
    index = (out / "index.html").read_text()
    assert index.index("00 · Topic 0") < index.index("01 · Topic 1")
    assert (
        "Summary of topic 0." in index
        and 'href="student/01_topic.html"' in index
        and 'href="instructor/00_topic.html"' in index
    )
    assert "core · read first: none · run time: not run yet" in index  # the course map's line (tools/notebooks.py)
    instructor = (out / "instructor" / "00_topic.html").read_text()
    student = (out / "student" / "00_topic.html").read_text()
    assert "secret_answer" in instructor and "49" in instructor
    assert "secret_answer" not in student and "Exercise: your answer here" in student
    assert "shown to everyone" in student
    for page in (instructor, student):
        assert "<script" not in page, "handouts carry no scripts"
        assert not re.search(r"""(src=|<link[^>]*href=)["']?(https?:)?//""", page), (
            "handouts load nothing from the network"
        )
        assert f"data:image/png;base64,{PNG_1x1}" in page
        assert page.count("<math") == 2 and "$x^2$" not in page
        assert "$HOME" in page  # a dollar sign in code is not math
        assert "@media print" in page
    with zipfile.ZipFile(out / handouts.ZIP_NAME) as archive:
        names = sorted(archive.namelist())
        assert names == [
            "cs20-word2vec-notebooks/00_topic.ipynb",
            "cs20-word2vec-notebooks/01_topic.ipynb",
            "cs20-word2vec-notebooks/README.txt",
        ]
        zipped = nbformat.reads(archive.read("cs20-word2vec-notebooks/00_topic.ipynb").decode(), as_version=4)
    nbformat.validate(zipped)
    assert zipped.cells[1].outputs[0]["text"] == "shown to everyone\n"  # outputs kept
    assert zipped.cells[4].source == handouts.PLACEHOLDER_CODE and zipped.cells[4].outputs == []


def test_a_failed_build_keeps_the_previous_handouts(series_dir, tmp_path):
    out = tmp_path / "handouts"
    handouts.build(series_dir, out, pdf="no", log=lambda line: None)
    before = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    broken = small_notebook(2)
    del broken.metadata["cs20"]
    nbformat.write(broken, series_dir / "02_topic.ipynb")
    with pytest.raises(handouts.HandoutError, match="cs20.summary"):
        handouts.build(series_dir, out, pdf="no", log=lambda line: None)
    after = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert after == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["handouts", "notebooks"], (
        "no staging folder left behind"
    )


def test_index_titles_show_code_spans_as_code():
    assert (
        handouts.inline_code("06 · `Saver` & `Checkpoint`") == "06 · <code>Saver</code> &amp; <code>Checkpoint</code>"
    )


def test_bad_input_is_reported_clearly(tmp_path, capsys):
    assert handouts.main(["--notebooks", str(tmp_path), "--out", str(tmp_path / "out"), "--pdf", "no"]) == 2
    assert "no notebooks named NN_name.ipynb" in capsys.readouterr().err
    with pytest.raises(handouts.HandoutError, match="simplify it"):
        handouts.tex_to_mathml("\\frac{", display=False)


def test_pdf_yes_without_chromium_says_how_to_get_it(series_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CS20_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(handouts.HandoutError, match="apt-get install chromium"):
        handouts.build(series_dir, tmp_path / "out", pdf="yes", log=lambda line: None)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_title_and_a_summary(path):
    title, summary = handouts.title_and_summary(nbformat.read(path, as_version=4), path)
    assert title.startswith(path.stem[:2] + " · ")
    assert 30 <= len(summary) <= 140 and "\n" not in summary


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_student_edition_still_runs_top_to_bottom(path):
    """No cell after a solution reads a name that only the solution defines (so the placeholders break nothing)."""
    defined_outside, solution_only = set(), set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(source)
        stored = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
        stored |= {
            alias.asname or alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        stored |= {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        if "solution" in cell.metadata.get("tags", []):
            solution_only |= stored - defined_outside
            continue
        loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        missing = (loaded & solution_only) - defined_outside - stored
        assert not missing, f"{path.name}: a later cell uses {sorted(missing)}, defined only in a solution"
        defined_outside |= stored


def test_make_handouts_and_lab_targets():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^handouts: .*\n\t.*-m tools\.handouts", makefile, re.M)
    lab = re.search(r"^lab: .*\n\t(.*)", makefile, re.M)[1]
    assert lab.startswith("cd notebooks && ") and "default_kernel_name=cs20-word2vec" in lab
    assert json.loads((REPO / "tools" / "templates" / "handout" / "conf.json").read_text())["base_template"] == "lab"


def test_pdf_auto_without_chromium_builds_html_and_says_why(series_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CS20_CHROMIUM", str(tmp_path / "no-such-browser"))
    lines = []
    result = handouts.build(series_dir, tmp_path / "out", pdf="auto", log=lines.append)
    assert result["pdf"] is False and (tmp_path / "out" / "student" / "00_topic.html").exists()
    assert not list((tmp_path / "out").rglob("*.pdf"))
    assert any("PDF handouts skipped" in line and "apt-get install chromium" in line for line in lines)
    assert "(PDF)" not in (tmp_path / "out" / "index.html").read_text()


def test_the_index_carries_the_course_map_and_the_cheat_sheet(tmp_path):
    out = tmp_path / "handouts"
    handouts.build(REPO / "notebooks", out, pdf="no", log=lambda line: None)
    index = (out / "index.html").read_text()
    assert index.count("read first:") == len(handouts.series(REPO / "notebooks"))
    assert "beyond · read first:" in index and 'href="tf1_to_tf2.html"' in index
    sheet = (out / "tf1_to_tf2.html").read_text()
    assert "<table>" in sheet and "<code>tf.GradientTape</code>" in sheet and "<script" not in sheet
