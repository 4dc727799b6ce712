"""The cache of compiled libraries (cs20lib.native, the fused op's): it loads only what this user built, and a
wrong or damaged library is moved aside and built again once, else training falls back (kernel "auto") or stops
with one line (kernel "fused").

Each case runs in a child process (a process loads a library once) with its own cache folder; a "planted"
library is one whose constructor writes a file when it is loaded, so a test sees whether anyone loaded it.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from cs20lib import fused_op, native

pytestmark = [
    pytest.mark.slow,  # each case compiles the op
    pytest.mark.skipif(fused_op.cannot_build() is not None, reason=f"{fused_op.cannot_build()}"),
]

PLANTED = r"""
#include <cstdio>
#include <cstdlib>
__attribute__((constructor)) static void planted() {
  const char* marker = std::getenv("CS20_PLANTED_MARKER");
  if (marker) { FILE* f = std::fopen(marker, "w"); if (f) { std::fputs("loaded", f); std::fclose(f); } }
}
extern "C" int not_the_op() { return 0; }
"""

LOAD = """
import sys
from cs20lib import fused_op
from cs20lib.config import PRESETS
from cs20lib.tf2_model import negative_sampling_update
update, can_jit = fused_op.negative_update(PRESETS["word2vec"].config(kernel=sys.argv[1]))
print("fused" if update is not negative_sampling_update and not can_jit else "tf")
"""


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("planted")
    source = folder / "planted.cc"
    source.write_text(PLANTED)
    library = folder / "planted.so"
    subprocess.run(["g++", str(source), "-shared", "-fPIC", "-o", str(library)], check=True, timeout=120)
    return library


def child(cache: Path, tmp_path: Path, kernel: str = "auto", **env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CS20_KERNEL_CACHE": str(cache),
        "CS20_PLANTED_MARKER": str(tmp_path / "planted-was-loaded"),
        "TMPDIR": str(tmp_path / "tmp"),  # where a private folder goes when the cache folder is refused
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **env,
    }
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", LOAD, kernel], env=environment, capture_output=True, text=True, timeout=600
    )


def expected_name(cache: Path) -> str:
    """The file name the op's library has in any cache folder (the name does not depend on the folder)."""
    done = subprocess.run(
        [sys.executable, "-c", "from cs20lib import fused_op; print(fused_op.library_path().name)"],
        env={**os.environ, "PYTHONPATH": str(REPO), "CS20_KERNEL_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def record(library: Path) -> None:
    """A record of the library's SHA-256, as a build writes it: a forged one, for a library this test put there."""
    library.with_name(library.name + ".sha256").write_text(hashlib.sha256(library.read_bytes()).hexdigest() + "\n")


def private(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


def test_a_library_in_a_folder_others_can_write_to_is_never_loaded(tmp_path, planted):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone on the machine could have put a library here
    name = expected_name(private(tmp_path / "probe"))
    shutil.copy(planted, shared / name)
    record(shared / name)  # even with a record that matches it
    done = child(shared, tmp_path)
    assert not (tmp_path / "planted-was-loaded").exists(), "a library from a world-writable folder was loaded"
    assert done.returncode == 0 and done.stdout.strip() == "fused", done.stderr
    assert f"not using {shared}" in done.stderr and "writable by other users" in done.stderr, done.stderr
    assert list((tmp_path / "tmp").glob("cs20-kernels-*/word2vec_op-*.so")), "built in a private folder instead"


@pytest.mark.parametrize("how", ["planted, no record", "planted, forged record", "truncated"])
def test_a_library_that_is_not_what_was_built_here_is_moved_aside_and_rebuilt(tmp_path, planted, how):
    cache = private(tmp_path / "cache")
    name = expected_name(cache)
    if how == "truncated":
        assert child(cache, tmp_path).stdout.strip() == "fused"  # a good build first
        library = cache / name
        library.write_bytes(library.read_bytes()[: library.stat().st_size // 2])  # its record no longer matches
    else:
        shutil.copy(planted, cache / name)
        if how == "planted, forged record":  # the record of another file than the one there now
            (cache / (name + ".sha256")).write_text("0" * 64 + "\n")
    done = child(cache, tmp_path)
    assert not (tmp_path / "planted-was-loaded").exists(), "an untrusted library was loaded"
    assert done.returncode == 0 and done.stdout.strip() == "fused", done.stderr
    assert "Traceback" not in done.stderr
    assert list(cache.glob(name + ".rejected-*")), "the bad library is kept aside, not deleted"
    assert native.trusted(cache / name) is None


def test_a_loadable_library_without_the_op_is_rebuilt_not_a_traceback(tmp_path, planted):
    """A library this user built (its record matches) that loads but holds no op: moved aside, built again."""
    cache = private(tmp_path / "cache")
    name = expected_name(cache)
    shutil.copy(planted, cache / name)
    record(cache / name)
    done = child(cache, tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "fused", done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    why = next(cache.glob(name + ".rejected-*.why")).read_text()
    assert "holds no Cs20Word2vecUpdate op" in why


def test_when_building_again_fails_auto_falls_back_and_fused_stops_with_one_line(tmp_path):
    cache = private(tmp_path / "cache")
    name = expected_name(cache)
    (cache / name).write_bytes(b"\x7fELF damaged")
    record(cache / name)  # it passes the checks, and fails to load
    failing = tmp_path / "g++"  # g++ as far as its version and flags go, which then compiles nothing, silently
    failing.write_text('#!/bin/sh\ncase "$*" in *--version*|*-fsyntax-only*) exec g++ "$@";; esac\nexit 1\n')
    failing.chmod(0o755)
    silent = {"CXX": str(failing)}
    auto = child(cache, tmp_path, "auto", **silent)
    assert auto.returncode == 0 and auto.stdout.strip() == "tf", auto.stderr
    lines = [line for line in auto.stderr.splitlines() if "fused word2vec kernel" in line]
    assert len(lines) == 1 and "printed nothing" in lines[0] and "Traceback" not in auto.stderr, auto.stderr
    (log,) = cache.glob("*.log")
    assert "the compiler printed nothing and exited 1" in log.read_text()

    command = [sys.executable, "-m", "cs20lib", "train", "--corpus", "toy", "--steps", "10", "--kernel", "fused"]
    command += ["--tsne-words", "0", "--quiet", "--runs-root", str(tmp_path / "runs")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CS20_KERNEL_CACHE": str(cache), **silent}
    fused = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    errors = [line for line in fused.stderr.splitlines() if line.startswith("error: ")]
    assert fused.returncode == 2 and len(errors) == 1 and "Traceback" not in fused.stderr, fused.stderr
    assert "printed nothing" in errors[0]
