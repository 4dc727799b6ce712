"""Skip-gram pairs and batches: the lecture's semantics, vectorised, deterministic and resumable."""

import collections
import itertools

import numpy as np
import pytest

from cs20lib.skipgram import (
    SkipGramStream,
    batch_gen,
    count_pairs,
    draw_windows,
    keep_probabilities,
    lecture_generate_sample,
    skipgram_pairs,
    subsample,
)


def corpus(n=5000, vocab=300, seed=0):
    rng = np.random.default_rng(seed)
    # Zipf-like frequencies, as in real text
    p = 1.0 / np.arange(1, vocab + 1)
    return rng.choice(vocab, size=n, p=p / p.sum()).astype(np.int32)


@pytest.mark.parametrize("skip_window", [1, 2, 5])
def test_same_pairs_in_the_same_order_as_the_lecture(skip_window):
    ids = corpus(3000)
    windows = draw_windows(len(ids), skip_window, np.random.default_rng(1))
    centers, targets = skipgram_pairs(ids, windows)
    expected = list(lecture_generate_sample(ids.tolist(), skip_window, windows=windows))
    assert list(zip(centers.tolist(), targets.tolist())) == expected
    assert centers.dtype == targets.dtype == np.int32


def test_window_bounds_and_pair_counts():
    ids = np.arange(1000, dtype=np.int32)  # id == position, so distances can be read off the pairs
    windows = draw_windows(len(ids), 4, np.random.default_rng(2))
    assert windows.min() == 1 and windows.max() == 4
    centers, targets = skipgram_pairs(ids, windows)
    distance = np.abs(centers.astype(int) - targets)
    assert distance.min() >= 1
    assert np.all(distance <= windows[centers])
    # every center has exactly min(b, i) left and min(b, n-1-i) right targets
    per_center = np.bincount(centers, minlength=len(ids))
    i = np.arange(len(ids))
    assert np.array_equal(per_center, np.minimum(windows, i) + np.minimum(windows, len(ids) - 1 - i))
    assert count_pairs(len(ids), windows) == len(centers)
    # window 1 everywhere: 2 per interior word, 1 at each end
    assert count_pairs(10, np.ones(10, dtype=np.int8)) == 18


def test_blocks_of_centers_give_the_same_pairs():
    ids = corpus(2000)
    windows = draw_windows(len(ids), 5, np.random.default_rng(3))
    whole = skipgram_pairs(ids, windows)
    parts = [skipgram_pairs(ids, windows, start, start + 137) for start in range(0, len(ids), 137)]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    assert np.array_equal(np.concatenate([p[1] for p in parts]), whole[1])
    assert sum(count_pairs(len(ids), windows, s, s + 137) for s in range(0, len(ids), 137)) == len(whole[0])
    assert skipgram_pairs(ids, windows, 5, 5)[0].size == 0


def test_bad_windows_are_refused():
    for bad in (0, -1, 128, 1.5):
        with pytest.raises(ValueError, match="skip_window"):
            draw_windows(10, bad, np.random.default_rng())


def test_keep_probabilities_formula():
    counts = np.array([0, 1_000_000, 10_000, 10, 0])
    keep = keep_probabilities(counts, 1e-3)
    total = counts.sum()
    f = counts[1] / total
    assert keep[1] == pytest.approx((np.sqrt(f / 1e-3) + 1) * 1e-3 / f)
    assert keep[3] == 1.0 and keep[0] == 1.0 and keep[4] == 1.0  # rare and absent words are kept
    assert np.all(keep_probabilities(counts, 0) == 1)
    with pytest.raises(ValueError):
        keep_probabilities(counts, -1)


def test_subsampling_keeps_the_expected_fraction():
    ids = corpus(400_000, vocab=2000, seed=4)
    counts = np.bincount(ids, minlength=2000)
    keep = keep_probabilities(counts, 1e-3)
    kept = subsample(ids, keep, np.random.default_rng(5))
    expected = float((counts * keep).sum())
    # the number kept is a sum of independent Bernoulli draws: within 5 standard deviations
    std = float(np.sqrt((counts * keep * (1 - keep)).sum()))
    assert abs(len(kept) - expected) < 5 * std
    assert 0.2 < len(kept) / len(ids) < 0.9  # and subsampling really removes frequent words here
    # per word, the most frequent one keeps its own share
    assert np.sum(kept == 0) / counts[0] == pytest.approx(keep[0], abs=0.01)
    # order is preserved
    positions = np.flatnonzero(np.random.default_rng(5).random(len(ids), dtype=np.float32) < keep[ids])
    assert np.array_equal(kept, ids[positions])


def make_stream(**overrides):
    ids = corpus(20_000, vocab=500, seed=6)
    settings = dict(
        ids=ids,
        batch_size=64,
        skip_window=3,
        seed=7,
        sample=1e-3,
        counts=np.bincount(ids, minlength=500),
        epochs=3,
        block=4096,
    )
    settings.update(overrides)
    return SkipGramStream(**settings)


def test_batches_have_the_lecture_shapes():
    centers, targets = next(make_stream().batches())
    assert centers.shape == (64,) and targets.shape == (64, 1)
    assert centers.dtype == targets.dtype == np.int32


def test_stream_is_deterministic_under_a_seed():
    first = list(itertools.islice(make_stream().batches(), 300))
    again = list(itertools.islice(make_stream().batches(), 300))
    other = list(itertools.islice(make_stream(seed=8).batches(), 300))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_stream_epochs_and_lengths():
    stream = make_stream(sample=0.0, counts=None, shuffle=False)
    total = sum(stream.pairs_per_epoch(epoch) for epoch in range(3))
    batches = list(stream.batches())
    assert len(batches) == total // 64  # batches run on across epochs; only the last partial one is dropped
    # without shuffling the first epoch is exactly the lecture's pair sequence
    ids, windows = stream.epoch_corpus(0)
    centers, _ = skipgram_pairs(ids, windows)
    assert np.array_equal(np.concatenate([b[0] for b in batches])[: len(centers)], centers)


def test_shuffle_permutes_within_blocks():
    # with batches of one pair nothing is carried between blocks, so each chunk is one block's pairs
    plain = list(make_stream(shuffle=False, epochs=1, batch_size=1).chunks())
    mixed = list(make_stream(epochs=1, batch_size=1).chunks())
    assert len(plain) == len(mixed) == -(-len(make_stream().epoch_corpus(0)[0]) // 4096)
    for (a_centers, a_targets), (b_centers, b_targets) in zip(plain, mixed):
        assert not np.array_equal(a_centers, b_centers)
        pairs_a = sorted(zip(a_centers.ravel().tolist(), a_targets.ravel().tolist()))
        assert pairs_a == sorted(zip(b_centers.ravel().tolist(), b_targets.ravel().tolist()))


@pytest.mark.parametrize("start", [0, 1, 63, 64, 500, 1234])
def test_resuming_at_a_batch_gives_the_same_stream(start):
    stream = make_stream()
    everything = list(stream.batches())
    resumed = list(make_stream().batches(start_batch=start))
    assert len(resumed) == len(everything) - start
    for (a, b), (c, d) in zip(everything[start:], resumed):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_drop_unk_removes_id_zero():
    stream = make_stream(drop_unk=True, sample=0.0)
    centers = np.concatenate([c for c, _ in itertools.islice(stream.batches(), 200)])
    assert centers.min() > 0


def test_stream_argument_checks():
    with pytest.raises(ValueError, match="needs the vocabulary's counts"):
        SkipGramStream(corpus(100), 8, 2, sample=1e-3)
    with pytest.raises(ValueError, match="batch_size"):
        SkipGramStream(corpus(100), 0, 2)
    with pytest.raises(ValueError, match="at least two words"):
        SkipGramStream(np.array([3]), 8, 2)


def test_dataset_matches_the_numpy_stream():
    import tensorflow as tf

    stream = make_stream(epochs=1)
    dataset = stream.dataset()
    assert dataset.element_spec == (tf.TensorSpec([64], tf.int32), tf.TensorSpec([64, 1], tf.int32))
    from_tf = [(c.numpy(), t.numpy()) for c, t in dataset]
    from_np = list(make_stream(epochs=1).batches())
    assert len(from_tf) == len(from_np) > 0
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(from_tf, from_np))
    resumed = next(iter(make_stream(epochs=1).dataset(start_batch=10)))
    assert np.array_equal(resumed[0].numpy(), from_np[10][0])


def test_batch_gen_ends_cleanly_and_cycles():
    ids = corpus(1000)
    # one epoch: ends without "RuntimeError: generator raised StopIteration"
    batches = list(batch_gen(ids, 128, 2, seed=1, epochs=1))
    assert batches and all(c.shape == (128,) and t.shape == (128, 1) for c, t in batches)
    # endless (the lecture's intent): runs on past the end of the corpus
    endless = list(itertools.islice(batch_gen(ids, 128, 2, seed=1), 3 * len(batches)))
    assert len(endless) == 3 * len(batches)
    # pairs are the lecture's, in its order
    windows = draw_windows(len(ids), 2, np.random.default_rng([1, 0]))
    expected = np.array([c for c, _ in lecture_generate_sample(ids.tolist(), 2, windows=windows)])
    got = np.concatenate([c for c, _ in batches])
    assert np.array_equal(got, expected[: len(got)])


def test_batch_gen_feeds_from_generator():
    import tensorflow as tf

    ids = corpus(1000)
    dataset = tf.data.Dataset.from_generator(
        lambda: batch_gen(ids, 32, 1, seed=0, epochs=1),
        output_signature=(tf.TensorSpec([32], tf.int32), tf.TensorSpec([32, 1], tf.int32)),
    )
    assert sum(1 for _ in dataset) == count_pairs(len(ids), np.ones(len(ids))) // 32


def test_window_chunks_hold_the_same_pairs_grouped_by_center():
    stream = make_stream(shuffle=False, epochs=1, batch_size=16)
    expanded = []
    for chunk_centers, chunk_windows in stream.window_chunks():
        assert chunk_windows.shape[2] % 2 == 0 and chunk_windows.shape[2] <= 2 * stream.skip_window
        # expand each window to pairs (offsets -r..-1, 1..r in order): exactly the lecture's pairs
        for c, row in zip(
            chunk_centers.reshape(-1).tolist(), chunk_windows.reshape(-1, chunk_windows.shape[2]).tolist()
        ):
            expanded += [(c, t) for t in row if t >= 0]
    ids, drawn = stream.epoch_corpus(0)
    pair_centers, pair_targets = skipgram_pairs(ids, drawn)
    lecture = list(zip(pair_centers.tolist(), pair_targets.tolist()))
    assert expanded == lecture[: len(expanded)] and len(lecture) - len(expanded) < 16 * 6
    assert stream.batches_per_epoch("windows") == len(ids) / 16
    assert stream.batches_per_epoch("pairs") == len(lecture) / 16


@pytest.mark.parametrize("start", [0, 5, 64, 333])
def test_window_chunks_resume_at_a_batch(start):
    everything = [(c, w) for chunk_c, chunk_w in make_stream().window_chunks() for c, w in zip(chunk_c, chunk_w)]
    resumed = [
        (c, w)
        for chunk_c, chunk_w in make_stream().window_chunks(start, batches_per_chunk=7)
        for c, w in zip(chunk_c, chunk_w)
    ]
    assert len(resumed) == len(everything) - start
    for (a, b), (c, d) in zip(everything[start:], resumed):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_shuffled_window_chunks_carry_little_padding():
    stream = make_stream(epochs=1, batch_size=16, sample=0.0, counts=None)
    slots = valid = 0
    pairs = []
    for chunk_centers, chunk_windows in stream.window_chunks():
        slots += chunk_windows.size
        valid += int((chunk_windows >= 0).sum())
        pairs += [
            (c, t)
            for c, row in zip(
                chunk_centers.reshape(-1).tolist(), chunk_windows.reshape(-1, chunk_windows.shape[2]).tolist()
            )
            for t in row
            if t >= 0
        ]
    ids, drawn = stream.epoch_corpus(0)
    lecture = list(zip(*(a.tolist() for a in skipgram_pairs(ids, drawn))))
    assert not (collections.Counter(pairs) - collections.Counter(lecture))  # every pair is one of the lecture's
    assert 0 <= len(lecture) - len(pairs) < 16 * 6  # and only the last partial batch is missing
    assert valid / slots > 0.9  # padded to 2 * skip_window it would be about 2/3
