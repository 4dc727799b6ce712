"""pip (pyproject.toml), conda (environment.yml), constraints.txt and the Makefile name the same pinned set and the
same supported Pythons."""

import re
import sys
import tomllib
from importlib import metadata

import yaml
from conftest import REPO

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


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, f"the Makefile sets {name}"
    return match[1].strip()


def python_bounds() -> tuple[str, str]:
    """The supported Pythons as the Makefile states them: (lowest version, first version not supported)."""
    return makefile_variable("PYTHON_MIN"), makefile_variable("PYTHON_BELOW")


def supported_pythons() -> list[str]:
    """Every supported Python minor version, e.g. ["3.11", "3.12", "3.13"]."""
    low, below = (tuple(int(part) for part in version.split(".")[:2]) for version in python_bounds())
    assert low[0] == below[0] == 3 and below[1] > low[1] and below[1] - low[1] <= 10, python_bounds()
    return [f"3.{minor}" for minor in range(low[1], below[1])]


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


def test_pip_conda_and_make_support_the_same_pythons():
    low, below = python_bounds()
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={low},<{below}"
    conda_packages = [dep for dep in conda_environment()["dependencies"] if isinstance(dep, str)]
    assert f"python>={low},<{below}" in conda_packages
    assert supported_pythons() == ["3.11", "3.12", "3.13"]  # TensorFlow 2.21's wheels from 3.11 up (cp311-cp313)


def test_the_running_python_is_supported():
    low, below = (tuple(int(part) for part in version.split(".")) for version in python_bounds())
    assert low <= sys.version_info[:3] < below, f"Python {sys.version.split()[0]} is outside {python_bounds()}"


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
