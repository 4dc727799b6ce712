"""Training the TF2 model: ``tf.function`` steps, ``Checkpoint`` + ``CheckpointManager``, summaries, resume.

:class:`Trainer` is the TF2 answer to the lecture's ``SkipGramModel.train``:

* the step is a ``tf.function`` that runs many batches per call (a ``tf.range`` loop inside the
  graph), so Python and TensorFlow's per-call overhead are paid once per chunk, not once per batch;
* ``tf.train.Checkpoint`` saves the model, the optimizer (its update count, hence the decayed learning
  rate), the step, the position in the input stream and the state of the noise-word generator;
  ``tf.train.CheckpointManager`` keeps the last few. A run stopped at any checkpoint and resumed
  takes the same batches and noise words as an uninterrupted one, so it reaches the same weights;
* ``tf.summary.create_file_writer`` logs the loss, the learning rate and pairs/s as scalars and the
  two weight matrices as histograms, for TensorBoard;
* a NaN or infinite loss stops training with :class:`~cs20lib.progress.TrainingDivergedError` before
  anything is saved, so the last checkpoint on disk is still the last good one.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import runs
from .background import prefetch
from .config import Word2VecConfig
from .fused_op import negative_update
from .progress import LossReport, TrainingDivergedError, check_finite
from .skipgram import SkipGramStream
from .tf2_model import SGD, SkipGram, alias_table, draw_negatives, log_uniform_sample, negative_sampling_update
from .vocab import Vocabulary

__all__ = ["TrainResult", "Trainer", "TrainingDivergedError"]

API = "tf2"
#: entries of each weight matrix that its histogram summary shows (a fixed random sample)
HISTOGRAM_SAMPLE = 65_536


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    step: int  # global step reached
    history: list[tuple[int, float]]  # (step, average loss over the last skip_step steps), as printed
    seconds: float = dataclasses.field(repr=False)  # wall time of this call's training (not in the repr: it varies)
    pairs: int = 0  # (center, target) pairs trained on in this call

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0


class Trainer:
    """Train :class:`~cs20lib.tf2_model.SkipGram` on ``ids`` (a corpus encoded with ``vocab``) into ``run_dir``.

    Creating a trainer checks that ``run_dir`` fits ``config`` (:func:`cs20lib.runs.open_run`, which
    also records the settings and the vocabulary there) and restores the newest readable checkpoint.
    ``steps_per_call`` batches run per call of the compiled loop; reports, summaries and checkpoints
    happen every ``config.skip_step`` steps. ``jit_compile`` compiles the negative-sampling step with
    XLA (default: for ``batching="pairs"``, where it fuses many small ops; the window step's batched
    matrix products are left to TensorFlow's own multi-threaded kernels; BENCHMARKS.md has the figures).
    """

    def __init__(
        self,
        config: Word2VecConfig,
        vocab: Vocabulary,
        ids: np.ndarray,
        run_dir: str | os.PathLike,
        *,
        steps_per_call: int = 100,
        max_to_keep: int = 3,
        verbose: bool = True,
        progress: bool | None = False,
        jit_compile: bool | None = None,
        strategy=None,
    ):
        self.config, self.vocab = config, vocab
        self.strategy = strategy or tf.distribute.get_strategy()
        self.verbose, self.progress = verbose, progress
        self.run_dir = runs.open_run(run_dir, config, API, vocab)
        self.log_dir = self.run_dir / "train"  # TensorBoard event files
        self.stream = SkipGramStream.from_config(config, ids, vocab.counts)

        replicas = self.strategy.num_replicas_in_sync
        if replicas > 1 and config.loss != "negative":
            raise ValueError(f"training on {replicas} replicas needs loss='negative' (the word2vec preset)")
        with self.strategy.scope():  # under a distribution strategy its variables are mirrored or sharded
            aggregation = tf.VariableAggregation.SUM if replicas > 1 else tf.VariableAggregation.NONE
            self.model = SkipGram(
                len(vocab), config.embed_size, init=config.init, seed=config.seed, aggregation=aggregation
            )
            decay = config.num_train_steps if config.lr_decay == "linear" else None
            self.optimizer = SGD(config.learning_rate, decay_steps=decay, min_learning_rate=config.min_learning_rate)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
        self.noise = tf.random.Generator.from_seed(config.seed)
        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            step=self.step,
            data_position=self.data_position,
            noise=self.noise,
        )
        checkpoints = self.run_dir / runs.CHECKPOINTS
        self.notes: list[str] = []  # checkpoints skipped on restore, and why
        self.restored_from = runs.restore_newest(
            checkpoints, runs.CHECKPOINT_BASENAMES[API], self._restore, notes=self.notes
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoints), max_to_keep, step_counter=self.step
        )
        self._run_batches = self._compile(steps_per_call, jit_compile)
        self._steps_per_call = steps_per_call
        self._sample_index = None

    def _restore(self, prefix: str) -> None:
        self.checkpoint.restore(prefix).assert_existing_objects_matched()

    # -- the compiled loop ----------------------------------------------------------------------
    def _compile(self, steps_per_call: int, jit_compile: bool | None):
        """The training step for the config's loss and batching, and the loop that runs it over a chunk."""
        config, model, optimizer = self.config, self.model, self.optimizer
        size = config.batch_size
        if config.loss == "nce":
            variables = (model.embed_matrix, model.output_weight, model.output_bias)

            def step(centers, targets):  # the lecture's: NCE loss, gradients by GradientTape, sparse SGD
                with tf.GradientTape() as tape:
                    sampled = log_uniform_sample(self.noise, config.num_sampled, model.vocab_size, targets)
                    loss = model.nce_loss(centers, targets, sampled)
                optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
                return loss

        else:
            keep, alias = (tf.constant(table) for table in alias_table(self.vocab.counts, config.power))
            windows = config.batching == "windows"
            if self.strategy.num_replicas_in_sync == 1:
                update, can_jit = negative_update(config)  # TensorFlow's ops or the fused op (config.kernel)
            else:  # the fused op updates one variable in place; mirrored copies need TensorFlow's scatters
                update, can_jit = negative_sampling_update, False

            def replica_step(centers, targets, replica=0, replicas=1):
                """word2vec's step: negatives drawn with stateless RNG keyed by (seed, step), update by hand.
                Pairs: the center is the input word and the target the output; windows: the context
                words are the inputs and the center the output, as in the word2vec tool. With several
                replicas each takes every ``replicas``-th row of the batch, so together they make the
                same update as one process would (each pair's step is still learning_rate / size)."""
                iteration = optimizer.iterations.read_value()
                seed = tf.stack([tf.constant(config.seed, tf.int64), iteration * replicas + tf.cast(replica, tf.int64)])
                rows = size
                if replicas != 1:
                    centers, targets = centers[replica::replicas], targets[replica::replicas]
                    rows = tf.shape(centers)[0]
                negatives = draw_negatives(keep, alias, [rows, config.negative], seed)
                outputs, inputs = (centers, targets) if windows else (targets[:, 0], centers[:, None])
                return update(model, outputs, inputs, negatives, optimizer.learning_rate(), size)

            def negative_step(centers, targets):
                if self.strategy.num_replicas_in_sync == 1:
                    loss = replica_step(centers, targets)
                else:  # MirroredStrategy / MultiWorkerMirroredStrategy: scatters all-gathered to every copy

                    def in_replica(centers, targets):
                        context = tf.distribute.get_replica_context()
                        rows = (context.replica_id_in_sync_group, context.num_replicas_in_sync)
                        return replica_step(centers, targets, *rows)

                    losses = self.strategy.run(in_replica, args=(centers, targets))
                    loss = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
                optimizer.iterations.assign_add(1)
                return loss

            if jit_compile is None:
                jit_compile = not windows and can_jit and self.strategy.num_replicas_in_sync == 1
            step = tf.function(negative_step, jit_compile=jit_compile)

        width = None if config.batching == "windows" else 1  # windows: 2r columns, r <= skip_window

        @tf.function(
            input_signature=[tf.TensorSpec([None, size], tf.int32), tf.TensorSpec([None, size, width], tf.int32)]
        )
        def run_batches(centers, targets):
            """SGD on each batch of a chunk in turn; returns the per-batch losses."""
            count = tf.shape(centers)[0]
            losses = tf.TensorArray(tf.float32, size=count)
            for i in tf.range(count):
                losses = losses.write(i, step(centers[i], targets[i]))
            self.step.assign_add(tf.cast(count, tf.int64))
            self.data_position.assign_add(tf.cast(count, tf.int64))
            return losses.stack()

        return run_batches

    # -- the loop -------------------------------------------------------------------------------
    def embeddings(self) -> np.ndarray:
        return self.model.embed_matrix.numpy()

    def _pieces(self, step: int, target: int):
        """The stream from the saved position, in chunks cut so that none crosses a report step."""
        make = self.stream.window_chunks if self.config.batching == "windows" else self.stream.chunks
        chunks = make(start_batch=int(self.data_position.numpy()), batches_per_chunk=self._steps_per_call)
        skip_step = self.config.skip_step
        for centers, targets in chunks:
            while len(centers) and step < target:
                take = min(target, (step // skip_step + 1) * skip_step) - step
                yield centers[:take], targets[:take]
                step += min(take, len(centers))
                centers, targets = centers[take:], targets[take:]
            if step >= target:
                return

    def train(self, until_step: int | None = None) -> TrainResult:
        """Train until the global step reaches ``until_step`` (default ``config.num_train_steps``).

        Prints ``Average loss at step ...`` every ``skip_step`` steps (the lecture's report) and saves
        a checkpoint then and at the end.
        """
        config = self.config
        target = config.num_train_steps if until_step is None else until_step
        step = int(self.step.numpy())
        report = LossReport(step, target, config.skip_step, verbose=self.verbose, progress=self.progress)
        writer = tf.summary.create_file_writer(str(self.log_dir))
        started = window_started = time.perf_counter()
        pairs_done = window_pairs = 0
        try:
            for centers, targets in prefetch(self._pieces(step, target)):  # made in a thread (cs20lib.background)
                losses = self._run_batches(centers, targets).numpy()
                check_finite(losses, step, self.manager.latest_checkpoint, config.learning_rate)
                step += len(losses)
                pairs = int((targets >= 0).sum())
                pairs_done, window_pairs = pairs_done + pairs, window_pairs + pairs
                with writer.as_default(step=step):
                    tf.summary.scalar("loss", float(losses.mean()))
                report.add(step, losses)
                if step % config.skip_step == 0 or step == target:
                    elapsed = time.perf_counter() - window_started
                    self._summaries(writer, step, window_pairs / elapsed if elapsed else 0.0)
                    runs.save_checkpoint(
                        lambda step=step: self.manager.save(checkpoint_number=step),
                        self.manager.directory,
                        step,
                        self.manager.latest_checkpoint,
                    )
                    window_pairs, window_started = 0, time.perf_counter()
        finally:
            report.close()
            writer.close()
        return TrainResult(self.run_dir, step, report.history, time.perf_counter() - started, pairs_done)

    def _summaries(self, writer, step: int, pairs_per_second: float) -> None:
        with writer.as_default(step=step):
            tf.summary.scalar("learning_rate", float(self.optimizer.learning_rate()))
            tf.summary.scalar("pairs_per_second", pairs_per_second)
            for variable in (self.model.embed_matrix, self.model.output_weight):
                tf.summary.histogram(variable.name.split("/")[-1].split(":")[0], self._histogram_sample(variable))

    def _histogram_sample(self, variable) -> np.ndarray:
        """A fixed random sample of a matrix's values for its histogram: TensorBoard's histogram summary
        one-hot encodes every value it is given, which for a whole embedding matrix takes seconds."""
        values = tf.convert_to_tensor(variable).numpy().reshape(-1)  # a sharded table: its shards joined
        if self._sample_index is None or len(self._sample_index) > len(values):
            count = min(HISTOGRAM_SAMPLE, len(values))
            self._sample_index = np.sort(np.random.default_rng(0).choice(len(values), size=count, replace=False))
        return values[self._sample_index]
