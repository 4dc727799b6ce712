"""cs20lib.course: the series written into a student's folder (never over their changes), and the supported Pythons."""

import json
import re
import subprocess
import sys
import tomllib

import pytest
from conftest import REPO

from cs20lib import course

NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def requires_python_of_pyproject() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]


def test_the_supported_range_is_read_from_the_one_home():
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(course.requires_python()) == SpecifierSet(requires_python_of_pyproject())
    supported = course.supported_pythons()
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert running in supported
    assert course.check_python() == running


@pytest.mark.parametrize(
    ("specifier", "expected"),
    [(">=3.20,<3.23", ["3.20", "3.21", "3.22"]), (">=3.20.5,<3.22", ["3.20", "3.21"]), ("==3.21.*", ["3.21"])],
)
def test_supported_pythons_lists_every_admitted_minor_version(specifier, expected):
    assert course.supported_pythons(specifier) == expected


def test_an_unsupported_python_is_named_with_every_supported_one():
    below = [int(part) for part in course.supported_pythons()[0].split(".")]
    with pytest.raises(RuntimeError) as error:
        course.check_python((below[0], below[1] - 1, 9))
    message = str(error.value)
    for version in course.supported_pythons():
        assert version in message
    assert f"{below[0]}.{below[1] - 1}.9" in message and "requires-python" in message


def test_the_series_is_the_notebooks_folder():
    assert course.series() == NOTEBOOKS


def written(folder):
    return {path.name: json.loads(path.read_text()) for path in folder.glob("[0-9][0-9]_*.ipynb")}


def test_the_series_is_written_with_the_environments_kernel_and_stored_outputs(tmp_path):
    paths = course.write_notebooks(tmp_path / "mine", log=lambda line: None)
    assert [path.name for path in paths] == NOTEBOOKS + ["README.md", "TF1_to_TF2.md"]
    for page in ("README.md", "TF1_to_TF2.md"):  # the course map and the cheat sheet go with them
        assert (tmp_path / "mine" / page).read_text() == (REPO / "notebooks" / page).read_text()
    notebooks = written(tmp_path / "mine")
    for name, notebook in notebooks.items():
        original = json.loads((REPO / "notebooks" / name).read_text())
        assert notebook["metadata"]["kernelspec"]["name"] == "python3"
        assert notebook["cells"] == original["cells"], f"{name}: cells and stored outputs are kept as they are"


def test_the_student_edition_has_placeholders_instead_of_solutions(tmp_path):
    course.write_notebooks(tmp_path, edition="student", log=lambda line: None)
    for name, notebook in written(tmp_path).items():
        original = json.loads((REPO / "notebooks" / name).read_text())
        solutions = ["".join(c["source"]) for c in original["cells"] if "solution" in c["metadata"].get("tags", [])]
        text = json.dumps(notebook)
        assert solutions and all(json.dumps(source)[1:-1] not in text for source in solutions if len(source) > 40)
        placeholders = [c for c in notebook["cells"] if course.PLACEHOLDER_TAG in c["metadata"].get("tags", [])]
        assert len(placeholders) == len(solutions), name
        assert all(c.get("outputs", []) == [] for c in placeholders)


def test_a_changed_notebook_is_never_overwritten(tmp_path):
    lines = []
    course.write_notebooks(tmp_path, log=lines.append)
    mine = tmp_path / NOTEBOOKS[2]
    changed = mine.read_text().replace(
        '"cells": [', '"cells": [{"cell_type": "markdown", "metadata": {}, "source": "my notes"}, ', 1
    )
    mine.write_text(changed)
    other = tmp_path / NOTEBOOKS[3]
    other.unlink()  # a missing one is simply written again
    with pytest.raises(course.NotebookConflictError, match=re.escape(NOTEBOOKS[2])) as error:
        course.write_notebooks(tmp_path, log=lines.append)
    assert "Nothing was written" in str(error.value) and "--force" in str(error.value)
    assert mine.read_text() == changed and not other.exists()

    course.write_notebooks(tmp_path, force=True, log=lines.append)
    (aside,) = tmp_path.glob("replaced-*")
    assert (aside / NOTEBOOKS[2]).read_text() == changed, "--force keeps the student's file"
    assert json.loads(mine.read_text())["cells"] == json.loads((REPO / "notebooks" / NOTEBOOKS[2]).read_text())["cells"]
    assert other.exists()


def test_an_unchanged_earlier_version_is_updated_and_an_identical_one_left_alone(tmp_path):
    course.write_notebooks(tmp_path, log=lambda line: None)
    path = tmp_path / NOTEBOOKS[0]
    manifest = json.loads((tmp_path / course.MANIFEST).read_text())
    older = path.read_text().replace("Setup", "Set-up", 1)  # what an earlier release wrote, untouched since
    path.write_text(older)
    manifest[path.name] = course._digest(older.encode())
    (tmp_path / course.MANIFEST).write_text(json.dumps(manifest))
    lines = []
    course.write_notebooks(tmp_path, log=lines.append)
    up_to_date = len(NOTEBOOKS) - 1 + len(course.COMPANION_PAGES)  # the other notebooks and the companion pages
    assert path.read_text() != older and "1 updated" in lines[-1] and f"{up_to_date} up to date" in lines[-1]


def test_the_command_line_writes_the_series_and_refuses_to_overwrite(tmp_path):
    command = [sys.executable, "-m", "cs20lib", "notebooks", str(tmp_path / "nb"), "--edition", "student"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "student notebooks in" in done.stdout and "python3" in done.stdout
    (tmp_path / "nb" / NOTEBOOKS[0]).write_text("{}")
    again = subprocess.run(command[:-2], capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert NOTEBOOKS[0] in again.stderr and "--force" in again.stderr
    assert (tmp_path / "nb" / NOTEBOOKS[0]).read_text() == "{}"
