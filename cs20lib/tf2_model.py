"""The TF2 counterpart of the lecture's model: a ``tf.Module`` skip-gram with two losses, and plain SGD.

Where the graph model builds ops into a ``tf.Graph`` and runs them in a ``Session``, here the model is
a Python object that owns its variables (``tf.Module`` tracks them for checkpoints), a loss is an
ordinary function called under ``tf.GradientTape``, and ``tf.function`` compiles the training step.

Losses (both average over the pairs of a batch, like the lecture's ``tf.reduce_mean``):

* ``nce``: noise-contrastive estimation, ``tf.nn.nce_loss`` as in the lecture (Gutmann & Hyvaerinen
  2010; Mnih & Kavukcuoglu 2013), with ``num_sampled`` noise words per batch drawn from the
  log-uniform (Zipfian) distribution over ids, which fits a vocabulary sorted by frequency;
* ``negative``: word2vec's negative sampling (Mikolov et al. 2013b, eq. 4):
  ``log sigma(u_o . v_i) + sum_k log sigma(-u_k . v_i)`` for an input word i and an output word o,
  with ``negative`` noise words k drawn from the unigram distribution raised to ``power`` (3/4).

Randomness comes only from seeds: initial values from stateless ops; the noise words from
:mod:`cs20lib.noise` (NCE's from a ``tf.random.Generator``, whose state is a variable that checkpoints
capture; negative sampling's from stateless ops keyed by (seed, step)). Either way a resumed run draws
the same noise words as an uninterrupted one.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["SGD", "SkipGram", "negative_sampling_update"]


class SkipGram(tf.Module):
    """Skip-gram word2vec: ``embed_matrix`` (input vectors v), ``output_weight`` (output vectors u), ``output_bias``.

    ``output_weight`` and ``output_bias`` are the lecture's ``nce_weight`` and ``nce_bias`` (word2vec's
    ``syn1neg``; negative sampling uses no bias). ``init="uniform"`` starts ``embed_matrix`` in [-1, 1)
    (the course's 2017 code; its 2018 listing's ``random_uniform_initializer()`` drew from [0, 1), see
    :mod:`cs20lib.tf1_model`) and ``output_weight`` from a truncated normal with stddev 1/sqrt(embed_size),
    as the lecture;
    ``init="word2vec"`` uses the C tool's [-0.5, 0.5) / embed_size and zeros.

    Created under a ``tf.distribute`` strategy's scope, the two tables become that strategy's
    variables (``ShardedVariable`` row blocks on parameter servers, ``MirroredVariable`` copies); every
    read goes through ``tf.nn.embedding_lookup``, which reads only the rows it needs from each shard.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_size: int,
        *,
        init: str = "uniform",
        seed: int = 0,
        aggregation=tf.VariableAggregation.NONE,
    ):
        super().__init__(name="skip_gram")
        self.vocab_size, self.embed_size = vocab_size, embed_size
        shape = [vocab_size, embed_size]
        with self.name_scope:
            if init == "uniform":
                embed = tf.random.stateless_uniform(shape, seed=[seed, 1], minval=-1.0, maxval=1.0)
                weight = tf.random.stateless_truncated_normal(shape, seed=[seed, 2], stddev=1.0 / math.sqrt(embed_size))
            elif init == "word2vec":
                embed = tf.random.stateless_uniform(shape, seed=[seed, 1], minval=-0.5, maxval=0.5) / embed_size
                weight = tf.zeros(shape)
            else:
                raise ValueError(f"init must be 'uniform' or 'word2vec', not {init!r}")
            # aggregation: how MirroredStrategy combines the replicas' updates (SUM: each scatter's rows
            # are gathered from every replica and applied to every copy)
            self.embed_matrix = tf.Variable(embed, name="embed_matrix", aggregation=aggregation)
            self.output_weight = tf.Variable(weight, name="output_weight", aggregation=aggregation)
            self.output_bias = tf.Variable(tf.zeros([vocab_size]), name="output_bias")

    def __call__(self, centers):
        """The embeddings of ``centers`` (the lecture's ``embedding_lookup``)."""
        return tf.nn.embedding_lookup(self.embed_matrix, centers)

    def nce_loss(self, centers, targets, sampled_values):
        """Mean NCE loss of a batch; ``sampled_values`` from :func:`log_uniform_sample`."""
        return tf.reduce_mean(
            tf.nn.nce_loss(
                weights=self.output_weight,
                biases=self.output_bias,
                labels=tf.cast(targets, tf.int64),
                inputs=self(centers),
                num_sampled=int(sampled_values[0].shape[0]),
                num_classes=self.vocab_size,
                sampled_values=sampled_values,
            )
        )

    def negative_sampling_loss(self, output_ids, input_ids, negatives):
        """Mean negative-sampling loss per pair, for rows of one output word and several input words.

        Row b pairs the output word ``output_ids[b]`` with each input word ``input_ids[b, j]`` (-1: no
        word) and shares the noise words ``negatives[b]`` among those pairs. The logits are plain dot
        products, as in word2vec. The lecture's pairs are rows of one input word (the center) and one
        output word (the target); word2vec's windows are rows of a center (output) and its context.
        """
        mask = tf.cast(input_ids >= 0, tf.float32)  # [B, C]
        v = tf.nn.embedding_lookup(self.embed_matrix, tf.maximum(input_ids, 0))  # [B, C, D]
        u_true = tf.nn.embedding_lookup(self.output_weight, output_ids)  # [B, D]
        u_noise = tf.nn.embedding_lookup(self.output_weight, negatives)  # [B, K, D]
        true_logit = tf.einsum("bcd,bd->bc", v, u_true)
        noise_logit = tf.einsum("bcd,bkd->bck", v, u_noise)
        # -log sigma(x) = softplus(-x); -log sigma(-x) = softplus(x)
        per_pair = tf.nn.softplus(-true_logit) + tf.reduce_sum(tf.nn.softplus(noise_logit), axis=2)
        return tf.reduce_sum(per_pair * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def negative_sampling_update(model: SkipGram, output_ids, input_ids, negatives, learning_rate, batch_size: int):
    """One SGD step on the negative-sampling loss, with the gradients written out by hand; returns the mean loss.

    For a pair of input word i and output word o with noise words k (logits x = u . v_i, no bias), the
    loss ``softplus(-x_o) + sum_k softplus(x_k)`` has ``dL/dx = sigma(x) - label`` (label 1 for o, 0 for
    the noise words), hence ``dL/dv_i = sum_j (sigma(x_j) - label_j) u_j`` and ``dL/du_j = (sigma(x_j) -
    label_j) v_i``: word2vec's update (Mikolov et al. 2013b; derived in Rong 2014, "word2vec Parameter
    Learning Explained", eqs. 59-61). Each pair gets the step ``learning_rate / batch_size``, so a
    learning rate of 0.025 * batch_size is word2vec's 0.025 per pair.

    Rows hold one output word and its input words (``input_ids`` ``[B, C]``, -1 for none), with the
    noise words of a row shared by its pairs (Ji et al. 2016, "Parallelizing Word2Vec in Shared and
    Distributed Memory"): a row's pairs become one small matrix product, and each output vector is
    read and written once per row. Every vector is gathered once and updated by one scatter per
    matrix. ``tests/test_training.py`` checks it against the tape's gradient of
    :meth:`SkipGram.negative_sampling_loss`.
    """
    mask = tf.cast(input_ids >= 0, tf.float32)  # [B, C]
    inputs = tf.nn.embedding_lookup(model.embed_matrix, tf.maximum(input_ids, 0))  # [B, C, D]
    ids = tf.concat([output_ids[:, None], negatives], axis=1)  # [B, 1+K]: the true output word first
    outputs = tf.nn.embedding_lookup(model.output_weight, ids)  # [B, 1+K, D]
    logits = tf.matmul(inputs, outputs, transpose_b=True)  # [B, C, 1+K]
    labels = tf.one_hot(tf.zeros([tf.shape(output_ids)[0]], tf.int32), tf.shape(ids)[1])[:, None, :]
    loss = tf.reduce_sum(tf.nn.softplus((1.0 - 2.0 * labels) * logits) * mask[:, :, None])
    loss /= tf.maximum(tf.reduce_sum(mask), 1.0)
    g = (tf.sigmoid(logits) - labels) * (mask[:, :, None] * (learning_rate / batch_size))  # lr * dL/dx per pair
    d_inputs = tf.matmul(g, outputs)  # [B, C, D]
    d_outputs = tf.matmul(g, inputs, transpose_a=True)  # [B, 1+K, D]
    rows = tf.reshape(tf.maximum(input_ids, 0), [-1])
    model.embed_matrix.scatter_sub(tf.IndexedSlices(tf.reshape(d_inputs, [-1, model.embed_size]), rows))
    model.output_weight.scatter_sub(
        tf.IndexedSlices(tf.reshape(d_outputs, [-1, model.embed_size]), tf.reshape(ids, [-1]))
    )
    return loss


class SGD(tf.Module):
    """Plain stochastic gradient descent with sparse updates and an optional linear decay.

    ``w <- w - lr * grad``, applied only to the rows a batch touched when the gradient is
    ``tf.IndexedSlices`` (an embedding lookup's gradient), which is what ``GradientDescentOptimizer``
    does in the lecture. ``iterations`` counts applied updates and is saved with checkpoints, so the
    decayed learning rate continues correctly after a restore. With ``decay_steps`` the rate falls
    linearly from ``learning_rate`` to ``min_learning_rate`` (word2vec's schedule).
    """

    def __init__(self, learning_rate: float, *, decay_steps: int | None = None, min_learning_rate: float = 1e-4):
        super().__init__(name="sgd")
        self.initial_learning_rate = float(learning_rate)
        self.decay_steps = decay_steps
        self.min_learning_rate = float(min_learning_rate)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")

    def learning_rate(self):
        if not self.decay_steps:
            return tf.constant(self.initial_learning_rate)
        progress = tf.minimum(tf.cast(self.iterations, tf.float32) / float(self.decay_steps), 1.0)
        lr = self.initial_learning_rate * (1.0 - progress)
        return tf.maximum(lr, self.min_learning_rate)

    def apply_gradients(self, grads_and_vars):
        lr = self.learning_rate()
        for grad, var in grads_and_vars:
            if grad is None:
                continue
            if isinstance(grad, tf.IndexedSlices):
                var.scatter_sub(tf.IndexedSlices(lr * grad.values, grad.indices, grad.dense_shape))
            else:
                var.assign_sub(lr * grad)
        self.iterations.assign_add(1)
        return lr
