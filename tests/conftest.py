"""Shared fixtures: where the test corpora are, and a clean environment for every test."""

import os
from pathlib import Path

import pytest

# the notebooks validated in this session rebuild their runs/ folders: no need to keep earlier ones
os.environ.setdefault("CS20_KEEP_EARLIER_RUNS", "0")

REPO = Path(__file__).resolve().parents[1]
#: ../shared/data beside the clone (CI and developer machines), overridable for other layouts.
SHARED_DATA = Path(os.environ.get("CS20_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not here (set CS20_SHARED_DATA to the folder holding {name})")
    return path


@pytest.fixture
def text8_head() -> Path:
    """The real first 2,139,748 words of text8 (a byte-identical prefix), zipped."""
    return shared_file("text8_head.zip")


@pytest.fixture(scope="session")
def _kernel_cache(tmp_path_factory):
    """One folder of built kernels (cs20lib.fused_op) for the session: the fused op compiles once, not per test."""
    return tmp_path_factory.mktemp("kernels")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch, _kernel_cache):
    """No test reads or writes the user's real cache, or picks up a corpus from the environment."""
    monkeypatch.setenv("CS20_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("CS20_KERNEL_CACHE", str(_kernel_cache))
    monkeypatch.delenv("CS20_TEXT8", raising=False)
