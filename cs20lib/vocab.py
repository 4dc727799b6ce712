"""The vocabulary: word <-> id, with the lecture's conventions.

The lecture's ``build_vocab`` gives id 0 to ``UNK`` and ids 1 .. ``vocab_size - 1`` to the most common
words, in the order of ``collections.Counter.most_common``: by count, ties in order of first appearance
(``most_common`` is a stable sort over insertion order). Every other word maps to 0. It also writes
``vocab_1000.tsv``, one word per line, as the projector's metadata: row i labels embedding row i.
:class:`Vocabulary` keeps those semantics and adds what word2vec needs beyond the lecture: the count of
every entry (for subsampling and the unigram^0.75 noise distribution), an optional ``min_count``, and
save/load.
"""

from __future__ import annotations

import collections
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from . import checks
from .files import write_text_atomic

__all__ = ["UNK", "UnknownWordError", "Vocabulary"]

UNK = "UNK"


class UnknownWordError(KeyError):
    """A word asked for by name is not in the vocabulary."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class Vocabulary:
    """Ids for words: ``words[i]`` is the word with id i, ``words[0] == "UNK"``; ``counts[i]`` its count.

    Build one with :meth:`build`; ``encode`` maps words to ids (unknown words to 0), ``decode`` back.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int]):
        words = list(words)
        if not words or words[0] != UNK:
            raise ValueError(f"the first entry of a vocabulary must be {UNK!r}")
        if len(words) != len(counts):
            raise ValueError(f"{len(words)} words but {len(counts)} counts")
        if len(set(words)) != len(words):
            raise ValueError("vocabulary words must be unique")
        self.words: list[str] = words
        self.counts: np.ndarray = np.asarray(counts, dtype=np.int64)
        self.index: dict[str, int] = {word: i for i, word in enumerate(words)}

    # ----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, words: Iterable[str], vocab_size: int | None = None, min_count: int = 1) -> Vocabulary:
        """The lecture's vocabulary: ``UNK`` then the ``vocab_size - 1`` most common words.

        ``vocab_size`` counts ``UNK`` (the lecture's ``VOCAB_SIZE = 50000`` gives 49,999 words + UNK);
        ``None`` keeps every word seen at least ``min_count`` times (word2vec's ``min_count``). Ties in
        count keep the order of first appearance, exactly as ``Counter.most_common`` orders them. A
        ``vocab_size`` larger than the corpus has words for gives a smaller vocabulary and a warning:
        use ``len(vocab)``, not the requested size, to size embedding matrices.
        """
        counter = collections.Counter(words)
        return cls.from_counts(list(counter), list(counter.values()), vocab_size, min_count, stacklevel=3)

    @classmethod
    def from_counts(
        cls, distinct, counts, vocab_size: int | None = None, min_count: int = 1, *, stacklevel: int = 2
    ) -> Vocabulary:
        """:meth:`build` from each distinct word's count, the words in order of first appearance (a compact
        corpus's :func:`~cs20lib.corpus.read_codes`, counted with ``numpy.bincount``)."""
        if vocab_size is not None:
            checks.integer("vocab_size (it counts UNK)", vocab_size, 1)
        checks.integer("min_count", min_count, 1)
        counter = dict(zip(distinct, (int(count) for count in counts)))
        total = sum(counter.values())
        if total == 0:
            raise ValueError("cannot build a vocabulary from an empty corpus: it has no words")
        counter.pop(UNK, None)  # a literal "UNK" in the text counts toward the UNK entry
        ranked = sorted(counter.items(), key=lambda item: -item[1])  # stable: ties keep first appearance
        eligible = [item for item in ranked if item[1] >= min_count]
        limit = len(eligible) if vocab_size is None else vocab_size - 1
        if vocab_size is not None and limit > len(eligible):
            warnings.warn(
                f"vocab_size={vocab_size:,} but the corpus has only {len(eligible):,} distinct words"
                f"{f' seen at least {min_count} times' if min_count > 1 else ''}; the vocabulary has "
                f"{len(eligible) + 1:,} entries (with UNK). Size embeddings by len(vocab).",
                stacklevel=stacklevel,
            )
        kept = eligible[:limit]
        unk_count = total - sum(count for _, count in kept)
        return cls([UNK] + [word for word, _ in kept], [unk_count] + [count for _, count in kept])

    # ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        head = ", ".join(self.words[1:6])
        return f"Vocabulary({len(self):,} entries: UNK, {head}, ...)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words and np.array_equal(self.counts, other.counts)

    def id(self, word: str) -> int:
        """The id of a word that must be in the vocabulary (for queries: no silent UNK)."""
        try:
            return self.index[word]
        except KeyError:
            raise UnknownWordError(
                f"{word!r} is not in the vocabulary ({len(self):,} entries, e.g. {', '.join(self.words[1:4])}); "
                f"words outside it all map to {UNK} (id 0). Pick another word, or build a larger vocabulary."
            ) from None

    def encode(self, words: Iterable[str]) -> np.ndarray:
        """Ids of ``words`` as an int32 array; words outside the vocabulary become 0 (UNK)."""
        get = self.index.get
        if isinstance(words, (list, tuple)):
            return np.fromiter((get(word, 0) for word in words), dtype=np.int32, count=len(words))
        return np.fromiter((get(word, 0) for word in words), dtype=np.int32)

    def encode_codes(self, codes: np.ndarray, distinct: list[str]) -> np.ndarray:
        """Ids of a compact corpus (``codes`` into ``distinct``; :func:`~cs20lib.corpus.read_codes`), as an
        int32 array: :meth:`encode` of its words, without them."""
        get = self.index.get
        remap = np.fromiter((get(word, 0) for word in distinct), dtype=np.int32, count=len(distinct))
        return remap[codes]

    def decode(self, ids: Iterable[int]) -> list[str]:
        words = self.words
        return [words[int(i)] for i in ids]

    # ----------------------------------------------------------------------------------------
    def write_metadata(self, path: str | os.PathLike, limit: int | None = None) -> Path:
        """The projector's metadata file: one word per line, row i = word i, no header (one column).

        ``limit`` writes only the first ``limit`` rows, to match an exported slice of the embedding.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        words = self.words if limit is None else self.words[:limit]
        path.write_text("".join(f"{word}\n" for word in words), encoding="utf-8")
        return path

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary (words and counts) as JSON; :meth:`load` reads it back."""
        payload = {"format": "cs20lib.Vocabulary/1", "words": self.words, "counts": self.counts.tolist()}
        return write_text_atomic(path, json.dumps(payload))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("format") != "cs20lib.Vocabulary/1":
                raise ValueError(f"unknown format {payload.get('format')!r}")
            return cls(payload["words"], payload["counts"])
        except FileNotFoundError:
            raise FileNotFoundError(f"no vocabulary file at {path}") from None
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is not a vocabulary saved by Vocabulary.save ({exc})") from None
