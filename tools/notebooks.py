"""Execute the notebook series and store its outputs: `make notebooks` runs this.

    python -m tools.notebooks run [NN ...]     execute every notebook (or those numbered NN) top to bottom in a
                                               fresh cs20-word2vec kernel, in notebooks/, and store the outputs
    python -m tools.notebooks normalize        only rewrite the notebooks' metadata (below)
    python -m tools.notebooks times            each notebook's run time and its cells over 10 s, from the
                                               execution timestamps stored with the outputs

Every stored notebook names the course's kernel (``cs20-word2vec``, display name "Python 3 (cs20-word2vec)")
and no Python version: the kernel's ``language_info.version`` is dropped, so that a notebook executed
under any supported Python stores the same metadata. Cells keep nbclient's execution timestamps,
which is where the syllabus's measured run times come from (:func:`run_seconds`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
KERNEL = {"name": "cs20-word2vec", "display_name": "Python 3 (cs20-word2vec)", "language": "python"}
TIMEOUT = 1200  # seconds a cell may run
LONG_CELL = 10.0  # seconds: a cell that runs longer first says what it is doing


def series(names: list[str] | None = None) -> list[Path]:
    paths = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [path for path in paths if path.name[:2] in names or path.stem in names]
    return paths


def normalize(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The course's kernel spec, and no Python version in the metadata."""
    notebook.metadata["kernelspec"] = dict(KERNEL)
    notebook.metadata.get("language_info", {}).pop("version", None)
    return notebook


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def cell_seconds(cell) -> float | None:
    """How long a code cell ran when the notebook was last executed (None without timestamps)."""
    execution = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in execution or "iopub.status.idle" not in execution:
        return None
    return (_time(execution["iopub.status.idle"]) - _time(execution["iopub.execute_input"])).total_seconds()


def run_seconds(notebook: nbformat.NotebookNode) -> float | None:
    """Wall time of the notebook's last execution, first cell to last (None without timestamps)."""
    timed = [cell.metadata["execution"] for cell in notebook.cells if cell_seconds(cell) is not None]
    if not timed:
        return None
    return (_time(timed[-1]["iopub.status.idle"]) - _time(timed[0]["iopub.execute_input"])).total_seconds()


def execute(path: Path) -> float:
    """Execute one notebook in a fresh kernel in its folder, store outputs and normalized metadata; seconds taken."""
    from nbconvert.preprocessors import ExecutePreprocessor

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    os.environ["CS20_KEEP_EARLIER_RUNS"] = "0"  # rebuilt from scratch: earlier results are not kept aside
    ExecutePreprocessor(timeout=TIMEOUT, kernel_name=KERNEL["name"]).preprocess(
        notebook, {"metadata": {"path": str(path.parent)}}
    )
    nbformat.write(normalize(notebook), path)
    return time.perf_counter() - started


def text8_problem() -> str | None:
    """Why the notebooks would not read text8 here (they would fall back to the toy corpus), or None."""
    from cs20lib.download import TEXT8
    from cs20lib.files import cache_dir

    named = os.environ.get("CS20_TEXT8")
    if named:
        return None if Path(named).is_file() else f"CS20_TEXT8={named} is not a file"
    if (cache_dir() / TEXT8.filename).is_file():
        return None
    return f"text8 is neither named by CS20_TEXT8 nor cached in {cache_dir()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "normalize", "times"])
    parser.add_argument("names", nargs="*", help="notebook numbers (02) or names; default: all")
    args = parser.parse_args(argv)
    paths = series(args.names)
    if not paths:
        print(f"error: no notebook matches {args.names}", file=sys.stderr)
        return 2
    if args.command == "run" and (problem := text8_problem()):
        print(
            f"error: {problem}; the notebooks would fall back to the toy corpus and store other outputs. Set "
            f"CS20_TEXT8 to text8.zip or a copy of its first 2,139,748 words (text8_head.zip) and run again.",
            file=sys.stderr,
        )
        return 2
    for path in paths:
        if args.command == "run":
            print(f"{path.name}: {execute(path):.1f} s", flush=True)
        elif args.command == "normalize":
            nbformat.write(normalize(nbformat.read(path, as_version=4)), path)
        else:
            notebook = nbformat.read(path, as_version=4)
            seconds = run_seconds(notebook)
            long_cells = [
                f"cell {index} {cell_seconds(cell):.0f} s"
                for index, cell in enumerate(notebook.cells)
                if (cell_seconds(cell) or 0.0) > LONG_CELL
            ]
            print(f"{path.name}: {seconds or 0:.0f} s" + (f" ({', '.join(long_cells)})" if long_cells else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
