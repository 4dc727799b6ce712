"""pip (pyproject.toml), conda (environment.yml), constraints.txt and the Makefile name the same pinned set and the
same supported Pythons."""

import re
import sys
import tomllib
from importlib import metadata

import yaml
from conftest import REPO

from cs20lib import course

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"not an exact pin: {line!r}"
        found[canonical(match[1])] = match[2]
    return found


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for _name, extra in project["optional-dependencies"].items():
        lines += [req for req in extra if not req.startswith("cs20-word2vec[")]
    return pins(lines)


def requires_python() -> str:
    """pyproject.toml's requires-python: the one home of the supported range."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]


def python_bounds() -> tuple[str, str]:
    """The supported Pythons: (lowest version, first version not supported), from ``>=LOW,<BELOW``."""
    match = re.fullmatch(r">=([0-9.]+),<([0-9.]+)", requires_python())
    assert match, f"requires-python is of the form >=LOW,<BELOW, not {requires_python()!r}"
    return match[1], match[2]


def supported_pythons() -> list[str]:
    """Every supported Python minor version, oldest first (cs20lib.course reads the same range)."""
    return course.supported_pythons(requires_python())


def conda_environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def conda_pip_section() -> list[str]:
    sections = [dep["pip"] for dep in conda_environment()["dependencies"] if isinstance(dep, dict)]
    assert len(sections) == 1, "environment.yml has exactly one pip: section"
    return sections[0]


def constraint_pins() -> dict[str, str]:
    lines = [line for line in (REPO / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    return pins(lines)


def test_conda_and_pip_pin_the_same_packages():
    conda = pins(line for line in conda_pip_section() if not line.startswith("-"))
    assert conda == pyproject_pins()


def test_conda_installs_the_project_with_the_same_constraints():
    section = conda_pip_section()
    assert "-c constraints.txt" in section and "-e ." in section


def test_pip_conda_make_and_the_readme_support_the_same_pythons():
    low, below = python_bounds()
    conda_packages = [dep for dep in conda_environment()["dependencies"] if isinstance(dep, str)]
    assert f"python>={low},<{below}" in conda_packages
    assert "requires-python" in (REPO / "Makefile").read_text(), "the Makefile reads the range from pyproject.toml"
    supported = supported_pythons()
    assert len(supported) >= 2 and supported == course.supported_pythons()
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Supported platforms", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in section.splitlines() if line.startswith("| |"))
    assert re.findall(r"Python (3\.\d+)", header) == supported, "the README's support table has a column per version"


def test_the_running_python_is_supported():
    low, below = (tuple(int(part) for part in version.split(".")) for version in python_bounds())
    assert low <= sys.version_info[:3] < below, f"Python {sys.version.split()[0]} is outside {python_bounds()}"


#: a Python minor version written into a file: "Python 3.NN", "python3.NN", "py3NN"/"cp3NN", "3.NN" in quotes,
#: (3, NN), 3.NN.P; package versions such as matplotlib==3.NN.P are not Python versions
PYTHON_VERSION = re.compile(
    r"[Pp]ython ?3\.\d{2}|python3\.\d{2}|\b(?:cp|py)3\d{2}\b|[\"']3\.1\d[\"']|\(3, ?1\d\)|(?<![=\w.])3\.1\d\.\d+"
)
#: the places that define or record the range: pyproject.toml (requires-python, ruff's target), environment.yml
#: (conda's python), README's "Supported platforms" section, and records of where a figure was measured
DEFINING = {"pyproject.toml", "environment.yml", "BENCHMARKS.md", "constraints.txt"}


def test_no_notebook_test_or_doc_hard_codes_a_python_minor_version():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    if not tracked:
        import pytest

        pytest.skip("not a git checkout")
    found = []
    for name in tracked:
        path = REPO / name
        if name in DEFINING or name.startswith("benchmarks/results/") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if name == "README.md":  # its support table is where the range is stated for people
            start = text.index("## Supported platforms")
            end = text.index("\n## ", start + 1)
            text = text[:start] + text[end:]
        for number, line in enumerate(text.splitlines(), 1):
            if PYTHON_VERSION.search(line) and "constraints.txt" not in line:
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "Python minor versions hard-coded outside the places that define the range:\n" + "\n".join(found)


def test_direct_pins_agree_with_the_full_constraint_set():
    full = constraint_pins()
    for name, version in pyproject_pins().items():
        assert full.get(name) == version, f"{name}: pyproject says {version}, constraints.txt says {full.get(name)}"


def test_tensorboard_is_listed_explicitly():
    assert "tensorboard" in pyproject_pins()


def test_this_environment_has_the_pinned_versions():
    """The environment running the tests is the pinned one (catches a stale .venv)."""
    wrong = {}
    for name, version in constraint_pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # platform-specific extras of the lock may be absent
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from constraints.txt (pinned, installed): {wrong}"


def test_the_readmes_figures_for_the_main_job_are_the_recorded_ones():
    demo = course.recorded_result("demo")
    readme = (REPO / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `word2vec` (default) |"))
    assert f"{demo['end_to_end_s']:.0f} s end to end" in row
    assert f"({demo['training_s']:.1f} s of it training" in row
    assert f"analogy {demo['analogy']:.1%}" in row and f"WordSim-353 {demo['wordsim']:.3f}" in row
    record = course.recorded_result("vs_gensim-default-wiki_text8like")
    deterministic = course.recorded_result("vs_gensim-default-wiki_text8like-deterministic")
    for figures, quoted in ((record, "0.35x"), (deterministic, "0.47x")):
        ours, gensim = (
            next(r for r in figures["results"] if r["system"] == name) for name in ("cs20lib-tf2", "gensim")
        )
        assert f"{ours['train_s'] / gensim['train_s']:.2f}x" == quoted and quoted in readme
