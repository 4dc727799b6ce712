"""Assignments (tools/assignments.py, `make assignments`): otter-grader notebooks and autograder archives.

The build checks need no kernel. The grading checks run each notebook's autograder archive through
otter's own grader (`otter run`, no container) twice: on the instructor notebook, which must get full
marks with every public and hidden test passing, and on the untouched student notebook, which must get
zero with every test failing (so no public test can pass on the placeholder a student starts from).
Grading executes whole notebooks (about 7 minutes for the series on 2 cores); they need the text8
prefix of ../shared/data (skipped without it, like the other corpus tests).
"""

import json
import os
import re
import signal
import subprocess
import sys
import zipfile

import nbformat
import pytest
import yaml
from conftest import REPO

from tools import assignments, handouts

NOTEBOOKS = handouts.series(REPO / "notebooks")
GRADE_TIMEOUT_S = 900  # one notebook, both editions; notebook 08 (the slowest) takes about 2 minutes here

GRADER = """
import json, sys
from otter.run import main

summary = {}
for edition in ("instructor", "student"):
    results = main(f"{edition}/{sys.argv[1]}.ipynb", autograder=sys.argv[2], output_dir=None, no_logo=True)
    summary[edition] = {
        "total": results.total,
        "possible": results.possible,
        "cases": [
            {"question": name, "case": case.test_case.name, "hidden": case.test_case.hidden,
             "passed": case.passed, "message": case.message}
            for name, file in results.results.items()
            for case in file.test_case_results
        ],
    }
with open(sys.argv[3], "w") as handle:
    json.dump(summary, handle)
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("assignments") / "assignments"
    result = assignments.build(REPO / "notebooks", REPO / "exercises", out, log=lambda line: None)
    return out, result


def questions_of(path):
    return assignments.load_questions(REPO / "exercises" / f"{path.stem}.yml")


def solution_lines(notebook) -> list[str]:
    """Lines of the solutions that appear nowhere else in the notebook (what a student must not see)."""
    elsewhere = "\n".join(
        cell.source for cell in notebook.cells if handouts.SOLUTION_TAG not in cell.metadata.get("tags", [])
    )
    return [
        line.strip()
        for source in handouts.solution_sources(notebook)
        for line in source.splitlines()
        if len(line.strip()) >= 20 and line.strip() not in elsewhere
    ]


# --------------------------------------------------------------------------------------------
# Definitions and build


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_is_a_question(path):
    notebook = nbformat.read(path, as_version=4)
    questions = questions_of(path)
    assert len(questions) == len(handouts.solution_sources(notebook))
    assert [q.name for q in questions] == [f"q{path.stem[:2]}_{i}" for i in range(1, len(questions) + 1)]
    for question in questions:
        if question.manual:
            assert len(question.rubric) > 80, f"{question.name}: a rubric says what earns each point"
        else:
            assert question.tests and question.hidden


def test_build_writes_both_editions_archives_and_pages(built):
    out, result = built
    assert list(result["questions"]) == [path.stem for path in NOTEBOOKS]
    assert sorted(p.name for p in out.iterdir()) == ["autograder", "index.md", "instructor", "rubrics.md", "student"]
    for path in NOTEBOOKS:
        questions = questions_of(path)
        original = nbformat.read(path, as_version=4)
        student = nbformat.read(out / "student" / path.name, as_version=4)
        instructor = nbformat.read(out / "instructor" / path.name, as_version=4)
        student_text = (out / "student" / path.name).read_text()
        lines = solution_lines(original)
        assert lines, f"{path.name}: no solution line to look for"
        for line in lines:
            assert line not in student_text, f"{path.name}: solution line in the student notebook: {line!r}"
            assert any(line in cell.source for cell in instructor.cells), f"{path.name}: {line!r} missing"
        answers = [
            cell
            for cell in student.cells
            if cell.cell_type == "code" and "otter_answer_cell" in cell.metadata.get("tags", [])
        ]
        assert [cell.source.strip() for cell in answers] == [handouts.PLACEHOLDER_CODE.strip()] * len(questions)
        checks = [cell.source for cell in student.cells if cell.source.startswith("grader.check(")]
        assert checks == [f'grader.check("{q.name}")' for q in questions if not q.manual]
        # the student notebook carries the public tests only
        for question in questions:
            for test in question.hidden:
                assert assignments.test_names(test)[0] not in student_text
            for test in question.tests:
                assert assignments.test_names(test)[0] in student_text
        # the archive carries every test of every autograded question
        with zipfile.ZipFile(out / "autograder" / f"{path.stem}-autograder.zip") as archive:
            files = {name: archive.read(name).decode() for name in archive.namelist() if name.startswith("tests/")}
        assert sorted(files) == sorted(f"tests/{q.name}.py" for q in questions if not q.manual)
        for question in questions:
            for test in question.tests + question.hidden:
                assert assignments.test_names(test)[0] in files[f"tests/{question.name}.py"]
        for question in questions:
            if question.manual:
                rubric = [cell for cell in instructor.cells if assignments.RUBRIC_TAG in cell.metadata.get("tags", [])]
                assert any(question.rubric in cell.source for cell in rubric)
                assert question.rubric not in student_text
    rubrics = (out / "rubrics.md").read_text()
    index = (out / "index.md").read_text()
    for path in NOTEBOOKS:
        for question in questions_of(path):
            assert (f"## {question.name} " in rubrics) == question.manual
            assert f"| {question.name} |" in index


def test_bad_definitions_are_reported_clearly(tmp_path):
    good = yaml.safe_load((REPO / "exercises" / "10_autodiff.yml").read_text())
    cases = {
        "name 'q09_1' must be a new q10_M": lambda d: d["questions"][0].update(name="q09_1"),
        "either tests": lambda d: d["questions"][0].update(rubric="Full marks for anything."),
        "needs public tests and hidden tests": lambda d: d["questions"][0].update(hidden=[]),
        "one function": lambda d: d["questions"][0]["tests"].append("assert True\n"),
        "points must be a positive integer": lambda d: d["questions"][0].update(points=0),
    }
    for message, change in cases.items():
        data = json.loads(json.dumps(good))
        change(data)
        path = tmp_path / "10_autodiff.yml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(assignments.AssignmentError, match=re.escape(message)):
            assignments.load_questions(path)
    data = json.loads(json.dumps(good))
    data["questions"].pop()
    (tmp_path / "10_autodiff.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(assignments.AssignmentError, match="2 cells tagged 'solution' but 1 questions"):
        assignments.master_notebook(
            nbformat.read(REPO / "notebooks" / "10_autodiff.ipynb", as_version=4),
            assignments.load_questions(tmp_path / "10_autodiff.yml"),
            "10_autodiff",
        )


def test_a_failed_build_keeps_the_previous_assignments(tmp_path):
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "10_autodiff.yml").write_text((REPO / "exercises" / "10_autodiff.yml").read_text())
    out = tmp_path / "assignments"
    assignments.build(REPO / "notebooks", exercises, out, only=["10"], log=lambda line: None)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(assignments.AssignmentError, match="09_randomness.yml is missing"):
        assignments.build(REPO / "notebooks", exercises, out, only=["09", "10"], log=lambda line: None)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assignments", "exercises"], "no staging folder left"


def test_make_assignments_target():
    assert re.search(r"^assignments: .*\n\t.*-m tools\.assignments", (REPO / "Makefile").read_text(), re.M)


# --------------------------------------------------------------------------------------------
# Grading, through otter's grader


def grade(built_out, stem: str, workdir) -> dict:
    """Both editions of one notebook graded with its archive, in a subprocess bounded in time."""
    summary = workdir / "summary.json"
    command = [
        sys.executable,
        "-c",
        GRADER,
        stem,
        str(built_out / "autograder" / f"{stem}-autograder.zip"),
        str(summary),
    ]
    process = subprocess.Popen(
        command, cwd=built_out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=GRADE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the grader and the kernels it started
        process.communicate()
        pytest.fail(f"grading {stem} took over {GRADE_TIMEOUT_S} s")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0 and summary.exists(), output[-4000:]
    return json.loads(summary.read_text())


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_get_full_marks_and_placeholders_zero(path, built, text8_head, monkeypatch, tmp_path):
    monkeypatch.setenv("CS20_TEXT8", str(text8_head))
    questions = {q.name: q for q in questions_of(path) if not q.manual}
    results = grade(built[0], path.stem, tmp_path)

    instructor, student = results["instructor"], results["student"]
    expected_cases = sum(len(q.tests) + len(q.hidden) for q in questions.values())
    for edition in (instructor, student):
        assert edition["possible"] == sum(q.points for q in questions.values())
        assert len(edition["cases"]) == expected_cases
        for question in questions.values():
            hidden = [c["hidden"] for c in edition["cases"] if c["question"] == question.name]
            assert hidden == [False] * len(question.tests) + [True] * len(question.hidden)
    failed = [f"{c['case']}: {c['message']}" for c in instructor["cases"] if not c["passed"]]
    assert not failed, "the instructor's solutions fail tests:\n" + "\n".join(failed)
    assert instructor["total"] == instructor["possible"]

    passed = [c["case"] for c in student["cases"] if c["passed"]]
    assert not passed, f"tests that pass on the untouched placeholders: {passed}"
    assert student["total"] == 0
    # a failing public test shows its hint, never the solution
    notebook = nbformat.read(path, as_version=4)
    for case in student["cases"]:
        if not case["hidden"]:
            assert "AssertionError" in case["message"] or "Error" in case["message"]
            for line in solution_lines(notebook):
                assert line not in case["message"], f"{case['case']} shows the solution line {line!r}"
