"""Skip-gram training pairs: the lecture's random window, word2vec's subsampling, vectorised.

The lecture's ``generate_sample`` walks the corpus one word at a time: for the center word at
position i it draws a window b uniformly from 1..``SKIP_WINDOW`` and yields (center, target) for the
targets at positions i-b .. i-1 and then i+1 .. i+b (cut at the corpus's ends). This "dynamic window"
is word2vec's: nearer words are sampled more often (Mikolov et al. 2013, "Efficient Estimation of Word
Representations in Vector Space", section 3.2). :func:`skipgram_pairs` produces exactly those pairs, in
exactly that order, from an array of windows, with NumPy operations over whole blocks of centers
instead of a Python loop per word (:func:`lecture_generate_sample` keeps the per-word version as the
reference and the benchmark's baseline).

Subsampling of frequent words (Mikolov et al. 2013, "Distributed Representations of Words and Phrases
and their Compositionality", section 2.3) drops each occurrence of a word with frequency f before the
windows are taken, keeping it with probability ``(sqrt(f / t) + 1) * t / f`` as the word2vec C tool
and gensim compute it (:func:`keep_probabilities`).

:class:`SkipGramStream` turns a corpus of ids into a deterministic, resumable stream of batches shaped
like the lecture's (centers ``[BATCH]``, targets ``[BATCH, 1]``), and :meth:`SkipGramStream.dataset`
wraps it in a ``tf.data.Dataset``.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Iterator

import numpy as np

#: batches whose centers are ordered by window reach together (see SkipGramStream._block_windows);
#: large, so that runs of equal reach (chunks) are long: 16 gave chunks of ~3 batches and cost more
#: in per-call overhead than the padding saved (BENCHMARKS.md)
WINDOW_GROUP = 512

__all__ = [
    "SkipGramStream",
    "batch_gen",
    "count_pairs",
    "draw_windows",
    "keep_probabilities",
    "lecture_generate_sample",
    "skipgram_pairs",
    "subsample",
]


def draw_windows(n: int, skip_window: int, rng: np.random.Generator) -> np.ndarray:
    """The lecture's per-center window sizes: ``n`` draws uniform in 1..``skip_window`` (int8)."""
    _check_window(skip_window)
    return rng.integers(1, skip_window + 1, size=n, dtype=np.int8)


def _check_window(skip_window: int) -> None:
    if not isinstance(skip_window, (int, np.integer)) or not 1 <= skip_window <= 127:
        raise ValueError(f"skip_window must be an integer from 1 to 127, not {skip_window!r}")


def skipgram_pairs(ids: np.ndarray, windows: np.ndarray, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All (center, target) pairs for the centers at positions ``start .. stop-1`` of ``ids``.

    ``windows[i]`` is the window of the center at position i. Targets may lie outside
    ``start .. stop-1`` (anywhere in ``ids``), so splitting the corpus into blocks of centers gives
    the same pairs as one call over the whole. Order: center by center; for each, the targets at
    i-b .. i-1 then i+1 .. i+b, as the lecture's generator yields them. Returns two int32 arrays.
    """
    ids = np.asarray(ids)
    n = len(ids)
    stop = n if stop is None else min(stop, n)
    if stop <= start:
        empty = np.empty(0, dtype=np.int32)
        return empty, empty.copy()
    w = np.asarray(windows[start:stop], dtype=np.int32)
    span = int(w.max())
    offsets = np.concatenate([np.arange(-span, 0, dtype=np.int32), np.arange(1, span + 1, dtype=np.int32)])
    positions = np.arange(start, stop, dtype=np.int64 if n >= 2**31 - 256 else np.int32)
    targets = positions[:, None] + offsets  # (centers, 2 * span)
    valid = (np.abs(offsets) <= w[:, None]) & (targets >= 0) & (targets < n)
    centers = np.broadcast_to(ids[start:stop, None], targets.shape)[valid]
    return centers.astype(np.int32, copy=False), ids[targets[valid]].astype(np.int32, copy=False)


def count_pairs(n: int, windows: np.ndarray, start: int = 0, stop: int | None = None) -> int:
    """How many pairs :func:`skipgram_pairs` gives for those centers, without making them."""
    stop = n if stop is None else min(stop, n)
    if stop <= start:
        return 0
    positions = np.arange(start, stop, dtype=np.int64)
    w = np.asarray(windows[start:stop], dtype=np.int64)
    left = np.minimum(w, positions)
    right = np.minimum(w, n - 1 - positions)
    return int(left.sum() + right.sum())


def lecture_generate_sample(index_words, skip_window: int, windows=None, rng: random.Random | None = None):
    """The lecture's per-word generator (one Python step per pair), kept as the reference.

    Yields (center, target) pairs exactly as the lecture's ``generate_sample`` does. ``windows`` fixes
    the window of each center (to compare with :func:`skipgram_pairs`); otherwise each window is
    drawn with ``rng.randint(1, skip_window)`` like the lecture (``random`` module state if no rng).
    """
    randint = (rng or random).randint
    for index, center in enumerate(index_words):
        context = int(windows[index]) if windows is not None else randint(1, skip_window)
        for target in index_words[max(0, index - context) : index]:
            yield center, target
        for target in index_words[index + 1 : index + context + 1]:
            yield center, target


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping one occurrence of each word under subsampling with threshold ``sample``.

    ``min(1, (sqrt(f / t) + 1) * t / f)`` with f the word's share of all tokens and t = ``sample``, the
    formula of the word2vec C tool and gensim (the paper's ``1 - sqrt(t / f)`` is its discard
    probability's leading term). Words rarer than about t are always kept. ``sample=0`` keeps all.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0:
        raise ValueError(f"sample must be >= 0, not {sample!r}")
    if sample == 0:
        return np.ones_like(counts)
    total = counts.sum()
    threshold = sample * total
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    keep[~np.isfinite(keep)] = 1.0
    return np.minimum(keep, 1.0)


def subsample(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``ids`` with each occurrence dropped with probability ``1 - keep[id]`` (order kept)."""
    ids = np.asarray(ids)
    return ids[rng.random(len(ids), dtype=np.float32) < keep[ids]]


@dataclasses.dataclass
class SkipGramStream:
    """A deterministic, resumable stream of skip-gram batches over a corpus of word ids.

    Epoch e of seed s uses ``numpy.random.default_rng([s, e])``: it subsamples the corpus (if
    ``sample`` > 0; needs ``counts``, the vocabulary counts), draws every center's window, then cuts
    the centers into blocks of ``block`` and yields each block's pairs, shuffled within the block when
    ``shuffle`` (a shuffle buffer of one block), in batches of ``batch_size`` (centers ``[B]`` int32,
    targets ``[B, 1]`` int32, as the lecture's placeholders want). Batches run on across block and
    epoch boundaries; the stream ends after ``epochs`` epochs (``None``: never) and drops a final
    partial batch. ``drop_unk`` removes id 0 (UNK) before windowing, as word2vec drops words under
    ``min_count``.

    The position in the stream is the number of batches already taken; :meth:`batches` starts at
    any position without re-running the shuffles before it, so a resumed run sees the same batches
    as an uninterrupted one.
    """

    ids: np.ndarray
    batch_size: int
    skip_window: int
    seed: int = 0
    sample: float = 0.0
    counts: np.ndarray | None = None
    shuffle: bool = True
    epochs: int | None = None
    drop_unk: bool = False
    block: int = 1 << 18

    def __post_init__(self) -> None:
        self.ids = np.ascontiguousarray(self.ids, dtype=np.int32)
        _check_window(self.skip_window)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {self.batch_size!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be >= 1 or None, not {self.epochs!r}")
        if self.sample and self.counts is None:
            raise ValueError("subsampling (sample > 0) needs the vocabulary's counts")
        if len(self.ids) < 2:
            raise ValueError("a skip-gram stream needs a corpus of at least two words")
        self._keep = keep_probabilities(self.counts, self.sample) if self.sample else None
        self._epoch_cache: tuple[int, np.ndarray, np.ndarray] | None = None

    # -- one epoch ------------------------------------------------------------------------------
    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids after subsampling, windows) for an epoch; the latest one is cached."""
        if self._epoch_cache is not None and self._epoch_cache[0] == epoch:
            return self._epoch_cache[1], self._epoch_cache[2]
        rng = np.random.default_rng([self.seed, epoch])
        ids = self.ids
        if self.drop_unk:
            ids = ids[ids != 0]
        if self._keep is not None:
            ids = subsample(ids, self._keep, rng)
        windows = draw_windows(len(ids), self.skip_window, rng)
        self._epoch_cache = (epoch, ids, windows)
        return ids, windows

    def _block_pairs(self, epoch: int, block: int) -> tuple[np.ndarray, np.ndarray]:
        ids, windows = self._epoch(epoch)
        start = block * self.block
        centers, targets = skipgram_pairs(ids, windows, start, start + self.block)
        if self.shuffle and len(centers):
            order = np.random.default_rng([self.seed, epoch, block, 1]).permutation(len(centers))
            centers, targets = centers[order], targets[order]
        return centers, targets

    def _block_windows(self, epoch: int, block: int) -> tuple[np.ndarray, np.ndarray]:
        """A block's centers and their whole windows: ``[m]`` and ``[m, 2 * skip_window]`` (-1 = none).

        Row r of the windows holds the targets at offsets -W .. -1, 1 .. W of center r, with -1 where
        the offset is beyond that center's drawn window or the corpus's ends: the same pairs as
        :func:`skipgram_pairs`, grouped by center.
        """
        ids, windows = self._epoch(epoch)
        n, span = len(ids), self.skip_window
        start = block * self.block
        positions = np.arange(start, min(start + self.block, n))
        offsets = np.concatenate([np.arange(-span, 0), np.arange(1, span + 1)])
        targets = positions[:, None] + offsets
        valid = (np.abs(offsets) <= windows[positions, None]) & (targets >= 0) & (targets < n)
        contexts = np.where(valid, ids[np.clip(targets, 0, n - 1)], -1).astype(np.int32)
        centers = ids[positions]
        if self.shuffle and len(centers):
            order = np.random.default_rng([self.seed, epoch, block, 2]).permutation(len(centers))
            centers, contexts = centers[order], contexts[order]
            # Within each run of WINDOW_GROUP batches, order the centers by how far their window
            # reaches, so that most batches hold windows of one size and need no padding columns.
            reach = np.max(np.where(contexts >= 0, np.abs(offsets), 0), axis=1)
            group = WINDOW_GROUP * self.batch_size
            key = np.arange(len(centers)) // group * (span + 1) + reach
            order = np.argsort(key, kind="stable")
            centers, contexts = centers[order], contexts[order]
        return centers, contexts

    def window_chunks(self, start_batch: int = 0, batches_per_chunk: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stream as batches of ``batch_size`` centers with their windows: ``[k, B]`` and ``[k, B, 2r]``.

        The same (center, target) pairs as :meth:`chunks`, grouped by center (word2vec's own order of
        work), so a training step can share one center's noise words across its window. Columns are
        offsets -r .. -1, 1 .. r, where r (at most ``skip_window``) is how far the chunk's windows reach:
        when shuffling, centers are ordered by reach within groups of ``WINDOW_GROUP`` batches, so
        most chunks carry no padding. Position ``start_batch`` counts batches of centers.
        """
        size = self.batch_size
        skip = start_batch * size
        carry_c = np.empty(0, dtype=np.int32)
        carry_w = np.empty((0, 2 * self.skip_window), dtype=np.int32)
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            ids, _ = self._epoch(epoch)
            for block in range(-(-len(ids) // self.block)):
                in_block = min(self.block, len(ids) - block * self.block)
                if skip >= in_block:
                    skip -= in_block
                    continue
                centers, contexts = self._block_windows(epoch, block)
                if skip:
                    centers, contexts, skip = centers[skip:], contexts[skip:], 0
                if len(carry_c):
                    centers, contexts = np.concatenate([carry_c, centers]), np.concatenate([carry_w, contexts])
                whole = len(centers) // size * size
                carry_c, carry_w = centers[whole:], contexts[whole:]
                yield from self._window_runs(centers[:whole], contexts[:whole], batches_per_chunk)
            epoch += 1

    def _window_runs(self, centers, contexts, batches_per_chunk):
        """Cut whole batches into chunks of batches that reach equally far, dropping padding columns.

        A batch whose windows reach at most r words to each side needs only the columns for offsets
        -r .. r of the ``[B, 2W]`` layout; consecutive batches with the same r form one chunk.
        """
        size, span = self.batch_size, self.skip_window
        batches = len(centers) // size
        if not batches:
            return
        offsets = np.abs(np.concatenate([np.arange(-span, 0), np.arange(1, span + 1)]))
        reach = np.max(np.where(contexts >= 0, offsets, 0), axis=1).reshape(batches, size).max(axis=1)
        reach = np.maximum(reach, 1)
        limit = batches if batches_per_chunk is None else batches_per_chunk
        first = 0
        for last in range(1, batches + 1):
            if last == batches or reach[last] != reach[first] or last - first == limit:
                r = int(reach[first])
                chunk = slice(first * size, last * size)
                yield centers[chunk].reshape(-1, size), contexts[chunk, span - r : span + r].reshape(-1, size, 2 * r)
                first = last

    def pairs_per_epoch(self, epoch: int = 0) -> int:
        ids, windows = self._epoch(epoch)
        return count_pairs(len(ids), windows)

    def batches_per_epoch(self, batching: str = "pairs", epoch: int = 0) -> float:
        """Steps one pass takes: pairs / batch_size, or with ``batching="windows"`` centers / batch_size."""
        units = self.pairs_per_epoch(epoch) if batching == "pairs" else len(self._epoch(epoch)[0])
        return units / self.batch_size

    # -- the stream -----------------------------------------------------------------------------
    def chunks(self, start_batch: int = 0, batches_per_chunk: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stream from batch ``start_batch`` on, as arrays of whole batches: ``[k, B]`` and ``[k, B, 1]``.

        ``batches_per_chunk`` caps k (default: as many as a block gives). Skipping to
        ``start_batch`` counts pairs block by block without making them.
        """
        size = self.batch_size
        skip_pairs = start_batch * size
        carry_c = np.empty(0, dtype=np.int32)
        carry_t = np.empty(0, dtype=np.int32)
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            ids, windows = self._epoch(epoch)
            blocks = -(-len(ids) // self.block)
            for block in range(blocks):
                if skip_pairs:
                    start = block * self.block
                    in_block = count_pairs(len(ids), windows, start, start + self.block)
                    if in_block <= skip_pairs:
                        skip_pairs -= in_block
                        continue
                centers, targets = self._block_pairs(epoch, block)
                if skip_pairs:
                    centers, targets = centers[skip_pairs:], targets[skip_pairs:]
                    skip_pairs = 0
                if len(carry_c):
                    centers = np.concatenate([carry_c, centers])
                    targets = np.concatenate([carry_t, targets])
                whole = len(centers) // size * size
                carry_c, carry_t = centers[whole:], targets[whole:]
                step = whole if batches_per_chunk is None else batches_per_chunk * size
                for begin in range(0, whole, step):
                    end = min(begin + step, whole)
                    yield (
                        centers[begin:end].reshape(-1, size),
                        targets[begin:end].reshape(-1, size, 1),
                    )
            epoch += 1

    def batches(self, start_batch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stream batch by batch: centers ``[B]`` and targets ``[B, 1]`` (int32)."""
        for centers, targets in self.chunks(start_batch):
            yield from zip(centers, targets)

    def dataset(self, start_batch: int = 0):
        """The stream as a ``tf.data.Dataset`` of (centers ``[B]``, targets ``[B, 1]``), prefetched.

        NumPy makes, shuffles and batches the pairs a block at a time (a block's shuffle is a
        shuffle buffer of that size); tf.data splits the blocks into batches and prefetches, so
        the training step never waits on Python for each batch.
        """
        import tensorflow as tf

        size = self.batch_size
        signature = (
            tf.TensorSpec([None, size], tf.int32),
            tf.TensorSpec([None, size, 1], tf.int32),
        )
        chunks = tf.data.Dataset.from_generator(lambda: self.chunks(start_batch), output_signature=signature)
        return chunks.unbatch().prefetch(tf.data.AUTOTUNE)


def batch_gen(index_words, batch_size: int, skip_window: int, *, seed: int | None = 0, epochs: int | None = None):
    """The lecture's ``batch_gen`` generator, for ``tf.data.Dataset.from_generator``, without its crash.

    The lecture's version calls ``next()`` on the exhausted pair generator at the end of the corpus,
    which under PEP 479 becomes ``RuntimeError: generator raised StopIteration``. This one yields
    (center ``[batch_size]`` int32, target ``[batch_size, 1]`` int32) batches for ``epochs`` passes over
    the corpus (``None``: forever, as the lecture intended), each epoch with fresh windows, and then
    simply returns. Pairs come in the lecture's order (no shuffle), made by :func:`skipgram_pairs`;
    ``seed=None`` draws a fresh seed, like the lecture's unseeded ``random.randint``.
    """
    if seed is None:
        seed = random.randrange(2**31)
    stream = SkipGramStream(np.asarray(index_words), batch_size, skip_window, seed=seed, shuffle=False, epochs=epochs)
    yield from stream.batches()
