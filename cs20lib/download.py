"""Downloading text8 and knowing it is text8: the published archive described exactly, verified before use.

The lecture downloads ``text8.zip`` from ``TEXT8_URL`` and uses whatever arrived. Here :data:`TEXT8`
describes the published archive (its size, its one member, that member's size and CRC-32);
:func:`fetch` downloads into a temporary file beside the destination and renames it into place only
after :func:`verify_zip` accepts it, so an interrupted or corrupt download never looks like a good
corpus; a cached copy is verified again on use, and a bad one is moved aside (never deleted).
:func:`cs20lib.corpus.load_corpus` calls :func:`fetch` when no other corpus is named.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from .corpus import CHUNK_BYTES, CorpusUnavailableError, CorruptArchiveError
from .files import cache_dir

__all__ = ["TEXT8", "TEXT8_URL", "ZipSpec", "fetch", "notice", "verify_zip"]

TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"


@dataclasses.dataclass(frozen=True)
class ZipSpec:
    """What a downloadable one-member zip must be: where it lives and how to recognise it."""

    url: str
    filename: str  # the file's name in the cache directory
    zip_bytes: int  # size of the .zip file
    member: str  # name of the single member inside
    member_bytes: int  # inflated size of that member
    member_crc32: int  # CRC-32 of the inflated member


#: The lecture's corpus, as published: 31,344,016 bytes, one member ``text8`` of 10^8 bytes.
TEXT8 = ZipSpec(
    url=TEXT8_URL,
    filename="text8.zip",
    zip_bytes=31_344_016,
    member="text8",
    member_bytes=100_000_000,
    member_crc32=0x7D6BE66F,
)


def verify_zip(path: str | os.PathLike, spec: ZipSpec = TEXT8) -> None:
    """Check that ``path`` is exactly the archive ``spec`` describes; raise CorruptArchiveError if not.

    Checks, cheapest first: file size, zip structure, the member's name and size in the central
    directory, its stored CRC-32, and finally inflates the member (in 4 MiB pieces, so memory stays
    flat) and compares the CRC-32 and length of what comes out.
    """
    path = Path(path)
    size = path.stat().st_size
    if size != spec.zip_bytes:
        raise CorruptArchiveError(
            f"{path} is {size:,} bytes, expected {spec.zip_bytes:,} (truncated or not {spec.filename})"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(spec.member)
            except KeyError:
                raise CorruptArchiveError(
                    f"{path} has no member {spec.member!r} (members: {archive.namelist()})"
                ) from None
            if info.file_size != spec.member_bytes or info.CRC != spec.member_crc32:
                raise CorruptArchiveError(
                    f"{path}: member {spec.member!r} is recorded as {info.file_size:,} bytes with CRC-32 "
                    f"{info.CRC:08x}; expected {spec.member_bytes:,} bytes with CRC-32 {spec.member_crc32:08x}"
                )
            crc, length = 0, 0
            with archive.open(info) as member:
                while piece := member.read(CHUNK_BYTES):
                    crc = zlib.crc32(piece, crc)
                    length += len(piece)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptArchiveError(f"{path} is not a readable zip archive ({exc})") from None
    if length != spec.member_bytes or crc != spec.member_crc32:
        raise CorruptArchiveError(
            f"{path}: member {spec.member!r} inflates to {length:,} bytes with CRC-32 {crc:08x}; "
            f"expected {spec.member_bytes:,} bytes with CRC-32 {spec.member_crc32:08x}"
        )


def _hand_placement_hint(dest: Path, spec: ZipSpec) -> str:
    return (
        f"If this machine is offline, download {spec.url} elsewhere and place it at {dest} "
        f"(it must be {spec.zip_bytes:,} bytes; it is verified on use), or point CS20_TEXT8 at any "
        f"text8-format file; `--corpus toy` trains on the built-in toy corpus instead."
    )


def fetch(
    spec: ZipSpec = TEXT8, directory: str | os.PathLike | None = None, *, progress: bool = True, timeout: float = 60.0
) -> Path:
    """Return the path of a verified copy of ``spec`` in ``directory`` (default :func:`cache_dir`).

    A cached copy is verified first; a corrupt one is removed (with a warning) and downloaded again.
    A download is written to a temporary file beside the destination and renamed into place only
    after :func:`verify_zip` accepts it, so nothing half-written ever carries the final name.

    Raises CorpusUnavailableError when the download fails (the message names the path where the
    file can be placed by hand) and CorruptArchiveError when what arrived fails verification (the
    bad download is removed).
    """
    directory = Path(directory) if directory is not None else cache_dir()
    dest = directory / spec.filename
    if dest.is_dir():
        raise CorpusUnavailableError(f"{dest} is a folder; move it away so that {spec.filename} can be placed there.")
    if dest.exists():
        try:
            verify_zip(dest, spec)
            return dest
        except CorruptArchiveError as exc:
            aside = _move_aside(dest)
            notice(
                f"{exc}. It is not the canonical {spec.filename}, so it was moved to {aside} "
                f"(delete it if you do not need it) and {spec.filename} is downloaded again."
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusUnavailableError(
            f"cannot create the cache directory {directory} ({exc}); set CS20_CACHE_DIR to a writable directory."
        ) from None

    handle, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            _download(spec.url, out, timeout=timeout, progress=progress, expected=spec.zip_bytes)
        try:
            verify_zip(tmp, spec)
        except CorruptArchiveError as exc:
            raise CorruptArchiveError(
                f"the download of {spec.url} failed verification and was removed: {exc}. Run the command "
                f"again to retry. {_hand_placement_hint(dest, spec)}"
            ) from None
        os.replace(tmp, dest)
        return dest
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        reason = (
            f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", exc)
        )
        raise CorpusUnavailableError(
            f"could not download {spec.url} ({reason}). {_hand_placement_hint(dest, spec)}"
        ) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _move_aside(path: Path) -> Path:
    """Rename ``path`` to ``path.rejected-<time>`` (nothing a user placed is deleted); return the new path."""
    aside = path.with_name(f"{path.name}.rejected-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    return aside


def notice(message: str) -> None:
    """A plain message for the person running the program, on standard error."""
    print(message, file=sys.stderr)


def _download(url: str, out, *, timeout: float, progress: bool, expected: int) -> None:
    """Stream ``url`` into the open binary file ``out``, with a tqdm progress bar when asked."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or expected)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {url.rsplit('/', 1)[-1]}"
            )
        try:
            while piece := response.read(1 << 16):
                out.write(piece)
                if bar is not None:
                    bar.update(len(piece))
        finally:
            if bar is not None:
                bar.close()
