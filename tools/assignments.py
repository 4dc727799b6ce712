"""Self-checking exercises built with otter-grader: `make assignments` runs this.

Each notebook's exercises are its cells tagged ``solution``; ``exercises/NN_name.yml`` defines one
question per solution cell, in the same order: its name (``qNN_M``), points, and either tests
(public ones a student runs with ``grader.check("qNN_M")``, hidden ones only the autograder runs)
or, for an answer that is a plot or prose, a rubric for the person grading it.

From each notebook this writes an otter-format master notebook and runs ``otter assign`` on it.
Into ``assignments/`` (or ``--out``):

* ``student/NN_name.ipynb``: the notebook with each solution cell replaced by an "Exercise: your
  answer here" placeholder followed by its check cell (public tests only, stored in the notebook's
  metadata, so the notebook is all a student needs); other cells and their outputs as stored;
* ``instructor/NN_name.ipynb``: the same with the solutions, and the rubrics of the hand-graded
  questions under their answers;
* ``autograder/NN_name-autograder.zip``: otter's autograder archive (public and hidden tests), for
  ``otter run -a autograder/NN_name-autograder.zip submission.ipynb`` in the course environment or
  an upload to Gradescope;
* ``rubrics.md``: every hand-graded question with its points and rubric;
* ``index.md``: the questions of each notebook, their points and how many tests each has.

Grading executes the whole submitted notebook (otter's way), so a question's hidden tests see the
notebook's state right after its answer cell (otter runs each question's tests where its check
cell is). Everything is written into a staging folder and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from tools.handouts import PLACEHOLDER_CODE, SOLUTION_TAG, series, swap_in

REPO = Path(__file__).resolve().parent.parent

EXERCISES_DIR = REPO / "exercises"
RUBRIC_TAG = "rubric"
NAME = re.compile(r"^q(\d\d)_(\d+)$")
TEST_FUNCTION = re.compile(r"^def (test_\w+)\(", re.M)

ASSIGNMENT_CONFIG = {
    "init_cell": True,
    "check_all_cell": False,
    "export_cell": False,
    "run_tests": False,  # tests/test_assignments.py grades both editions instead
    "solutions_pdf": False,
    "template_pdf": False,
    "tests": {"files": False, "ok_format": False},  # exception-based tests, stored in the notebooks
    "generate": {"pdf": False, "show_stdout": False, "show_hidden": False},
}


class AssignmentError(RuntimeError):
    """The exercises cannot be built; the message says what to fix."""


@dataclass
class Question:
    """One exercise: its otter name, points, and tests or a rubric."""

    name: str
    points: int
    answer: str
    tests: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    rubric: str = ""

    @property
    def manual(self) -> bool:
        return bool(self.rubric)


def test_names(source: str) -> list[str]:
    return TEST_FUNCTION.findall(source)


def load_questions(path: Path) -> list[Question]:
    """The questions of ``exercises/NN_name.yml``, checked: names, points, tests or a rubric."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise AssignmentError(f"{path.name}: expected a mapping with a 'questions' list")
    number = Path(path).stem[:2]
    questions, seen = [], set()
    for index, entry in enumerate(data["questions"], start=1):
        where = f"{path.name}, question {index}"
        unknown = set(entry) - {"name", "points", "answer", "tests", "hidden", "rubric"}
        if unknown:
            raise AssignmentError(f"{where}: unknown keys {sorted(unknown)}")
        name = entry.get("name", "")
        if NAME.match(name) is None or NAME.match(name)[1] != number or name in seen:
            raise AssignmentError(f"{where}: name {name!r} must be a new q{number}_M")
        seen.add(name)
        points = entry.get("points")
        if not isinstance(points, int) or points <= 0:
            raise AssignmentError(f"{where}: points must be a positive integer")
        question = Question(
            name=name,
            points=points,
            answer=str(entry.get("answer", "")).strip(),
            tests=[textwrap.dedent(test).strip() + "\n" for test in entry.get("tests", [])],
            hidden=[textwrap.dedent(test).strip() + "\n" for test in entry.get("hidden", [])],
            rubric=str(entry.get("rubric", "")).strip(),
        )
        if question.manual == bool(question.tests or question.hidden):
            raise AssignmentError(f"{where}: give either tests (public, and hidden) or a rubric, not both")
        if not question.manual and not (question.tests and question.hidden):
            raise AssignmentError(f"{where}: an autograded question needs public tests and hidden tests")
        if not question.answer:
            raise AssignmentError(f"{where}: say what the answer cell must define ('answer')")
        names = []
        for test in question.tests + question.hidden:
            found = test_names(test)
            if len(found) != 1:
                raise AssignmentError(f"{where}: each test is one function 'def test_...(names it reads):'")
            names += found
        if len(set(names)) != len(names):
            raise AssignmentError(f"{where}: test function names repeat")
        questions.append(question)
    return questions


# --------------------------------------------------------------------------------------------
# Otter's master notebook


def raw(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(source)


def test_cell(source: str, hidden: bool) -> nbformat.NotebookNode:
    config = f'""" # BEGIN TEST CONFIG\nhidden: {str(hidden).lower()}\n""" # END TEST CONFIG\n'
    return nbformat.v4.new_code_cell(config + source)


def answer_prompt(question: Question) -> str:
    kind = "graded by hand with a rubric" if question.manual else "checked by the cell below it"
    return f"*{question.name}* ({question.points} points, {kind}). {question.answer}"


def question_cells(question: Question, solution: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The otter question block replacing one solution cell."""
    config = {"name": question.name, "points": question.points}
    if question.manual:
        config["manual"] = True
    cells = [
        raw("# BEGIN QUESTION\n" + yaml.safe_dump(config, sort_keys=False)),
        nbformat.v4.new_markdown_cell(answer_prompt(question)),
        raw("# BEGIN SOLUTION"),
    ]
    if solution.cell_type == "code":
        body = PLACEHOLDER_CODE + "# BEGIN SOLUTION NO PROMPT\n" + solution.source + "\n# END SOLUTION\n"
        cells.append(nbformat.v4.new_code_cell(body, metadata={"tags": ["exercise-answer"]}))
    else:
        cells.append(nbformat.v4.new_markdown_cell(solution.source))
    if question.manual:
        cells.append(
            nbformat.v4.new_markdown_cell(
                f"**Rubric ({question.points} points)**\n\n{question.rubric}", metadata={"tags": [RUBRIC_TAG]}
            )
        )
    cells.append(raw("# END SOLUTION"))
    if not question.manual:
        cells.append(raw("# BEGIN TESTS"))
        cells += [test_cell(test, hidden=False) for test in question.tests]
        cells += [test_cell(test, hidden=True) for test in question.hidden]
        cells.append(raw("# END TESTS"))
    cells.append(raw("# END QUESTION"))
    return cells


def master_notebook(notebook: nbformat.NotebookNode, questions: list[Question], stem: str) -> nbformat.NotebookNode:
    """``notebook`` in otter's master format: each solution cell becomes its question's block."""
    solutions = [cell for cell in notebook.cells if SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])]
    if len(solutions) != len(questions):
        raise AssignmentError(
            f"{stem}: {len(solutions)} cells tagged '{SOLUTION_TAG}' but {len(questions)} questions in "
            f"exercises/{stem}.yml (one question per solution cell, in order)"
        )
    master = copy.deepcopy(notebook)
    config = dict(ASSIGNMENT_CONFIG, name=stem)
    cells = [raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False))]
    answers = iter(questions)
    for cell in master.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            cells += question_cells(next(answers), cell)
        else:
            cells.append(cell)
    master.cells = cells
    return master


# --------------------------------------------------------------------------------------------
# Build


def run_otter_assign(master: Path, result: Path) -> None:
    from otter.assign import main as otter_assign

    try:
        otter_assign(str(master), str(result), no_pdfs=True, no_run_tests=True)
    except Exception as error:  # otter raises many kinds; name the notebook
        raise AssignmentError(f"otter assign failed on {master.name}: {type(error).__name__}: {error}") from error


def rubric_page(entries: list[tuple[str, list[Question]]]) -> str:
    lines = ["# Hand-graded questions and their rubrics", ""]
    for stem, questions in entries:
        for question in questions:
            if question.manual:
                lines += [f"## {question.name} ({stem}, {question.points} points)", "", question.rubric, ""]
    return "\n".join(lines)


def index_page(entries: list[tuple[str, list[Question]]]) -> str:
    lines = [
        "# cs20-word2vec assignments",
        "",
        "| notebook | question | points | graded by | public tests | hidden tests |",
        "|---|---|---|---|---|---|",
    ]
    for stem, questions in entries:
        for question in questions:
            by = "rubric (rubrics.md)" if question.manual else "autograder"
            counts = f"{len(question.tests)} | {len(question.hidden)}"
            lines.append(f"| {stem} | {question.name} | {question.points} | {by} | {counts} |")
    return "\n".join(lines) + "\n"


def build(notebook_dir: Path, exercises_dir: Path, out: Path, only: list[str] | None = None, log=print) -> dict:
    """Student and instructor notebooks, autograder archives, rubrics and an index, into ``out``.

    ``only``: the notebooks to build, by number ("10") or stem; all of them by default.
    """
    paths = [path for path in series(notebook_dir) if not only or path.stem[:2] in only or path.stem in only]
    if not paths:
        raise AssignmentError(f"no notebook of {notebook_dir} matches {only}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)
    entries = []
    try:
        for folder in ("student", "instructor", "autograder"):
            (staging / folder).mkdir()
        with tempfile.TemporaryDirectory(prefix="cs20-otter-") as work:
            for path in paths:
                definition = Path(exercises_dir) / f"{path.stem}.yml"
                if not definition.exists():
                    raise AssignmentError(f"{path.name}: its exercises are not defined ({definition} is missing)")
                questions = load_questions(definition)
                master = Path(work) / path.stem / f"{path.stem}.ipynb"
                master.parent.mkdir()
                nbformat.write(master_notebook(nbformat.read(path, as_version=4), questions, path.stem), master)
                result = Path(work) / path.stem / "dist"
                run_otter_assign(master, result)
                shutil.copy2(result / "student" / master.name, staging / "student" / master.name)
                shutil.copy2(result / "autograder" / master.name, staging / "instructor" / master.name)
                (archive,) = (result / "autograder").glob("*-autograder_*.zip")
                shutil.copy2(archive, staging / "autograder" / f"{path.stem}-autograder.zip")
                entries.append((path.stem, questions))
                log(f"assign {path.stem}: {len(questions)} questions")
        (staging / "rubrics.md").write_text(rubric_page(entries), encoding="utf-8")
        (staging / "index.md").write_text(index_page(entries), encoding="utf-8")
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"out": out, "questions": {stem: [q.name for q in questions] for stem, questions in entries}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks", help="folder of NN_name.ipynb notebooks")
    parser.add_argument("--exercises", type=Path, default=EXERCISES_DIR, help="folder of NN_name.yml question files")
    parser.add_argument("--out", type=Path, default=REPO / "assignments", help="output folder (replaced on success)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="build only these notebooks (by number or name)")
    args = parser.parse_args(argv)
    try:
        result = build(args.notebooks, args.exercises, args.out, args.only)
    except AssignmentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    count = sum(len(names) for names in result["questions"].values())
    print(f"{count} questions from {len(result['questions'])} notebooks in {result['out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
