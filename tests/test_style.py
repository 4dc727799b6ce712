"""The code style gate: ruff's lint and formatter (pinned in pyproject's test extra, configured there).

Fix what these report with `ruff format . && ruff check --fix .` (then re-execute a changed notebook).
"""

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_passes_on_the_whole_tree(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


QUICK = "not slow and not browser and not network and not notebooks"


def test_make_check_is_the_quick_loop_and_make_test_the_whole_gate():
    """`make check` selects the unit tests only; the heavy ones carry markers, so it leaves them out."""
    import re

    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^check: .*\n\t.*pytest tests -m \"" + QUICK + '"', makefile, re.M)
    assert re.search(r"^test: .*\n\t.*pytest \$\(PYTEST_ARGS\)$", makefile, re.M), "make test selects nothing out"
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", QUICK, "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.splitlines()
    items = [line for line in collected if "::" in line]
    heavy = ("test_distributed.py", "test_cluster.py", "test_browser.py", "test_slides_browser.py", "test_native.py")
    assert len(items) > 300 and not [item for item in items if item.split("::")[0].endswith(heavy)]
    assert not [item for item in items if "fresh_venv" in item or "resolves_for_every" in item or "as_good_as" in item]
