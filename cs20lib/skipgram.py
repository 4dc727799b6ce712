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
from collections.abc import Callable, Iterator

import numpy as np

from . import checks

#: batches whose centers are ordered by window reach together (see SkipGramStream._block_windows): large,
#: so that runs of batches with equal reach are long and a training step rarely needs padding columns
WINDOW_GROUP = 512

__all__ = [
    "SkipGramStream",
    "window_offsets",
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
    checks.integer("skip_window", skip_window, 1, 127)


def window_offsets(span: int) -> np.ndarray:
    """The offsets of a window that reaches ``span`` words each way: -span .. -1, 1 .. span (int32)."""
    return np.concatenate([np.arange(-span, 0, dtype=np.int32), np.arange(1, span + 1, dtype=np.int32)])


def _targets_in_window(
    positions: np.ndarray, windows: np.ndarray, n: int, span: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For centers at ``positions``: the target positions at offsets -span .. -1, 1 .. span ``[m, 2 span]``
    (``span``: the widest of their windows by default), and which of them are real targets (inside the
    center's own window and inside the corpus ``0 .. n-1``)."""
    w = np.asarray(windows[positions], dtype=np.int32)
    offsets = window_offsets(int(w.max()) if span is None else span)
    targets = positions[:, None] + offsets
    valid = (np.abs(offsets) <= w[:, None]) & (targets >= 0) & (targets < n)
    return targets, valid


def skipgram_pairs(
    ids: np.ndarray, windows: np.ndarray, start: int = 0, stop: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
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
    positions = np.arange(start, stop, dtype=np.int64 if n >= 2**31 - 256 else np.int32)
    targets, valid = _targets_in_window(positions, windows, n)
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


#: words subsampled at a time (an epoch's corpus is made block by block, so its temporary arrays stay small)
SUBSAMPLE_BLOCK = 1 << 20


def subsample(
    ids: np.ndarray, keep: np.ndarray | None, rng: np.random.Generator, *, drop_unk: bool = False
) -> np.ndarray:
    """``ids`` with each occurrence dropped with probability ``1 - keep[id]`` (order kept; ``keep=None``: none
    dropped), and with ``drop_unk`` every UNK (id 0) dropped first.

    Made :data:`SUBSAMPLE_BLOCK` words at a time into one array: the draws are those of one ``rng.random``
    call over all the words kept from UNK (a generator gives the same numbers in pieces), without a
    temporary array the size of the corpus.
    """
    ids = np.asarray(ids)
    out = np.empty(len(ids), dtype=ids.dtype)
    made = 0
    for start in range(0, len(ids), SUBSAMPLE_BLOCK):
        part = ids[start : start + SUBSAMPLE_BLOCK]
        if drop_unk:
            part = part[part != 0]
        if keep is not None:
            part = part[rng.random(len(part), dtype=np.float32) < keep[part]]
        out[made : made + len(part)] = part
        made += len(part)
    out.resize(made, refcheck=False)  # shrinks in place
    return out


@dataclasses.dataclass
class SkipGramStream:
    """A deterministic, resumable stream of skip-gram batches over a corpus of word ids.

    Epoch e of seed s uses ``numpy.random.default_rng([s, e])``: it drops UNK (id 0) when ``drop_unk``
    (as word2vec drops words under ``min_count``), subsamples (if ``sample`` > 0; needs ``counts``, the
    vocabulary counts), draws every center's window, then cuts the centers into blocks of ``block``.
    Each block's units are shuffled within the block when ``shuffle`` (a shuffle buffer of one block)
    and cut into batches of ``batch_size``:

    * :meth:`chunks` (the lecture's batches): units are (center, target) pairs, batches are centers
      ``[B]`` and targets ``[B, 1]`` (int32, as the lecture's placeholders want);
    * :meth:`window_chunks` (word2vec's order of work): units are centers with their whole window,
      batches are centers ``[B]`` and windows ``[B, 2r]`` with -1 for no word.

    Batches run on across block and epoch boundaries; the stream ends after ``epochs`` epochs
    (``None``: never) and drops a final partial batch. The position in the stream is the number of
    batches already taken; both methods start at any position without re-running the shuffles before
    it, so a resumed run sees the same batches as an uninterrupted one.
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
        checks.integer("batch_size", self.batch_size, 1)
        if self.epochs is not None:
            checks.integer("epochs", self.epochs, 1)
        if self.sample and self.counts is None:
            raise ValueError("subsampling (sample > 0) needs the vocabulary's counts")
        if len(self.ids) < 2:
            raise ValueError("a skip-gram stream needs a corpus of at least two words")
        self._keep = keep_probabilities(self.counts, self.sample) if self.sample else None
        self._epoch_cache: tuple[int, np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_config(cls, config, ids: np.ndarray, counts: np.ndarray | None = None, **overrides) -> SkipGramStream:
        """The stream a :class:`~cs20lib.config.Word2VecConfig` trains on (batch size, window, seed,
        subsampling, UNK handling); ``counts`` are the vocabulary's counts."""
        settings = dict(
            batch_size=config.batch_size,
            skip_window=config.skip_window,
            seed=config.seed,
            sample=config.sample,
            counts=counts,
            drop_unk=not config.keep_unk,
        )
        return cls(ids, **{**settings, **overrides})

    # -- one epoch ------------------------------------------------------------------------------
    def epoch_corpus(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids after dropping UNK and subsampling, each position's window) for an epoch; the latest is cached."""
        if self._epoch_cache is not None and self._epoch_cache[0] == epoch:
            return self._epoch_cache[1], self._epoch_cache[2]
        rng = np.random.default_rng([self.seed, epoch])
        self._epoch_cache = None  # the previous epoch's arrays go before this one's are made
        ids = (
            subsample(self.ids, self._keep, rng, drop_unk=self.drop_unk)
            if self.drop_unk or self._keep is not None
            else self.ids
        )
        windows = draw_windows(len(ids), self.skip_window, rng)
        self._epoch_cache = (epoch, ids, windows)
        return ids, windows

    def pairs_per_epoch(self, epoch: int = 0) -> int:
        ids, windows = self.epoch_corpus(epoch)
        return count_pairs(len(ids), windows)

    def batches_per_epoch(self, batching: str = "pairs", epoch: int = 0) -> float:
        """Steps one pass takes: pairs / batch_size, or with ``batching="windows"`` centers / batch_size."""
        units = self.pairs_per_epoch(epoch) if batching == "pairs" else len(self.epoch_corpus(epoch)[0])
        return units / self.batch_size

    def _shuffled(self, arrays: tuple, epoch: int, block: int, salt: int) -> tuple:
        if not self.shuffle or not len(arrays[0]):
            return arrays
        order = np.random.default_rng([self.seed, epoch, block, salt]).permutation(len(arrays[0]))
        return tuple(array[order] for array in arrays)

    def _block_pairs(self, epoch: int, block: int) -> tuple[np.ndarray, np.ndarray]:
        """A block's (center, target) pairs, shuffled within the block."""
        ids, windows = self.epoch_corpus(epoch)
        start = block * self.block
        return self._shuffled(skipgram_pairs(ids, windows, start, start + self.block), epoch, block, 1)

    def _block_windows(self, epoch: int, block: int) -> tuple[np.ndarray, np.ndarray]:
        """A block's centers and their whole windows: ``[m]`` and ``[m, 2 * skip_window]`` (-1 = none).

        Row r of the windows holds the targets at offsets -W .. -1, 1 .. W of center r, with -1 where
        the offset is beyond that center's window or the corpus's ends: the pairs of
        :func:`skipgram_pairs`, grouped by center. When shuffling, the centers of each run of
        ``WINDOW_GROUP`` batches are then ordered by how far their windows reach, so that most batches
        hold windows of one size and a training step needs no padding columns.
        """
        ids, windows = self.epoch_corpus(epoch)
        n, span = len(ids), self.skip_window
        positions = np.arange(block * self.block, min((block + 1) * self.block, n))
        targets, valid = _targets_in_window(positions, windows, n, span)
        contexts = np.where(valid, ids[np.clip(targets, 0, n - 1)], -1).astype(np.int32)
        centers, contexts = self._shuffled((ids[positions], contexts), epoch, block, 2)
        if self.shuffle:
            key = np.arange(len(centers)) // (WINDOW_GROUP * self.batch_size) * (span + 1) + _reach(contexts)
            order = np.argsort(key, kind="stable")
            centers, contexts = centers[order], contexts[order]
        return centers, contexts

    # -- the stream -----------------------------------------------------------------------------
    def _whole_batches(
        self, start_batch: int, units_in: Callable[[int, int], int], make: Callable[[int, int], tuple]
    ) -> Iterator[tuple]:
        """The epoch / block loop behind both streams: block after block, epoch after epoch, the block's
        arrays (``make(epoch, block)``, one unit per row) trimmed to whole batches, with the rest carried
        into the next block. Skipping to ``start_batch`` counts units (``units_in(epoch, block)``) block by
        block without making them."""
        size = self.batch_size
        skip = start_batch * size
        carry = None
        epoch = 0
        while self.epochs is None or epoch < self.epochs:
            ids, _ = self.epoch_corpus(epoch)
            for block in range(-(-len(ids) // self.block)):
                if skip:
                    units = units_in(epoch, block)
                    if units <= skip:
                        skip -= units
                        continue
                arrays = tuple(array[skip:] for array in make(epoch, block))
                skip = 0
                if carry is not None:
                    arrays = tuple(np.concatenate(pair) for pair in zip(carry, arrays))
                whole = len(arrays[0]) // size * size
                carry = tuple(array[whole:] for array in arrays)
                if whole:
                    yield tuple(array[:whole] for array in arrays)
            epoch += 1

    def chunks(
        self, start_batch: int = 0, batches_per_chunk: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The pair stream from batch ``start_batch`` on, as arrays of whole batches: ``[k, B]`` and ``[k, B, 1]``.

        ``batches_per_chunk`` caps k (default: as many as a block gives).
        """
        size = self.batch_size

        def pairs_in(epoch, block):
            ids, windows = self.epoch_corpus(epoch)
            return count_pairs(len(ids), windows, block * self.block, (block + 1) * self.block)

        for centers, targets in self._whole_batches(start_batch, pairs_in, self._block_pairs):
            step = len(centers) if batches_per_chunk is None else batches_per_chunk * size
            for begin in range(0, len(centers), step):
                end = begin + step
                yield centers[begin:end].reshape(-1, size), targets[begin:end].reshape(-1, size, 1)

    def window_chunks(
        self, start_batch: int = 0, batches_per_chunk: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stream as batches of ``batch_size`` centers with their windows: ``[k, B]`` and ``[k, B, 2r]``.

        The same (center, target) pairs as :meth:`chunks`, grouped by center, so that a training step
        can share one center's noise words across its window. Columns are offsets -r .. -1, 1 .. r,
        where r (at most ``skip_window``) is how far the chunk's windows reach: consecutive batches of
        equal reach form one chunk (at most ``batches_per_chunk`` batches). Position ``start_batch``
        counts batches of centers.
        """
        size, span = self.batch_size, self.skip_window

        def centers_in(epoch, block):
            return min(self.block, len(self.epoch_corpus(epoch)[0]) - block * self.block)

        for centers, contexts in self._whole_batches(start_batch, centers_in, self._block_windows):
            batches = len(centers) // size
            reach = np.maximum(_reach(contexts).reshape(batches, size).max(axis=1), 1)
            limit = batches if batches_per_chunk is None else batches_per_chunk
            first = 0
            for last in range(1, batches + 1):
                if last == batches or reach[last] != reach[first] or last - first == limit:
                    r = int(reach[first])
                    rows = slice(first * size, last * size)
                    yield centers[rows].reshape(-1, size), contexts[rows, span - r : span + r].reshape(-1, size, 2 * r)
                    first = last

    def center_chunks(
        self, start_batch: int = 0, batches_per_chunk: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Batches of center positions, for a step that makes the windows itself (the fused op's "loop"):
        ``(epoch, positions)`` with ``positions`` ``[k, B]`` (int32) into that epoch's corpus
        (:meth:`epoch_corpus`), whose windows the step reads from the epoch's reach array.

        The centers of :meth:`window_chunks`, in its block-shuffled order but not ordered by reach (a step
        that makes its own windows needs no padding columns), and batches do not cross an epoch's end: its
        last partial batch is dropped. ``start_batch`` counts these batches.
        """
        size = self.batch_size
        skip, epoch = start_batch, 0
        while self.epochs is None or epoch < self.epochs:
            n = len(self.epoch_corpus(epoch)[0])
            batches = n // size
            if skip >= batches:
                skip, epoch = skip - batches, epoch + 1
                continue
            skip_centers, carry = skip * size, np.empty(0, dtype=np.int32)
            for block in range(-(-n // self.block)):
                start = block * self.block
                stop = min(start + self.block, batches * size)
                if stop <= start:
                    break
                if skip_centers >= stop - start:
                    skip_centers -= stop - start
                    continue
                positions = np.arange(start, min(start + self.block, n), dtype=np.int32)
                (positions,) = self._shuffled((positions,), epoch, block, 2)
                positions = np.concatenate([carry, positions[positions < batches * size][skip_centers:]])
                skip_centers = 0
                whole = len(positions) // size * size
                carry = positions[whole:]
                chunk = positions[:whole].reshape(-1, size)
                step = max(len(chunk), 1) if batches_per_chunk is None else batches_per_chunk
                for begin in range(0, len(chunk), step):
                    yield epoch, chunk[begin : begin + step]
            skip, epoch = 0, epoch + 1

    def batches(self, start_batch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The pair stream batch by batch: centers ``[B]`` and targets ``[B, 1]`` (int32)."""
        for centers, targets in self.chunks(start_batch):
            yield from zip(centers, targets)

    def dataset(self, start_batch: int = 0):
        """The pair stream as a ``tf.data.Dataset`` of (centers ``[B]``, targets ``[B, 1]``), prefetched.

        NumPy makes, shuffles and batches the pairs a block at a time; tf.data splits the blocks into
        batches and prefetches, so the training step never waits on Python for each batch.
        """
        import tensorflow as tf

        size = self.batch_size
        signature = (tf.TensorSpec([None, size], tf.int32), tf.TensorSpec([None, size, 1], tf.int32))
        chunks = tf.data.Dataset.from_generator(lambda: self.chunks(start_batch), output_signature=signature)
        return chunks.unbatch().prefetch(tf.data.AUTOTUNE)


def _reach(contexts: np.ndarray) -> np.ndarray:
    """How far each row of a ``[m, 2W]`` window (offsets -W .. -1, 1 .. W, -1 = no word) reaches."""
    span = contexts.shape[1] // 2
    return np.max(np.where(contexts >= 0, np.abs(window_offsets(span)), 0), axis=1)


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
