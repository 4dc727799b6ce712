"""Where a training step's time goes: the window step taken apart, on real batches, in one process.

Run:  python benchmarks/profile_window_step.py [--corpus PATH] [--vocab-rows 71290] [--steps 400] [--no-xla]

Takes real window batches of word2vec's settings (batch 512 centers, window 5, subsampling 1e-3) from
``--corpus`` (default ../shared/data/text8_head.zip), a vocabulary padded to ``--vocab-rows`` rows (text8's
size at min_count 5), 128 dimensions, and times, per step, each part of
:func:`cs20lib.tf2_model.negative_sampling_update` on its own in the same ``tf.function`` loop
the trainer uses: drawing the negatives, the gathers, the batched matrix products, the scatter updates,
the whole step; the whole step done by the fused op (:mod:`cs20lib.fused_op`, deterministic and Hogwild;
skipped with a note where it cannot be built); and, apart, the NumPy input pipeline that makes the
batches. Prints a table of milliseconds per step and pairs per second.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from cs20lib import fused_op
from cs20lib.corpus import read_words
from cs20lib.noise import alias_table, draw_negatives
from cs20lib.skipgram import SkipGramStream
from cs20lib.tf2_model import SkipGram, negative_sampling_update
from cs20lib.vocab import Vocabulary

REPO = Path(__file__).resolve().parent.parent

BATCH, WINDOW, NEGATIVES, DIMS = 512, 5, 5, 128


def chunks_of(stream: SkipGramStream, count: int):
    """The first ``count`` window batches, grouped into the stream's chunks, and the time to make them."""
    started = time.perf_counter()
    out, made = [], 0
    for centers, contexts in stream.window_chunks(batches_per_chunk=512):
        out.append((tf.constant(centers), tf.constant(contexts)))
        made += len(centers)
        if made >= count:
            break
    return out, time.perf_counter() - started, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "text8_head.zip")
    parser.add_argument("--vocab-rows", type=int, default=71290)
    parser.add_argument("--steps", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-xla", action="store_true", help="time each part without XLA only")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    words = read_words(args.corpus)
    vocab = Vocabulary.build(words, min_count=5)
    ids = vocab.encode(words)
    counts = np.zeros(args.vocab_rows, dtype=np.int64)
    counts[: len(vocab)] = vocab.counts[: args.vocab_rows]
    counts[len(vocab) :] = 5
    stream = SkipGramStream(ids, BATCH, WINDOW, seed=1, sample=1e-3, counts=vocab.counts, drop_unk=True)
    chunks, input_seconds, made = chunks_of(stream, args.steps)
    pairs = sum(int((contexts.numpy() >= 0).sum()) for _, contexts in chunks)

    model = SkipGram(args.vocab_rows, DIMS, init="word2vec", seed=1)
    model.output_weight.assign(tf.random.stateless_uniform(model.output_weight.shape, [1, 3], -0.05, 0.05))
    keep, alias = (tf.constant(x) for x in alias_table(counts))
    lr = tf.constant(0.025)
    iteration = tf.Variable(0, dtype=tf.int64)

    def negatives():
        iteration.assign_add(1)
        return draw_negatives(keep, alias, [BATCH, NEGATIVES], tf.stack([tf.constant(1, tf.int64), iteration]))

    def part_empty(centers, contexts):
        iteration.assign_add(1)
        return tf.constant(0.0)

    def part_negatives(centers, contexts):
        return tf.reduce_sum(tf.cast(negatives(), tf.float32))

    def part_gathers(centers, contexts):
        ids = tf.concat([centers[:, None], negatives()], axis=1)
        inputs = tf.gather(model.embed_matrix, tf.maximum(contexts, 0))
        outputs = tf.gather(model.output_weight, ids)
        return tf.reduce_sum(inputs[:, 0, 0]) + tf.reduce_sum(outputs[:, 0, 0])

    def part_no_scatter(centers, contexts):
        mask = tf.cast(contexts >= 0, tf.float32)
        ids = tf.concat([centers[:, None], negatives()], axis=1)
        inputs = tf.gather(model.embed_matrix, tf.maximum(contexts, 0))
        outputs = tf.gather(model.output_weight, ids)
        logits = tf.matmul(inputs, outputs, transpose_b=True)
        labels = tf.one_hot(tf.zeros([tf.shape(centers)[0]], tf.int32), tf.shape(ids)[1])[:, None, :]
        g = (tf.sigmoid(logits) - labels) * (mask[:, :, None] * (lr / BATCH))
        d_inputs = tf.matmul(g, outputs)
        d_outputs = tf.matmul(g, inputs, transpose_a=True)
        return tf.reduce_sum(d_inputs[:, 0, 0]) + tf.reduce_sum(d_outputs[:, 0, 0])

    def part_scatters(centers, contexts):
        ids = tf.concat([centers[:, None], negatives()], axis=1)
        width = tf.shape(contexts)[1]
        model.embed_matrix.scatter_sub(
            tf.IndexedSlices(tf.fill([BATCH * width, DIMS], 1e-9), tf.reshape(tf.maximum(contexts, 0), [-1]))
        )
        model.output_weight.scatter_sub(
            tf.IndexedSlices(tf.fill([BATCH * (1 + NEGATIVES), DIMS], 1e-9), tf.reshape(ids, [-1]))
        )
        return tf.constant(0.0)

    def whole_step(centers, contexts):
        return negative_sampling_update(model, centers, contexts, negatives(), lr, BATCH)

    def fused_step(hogwild, rows=False):
        def step(centers, contexts):
            return fused_op.fused_update(model, centers, contexts, negatives(), lr, BATCH, hogwild=hogwild, rows=rows)

        return step

    parts = [
        ("loop and step counter only", part_empty),
        ("negatives (alias table, stateless RNG)", part_negatives),
        ("gathers", part_gathers),
        ("gathers + matmuls, no scatter", part_no_scatter),
        ("scatter updates only", part_scatters),
        ("whole window step", whole_step),
    ]
    try:
        fused_op.load_library()
        parts += [
            ("fused op, pairs, deterministic", fused_step(False)),
            ("fused op, pairs, Hogwild", fused_step(True)),
            ("fused op, rows (HogBatch), deterministic", fused_step(False, True)),
            ("fused op, rows (HogBatch), Hogwild", fused_step(True, True)),
        ]
    except fused_op.KernelUnavailableError as error:
        print(f"no fused-op rows: {error}")
    rows = [("input pipeline (NumPy, window_chunks)", input_seconds)]
    for name, part in parts:
        for jit in (False,) if args.no_xla or name.startswith("fused") else (False, True):
            step = tf.function(part, jit_compile=jit)

            @tf.function(
                input_signature=[tf.TensorSpec([None, BATCH], tf.int32), tf.TensorSpec([None, BATCH, None], tf.int32)]
            )
            def loop(centers, contexts, step=step):
                total = tf.constant(0.0)
                for i in tf.range(tf.shape(centers)[0]):
                    total += step(centers[i], contexts[i])
                return total

            for centers, contexts in chunks[:1]:  # trace and warm up
                loop(centers[:2], contexts[:2]).numpy()
            started = time.perf_counter()
            for centers, contexts in chunks:
                loop(centers, contexts).numpy()
            rows.append((f"{name}{' (XLA)' if jit else ''}", time.perf_counter() - started))
    print(
        f"{made} steps of {BATCH} centers, {pairs:,} pairs, vocabulary {args.vocab_rows:,} "
        f"x {DIMS}, {args.threads} threads, TF {tf.__version__}"
    )
    print(f"{'part':44s} {'ms/step':>8s} {'pairs/s':>12s}")
    for name, seconds in rows:
        print(f"{name:44s} {1000 * seconds / made:8.3f} {pairs / seconds:12,.0f}")


if __name__ == "__main__":
    main()
