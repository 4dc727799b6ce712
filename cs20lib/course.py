"""The course as files: the notebook series written where a student works, and the Pythons it supports.

The numbered notebooks travel inside the package with their stored outputs (the package
``cs20lib.series``: the clone's ``notebooks/`` folder, which the wheel carries), so a course installed
with ``pip install cs20-word2vec`` needs no clone. :func:`write_notebooks` (``python -m cs20lib notebooks
DIR``, or the ``cs20`` script) writes them into a folder, set to run in the environment's own kernel
(``python3``), in the instructor edition (solutions shown) or the student edition (each ``solution``
cell replaced by an "Exercise: your answer here" placeholder, as in the handouts).

A notebook a student has changed is never overwritten: the folder remembers what was written
(``.cs20-notebooks.json``, a SHA-256 per file); a file that no longer matches it is the student's. If any
would be replaced, nothing is written and the message names them; ``force=True`` (``--force``) moves
them into ``DIR/replaced-<time>/`` first, so nothing is lost.

The supported Pythons have one home, the project's ``requires-python`` (read from the installed
package's metadata, or from ``pyproject.toml`` in a source tree): :func:`supported_pythons` lists the
minor versions it admits, and :func:`check_python` is notebook 00's check.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from importlib import metadata, resources
from pathlib import Path

from .files import write_text_atomic

__all__ = [
    "EDITIONS",
    "NotebookConflictError",
    "check_python",
    "pinned_versions",
    "recorded_result",
    "requires_python",
    "series",
    "student_edition",
    "supported_pythons",
    "write_notebooks",
]

DISTRIBUTION = "cs20-word2vec"
SERIES_PACKAGE = "cs20lib.series"
RESULTS_PACKAGE = "cs20lib.benchmark_results"
MANIFEST = ".cs20-notebooks.json"
EDITIONS = ("instructor", "student")
SOLUTION_TAG = "solution"
PLACEHOLDER_TAG = "exercise-placeholder"
PLACEHOLDER_CODE = "# Exercise: your answer here\n"
PLACEHOLDER_MARKDOWN = "*Exercise: your answer here*"
#: the kernel every Jupyter environment has: the Python that runs Jupyter's ipykernel
DEFAULT_KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookConflictError(RuntimeError):
    """Writing the notebooks would replace ones a student changed; the message names them and what to do."""


# ----------------------------------------------------------------------------------------------
# Supported Pythons
# ----------------------------------------------------------------------------------------------
def requires_python() -> str:
    """The project's ``requires-python`` (e.g. ``">=3.11,<3.14"``): from the installed package's metadata,
    else from ``pyproject.toml`` beside the package (a source tree that was not installed)."""
    try:
        value = metadata.metadata(DISTRIBUTION).get("Requires-Python")
    except metadata.PackageNotFoundError:
        value = None
    if not value:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        if not pyproject.is_file():
            raise RuntimeError(f"cannot tell which Pythons are supported: {DISTRIBUTION} is not installed")
        value = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["requires-python"]
    # lower bounds first, as people write them (the metadata may list them in another order)
    return ",".join(sorted((part.strip() for part in value.split(",")), key=lambda part: not part.startswith(">")))


def supported_pythons(specifier: str | None = None) -> list[str]:
    """The minor versions ``requires-python`` admits, oldest first: ``["3.A", ..., "3.B"]`` for ``">=3.A,<3.(B+1)"``."""
    from packaging.specifiers import SpecifierSet

    allowed = SpecifierSet(specifier if specifier is not None else requires_python())
    # a minor version counts when any of its releases is admitted (">=3.11.5" still admits 3.11)
    return [
        f"3.{minor}"
        for minor in range(0, 40)
        if any(allowed.contains(f"3.{minor}.{patch}", prereleases=True) for patch in range(0, 30))
    ]


def _names(versions: list[str]) -> str:
    return versions[0] if len(versions) == 1 else ", ".join(versions[:-1]) + " or " + versions[-1]


def check_python(version_info=None) -> str:
    """This Python's ``major.minor`` if the course supports it; else RuntimeError naming every supported one."""
    version_info = sys.version_info if version_info is None else version_info
    running = f"{version_info[0]}.{version_info[1]}"
    supported = supported_pythons()
    if running not in supported:
        raise RuntimeError(
            f"this course runs on Python {_names(supported)} (requires-python {requires_python()}), but this kernel "
            f"runs Python {'.'.join(map(str, version_info[:3]))}: make a course environment with one of them "
            f"(make venv PYTHON=/path/to/python3.X, or pip install cs20-word2vec in it) and choose its kernel"
        )
    return running


def pinned_versions() -> dict[str, str]:
    """The exact versions the course pins for what it runs on (``name==version`` in its requirements), e.g.
    ``{"tensorflow": "2.21.0", ...}``: from the installed metadata, else from ``pyproject.toml``."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        requirements = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = {}
    for requirement in requirements:
        if "extra ==" in requirement:
            continue
        name, _, version = requirement.split(";")[0].partition("==")
        if version:
            pins[name.strip().lower()] = version.strip()
    return pins


# ----------------------------------------------------------------------------------------------
# The series
# ----------------------------------------------------------------------------------------------
def series() -> list[str]:
    """The file names of the numbered notebooks (``NN_name.ipynb``), in order."""
    folder = resources.files(SERIES_PACKAGE)
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name.endswith(".ipynb") and entry.name[:2].isdigit() and entry.name[2] == "_"
    )
    if not names:
        raise RuntimeError(f"the package {SERIES_PACKAGE} holds no notebooks: reinstall {DISTRIBUTION}")
    return names


#: pages that go with the notebooks: the course map and the TF1 -> TF2 cheat sheet
COMPANION_PAGES = ("README.md", "TF1_to_TF2.md")


def companions() -> list[str]:
    """The companion pages the installed series carries (:data:`COMPANION_PAGES`)."""
    folder = resources.files(SERIES_PACKAGE)
    return [name for name in COMPANION_PAGES if folder.joinpath(name).is_file()]


def _load_text(name: str) -> str:
    return resources.files(SERIES_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def recorded_result(name: str) -> dict:
    """A benchmark's figures of record (``benchmarks/results/<name>.json`` in the clone, carried by the wheel):
    what the notebooks and the README quote, so that every figure has one source."""
    folder = resources.files(RESULTS_PACKAGE)
    path = folder.joinpath(f"{name}.json")
    if not path.is_file():
        known = sorted(entry.name[: -len(".json")] for entry in folder.iterdir() if entry.name.endswith(".json"))
        raise FileNotFoundError(f"no recorded benchmark result {name!r}; recorded: {', '.join(known) or 'none'}")
    return json.loads(path.read_text(encoding="utf-8"))


def _load(name: str) -> dict:
    return json.loads(resources.files(SERIES_PACKAGE).joinpath(name).read_text(encoding="utf-8"))


def student_edition(notebook: dict) -> dict:
    """A copy of ``notebook`` (nbformat 4 JSON) with each ``solution`` cell replaced by an empty placeholder.

    A code solution becomes a code cell holding only ``# Exercise: your answer here`` (no outputs, no
    execution count), a markdown solution a markdown cell saying the same; every other cell is kept.
    """
    student = json.loads(json.dumps(notebook))
    cells = []
    for cell in student["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG not in tags:
            cells.append(cell)
            continue
        metadata_ = dict(
            cell.get("metadata", {}), tags=[tag for tag in tags if tag != SOLUTION_TAG] + [PLACEHOLDER_TAG]
        )
        placeholder = {"cell_type": cell["cell_type"], "metadata": metadata_}
        if "id" in cell:
            placeholder["id"] = cell["id"]
        if cell["cell_type"] == "code":
            placeholder.update(source=PLACEHOLDER_CODE, outputs=[], execution_count=None)
        else:
            placeholder["source"] = PLACEHOLDER_MARKDOWN
        cells.append(placeholder)
    student["cells"] = cells
    return student


def _for_this_environment(notebook: dict, edition: str) -> str:
    """The notebook as written into a student's folder: the default kernel, the chosen edition."""
    notebook = student_edition(notebook) if edition == "student" else notebook
    notebook["metadata"]["kernelspec"] = dict(DEFAULT_KERNEL)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_notebooks(destination, *, edition: str = "instructor", force: bool = False, log=print) -> list[Path]:
    """Write the series into ``destination`` (created if need be); return the paths written or already there.

    A file that is already as this version would write it is left alone; one this function wrote
    before and nobody changed since is updated; any other file of the same name is the student's. If
    there are such files, nothing is written and :class:`NotebookConflictError` names them, unless
    ``force``, which first moves them into ``destination/replaced-<time>/``.
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(EDITIONS)}, not {edition!r}")
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise NotADirectoryError(f"{destination} is a file; give a folder to write the notebooks into")
    manifest_path = destination / MANIFEST
    written_before = _read_manifest(manifest_path)
    plan: list[tuple[Path, str, str]] = []  # (path, text, what happens)
    changed: list[Path] = []
    for name in series() + companions():
        text = _for_this_environment(_load(name), edition) if name.endswith(".ipynb") else _load_text(name)
        path = destination / name
        if not path.exists():
            plan.append((path, text, "new"))
            continue
        current = _digest(path.read_bytes())
        if current == _digest(text.encode("utf-8")):
            plan.append((path, text, "up to date"))
        elif written_before.get(name) == current:
            plan.append((path, text, "updated"))
        else:
            changed.append(path)
            plan.append((path, text, "replaced"))
    if changed and not force:
        raise NotebookConflictError(
            f"{len(changed)} notebook(s) in {destination} differ from what this command wrote there (your changes?): "
            + ", ".join(path.name for path in changed)
            + ". Nothing was written. Write the series into another folder, or run again with --force, which "
            "moves those files into a replaced-<time>/ folder beside them before writing."
        )
    destination.mkdir(parents=True, exist_ok=True)
    aside = None
    if changed:
        aside = destination / f"replaced-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        aside.mkdir()
        for path in changed:
            shutil.move(str(path), aside / path.name)
        log(f"moved {len(changed)} changed notebook(s) into {aside}")
    manifest = dict(written_before)
    for path, text, what in plan:
        if what != "up to date":
            write_text_atomic(path, text)
        manifest[path.name] = _digest(text.encode("utf-8"))
    write_text_atomic(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    counts = {what: sum(1 for _, _, w in plan if w == what) for what in ("new", "updated", "replaced", "up to date")}
    log(
        f"{edition} notebooks in {destination}: "
        + ", ".join(f"{count} {what}" for what, count in counts.items() if count)
        + f"; kernel {DEFAULT_KERNEL['name']!r} (this environment's Python). Open {series()[0]} first."
    )
    return [path for path, _, _ in plan]


def _read_manifest(path: Path) -> dict[str, str]:
    """What an earlier call wrote into the folder: {file name: SHA-256}; empty when unreadable or absent."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {str(name): str(digest) for name, digest in values.items()}
