"""Re-running cells out of order in a notebook that trains: a result cell never shows another run's results.

A student runs everything, changes a setting (NUM_TRAIN_STEPS, say), re-runs only the settings cell and the
cells below the training: each cell that reads a training run (``notebook.result(...)``) must then say, in one
line, that the run belongs to other settings and to run the training cells again, instead of showing the old
run's curves or crashing. After the setting is changed back, the same cells run again without an error.

Each notebook that records a run (``notebook.record(...)``) is executed once in a kernel of its own, in a copy
outside the repository (its runs/ folder too), with the shared text8 prefix as its corpus.
"""

import json
import os
import shutil

import nbformat
import pytest
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TRAINING = [path for path in NOTEBOOKS if "notebook.record(" in path.read_text()]

#: the settings each record was made with, as the kernel has them
SNAPSHOTS = """
import json as _json
from cs20lib import notebook as _notebook
print(_json.dumps({name: made_with for name, (made_with, _) in _notebook._results.items()}, default=str))
"""


def source(cell) -> str:
    return "".join(cell.source)


def run(client, cell, index):
    """Execute ``cell`` as the notebook's cell ``index``; an index past the end appends it (nbclient stores the
    executed cell back at its index)."""
    if index == len(client.nb.cells):
        client.nb.cells.append(cell)
    cell.outputs = []
    client.execute_cell(cell, index)
    return cell.outputs


def error_of(outputs):
    return next((output for output in outputs if output.output_type == "error"), None)


def test_the_notebooks_that_train_record_their_runs():
    assert {path.stem[:2] for path in TRAINING} >= {"02", "03", "06", "07", "08", "11"}


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", TRAINING, ids=lambda p: p.stem)
def test_result_cells_name_the_changed_setting_then_run_again(path, tmp_path, text8_head, monkeypatch):
    from nbclient import NotebookClient

    if path.stem == "12_making_it_fast":
        from cs20lib.fused_op import cannot_build

        if cannot_build():
            pytest.skip(f"notebook 12 shows the fused op, which cannot be built here: {cannot_build()}")
    monkeypatch.setenv("CS20_TEXT8", str(text8_head))
    monkeypatch.setenv("CS20_KEEP_EARLIER_RUNS", "0")
    shutil.copy(path, tmp_path / path.name)
    nb = nbformat.read(tmp_path / path.name, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=1200, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    readers = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "notebook.result(" in source(cell)]
    assert readers, f"{path.name} records a run but no cell reads it with notebook.result(...)"
    with client.setup_kernel(env=dict(os.environ)):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                outputs = run(client, cell, index)
                error = error_of(outputs)
                assert error is None or "raises-exception" in cell.metadata.get("tags", []), (
                    f"{path.name}, cell {index} failed on the first run: {error.ename}: {error.evalue}"
                )
        probe = nbformat.v4.new_code_cell(SNAPSHOTS)
        snapshots = json.loads("".join(o.text for o in run(client, probe, len(nb.cells)) if o.output_type == "stream"))
        settings = {
            name: value
            for made_with in snapshots.values()
            for name, value in made_with.items()
            if isinstance(value, int) and not isinstance(value, bool)
        }
        assert settings, f"{path.name}: its recorded runs name no integer setting to change"
        change = nbformat.v4.new_code_cell("\n".join(f"{name} = {value + 1}" for name, value in settings.items()))
        run(client, change, len(nb.cells))
        for index in readers:
            outputs = run(client, nb.cells[index], index)
            error = error_of(outputs)
            assert error is not None and error.ename == "StaleResultError", (
                f"{path.name}, cell {index} ran with {settings} changed: {[o.output_type for o in outputs]}"
            )
            assert "run the training cells" in error.evalue and "\n" not in error.evalue.strip()
            assert len(outputs) == 1, f"{path.name}, cell {index} showed more than the one-line error"
        restore = nbformat.v4.new_code_cell("\n".join(f"{name} = {value}" for name, value in settings.items()))
        run(client, restore, len(nb.cells))
        for index in readers:
            error = error_of(run(client, nb.cells[index], index))
            assert error is None or "raises-exception" in nb.cells[index].metadata.get("tags", []), (
                f"{path.name}, cell {index} fails with the settings restored: {error.ename}: {error.evalue}"
            )
