"""Skip-gram input pipeline: pairs per second, the lecture's per-word generator beside cs20lib's.

Run:  python benchmarks/pipeline.py [--corpus PATH] [--skip-window 1] [--batch-size 128]

All rows run in this one process on the same corpus and settings (the lecture's: window 1, batch 128).
Each row consumes batches shaped like the lecture's ([BATCH] centers, [BATCH, 1] targets):

  lecture, NumPy        the lecture's batch_gen: a Python generator yields one (center, target) pair at
                        a time and a loop copies them into the batch arrays
  cs20lib, NumPy        SkipGramStream.batches(): windows, subsampling, pairs and shuffling done with
                        NumPy over blocks of 2^18 centers
  lecture, tf.data      the lecture's input: Dataset.from_generator over its batch_gen
  cs20lib, tf.data      SkipGramStream.dataset(): the same batches as a prefetched tf.data.Dataset
  cs20lib, tf.data      SkipGramStream.chunks() in tf.data, many batches per element, for a train
    (chunks)            step that takes [k, BATCH] at once

tf.data rows are consumed inside TensorFlow (Dataset.reduce), so Python is not in the measuring loop.
The last line is tf.data's own cost per element on this machine (Dataset.range), the floor under any
per-batch tf.data pipeline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cs20lib.corpus import read_words  # noqa: E402
from cs20lib.skipgram import SkipGramStream, lecture_generate_sample  # noqa: E402
from cs20lib.vocab import Vocabulary  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "text8_head.zip"


def lecture_batch_gen(index_words, batch_size, skip_window):
    """The lecture's batch_gen loop over its per-word generator (stops cleanly at the corpus's end)."""
    single_gen = lecture_generate_sample(index_words, skip_window)
    while True:
        center_batch = np.zeros(batch_size, dtype=np.int32)
        target_batch = np.zeros([batch_size, 1])
        for index in range(batch_size):
            pair = next(single_gen, None)
            if pair is None:
                return
            center_batch[index], target_batch[index] = pair
        yield center_batch, target_batch


def timed(label: str, run) -> tuple[str, int, float]:
    start = time.perf_counter()
    pairs = run()
    return label, pairs, time.perf_counter() - start


def count_numpy(batches) -> int:
    return sum(centers.size for centers, _ in batches)


def count_tf(dataset) -> int:
    import tensorflow as tf

    return int(dataset.reduce(np.int64(0), lambda total, batch: total + tf.cast(tf.size(batch[0]), tf.int64)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--corpus",
        default=os.environ.get("CS20_TEXT8") or str(DEFAULT_CORPUS),
        help="text8-format file (default: $CS20_TEXT8, else ../shared/data/text8_head.zip)",
    )
    parser.add_argument("--max-words", type=int, default=None, help="first N words only")
    parser.add_argument("--skip-window", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lecture-words", type=int, default=400_000, help="words the slow lecture-style rows run over")
    args = parser.parse_args(argv)

    import tensorflow as tf

    words = read_words(args.corpus, args.max_words)
    vocab = Vocabulary.build(words, 50_000)
    ids = vocab.encode(words)
    size, window = args.batch_size, args.skip_window
    lecture_ids = ids[: args.lecture_words].tolist()
    print(f"corpus {args.corpus}: {len(ids):,} words, vocabulary {len(vocab):,}; skip_window={window}, batch={size}")
    print(f"lecture-style rows run over the first {len(lecture_ids):,} words; cs20lib rows over all {len(ids):,}\n")

    def stream():
        return SkipGramStream(ids, size, window, seed=0, epochs=1)

    signature = (tf.TensorSpec([size], tf.int32), tf.TensorSpec([size, 1], tf.int32))
    rows = [
        timed("lecture, NumPy", lambda: count_numpy(lecture_batch_gen(lecture_ids, size, window))),
        timed("cs20lib, NumPy", lambda: count_numpy(stream().batches())),
        timed(
            "lecture, tf.data",
            lambda: count_tf(
                tf.data.Dataset.from_generator(
                    lambda: ((c, t.astype(np.int32)) for c, t in lecture_batch_gen(lecture_ids, size, window)),
                    output_signature=signature,
                )
            ),
        ),
        timed("cs20lib, tf.data", lambda: count_tf(stream().dataset())),
        timed(
            "cs20lib, tf.data (chunks)",
            lambda: count_tf(
                tf.data.Dataset.from_generator(
                    lambda: stream().chunks(batches_per_chunk=512),
                    output_signature=(tf.TensorSpec([None, size], tf.int32), tf.TensorSpec([None, size, 1], tf.int32)),
                ).prefetch(2)
            ),
        ),
    ]
    rates = {label: pairs / seconds for label, pairs, seconds in rows}
    baseline = {"NumPy": rates["lecture, NumPy"], "tf.data": rates["lecture, tf.data"]}
    print(f"{'pipeline':<28}{'pairs':>12}{'seconds':>10}{'pairs/s':>14}{'vs lecture':>12}")
    for label, pairs, seconds in rows:
        kind = "NumPy" if "NumPy" in label else "tf.data"
        print(f"{label:<28}{pairs:>12,}{seconds:>10.2f}{rates[label]:>14,.0f}{rates[label] / baseline[kind]:>11.1f}x")

    elements = 200_000
    start = time.perf_counter()
    tf.data.Dataset.range(elements).reduce(np.int64(0), lambda a, b: a + b)
    floor = (time.perf_counter() - start) / elements
    print(
        f"\ntf.data cost per element here: {floor * 1e6:.1f} us (Dataset.range), so at most {size / floor:,.0f} pairs/s for any per-batch tf.data pipeline at batch {size}"  # noqa: E501
    )

    ours = rates["cs20lib, NumPy"]
    ratio = ours / baseline["NumPy"]
    ok = ours >= 5_000_000 and ratio >= 20
    print(
        f"target (cs20lib NumPy >= 5,000,000 pairs/s and >= 20x lecture): {ours:,.0f} "
        f"pairs/s, {ratio:.1f}x -> {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
