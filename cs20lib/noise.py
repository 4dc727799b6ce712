"""Noise words: what NCE and negative sampling contrast the true word with, drawn reproducibly from seeds.

* NCE (the lecture's ``tf.nn.nce_loss``) draws ``num_sampled`` words per batch from the log-uniform
  (Zipfian) distribution over ids, which fits a vocabulary sorted by frequency:
  :func:`log_uniform_sample` with a ``tf.random.Generator`` (the TF2 trainer; its state is checkpointed)
  or :func:`log_uniform_from` with given uniform draws (the graph model, stateless, keyed by the step).
* Negative sampling (word2vec) draws ``negative`` words per pair from the unigram distribution raised to
  ``power`` (3/4; Mikolov et al. 2013b): :func:`alias_table` once, then :func:`draw_negatives` with a
  stateless seed (seed, step).

Either way a resumed run draws the same noise words as an uninterrupted one.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

__all__ = ["alias_table", "draw_negatives", "log_uniform_from", "log_uniform_sample"]


def log_uniform_sample(generator: tf.random.Generator, num_sampled: int, range_max: int, targets):
    """Noise words for ``tf.nn.nce_loss`` from the log-uniform distribution, drawn with ``generator``.

    P(k) = (log(k + 2) - log(k + 1)) / log(range_max + 1), the distribution of TensorFlow's
    ``log_uniform_candidate_sampler``; drawn by inverting its CDF, with replacement (like word2vec), so
    the expected count of a class is ``num_sampled * P(k)``. Returns the ``sampled_values`` triple.
    """
    return log_uniform_from(generator.uniform([num_sampled], dtype=tf.float64), num_sampled, range_max, targets)


def log_uniform_from(u, num_sampled: int, range_max: int, targets):
    """:func:`log_uniform_sample` for given uniform draws ``u`` in [0, 1) (float64), e.g. stateless ones."""
    log_range = math.log(range_max + 1.0)
    sampled = tf.cast(tf.floor(tf.exp(u * log_range)), tf.int64) - 1
    sampled = tf.clip_by_value(sampled, 0, range_max - 1)

    def expected(ids):
        ids = tf.cast(ids, tf.float64)
        p = (tf.math.log(ids + 2.0) - tf.math.log(ids + 1.0)) / log_range
        return tf.cast(num_sampled * p, tf.float32)

    return sampled, expected(tf.cast(targets, tf.int64)), expected(sampled)


def alias_table(counts: np.ndarray, power: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for drawing ids with probability proportional to ``counts ** power``.

    Returns ``(keep, alias)``: draw i uniformly from 0..V-1 and u uniformly from [0, 1); the sample is
    i if ``u < keep[i]``, else ``alias[i]``. Exact for any distribution and O(1) per draw with two
    gathers (Walker 1977; Vose 1991 for this construction), where word2vec's 10^8-entry unigram table
    would cost 400 MB. UNK (id 0) is never drawn.
    """
    weights = np.asarray(counts, dtype=np.float64) ** power
    weights[0] = 0.0
    n = len(weights)
    scaled = weights * n / weights.sum()
    keep = np.zeros(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, big = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], big
        scaled[big] -= 1.0 - scaled[s]
        (small if scaled[big] < 1.0 else large).append(big)
    for i in large + small:  # what is left is 1 up to rounding
        keep[i] = 1.0
    keep[0], alias[0] = 0.0, alias[0] if alias[0] != 0 else int(np.argmax(weights))
    return keep.astype(np.float32), alias


def draw_negatives(keep, alias, shape, seed):
    """Noise ids from an :func:`alias_table`, drawn with stateless RNG from ``seed`` (two int64)."""
    vocab_size = tf.shape(keep)[0]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    index = tf.random.stateless_uniform(shape, seed=seeds[0], minval=0, maxval=vocab_size, dtype=tf.int32, alg="philox")
    u = tf.random.stateless_uniform(shape, seed=seeds[1], alg="philox")
    return tf.where(u < tf.gather(keep, index), index, tf.gather(alias, index))
