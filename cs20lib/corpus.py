"""Corpora in text8 format: the lecture's text8, any text8-format file, the toy corpus.

text8 is the first 10^8 bytes of an English Wikipedia dump, normalised by Matt Mahoney's
``wikifil.pl``: lowercase letters a-z and single spaces only (http://mattmahoney.net/dc/textdata.html).
The lecture downloads ``text8.zip`` and splits it on whitespace; so do we, with three additions the
lecture lacks:

* the download is verified before it is used (:mod:`cs20lib.download`: zip size, member size and
  CRC-32 of the 10^8 inflated bytes), and an already-cached file is verified again on use;
* ``max_words=N`` stops reading after N words, so a prefix of text8 (such as ``text8_head.zip``)
  gives exactly what the full corpus gives for its first N words;
* characters outside text8's alphabet are reported with their position and a fix
  (:func:`normalize_text`), instead of silently producing odd tokens.

Where the corpus comes from, in order (:func:`load_corpus`): an explicit ``source`` argument (a path,
or ``"toy"`` for :mod:`cs20lib.toy_corpus`), else the ``CS20_TEXT8`` environment variable (a path),
else ``text8.zip`` in the cache directory (``CS20_CACHE_DIR``, default ``~/.cache/cs20-word2vec``),
downloaded on first use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "Corpus",
    "CorpusError",
    "CorpusFormatError",
    "CorpusUnavailableError",
    "CorruptArchiveError",
    "load_corpus",
    "normalize_text",
    "read_codes",
    "read_words",
]

FINGERPRINT_BLOCK = 1 << 20  # words hashed at a time by Corpus.fingerprint
CHUNK_BYTES = 1 << 22  # 4 MiB: the unit of reading, checking and downloading


class CorpusError(Exception):
    """A corpus could not be had or read; the message says what to do."""


class CorpusUnavailableError(CorpusError):
    """No usable corpus on disk and the download failed (offline, refused, ...)."""


class CorruptArchiveError(CorpusError):
    """A zip failed verification (truncated, wrong size, bad CRC, not a zip)."""


class CorpusFormatError(CorpusError):
    """A file is not text8-format (characters outside a-z and space) or holds no words."""


@dataclasses.dataclass
class Corpus:
    """Words of a corpus and where they came from."""

    name: str  # short name for printing and run directories, e.g. "text8", "toy"
    words: list[str] | None  # None for a compact corpus (Corpus.compact): its codes and distinct words hold it
    source: str  # the path read, or a description such as "toy corpus (seed=0)"

    def __len__(self) -> int:
        if getattr(self, "_length", None) is not None:
            return self._length
        return len(self.words) if self.words is not None else len(self.codes)

    @classmethod
    def compact(cls, name: str, source: str, codes: np.ndarray, distinct: list[str], fingerprint: str) -> Corpus:
        """A corpus held as numbers (:func:`read_codes`): ``words`` is None; ``codes`` and ``distinct`` hold it."""
        corpus = cls(name, None, source)
        corpus.codes, corpus.distinct, corpus._fingerprint = codes, distinct, fingerprint
        return corpus

    def release_words(self) -> None:
        """Let go of the words (or codes) once they are encoded as ids; the corpus keeps its name, source,
        length and fingerprint."""
        _ = self.fingerprint  # computed from the words while they are here
        self._length = len(self)
        if self.words is not None:
            self.words = []
        self.codes = None

    @property
    def fingerprint(self) -> str:
        """A hash of the words (16 hex digits): two corpora with the same words have the same fingerprint,
        whatever their file names or formats; runs are keyed on it (:meth:`Word2VecConfig.run_name`)."""
        if getattr(self, "_fingerprint", None) is None:
            digest = hashlib.blake2b(digest_size=8)  # of " ".join(words), hashed a block of words at a time
            for start in range(0, len(self.words), FINGERPRINT_BLOCK):
                block = " ".join(self.words[start : start + FINGERPRINT_BLOCK])
                digest.update(((" " if start else "") + block).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return f"Corpus(name={self.name!r}, words={len(self.words):,}, source={self.source!r})"


# --------------------------------------------------------------------------------------------
# Reading text8-format files
# --------------------------------------------------------------------------------------------

_ALPHABET = b"abcdefghijklmnopqrstuvwxyz \n"


def _check_alphabet(piece: bytes, offset: int, path: Path) -> None:
    if piece.translate(None, _ALPHABET):
        match = re.search(rb"[^a-z \n]", piece)
        position = offset + match.start()
        raise CorpusFormatError(
            f"{path}: byte {position:,} is {piece[match.start() : match.start() + 1]!r}, outside text8's alphabet "
            f"(lowercase a-z separated by spaces). Normalise the text first, e.g. "
            f"cs20lib.corpus.normalize_text(text), which lowercases, spells out digits and turns every other "
            f"character into a space, as text8 itself was made."
        )


def _open_text(path: Path):
    """A binary stream of the text: the single member of a zip, or the file itself."""
    with open(path, "rb") as stream:
        looks_like_zip = stream.read(4) == b"PK\x03\x04"
    if looks_like_zip and not zipfile.is_zipfile(path):
        raise CorruptArchiveError(
            f"{path} is a damaged zip archive (truncated or corrupt); replace it with a good copy."
        )
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        if len(names) != 1:
            archive.close()
            raise CorpusFormatError(
                f"{path}: a text8-format zip holds exactly one file; this one holds {len(names)}: {names[:5]}"
            )
        member = archive.open(names[0])
        member._cs20_archive = archive  # kept open as long as the member is
        return member
    return open(path, "rb")


def _pieces(path: str | os.PathLike, max_words: int | None):
    """The complete words of a text8-format file, a list per piece read (4 MiB at a time; the tail after a
    piece's last separator waits for the next one), stopping after ``max_words`` words; the checks of
    :func:`read_words`."""
    path = Path(path)
    if max_words is not None and (not isinstance(max_words, int) or max_words < 1):
        raise ValueError(f"max_words must be a positive integer or None, not {max_words!r}")
    if not path.exists():
        raise CorpusUnavailableError(f"{path} does not exist; pass the path of a text8-format file (plain or zipped).")
    if path.is_dir():
        raise CorpusFormatError(f"{path} is a folder; pass the path of a text8-format file (plain or zipped) in it.")
    tail = b""
    offset = seen = 0
    try:
        with _open_text(path) as stream:
            while piece := stream.read(CHUNK_BYTES):
                _check_alphabet(piece, offset, path)
                offset += len(piece)
                cut = max(piece.rfind(b" "), piece.rfind(b"\n")) + 1  # 0: no separator in this piece
                if not cut:
                    tail += piece
                    continue
                words = (tail + piece[:cut]).decode("ascii").split()
                tail = piece[cut:]
                if max_words is not None and seen + len(words) >= max_words:
                    yield words[: max_words - seen]
                    return
                seen += len(words)
                yield words
            words = tail.decode("ascii").split()
            yield words if max_words is None else words[: max_words - seen]
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptArchiveError(f"{path} is a damaged zip archive ({exc}); replace it with a good copy.") from None


def read_words(path: str | os.PathLike, max_words: int | None = None) -> list[str]:
    """The words of a text8-format file (plain or a one-member zip), optionally only the first ``max_words``.

    Reading stops as soon as ``max_words`` complete words have been seen, so the first N words of a
    prefix of a corpus equal the first N words of the corpus. Raises CorpusFormatError for characters
    outside a-z/space/newline (naming the byte offset) and for a file with no words.
    """
    # One str object per distinct word: a corpus costs a list of references (8 bytes a word) instead of a
    # string object per word (BENCHMARKS.md, "Memory").
    words: list[str] = []
    shared: dict[str, str] = {}
    for piece in _pieces(path, max_words):
        words.extend(map(shared.setdefault, piece, piece))
    if not words:
        raise CorpusFormatError(f"{path} contains no words; a text8-format corpus is words of a-z separated by spaces.")
    return words


def read_codes(path: str | os.PathLike, max_words: int | None = None) -> tuple[np.ndarray, list[str], str]:
    """A text8-format file as numbers, for a run that needs no word list: ``(codes, distinct, fingerprint)``.

    ``codes`` (int32) gives each word of the corpus as the number of its first appearance (``distinct[c]`` is
    the word), read piece by piece without a Python object per word: 4 bytes a word. ``fingerprint`` is
    :attr:`Corpus.fingerprint` of the same words. The same checks and ``max_words`` as :func:`read_words`.
    """
    index: dict[str, int] = {}
    parts: list[np.ndarray] = []
    digest = hashlib.blake2b(digest_size=8)
    for piece in _pieces(path, max_words):
        if not piece:
            continue
        digest.update(((" " if parts else "") + " ".join(piece)).encode())
        parts.append(np.fromiter((index.setdefault(word, len(index)) for word in piece), np.int32, len(piece)))
    if not parts:
        raise CorpusFormatError(f"{path} contains no words; a text8-format corpus is words of a-z separated by spaces.")
    codes = np.concatenate(parts)
    del parts
    return codes, list(index), digest.hexdigest()


_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_NORMALIZE_TABLE = {ord(d): f" {w} " for d, w in zip("0123456789", _DIGITS)}


def normalize_text(text: str) -> str:
    """Turn free text into text8 format the way ``wikifil.pl`` made text8.

    Lowercases A-Z, spells out each digit as a word (``"1984"`` -> ``" one nine eight four "``),
    replaces every other character by a space and squeezes runs of spaces; the result starts with a
    single space like text8. Letters with accents are not letters here (wikifil.pl dropped them too).
    """
    text = text.translate(_NORMALIZE_TABLE).lower()
    words = re.sub(r"[^a-z]+", " ", text).split()
    return " " + " ".join(words) if words else ""


# --------------------------------------------------------------------------------------------
# Choosing a corpus
# --------------------------------------------------------------------------------------------


ENV_TEXT8 = "CS20_TEXT8"


def load_corpus(
    source: str | os.PathLike | None = None,
    max_words: int | None = None,
    *,
    fallback_to_toy: bool = False,
    progress: bool = True,
    toy_seed: int = 0,
    compact: bool = False,
) -> Corpus:
    """Load a corpus's words.

    ``source``: ``"toy"`` for the generated toy corpus; a path to a text8-format file (plain or zipped);
    ``None`` for ``$CS20_TEXT8`` if set, else the lecture's text8 from the cache, downloaded and
    verified on first use. With ``fallback_to_toy=True`` an unavailable text8 (offline) gives the toy
    corpus, saying so on standard error, instead of an error; a corrupt download is never silently replaced.
    ``compact=True`` reads a file as numbers (:meth:`Corpus.compact`: no word list, what a training run
    needs, in a fraction of the memory).
    """

    def from_file(name: str, path) -> Corpus:
        if compact:
            return Corpus.compact(name, str(path), *read_codes(path, max_words))
        return Corpus(name, read_words(path, max_words), str(path))

    from_environment = source is None and bool(os.environ.get(ENV_TEXT8))
    if from_environment:
        source = os.environ[ENV_TEXT8]
    if source is not None and str(source) == "toy":
        from .toy_corpus import toy_words

        words = toy_words(toy_seed)
        if max_words is not None:
            words = words[:max_words]
        return Corpus("toy", words, f"toy corpus (seed={toy_seed})")
    if source is None:
        from .download import TEXT8, fetch, notice

        try:
            path = fetch(TEXT8, progress=progress)
        except CorpusUnavailableError as exc:
            if not fallback_to_toy:
                raise
            notice(f"text8 is unavailable, so the toy corpus is used instead. {exc}")
            return load_corpus("toy", max_words, toy_seed=toy_seed)
        return from_file("text8", path)
    path = Path(source).expanduser()
    name = path.name.split(".")[0] or "corpus"
    try:
        return from_file(name, path)
    except CorpusError as exc:
        if from_environment:
            raise type(exc)(
                f"{exc} (this path comes from the environment variable {ENV_TEXT8}; "
                f"point it at a text8-format file, or unset it)"
            ) from None
        raise
