"""Files and folders: where the course caches what it downloads or builds, and writing a file so that a reader
never sees half of one (a unique temporary file, then a rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; parent folders are created. Returns the path.

    The text goes to a temporary file with a unique name in the same folder, which then replaces
    ``path`` in one rename (``os.replace``): readers see the old file or the new one, never a part,
    and two processes writing the same file at once do not trample each other's temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def cache_dir() -> Path:
    """The course's cache folder: ``$CS20_CACHE_DIR``, else ``$XDG_CACHE_HOME/cs20-word2vec``, else
    ``~/.cache/cs20-word2vec``. It holds the downloaded ``text8.zip`` (:mod:`cs20lib.corpus`), the compiled
    libraries (``kernels/``, :mod:`cs20lib.native`) and the slides' reveal.js. Not created here."""
    if os.environ.get("CS20_CACHE_DIR"):
        return Path(os.environ["CS20_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cs20-word2vec"
