"""Every supported Python gets the pinned set, and cs20lib works installed as a wheel, away from the clone.

The resolution tests ask the package index (PyPI, or whatever index pip is configured with) to resolve the full
pinned set for each supported Python other than the one running the tests (that one is covered by
test_environment.py's check of the installed versions), for Linux x86_64 wheels only, as the course installs them.
They need the network: without it they skip, except under CI (``CI=true``), where they fail instead.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import REPO
from test_environment import canonical, constraint_pins, pyproject_pins, python_bounds, supported_pythons

#: glibc-based Linux x86_64 from glibc 2.17 to 2.28 (pip does not widen a given manylinux_2_x tag by itself)
LINUX_X86_64 = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 29)] + ["manylinux2014_x86_64"]
RESOLVE_TIMEOUT_S = 900  # a cold pip cache downloads about 1 GB per Python (pip fetches whole wheels for metadata)
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def index_reachable() -> str | None:
    """None when pip's index answers, else why not."""
    index = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    index = os.environ.get("PIP_INDEX_URL") or index or "https://pypi.org/simple"
    url = index.rstrip("/") + "/pip/"
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            response.read(1)
    except Exception as exc:  # noqa: BLE001 - any failure means: no index here
        return f"the package index {url} is unreachable ({exc})"
    return None


@pytest.fixture(scope="module")
def package_index():
    problem = index_reachable()
    if problem:
        if in_ci():
            pytest.fail(f"{problem}; under CI the resolution check must run")
        pytest.skip(f"{problem}: the resolution check needs the network (under CI=true it fails instead)")


def resolve(version: str, platforms: list[str], workdir: Path) -> dict[str, str]:
    """pip's resolution of the direct pins under constraints.txt for ``version``: {canonical name: version}."""
    report = workdir / f"report-{version}.json"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--disable-pip-version-check",
        "--report",
        str(report),
        "--target",
        str(workdir / "never-written"),  # pip allows --python-version only with --target
        "--python-version",
        version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *(f"--platform={platform}" for platform in platforms),
        "-c",
        str(REPO / "constraints.txt"),
        *(f"{name}=={pinned}" for name, pinned in sorted(pyproject_pins().items())),
    ]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=RESOLVE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip did not resolve the pinned set for Python {version} within {RESOLVE_TIMEOUT_S} s")
    errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location"))
    assert done.returncode == 0, f"the pinned set does not resolve for Python {version}:\n{errors[-4000:]}"
    installs = json.loads(report.read_text())["install"]
    return {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}


def oldest_supported(minor: str) -> str:
    """The oldest supported release of a minor version: requires-python's lower bound when it names a patch
    release of that minor version, else the minor version itself (which pip reads as its .0 release)."""
    low = python_bounds()[0]
    return low if low.startswith(minor + ".") else minor


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("version", [oldest_supported(v) for v in supported_pythons() if v != RUNNING])
def test_the_pinned_set_resolves_for_every_supported_python(version, package_index, tmp_path):
    resolved = resolve(version, LINUX_X86_64, tmp_path)
    pinned = constraint_pins()
    unpinned = sorted(set(resolved) - set(pinned))
    assert not unpinned, f"Python {version} needs packages constraints.txt does not pin: {unpinned}"
    wrong = {name: (pinned[name], got) for name, got in resolved.items() if pinned[name] != got}
    assert not wrong, f"Python {version} resolves other versions than pinned (pinned, resolved): {wrong}"
    missing = sorted(set(pyproject_pins()) - set(resolved))
    assert not missing, f"direct pins not installed for Python {version}: {missing}"


# --------------------------------------------------------------------------------------------
# cs20lib installed as a wheel (`pip install .`, not editable), used from outside the clone
# --------------------------------------------------------------------------------------------


def build_wheel(root: Path) -> Path:
    """cs20lib built into a wheel, from a copy of what the wheel is made of (so the clone gets no build files)."""
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "cs20lib", source / "cs20lib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (source / "notebooks").mkdir()  # the package cs20lib.series
    for path in [REPO / "notebooks" / "__init__.py", *sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))]:
        shutil.copy2(path, source / "notebooks" / path.name)
    (source / "benchmarks" / "results").mkdir(parents=True)  # the package cs20lib.benchmark_results
    for path in [REPO / "benchmarks" / "results" / "__init__.py", *(REPO / "benchmarks" / "results").glob("*.json")]:
        shutil.copy2(path, source / "benchmarks" / "results" / path.name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = (root / "dist").glob("cs20_word2vec-*.whl")
    return wheel


#: no network for the text8 download: every HTTP request goes to a proxy that refuses connections (gRPC too, but
#: a local cluster reaches its tasks on 127.0.0.1 directly: cs20lib.cluster.bypass_proxies)
OFFLINE = {
    "http_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> dict:
    """cs20lib built into a wheel and installed into a folder of its own.

    The dependencies come from the environment running the tests; PYTHONPATH puts the installed copy first.
    """
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root)
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True, timeout=300
    )
    elsewhere = root / "elsewhere"  # the working directory of every run: not the clone, no cs20lib beside it
    elsewhere.mkdir()
    dropped = ("CS20_TEXT8", "PYTHONPATH", "no_proxy", "NO_PROXY")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update(
        PYTHONPATH=str(site),
        CS20_CACHE_DIR=str(root / "empty-cache"),
        CS20_RUNS=str(root / "runs"),
        TF_CPP_MIN_LOG_LEVEL="3",
        **OFFLINE,
    )
    return {"wheel": wheel, "site": site, "cwd": elsewhere, "env": env, "cache": root / "empty-cache"}


def run_installed(installed: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=installed["cwd"],
        env=installed["env"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_holds_every_file_of_the_package(installed_wheel):
    names = set(zipfile.ZipFile(installed_wheel["wheel"]).namelist())
    package = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "cs20lib").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert package and package <= names, f"missing from the wheel: {sorted(package - names)}"
    series = {f"cs20lib/series/{path.name}" for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert len(series) >= 13 and series <= names, f"notebooks missing from the wheel: {sorted(series - names)}"
    assert not any(name.startswith(("tests/", "notebooks/", "tools/")) for name in names)
    assert not any(
        name.startswith("cs20lib/series/") and name.endswith(".py") and "__init__" not in name for name in names
    )


def test_the_installed_package_imports_from_outside_the_clone(installed_wheel):
    done = run_installed(installed_wheel, "-c", "import cs20lib; print(cs20lib.__file__); print(cs20lib.__version__)")
    assert done.returncode == 0, done.stderr
    where, version = done.stdout.split()
    assert Path(where).resolve().is_relative_to(installed_wheel["site"].resolve()), where
    assert not Path(where).resolve().is_relative_to(REPO), where
    assert version == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_the_installed_cli_answers_help(installed_wheel):
    script = installed_wheel["site"] / "bin" / "cs20"  # the console script the wheel installs
    for command in ([sys.executable, "-m", "cs20lib", "--help"], [str(script), "train", "--help"]):
        done = subprocess.run(
            command,
            check=False,
            cwd=installed_wheel["cwd"],
            env=installed_wheel["env"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "usage:" in done.stdout and "Traceback" not in done.stderr


def test_a_notebook_outside_the_clone_imports_the_installed_package(installed_wheel):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("import cs20lib\nprint(cs20lib.__file__)"))
    path = installed_wheel["cwd"] / "outside.ipynb"
    nbformat.write(notebook, path)
    done = run_installed(
        installed_wheel,
        "-m",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--stdout",
        "--ExecutePreprocessor.kernel_name=python3",
        "--ExecutePreprocessor.timeout=120",
        path.name,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (cell,) = nbformat.reads(done.stdout, as_version=4).cells
    printed = "".join(output.get("text", "") for output in cell.outputs).strip()
    assert Path(printed).resolve().is_relative_to(installed_wheel["site"].resolve()), printed


def test_without_text8_the_cli_says_where_to_put_it(installed_wheel):
    """Offline, with no CS20_TEXT8 and an empty cache: a plain message naming the path for text8.zip, no traceback.

    As documented in ``train --help`` (--corpus), the default corpus then falls back to the toy corpus and trains.
    """
    done = run_installed(installed_wheel, "-m", "cs20lib", "train", "--steps", "1", timeout=600)
    expected = installed_wheel["cache"] / "text8.zip"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert str(expected) in done.stderr and "CS20_TEXT8" in done.stderr, done.stderr[-3000:]
    assert "the toy corpus is used instead" in done.stderr
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_missing_text8_named_by_cs20_text8_is_a_plain_error(installed_wheel):
    missing = installed_wheel["cache"] / "nowhere" / "text8.zip"
    env = dict(installed_wheel["env"], CS20_TEXT8=str(missing))
    done = subprocess.run(
        [sys.executable, "-m", "cs20lib", "train", "--steps", "1"],
        check=False,
        cwd=installed_wheel["cwd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert str(missing) in done.stderr and "CS20_TEXT8" in done.stderr, done.stderr[-3000:]


# --------------------------------------------------------------------------------------------
# The whole course from the installed package: a fresh venv outside the clone, what a TA does for a JupyterHub
# --------------------------------------------------------------------------------------------
#: seconds for building the venv (pip takes the pinned set from its cache, or the index) and for the series
VENV_TIMEOUT_S = 1800
SERIES_TIMEOUT_S = 2400


@pytest.mark.slow
@pytest.mark.notebooks
def test_the_course_runs_from_the_installed_wheel_in_a_fresh_venv(tmp_path_factory):
    """``pip install`` the wheel (not editable) into a new venv outside the clone, write the series with
    ``cs20 notebooks``, and validate every notebook there with nbval as ``make test`` does, on the plain
    ``python3`` kernel the notebooks were written for."""
    from conftest import shared_file

    text8 = shared_file("text8_head.zip")
    root = tmp_path_factory.mktemp("installed-course")
    wheel = build_wheel(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-c",
            str(REPO / "constraints.txt"),
            f"{wheel}[notebooks,test]",
        ],
        capture_output=True,
        text=True,
        timeout=VENV_TIMEOUT_S,
    )
    errors = "\n".join(line for line in install.stderr.splitlines() if not line.startswith("WARNING: Location"))
    assert install.returncode == 0, f"pip could not install the wheel into a fresh venv:\n{errors[-3000:]}"

    work = root / "course"  # a folder of the TA's choosing: no clone, no cs20lib beside it
    dropped = ("CS20_TEXT8", "PYTHONPATH", "VIRTUAL_ENV", "no_proxy", "NO_PROXY")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update(CS20_TEXT8=str(text8), CS20_CACHE_DIR=str(root / "cache"), CS20_KEEP_EARLIER_RUNS="0", **OFFLINE)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    written = subprocess.run(
        [str(venv / "bin" / "cs20"), "notebooks", str(work)], env=env, capture_output=True, text=True, timeout=600
    )
    assert written.returncode == 0, written.stderr[-3000:]
    notebooks = sorted(work.glob("[0-9][0-9]_*.ipynb"))
    assert [path.name for path in notebooks] == sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert all(json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3" for path in notebooks)
    where = subprocess.run(
        [str(python), "-c", "import cs20lib; print(cs20lib.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve()), where.stdout + where.stderr

    validate = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-p",
            "cs20lib.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(REPO / "tests" / "nbval_sanitize.cfg"),
            "-q",
            "-rs",
            *(path.name for path in notebooks),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=SERIES_TIMEOUT_S,
    )
    summary = validate.stdout.strip().splitlines()[-1] if validate.stdout.strip() else ""
    assert validate.returncode == 0, f"nbval of the written series failed ({summary}):\n{validate.stdout[-6000:]}"
    assert " passed" in summary and "failed" not in summary, summary
