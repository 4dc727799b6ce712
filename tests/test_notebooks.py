"""The notebook series: every notebook is validated by strict nbval, executed in order, and well formed."""

import json
import re
import subprocess
import sys
import tomllib

import pytest
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
SERIES = [
    "00_setup_and_tour",
    "01_one_hot_vs_embeddings",
    "02_word2vec_nce",
    "03_structuring_a_model",
    "04_variable_sharing",
    "05_graph_collections",
    "06_managing_experiments",
    "07_summaries_and_tensorboard",
    "08_embedding_visualization",
    "09_randomness",
    "10_autodiff",
    "11_scaling_out",
    "12_making_it_fast",
]


def code_cells(path):
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def test_the_series_is_complete_and_ordered():
    assert [path.stem for path in NOTEBOOKS] == SERIES


def test_the_gate_is_strict_nbval_over_notebooks():
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "notebooks" in options["testpaths"]
    assert "--nbval " in options["addopts"] + " " and "--nbval-lax" not in options["addopts"]
    assert "nbval-lax" not in (REPO / "Makefile").read_text() + (REPO / ".ci" / "run").read_text()


def test_every_notebook_is_collected_by_nbval():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "notebooks"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {}
    for line in result.stdout.splitlines():
        match = re.match(r"notebooks/(\S+)\.ipynb::Cell (\d+)", line)
        if match:
            collected[match[1]] = collected.get(match[1], 0) + 1
    for path in NOTEBOOKS:
        cells = [cell for cell in code_cells(path) if "".join(cell["source"]).strip()]
        assert collected.get(path.stem) == len(cells), (
            f"{path.name}: nbval collected {collected.get(path.stem)} of {len(cells)} code cells"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_in_order_with_outputs(path):
    counts = [cell["execution_count"] for cell in code_cells(path) if "".join(cell["source"]).strip()]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: re-run it top to bottom in a fresh kernel (make notebooks)"
    )
    for cell in code_cells(path):
        for output in cell["outputs"]:
            assert output.get("output_type") != "error" or "raises-exception" in cell["metadata"].get("tags", []), (
                f"{path.name}: a cell shows an error but is not tagged raises-exception"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure_of_a_notebook(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "cs20-word2vec"
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    first_code = next(cell for cell in cells if cell["cell_type"] == "code")
    assert "notebook.setup()" in "".join(first_code["source"]), f"{path.name}: the first code cell is the setup cell"
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    assert "## Exercises" in text
    solutions = [cell for cell in cells if "solution" in cell["metadata"].get("tags", [])]
    assert 1 <= len(solutions) <= 6, f"{path.name}: exercises need solution cells tagged 'solution'"
    ignored = [cell for cell in code_cells(path) if "nbval-ignore-output" in cell["metadata"].get("tags", [])]
    assert len(ignored) <= 2, f"{path.name}: {len(ignored)} cells ignore their output"
    for cell in ignored:
        assert "#" in "".join(cell["source"]), f"{path.name}: an ignored cell must say why in a comment"


#: what a stored output must not show outside a cell that is meant to raise: a logged error, a traceback,
#: a Python warning (``SomethingWarning:``) or TensorFlow's logging of a warning or an error
NOISE = re.compile(
    r"^(ERROR|WARNING|CRITICAL):[\w.]+:|^Traceback \(most recent call last\)|\b\w*Warning: |"
    r"^[EW]\d{4} \d\d:\d\d:\d\d|^(ERROR|WARNING):tensorflow",
    re.MULTILINE,
)


def output_text(output) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    if output.get("output_type") == "error":
        return "\n".join(output.get("traceback", []))
    return "".join(output.get("data", {}).get("text/plain", ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stored_output_shows_an_error_or_warning_unless_the_cell_must_raise(path):
    for index, cell in enumerate(code_cells(path)):
        if "raises-exception" in cell["metadata"].get("tags", []):
            continue
        for output in cell["outputs"]:
            found = NOISE.search(output_text(output))
            assert found is None, (
                f"{path.name}, code cell {index}: its stored output shows {found.group(0)!r}; find the cause "
                "(or, if the lesson is that error, tag the cell raises-exception), then re-run the notebook"
            )


@pytest.mark.parametrize(
    "text",
    [
        "ERROR:tensorflow:Couldn't match files for checkpoint runs/x/skip-gram-1000",
        "WARNING:tensorflow:5 out of the last 5 calls to <function> triggered tf.function retracing",
        "/x/site-packages/keras/src/a.py:12: UserWarning: Do not pass an `input_shape`",
        "W0000 00:00:1733300000.000000   123 cpu_feature_guard.cc:210] This TensorFlow binary ...",
        "Traceback (most recent call last):\n  File ...",
    ],
)
def test_the_noise_check_catches_what_it_is_for(text):
    assert NOISE.search(text), text


def test_the_course_map_is_current_with_the_stored_run_times():
    from tools import notebooks

    page = (REPO / "notebooks" / "README.md").read_text()
    assert page == notebooks.syllabus(), "notebooks/README.md is stale: python -m tools.notebooks syllabus"
    assert set(notebooks.SYLLABUS) == {path.stem[:2] for path in NOTEBOOKS}
    for path in NOTEBOOKS:
        part, needs = notebooks.SYLLABUS[path.stem[:2]]
        assert part == ("beyond" if path.stem[:2] in ("11", "12") else "core")
        assert all(need < path.stem[:2] for need in needs), f"{path.stem} builds on a later notebook"
        assert f"]({path.name}) |" in page
    assert "not run yet" not in page
