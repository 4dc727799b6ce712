"""The lecture's ``SkipGramModel``, graph mode, through ``tf.compat.v1``.

This is the class from the lecture's ``04_word2vec_visualize.py``, method for method:
``_import_data`` (an initializable iterator over a ``tf.data`` dataset), ``_create_embedding``
(``get_variable`` + ``embedding_lookup``), ``_create_loss`` (``tf.nn.nce_loss``), ``_create_optimizer``
(``GradientDescentOptimizer`` with a non-trainable ``global_step``), ``_create_summaries`` (merged
summaries for a ``FileWriter``), ``build_graph``, ``train`` (a ``Saver`` checkpoint every ``skip_step``
steps; resumes from the latest checkpoint and continues the step count) and ``visualize`` (the
projector files). Name scopes ``data``, ``embed``, ``loss``, ``summaries`` as in the lecture's graph.

What differs from the lecture, each a defect of the original:

* The graph is the model's own ``tf.Graph`` (``self.graph``), not the process-wide default graph, so
  building a second model in one Python process (a notebook cell run twice) works instead of failing
  with ``Variable global_step already exists``.
* ``nce_bias`` is sized by the model's ``vocab_size``; the lecture used the global ``VOCAB_SIZE``.
* The histogram summary is named ``histogram_loss``; the lecture's ``'histogram loss'`` has a space,
  which TensorFlow rejects as a name and renames, saying so only in an INFO log message.
* ``embed_matrix`` is initialised uniformly in [-1, 1) on purpose. The lecture's 2018 listing calls
  ``tf.random_uniform_initializer()``, whose defaults (``minval=0``, ``maxval=1`` for floats) give
  [0, 1) and start every vector in one orthant; the course's 2017 code drew from [-1, 1)
  (``tf.random_uniform([VOCAB_SIZE, EMBED_SIZE], -1.0, 1.0)``), the intent kept here.
* Checkpoints go to ``<run_dir>/checkpoints`` under relative paths (``save_relative_paths``), so a
  run directory can be copied or moved, and ``run_dir`` records the hyperparameters
  (``config.json``): restoring a checkpoint written with other hyperparameters is refused with a clear
  message (:func:`cs20lib.runs.check_run_config`) instead of silently loading it. Resuming takes the
  newest checkpoint that reads completely (:func:`cs20lib.runs.restore_newest`).
* ``tf.nn.nce_loss``'s own sampler keeps its random state inside the session, so a resumed run drew
  other noise words than an uninterrupted one. Here the noise words come from a stateless sampler
  keyed by (seed, ``global_step``), passed as ``sampled_values`` (the same log-uniform distribution,
  drawn with replacement as in the TF2 model), and after a restore the input resumes where the
  checkpointed run stopped (the stream starts at batch ``global_step``): a resumed run reaches exactly
  the weights of an uninterrupted one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import runs
from .config import Word2VecConfig
from .noise import log_uniform_from
from .progress import LossReport, TrainingInterrupted, check_finite
from .projector import NUM_VISUALIZE
from .skipgram import SkipGramStream

tf1 = tf.compat.v1

__all__ = ["SkipGramModel"]

API = "tf1"


class SkipGramModel:
    """Build the graph for a word2vec model (the lecture's class, graph mode).

    The lecture's arguments: ``data`` (here a :class:`~cs20lib.skipgram.SkipGramStream`, which the graph
    reads through ``Dataset.from_generator``), ``vocab_size``, ``embed_size``, ``batch_size``,
    ``num_sampled`` and ``learning_rate``. ``config``, when given, is the run's full
    :class:`~cs20lib.config.Word2VecConfig` (recorded in ``run_dir/config.json``); it must agree with
    those arguments. Without it the config is made from them.
    """

    def __init__(
        self,
        data: SkipGramStream,
        vocab_size: int,
        embed_size: int,
        batch_size: int,
        num_sampled: int,
        learning_rate: float,
        *,
        skip_step: int = 5_000,
        run_dir: str | os.PathLike | None = None,
        config: Word2VecConfig | None = None,
        vocab=None,
        seed: int = 0,
        verbose: bool = True,
        progress: bool | None = False,
    ):
        if not isinstance(data, SkipGramStream):
            raise TypeError(f"data must be a cs20lib.skipgram.SkipGramStream, not {type(data).__name__}")
        if data.batch_size != batch_size:
            raise ValueError(f"the stream makes batches of {data.batch_size} pairs, not batch_size={batch_size}")
        settings = dict(
            embed_size=embed_size,
            batch_size=batch_size,
            num_sampled=num_sampled,
            learning_rate=learning_rate,
            skip_step=skip_step,
            seed=seed,
            skip_window=data.skip_window,
        )
        if config is None:
            config = Word2VecConfig(vocab_size=vocab_size, **settings)
        disagree = [
            f"{name}={value!r} but config.{name}={getattr(config, name)!r}"
            for name, value in settings.items()
            if getattr(config, name) != value
        ]
        if disagree:
            raise ValueError("the model's hyperparameters and its config disagree: " + "; ".join(disagree))
        self.vocab_size = vocab_size
        self.embed_size = embed_size
        self.batch_size = batch_size
        self.num_sampled = num_sampled
        self.lr = learning_rate
        self.skip_step = skip_step
        self.data = data
        self.seed = seed
        self.config, self.vocab = config, vocab
        self.verbose, self.progress = verbose, progress
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.graph = tf.Graph()
        self._start_batch = 0  # where the input stream starts when the iterator is initialised
        with self.graph.as_default():
            tf1.set_random_seed(seed)  # graph-level seed: every random op below is reproducible
            self.global_step = tf1.get_variable("global_step", initializer=tf.constant(0), trainable=False)

    @classmethod
    def from_config(cls, config: Word2VecConfig, data, run_dir, *, stream=None, **options) -> SkipGramModel:
        """The model for a run: hyperparameters from ``config``, the stream over ``data``
        (:class:`~cs20lib.experiment.TrainingData`; or ``stream``, the run plan's), graph built."""
        stream = stream if stream is not None else SkipGramStream.from_config(config, data.ids, data.vocab.counts)
        return cls(
            stream,
            len(data.vocab),
            config.embed_size,
            config.batch_size,
            config.num_sampled,
            config.learning_rate,
            skip_step=config.skip_step,
            run_dir=run_dir,
            config=config,
            vocab=data.vocab,
            seed=config.seed,
            **options,
        ).build_graph()

    # -- assembling the graph ---------------------------------------------------------------
    def _import_data(self):
        """Step 1: the input: an initializable iterator, so the dataset can be restarted."""
        with tf.name_scope("data"):
            stream, size = self.data, self.batch_size
            self.dataset = tf.data.Dataset.from_generator(
                lambda: stream.batches(self._start_batch),
                output_signature=(tf.TensorSpec([size], tf.int32), tf.TensorSpec([size, 1], tf.int32)),
            ).prefetch(64)
            self.iterator = tf1.data.make_initializable_iterator(self.dataset)
            self.center_words, self.target_words = self.iterator.get_next()

    def _create_embedding(self):
        """Step 2 + 3: the embedding matrix and the lookup of the center words."""
        with tf.name_scope("embed"):
            self.embed_matrix = tf1.get_variable(
                "embed_matrix",
                shape=[self.vocab_size, self.embed_size],
                initializer=tf1.random_uniform_initializer(-1.0, 1.0),
            )
            self.embed = tf.nn.embedding_lookup(self.embed_matrix, self.center_words, name="embedding")

    def _create_loss(self):
        """Step 4: NCE loss (Gutmann & Hyvaerinen 2010; as used for word2vec by Mnih & Kavukcuoglu 2013)."""
        with tf.name_scope("loss"):
            nce_weight = tf1.get_variable(
                "nce_weight",
                shape=[self.vocab_size, self.embed_size],
                initializer=tf1.truncated_normal_initializer(stddev=1.0 / (self.embed_size**0.5)),
            )
            nce_bias = tf1.get_variable("nce_bias", initializer=tf.zeros([self.vocab_size]))
            # noise words keyed by (seed, step), so that a resumed run draws the same ones
            u = tf.random.stateless_uniform([self.num_sampled], seed=[self.seed, self.global_step], dtype=tf.float64)
            sampled_values = log_uniform_from(u, self.num_sampled, self.vocab_size, self.target_words)
            self.loss = tf.reduce_mean(
                tf.nn.nce_loss(
                    weights=nce_weight,
                    biases=nce_bias,
                    labels=self.target_words,
                    inputs=self.embed,
                    num_sampled=self.num_sampled,
                    num_classes=self.vocab_size,
                    sampled_values=sampled_values,
                ),
                name="loss",
            )

    def _create_optimizer(self):
        """Step 5: plain gradient descent; ``minimize`` also increments ``global_step``."""
        self.optimizer = tf1.train.GradientDescentOptimizer(self.lr).minimize(self.loss, global_step=self.global_step)

    def _create_summaries(self):
        with tf.name_scope("summaries"):
            tf1.summary.scalar("loss", self.loss)
            tf1.summary.histogram("histogram_loss", self.loss)
            self.summary_op = tf1.summary.merge_all()

    def build_graph(self):
        """Assemble the whole graph (phase 1); ``train`` executes it (phase 2)."""
        with self.graph.as_default():
            self._import_data()
            self._create_embedding()
            self._create_loss()
            self._create_optimizer()
            self._create_summaries()
            self.saver = tf1.train.Saver(max_to_keep=5, save_relative_paths=True)
            self.init = tf1.global_variables_initializer()
        self.graph.finalize()  # nothing may be added by accident while training
        return self

    # -- executing it -------------------------------------------------------------------------
    def _require_run_dir(self) -> Path:
        if self.run_dir is None:
            raise ValueError("SkipGramModel needs run_dir=... to write checkpoints and summaries")
        return self.run_dir

    def _session(self) -> tf1.Session:
        # Two threads each way, the same on every machine, so runs are reproducible.
        config = tf1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=2)
        return tf1.Session(graph=self.graph, config=config)

    def _restore(self, sess, *, write: bool = True) -> int:
        """Restore the newest readable checkpoint of this run, if any; return the global step."""
        run_dir = self._require_run_dir()
        directory = run_dir / runs.CHECKPOINTS
        basename = runs.CHECKPOINT_BASENAMES[API]

        def restore(prefix):
            try:
                self.saver.restore(sess, prefix)
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as exc:
                first_line = str(exc).strip().splitlines()[0]
                raise runs.CheckpointMismatchError(
                    f"cannot restore {prefix} into this model ({first_line}); it was written by a model of "
                    f"another shape. Train into a new run directory."
                ) from None

        notes: list[str] = []
        prefix = runs.restore_newest(directory, basename, restore, move_damaged=write, notes=notes)
        for note in notes:
            print(note)
        if prefix is not None:
            # a new Saver knows only its own saves: hand it the run's, so max_to_keep prunes them too
            kept = [
                str(directory / f"{basename}-{step}") for step in sorted(runs.checkpoint_steps(directory, basename))
            ]
            self.saver.recover_last_checkpoints(kept)
        return int(sess.run(self.global_step))

    def current_step(self) -> int:
        """The global step of the run's newest checkpoint (0 before any training)."""
        with self._session() as sess:
            sess.run(self.init)
            return self._restore(sess, write=False)

    def train(self, num_train_steps: int) -> list[tuple[int, float]]:
        """Run ``num_train_steps`` more steps, resuming from the run's newest checkpoint.

        Prints ``Average loss at step ...`` every ``skip_step`` steps and saves a checkpoint then and
        at the end; writes the merged summaries every step. Returns the printed (step, average loss)
        pairs.
        """
        run_dir = self._require_run_dir()
        directory = run_dir / runs.CHECKPOINTS
        prefix = str(directory / runs.CHECKPOINT_BASENAMES[API])
        with runs.lock_run(run_dir), self._session() as sess:
            runs.open_run(run_dir, self.config, API, self.vocab)  # the run's one check of its settings; records them
            sess.run(self.init)
            initial_step = self._restore(sess)
            self._start_batch = initial_step
            sess.run(self.iterator.initializer)
            writer = tf1.summary.FileWriter(str(run_dir / "train"), sess.graph)
            target = initial_step + num_train_steps
            report = LossReport(initial_step, target, self.skip_step, verbose=self.verbose, progress=self.progress)
            last_saved = tf.train.latest_checkpoint(str(directory))
            index = initial_step
            try:
                for index in range(initial_step, target):
                    try:
                        loss_batch, _, summary = sess.run([self.loss, self.optimizer, self.summary_op])
                    except tf.errors.OutOfRangeError:  # a finite stream ran out: start it again
                        self._start_batch = 0
                        sess.run(self.iterator.initializer)
                        loss_batch, _, summary = sess.run([self.loss, self.optimizer, self.summary_op])
                    check_finite(np.array([loss_batch]), index, last_saved, self.lr)
                    writer.add_summary(summary, global_step=index)
                    report.add(index + 1, np.array([loss_batch]))
                    if (index + 1) % self.skip_step == 0 or index + 1 == target:
                        last_saved = runs.save_checkpoint(
                            lambda: self.saver.save(sess, prefix, global_step=self.global_step),
                            directory,
                            index + 1,
                            last_saved,
                        )
            except KeyboardInterrupt:
                raise TrainingInterrupted.at(index, last_saved) from None
            finally:
                report.close()
                writer.close()
        return report.history

    def embeddings(self) -> np.ndarray:
        """The trained embedding matrix, restored from the newest checkpoint."""
        with self._session() as sess:
            sess.run(self.init)
            self._restore(sess, write=False)
            return sess.run(self.embed_matrix)

    def visualize(self, vocab, num_visualize: int = NUM_VISUALIZE, visual_fld: str | os.PathLike | None = None) -> Path:
        """Projector files for the first ``num_visualize`` words (the lecture's ``visualize``).

        Like the lecture: restore the trained matrix, copy its first rows into a variable named
        ``embedding``, save that with a ``tf.train.Saver`` next to ``projector_config.pbtxt`` and the
        words as metadata. Written to ``visual_fld`` (default ``<run_dir>/projector``).
        """
        from .projector import export_projector

        folder = Path(visual_fld) if visual_fld is not None else self._require_run_dir() / "projector"
        return export_projector(folder, self.embeddings(), vocab, num_visualize, api="tf1")
