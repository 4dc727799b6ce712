"""Native libraries compiled on first use, kept in a cache that only loads what this user built.

Two libraries are built from ``cs20lib/kernels/`` with the machine's C++ compiler (``$CXX``, else
``g++``): the fused word2vec op (:mod:`cs20lib.fused_op`) and the loopback shim that keeps a local
cluster's servers off the network (:mod:`cs20lib.cluster`). :func:`build` compiles a source once into
the cache folder (``$CS20_KERNEL_CACHE``, else ``kernels/`` in :func:`cs20lib.files.cache_dir`), under a
name keyed by everything that makes the binary (source, compiler, flags, and for the op TensorFlow's
version and the CPU's features), so a change of any of them builds anew.

A library is code that runs in the student's process, so the cache trusts only what this user built:

* the folder and each file must belong to this user and be writable by no one else; a folder that
  fails this is refused, with one line saying why, and the library is built in a private folder instead;
* the SHA-256 of each library is recorded when it is built (``<name>.so.sha256``) and checked before it
  is loaded: a library that differs (damaged, truncated, replaced) is moved aside
  (``<name>.so.rejected-<time>``, never deleted) and built again, once;
* a compile that fails keeps the compiler's messages in ``<name>.log`` and the error says where; a
  compiler that printed nothing is reported with its exit status.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = [
    "NativeBuildError",
    "build",
    "cache_folder",
    "compiler",
    "kernel_source",
    "library_path",
    "reject",
    "trusted",
]

KERNELS = Path(__file__).with_name("kernels")
COMPILE_SECONDS = 300
_told: set[str] = set()  # folders already reported as refused, so each is said once per process


class NativeBuildError(RuntimeError):
    """A native library cannot be built or trusted here; the message says why and what to do."""


def kernel_source(name: str) -> Path:
    """The path of a source in ``cs20lib/kernels/``; NativeBuildError when it is not installed."""
    path = KERNELS / name
    if not path.is_file():
        raise NativeBuildError(f"its source {path} is not installed")
    return path


def compiler() -> str:
    """The C++ compiler: ``$CXX``, else ``g++``; NativeBuildError when it is not there."""
    if not sys.platform.startswith("linux"):
        raise NativeBuildError(f"native libraries are built on Linux only, and this is {sys.platform}")
    name = os.environ.get("CXX") or "g++"
    path = shutil.which(name)
    if path is None:
        raise NativeBuildError(f"no C++ compiler: {name!r} is not on PATH (set CXX to one)")
    return path


def _unsafe(path: Path) -> str | None:
    """Why ``path`` cannot be trusted (not ours, or writable by others), or None."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if info.st_uid != os.getuid():
        return f"{path} belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def cache_folder() -> Path:
    """The folder libraries are built into and loaded from, created private (0700) if need be.

    ``$CS20_KERNEL_CACHE``, else ``kernels/`` in the course's cache folder; if that folder belongs to
    another user or others can write to it, it is refused (one line on standard error) and a private
    folder of this user's is used: ``kernels-<uid>/`` in the system's temporary folder.
    """
    if os.environ.get("CS20_KERNEL_CACHE"):
        wanted = Path(os.environ["CS20_KERNEL_CACHE"]).expanduser()
    else:
        from .files import cache_dir

        wanted = cache_dir() / "kernels"
    problem = _prepare(wanted)
    if problem is None:
        return wanted
    private = Path(tempfile.gettempdir()) / f"cs20-kernels-{os.getuid()}"
    fallback_problem = _prepare(private)
    if fallback_problem is not None:
        raise NativeBuildError(f"{problem}, and the private folder cannot be used either: {fallback_problem}")
    if str(wanted) not in _told:
        _told.add(str(wanted))
        print(
            f"cs20lib: not using {wanted} for compiled libraries ({problem}: a library there could be anyone's "
            f"code); building in {private} instead. Make the folder yours and not writable by others "
            f"(chmod go-w), or point CS20_KERNEL_CACHE elsewhere.",
            file=sys.stderr,
            flush=True,
        )
    return private


def _prepare(folder: Path) -> str | None:
    """Create ``folder`` (0700) if missing; why it cannot be used, or None."""
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
        if not folder.is_dir():
            return f"{folder} is not a folder"
        return _unsafe(folder)
    except OSError as error:
        return f"{folder} cannot be created ({error.strerror or error})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def trusted(library: Path) -> str | None:
    """Why ``library`` may not be loaded (missing, not ours, writable by others, not what was built), or None."""
    if not library.exists():
        return f"{library} does not exist"
    problem = _unsafe(library)
    if problem:
        return problem
    record = _record(library)
    if not record.is_file() or _unsafe(record):
        return f"{library} has no trusted record of what was built"
    if record.read_text().strip() != _sha256(library):
        return f"{library} is not the library that was built here (its SHA-256 differs from the record)"
    return None


def reject(library: Path, reason: str) -> Path | None:
    """Move a library that cannot be used (and its record) aside, never deleting it; returns where it went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = None
    for path in (library, _record(library)):
        if path.exists():
            target = path.with_name(f"{path.name}.rejected-{stamp}-{os.getpid()}")
            try:
                os.replace(path, target)
                moved = moved or target
            except OSError:
                pass
    if moved is not None:
        (moved.parent / (moved.name + ".why")).write_text(reason + "\n")
    return moved


def library_path(source: Path, name: str, flags: list[str], key_parts: tuple[str, ...] = ()) -> Path:
    """Where the library built from ``source`` with ``flags`` lives in the cache: named after a hash of the
    source, the compiler's version, the flags and ``key_parts``."""
    cxx = compiler()
    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise NativeBuildError(f"the C++ compiler {cxx} does not run ({error})") from None
    key = "\n".join([source.read_text(), version, " ".join(flags), *key_parts])
    return cache_folder() / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.so"


def build(source: Path, name: str, flags: list[str], key_parts: tuple[str, ...] = ()) -> Path:
    """The library built from ``source`` with ``flags``: from the cache when a trusted identical build is there,
    else compiled now (a damaged or untrusted one is moved aside first). Raises NativeBuildError."""
    target = library_path(source, name, flags, key_parts)
    cxx, folder = compiler(), target.parent
    with _build_lock(folder):  # one process builds; another waits, then finds the build
        if target.exists():
            problem = trusted(target)
            if problem is None:
                return target
            reject(target, problem)
        return _compile(cxx, source, flags, target)


class _build_lock:
    """An exclusive lock on the cache folder while a library is checked and built (fcntl.flock)."""

    def __init__(self, folder: Path):
        self.path = folder / ".build.lock"

    def __enter__(self):
        import fcntl

        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.handle.close()  # closing releases the lock


def _compile(cxx: str, source: Path, flags: list[str], target: Path) -> Path:
    """Compile into a temporary file beside ``target``, record its digest, then rename it into place."""
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.stem + ".", suffix=".tmp.so")
        os.close(handle)
    except OSError as error:
        raise NativeBuildError(f"cannot write to {target.parent} ({error}); set CS20_KERNEL_CACHE") from None
    log = target.with_suffix(".log")
    command = [cxx, str(source), "-o", temporary, *flags]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_SECONDS)
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip()
            if not said:
                said = f"(the compiler printed nothing and exited {done.returncode})"
            log.write_text(f"$ {' '.join(command)}\n{said}\n")
            raise NativeBuildError(
                f"{Path(cxx).name} failed to compile {source.name} (exit status {done.returncode}"
                + ("; it printed nothing" if said.startswith("(the compiler printed nothing") else "")
                + f"); its messages: {log}"
            )
        os.chmod(temporary, 0o755)
        record = _record(target)
        record.write_text(_sha256(Path(temporary)) + "\n")
        os.chmod(record, 0o644)
        os.replace(temporary, target)
    except subprocess.TimeoutExpired:
        raise NativeBuildError(f"compiling {source.name} took over {COMPILE_SECONDS} s") from None
    except OSError as error:
        raise NativeBuildError(f"the C++ compiler {cxx} does not run ({error})") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target
