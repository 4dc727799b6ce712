"""Execute the notebook series and store its outputs: `make notebooks` runs this.

    python -m tools.notebooks run [NN ...]     execute every notebook (or those numbered NN) top to bottom in a
                                               fresh cs20-word2vec kernel, in notebooks/, and store the outputs
    python -m tools.notebooks normalize        only rewrite the notebooks' metadata (below)
    python -m tools.notebooks times            each notebook's run time and its cells over 10 s, from the
                                               execution timestamps stored with the outputs
    python -m tools.notebooks syllabus         rewrite notebooks/README.md, the course map (``run`` does it too)

Every stored notebook names the course's kernel (``cs20-word2vec``, display name "Python 3 (cs20-word2vec)")
and no Python version: the kernel's ``language_info.version`` is dropped, so that a notebook executed
under any supported Python stores the same metadata. Cells keep nbclient's execution timestamps,
which is where the syllabus's measured run times come from (:func:`run_seconds`).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
KERNEL = {"name": "cs20-word2vec", "display_name": "Python 3 (cs20-word2vec)", "language": "python"}
TIMEOUT = 1200  # seconds a cell may run
LONG_CELL = 10.0  # seconds: a cell that runs longer first says what it is doing
SYLLABUS_PAGE = NOTEBOOK_DIR / "README.md"
#: the course map: each notebook's part (the lecture's core, or beyond it) and the notebooks to read first
SYLLABUS = {
    "00": ("core", []),
    "01": ("core", ["00"]),
    "02": ("core", ["01"]),
    "03": ("core", ["02"]),
    "04": ("core", ["03"]),
    "05": ("core", ["04"]),
    "06": ("core", ["03"]),
    "07": ("core", ["03"]),
    "08": ("core", ["02", "07"]),
    "09": ("core", ["03"]),
    "10": ("core", ["02"]),
    "11": ("beyond", ["04", "06"]),
    "12": ("beyond", ["03", "10"]),
}


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


def rounded_time(seconds: float | None) -> str:
    """A run time as the syllabus gives it: to 5 s below two minutes, to the half minute above."""
    if seconds is None:
        return "not run yet"
    if seconds < 120:
        return f"{max(5, 5 * round(seconds / 5))} s"
    return f"{round(seconds / 30) / 2:g} min"


def syllabus(paths: list[Path] | None = None) -> str:
    """notebooks/README.md: the course map, each notebook's measured run time from its stored timestamps."""
    from tools.handouts import title_and_summary

    paths = paths if paths is not None else series()
    rows, total = [], 0.0
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        title, summary = title_and_summary(notebook, path)
        part, needs = SYLLABUS[path.name[:2]]
        seconds = run_seconds(notebook)
        total += seconds or 0.0
        rows.append(
            f"| [{path.name[:2]}]({path.name}) | {title.split('·', 1)[-1].strip()} | {summary} | "
            f"{', '.join(needs) or 'none'} | {rounded_time(seconds)} | {part} |"
        )
    core = [path.name[:2] for path in paths if SYLLABUS[path.name[:2]][0] == "core"]
    return "\n".join(
        [
            "# The notebooks: a course map",
            "",
            "<!-- written by `python -m tools.notebooks syllabus` (and `make notebooks`): edit tools/notebooks.py -->",
            "",
            textwrap.fill(
                f"Notebooks {core[0]}-{core[-1]} are the lecture's core: word2vec on text8 with NCE, structuring "
                "the model, name and variable scopes, collections, checkpoints, summaries and TensorBoard, the "
                "projector and t-SNE, seeds and autodiff, each in the lecture's TF1 idiom (`tf.compat.v1`, in its "
                "own `tf.Graph`) beside TensorFlow 2's. The notebooks marked *beyond* go further than the lecture "
                "did. Open them in order in JupyterLab (`make lab`, or `jupyter lab` in a folder written by `cs20 "
                "notebooks DIR`); each runs top to bottom in a fresh kernel. *Run time* is the time the stored "
                "outputs took to make, top to bottom on the course's 2-core reference machine (all "
                f"{len(paths)}: {rounded_time(total)}); *read first* names the notebooks each one builds on.",
                width=105,
                break_on_hyphens=False,
            ),
            "",
            "| # | notebook | what it covers | read first | run time | part |",
            "|---|---|---|---|---:|---|",
            *rows,
            "",
            "[TF1_to_TF2.md](TF1_to_TF2.md) puts the TF1 -> TF2 tables of the notebooks on one page. Each notebook",
            "ends with a recap and questions to check yourself; the exercises' solutions are in the instructor",
            "edition (`make handouts`, `make assignments`).",
            "",
        ]
    )


def write_syllabus() -> Path:
    SYLLABUS_PAGE.write_text(syllabus(), encoding="utf-8")
    return SYLLABUS_PAGE


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
    parser.add_argument("command", choices=["run", "normalize", "times", "syllabus"])
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
    if args.command == "syllabus":
        print(f"written: {write_syllabus()}")
        return 0
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
    if args.command == "run":
        print(f"written: {write_syllabus()} (the course map, with the new run times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
