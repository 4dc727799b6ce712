"""Training the TF2 model: one loop, runners that say where the steps run, ``Checkpoint`` + ``CheckpointManager``.

:class:`Trainer` is the TF2 answer to the lecture's ``SkipGramModel.train``. Its :meth:`Trainer.train`
is the one training loop of the package, for every strategy: it takes pieces of work from a
:class:`Runner`, checks the losses are finite, reports the lecture's "Average loss at step", writes
summaries and saves checkpoints (:func:`cs20lib.runs.save_checkpoint`) at every report step. What differs
between one process, mirrored replicas and parameter servers is the runner: how a piece of steps is run
and where its batches come from.

* :class:`LocalRunner` (this module): this process's devices, or the replicas of a ``MirroredStrategy``;
  batches from the run's :class:`~cs20lib.skipgram.SkipGramStream`, made in a background thread
  (:mod:`cs20lib.background`); a piece is a chunk of batches run by one ``tf.function`` call (a
  ``tf.range`` loop inside the graph), so Python's and TensorFlow's per-call costs are paid once per chunk.
* :class:`cs20lib.distributed.ParameterServerRunner`: tables sharded over parameter servers, steps
  scheduled on workers that read their own batches.

Around the loop: ``tf.train.Checkpoint`` saves the model, the optimizer (its update count, hence the
decayed learning rate), the step, the position in the input stream and the state of the noise-word
generator; ``tf.train.CheckpointManager`` keeps the last few. A run stopped at any checkpoint and
resumed takes the same batches and noise words as an uninterrupted one, so it reaches the same weights.
``tf.summary.create_file_writer`` logs the loss, the learning rate and pairs/s as scalars and the two
weight matrices as histograms. A NaN or infinite loss stops training with
:class:`~cs20lib.progress.TrainingDivergedError` before anything is saved; Ctrl-C stops it with
:class:`~cs20lib.progress.TrainingInterrupted`, naming the last checkpoint. While it trains, the run
directory is locked (:func:`cs20lib.runs.lock_run`): a second training of it is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import fused_op, runs
from .background import prefetch
from .config import Word2VecConfig
from .fused_op import negative_update
from .noise import alias_table, draw_negatives, log_uniform_sample
from .progress import LossReport, TrainingDivergedError, TrainingInterrupted, check_finite
from .skipgram import SkipGramStream
from .tf2_model import SGD, SkipGram, negative_sampling_update
from .vocab import Vocabulary

__all__ = ["LocalRunner", "Runner", "TrainResult", "Trainer", "TrainingDivergedError", "TrainingPlan"]

API = "tf2"
#: entries of each weight matrix that its histogram summary shows (a fixed random sample)
HISTOGRAM_SAMPLE = 65_536


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    step: int  # global step reached
    history: list[tuple[int, float]]  # (step, average loss over the last skip_step steps), as printed
    seconds: float = dataclasses.field(repr=False)  # wall time of this call's training (not in the repr: it varies)
    pairs: int = 0  # (input, output) word pairs trained on in this call, counted exactly

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0


@dataclasses.dataclass
class TrainingPlan:
    """A run's plan, made once: its settings, the stream of batches it trains on, and how long an epoch is.

    ``steps_per_epoch`` counts after UNK dropping and subsampling: pairs / batch size, or centers / batch
    size with window batches. :meth:`make` refuses data that cannot fill one batch, and turns ``epochs``
    into ``config.num_train_steps``.
    """

    config: Word2VecConfig
    stream: SkipGramStream
    steps_per_epoch: float

    @classmethod
    def make(cls, config: Word2VecConfig, ids: np.ndarray, vocab: Vocabulary, *, epochs: float | None = None):
        units = "pairs" if config.batching == "pairs" else "words"
        if not config.keep_unk and len(vocab) < 2:
            raise ValueError(
                f"the vocabulary holds no word besides UNK (min_count={config.min_count}, vocab_size="
                f"{config.vocab_size}), and UNK is dropped: there is nothing to train on. Lower --min-count."
            )
        stream = SkipGramStream.from_config(config, ids, vocab.counts)
        steps = stream.batches_per_epoch(config.batching)
        if steps < 1:
            raise ValueError(
                f"one pass over the corpus gives {round(steps * config.batch_size):,} {units}, fewer than one batch "
                f"of {config.batch_size}: there is nothing to train on. Use a larger corpus or a smaller --batch-size"
                + (" (or keep UNK, lower --min-count)" if not config.keep_unk else "")
                + "."
            )
        if epochs is not None:
            total = round(epochs * steps)
            if total < 1:
                raise ValueError(f"{epochs:g} epochs is less than one step (one epoch is {steps:,.1f} steps)")
            config = config.replace(num_train_steps=total, skip_step=min(config.skip_step, total))
        return cls(config, stream, steps)

    def release(self) -> None:
        """Let go of the stream (the corpus's ids and an epoch's arrays) once the run has trained."""
        self.stream = None

    def epochs(self, steps: int | None = None) -> float:
        """How many passes over the data ``steps`` (default: the whole run) are."""
        return (self.config.num_train_steps if steps is None else steps) / self.steps_per_epoch


def report_windows(step: int, target: int, skip_step: int) -> Iterator[tuple[int, int]]:
    """The stretches ``(start, stop)`` from ``step`` to ``target``, cut at every multiple of ``skip_step``:
    the loop reports, logs and checkpoints at the end of each."""
    while step < target:
        stop = min(target, (step // skip_step + 1) * skip_step)
        yield step, stop
        step = stop


# ----------------------------------------------------------------------------------------------
# The steps
# ----------------------------------------------------------------------------------------------
def nce_step(config: Word2VecConfig, model: SkipGram, optimizer: SGD, noise: tf.random.Generator):
    """The lecture's step: NCE loss, gradients by ``GradientTape``, sparse SGD; returns the mean loss."""
    variables = (model.embed_matrix, model.output_weight, model.output_bias)

    def step(centers, contexts):  # pair batches: each center with one of its context words, [B] and [B, 1]
        with tf.GradientTape() as tape:
            sampled = log_uniform_sample(noise, config.num_sampled, model.vocab_size, contexts)
            loss = model.nce_loss(centers, contexts, sampled)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def negative_step(config: Word2VecConfig, model: SkipGram, optimizer: SGD, counts, update, replicas: int = 1):
    """word2vec's step on one replica: noise words drawn with stateless RNG keyed by (seed, step), ``update``
    (TensorFlow's ops or the fused op) applies word2vec's update by hand; returns the mean loss.

    ``contexts`` are the centers' context words: one per center with pair batches (``[B, 1]``, the lecture's
    targets), the whole window with window batches (``[B, 2r]``, -1 for none). Pairs: the center is the input
    word and its context word the output, as in the lecture; windows: the context words are the inputs and the
    center the output, as in the word2vec tool. With several replicas each takes every ``replicas``-th row of
    the batch, so together they make the same update as one process would (each pair's step is still
    ``learning_rate / batch_size``).
    """
    keep, alias = (tf.constant(table) for table in alias_table(counts, config.power))
    windows, size = config.batching == "windows", config.batch_size

    def step(centers, contexts, replica=0):
        iteration = optimizer.iterations.read_value()
        seed = tf.stack([tf.constant(config.seed, tf.int64), iteration * replicas + tf.cast(replica, tf.int64)])
        rows = size
        if replicas != 1:
            centers, contexts = centers[replica::replicas], contexts[replica::replicas]
            rows = tf.shape(centers)[0]
        negatives = draw_negatives(keep, alias, [rows, config.negative], seed)
        outputs, inputs = (centers, contexts) if windows else (contexts[:, 0], centers[:, None])
        return update(model, outputs, inputs, negatives, optimizer.learning_rate(), size)

    return step


# ----------------------------------------------------------------------------------------------
# Runners
# ----------------------------------------------------------------------------------------------
class Runner:
    """Where a trainer's steps run and where their batches come from; :meth:`Trainer.train` drives it.

    ``strategy`` is the ``tf.distribute`` strategy whose scope the trainer creates its variables in.
    :meth:`attach` is called once the trainer's model and optimizer exist; :meth:`pieces` cuts the steps
    from ``step`` to ``target`` into pieces, none crossing a report step; :meth:`run` runs one and returns
    the loss of each step and the number of (input, output) pairs trained on.
    """

    strategy: tf.distribute.Strategy

    def attach(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def pieces(self, step: int, target: int) -> Iterator:
        raise NotImplementedError

    def run(self, piece) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def embeddings(self) -> np.ndarray:
        return tf.convert_to_tensor(self.trainer.model.embed_matrix).numpy()

    def saving(self):
        """A context for saving a checkpoint (a runner may quiet TensorFlow's messages about it)."""
        return contextlib.nullcontext()

    def guard(self, step: int):
        """A context around everything the loop does up to ``step`` (running, logging, saving), in which a runner
        may turn the failure of a part of it (a task of a cluster) into a clear error."""
        return contextlib.nullcontext()


class LocalRunner(Runner):
    """Steps on this process: its default device (a GPU if it has one), or the replicas of ``strategy``
    (``MirroredStrategy``, ``MultiWorkerMirroredStrategy``), which split each batch between them.

    ``steps_per_call`` batches run per call of the compiled loop. ``jit_compile`` compiles the negative-
    sampling step with XLA (default: for ``batching="pairs"`` on one replica, where it fuses many small ops;
    the window step's batched products are left to TensorFlow's own multi-threaded kernels; BENCHMARKS.md).
    """

    def __init__(self, strategy=None, *, steps_per_call: int = 100, jit_compile: bool | None = None):
        self.strategy = strategy or tf.distribute.get_strategy()
        self.steps_per_call, self.jit_compile = steps_per_call, jit_compile

    def attach(self, trainer: Trainer) -> None:
        super().attach(trainer)
        self.stream = trainer.plan.stream
        config = trainer.config
        #: word2vec's loop in one op: the step makes its own windows and noise words from center positions
        self.loop = (
            config.loss == "negative"
            and self.strategy.num_replicas_in_sync == 1
            and fused_op.step_kind(config) == "loop"
        )
        self._run_chunk = self._compile_loop(trainer) if self.loop else self._compile(trainer)

    def _step(self, trainer: Trainer):
        """One step (a ``tf.function``) for the config's loss, on one replica or split between several."""
        config, model, optimizer = trainer.config, trainer.model, trainer.optimizer
        replicas = self.strategy.num_replicas_in_sync
        if config.loss == "nce":
            return nce_step(config, model, optimizer, trainer.noise)
        if replicas == 1:
            update, can_jit = negative_update(config)  # TensorFlow's ops or the fused op (config.kernel)
            one_replica = negative_step(config, model, optimizer, trainer.vocab.counts, update)

            def step(centers, contexts):
                loss = one_replica(centers, contexts)
                optimizer.iterations.assign_add(1)
                return loss

        else:  # the fused op updates one variable in place; mirrored copies need TensorFlow's scatters
            can_jit = False
            each = negative_step(config, model, optimizer, trainer.vocab.counts, negative_sampling_update, replicas)

            def in_replica(centers, contexts):
                return each(centers, contexts, tf.distribute.get_replica_context().replica_id_in_sync_group)

            def step(centers, contexts):  # the scatters are all-gathered to every copy
                losses = self.strategy.run(in_replica, args=(centers, contexts))
                loss = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
                optimizer.iterations.assign_add(1)
                return loss

        jit = self.jit_compile
        if jit is None:
            jit = config.batching != "windows" and can_jit and replicas == 1
        return tf.function(step, jit_compile=jit)

    def _compile(self, trainer: Trainer):
        """The loop that runs a chunk of batches, compiled once: SGD on each in turn; the per-batch losses."""
        step, size = self._step(trainer), trainer.config.batch_size
        width = None if trainer.config.batching == "windows" else 1  # windows: 2r columns, r <= skip_window

        @tf.function(
            input_signature=[tf.TensorSpec([None, size], tf.int32), tf.TensorSpec([None, size, width], tf.int32)]
        )
        def run_chunk(centers, contexts):
            count = tf.shape(centers)[0]
            losses = tf.TensorArray(tf.float32, size=count)
            for i in tf.range(count):
                losses = losses.write(i, step(centers[i], contexts[i]))
            return losses.stack()

        return run_chunk

    def _compile_loop(self, trainer: Trainer):
        """The loop over a chunk of center positions, each step word2vec's loop as one op
        (:func:`cs20lib.fused_op.centers_update`) on the epoch's corpus and window reach (the stream's own
        arrays, handed to TensorFlow without a copy); the per-step losses and pair counts."""
        config, model, optimizer = trainer.config, trainer.model, trainer.optimizer
        keep, alias = (tf.constant(table) for table in alias_table(trainer.vocab.counts, config.power))
        update = fused_op.centers_update(config, model, keep, alias)
        self._epoch, self._epoch_arrays = None, None
        size = config.batch_size

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, size], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int8),
            ]
        )
        def run_chunk(positions, corpus, reach):
            count = tf.shape(positions)[0]
            losses = tf.TensorArray(tf.float32, size=count)
            pairs = tf.TensorArray(tf.int64, size=count)
            for i in tf.range(count):
                loss, made = update(
                    corpus, reach, positions[i], optimizer.iterations.read_value(), optimizer.learning_rate(), size
                )
                optimizer.iterations.assign_add(1)
                losses = losses.write(i, loss)
                pairs = pairs.write(i, made)
            return losses.stack(), pairs.stack()

        return run_chunk

    def pieces(self, step: int, target: int) -> Iterator[tuple]:
        """The stream from the saved position, in chunks cut so that none crosses a report step; made in a
        background thread. A chunk is (centers, contexts) batches, or (epoch, center positions) for the loop."""
        config = self.trainer.config
        if self.loop:
            make = self.stream.center_chunks
        else:
            make = self.stream.window_chunks if config.batching == "windows" else self.stream.chunks
        start = int(self.trainer.data_position.numpy())

        def cut():
            chunks = make(start_batch=start, batches_per_chunk=self.steps_per_call)
            carry = None  # the rest of a chunk that crossed a report step
            for begin, stop in report_windows(step, target, config.skip_step):
                wanted = stop - begin
                while wanted:
                    first, second = carry if carry is not None else next(chunks)
                    batches = second if self.loop else first  # (epoch, positions) or (centers, contexts)
                    take = min(wanted, len(batches))
                    rest = (first, second[take:]) if self.loop else (first[take:], second[take:])
                    carry = rest if take < len(batches) else None
                    wanted -= take
                    yield (first, second[:take]) if self.loop else (first[:take], second[:take])

        return prefetch(cut())

    def run(self, piece) -> tuple[np.ndarray, int]:
        if self.loop:
            epoch, positions = piece
            if epoch != self._epoch:  # the epoch's words and windows, as tensors that share the arrays' memory
                arrays = self.stream.epoch_corpus(epoch)
                self._epoch_arrays = tuple(tf.experimental.dlpack.from_dlpack(a.__dlpack__()) for a in arrays)
                self._epoch = epoch
            losses, pairs = self._run_chunk(positions, *self._epoch_arrays)
            return losses.numpy(), int(pairs.numpy().sum())
        centers, contexts = piece
        return self._run_chunk(centers, contexts).numpy(), int((contexts >= 0).sum())


# ----------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------
class Trainer:
    """Train :class:`~cs20lib.tf2_model.SkipGram` on ``ids`` (a corpus encoded with ``vocab``) into ``run_dir``.

    Creating a trainer opens ``run_dir`` (:func:`cs20lib.runs.open_run`: it must fit ``config``; the settings
    and the vocabulary are recorded there) and restores the newest readable checkpoint. ``plan`` is the
    run's :class:`TrainingPlan` (made here from ``config`` when not given); ``runner`` where the steps run
    (default: a :class:`LocalRunner` on ``strategy`` with ``steps_per_call`` and ``jit_compile``). Reports,
    summaries and checkpoints happen every ``config.skip_step`` steps.
    """

    def __init__(
        self,
        config: Word2VecConfig,
        vocab: Vocabulary,
        ids: np.ndarray,
        run_dir: str | os.PathLike,
        *,
        plan: TrainingPlan | None = None,
        runner: Runner | None = None,
        max_to_keep: int = 3,
        verbose: bool = True,
        progress: bool | None = False,
        steps_per_call: int = 100,
        jit_compile: bool | None = None,
        strategy=None,
    ):
        if runner is not None and strategy is not None:
            raise ValueError("give a runner or a strategy, not both")
        self.plan = plan if plan is not None else TrainingPlan.make(config, ids, vocab)
        self.config, self.vocab = self.plan.config, vocab
        self.runner = runner or LocalRunner(strategy, steps_per_call=steps_per_call, jit_compile=jit_compile)
        self.verbose, self.progress = verbose, progress
        self.run_dir = runs.open_run(run_dir, self.config, API, vocab)
        self.log_dir = self.run_dir / "train"  # TensorBoard event files
        self.lock_dir = self.run_dir  # held while training (another folder for a multi-worker run's other workers)
        replicas = self.runner.strategy.num_replicas_in_sync
        if replicas > 1 and self.config.loss != "negative":
            raise ValueError(f"training on {replicas} replicas needs loss='negative' (the word2vec preset)")
        self._create_state(replicas)
        checkpoints = self.run_dir / runs.CHECKPOINTS
        self.notes: list[str] = []  # checkpoints skipped on restore, and why
        self.restored_from = runs.restore_newest(
            checkpoints, runs.CHECKPOINT_BASENAMES[API], self._restore, notes=self.notes
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoints), max_to_keep, step_counter=self.step
        )
        self._sample_index = None
        self.runner.attach(self)

    def _create_state(self, replicas: int) -> None:
        """The model, optimizer, counters and noise generator, under the runner's strategy; the checkpoint."""
        config = self.config
        with self.runner.strategy.scope():  # under a distribution strategy its variables are mirrored or sharded
            aggregation = tf.VariableAggregation.SUM if replicas > 1 else tf.VariableAggregation.NONE
            self.model = SkipGram(
                len(self.vocab), config.embed_size, init=config.init, seed=config.seed, aggregation=aggregation
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

    def _restore(self, prefix: str) -> None:
        self.checkpoint.restore(prefix).assert_existing_objects_matched()

    def embeddings(self) -> np.ndarray:
        return self.runner.embeddings()

    def close(self) -> None:
        """Let go of the run's tables, stream and compiled steps now rather than at the next garbage
        collection (the trainer and its runner refer to each other): what a command does after training."""
        import gc

        self.runner.trainer = None
        self.runner = None
        self.plan = None
        gc.collect()

    # -- the loop -------------------------------------------------------------------------------
    def train(self, until_step: int | None = None) -> TrainResult:
        """Train until the global step reaches ``until_step`` (default ``config.num_train_steps``).

        Prints ``Average loss at step ...`` every ``skip_step`` steps (the lecture's report) and saves
        a checkpoint then and at the end.
        """
        config = self.config
        target = config.num_train_steps if until_step is None else until_step
        with runs.lock_run(self.lock_dir):
            self._check_not_trained_elsewhere()
            step = int(self.step.numpy())
            report = LossReport(step, target, config.skip_step, verbose=self.verbose, progress=self.progress)
            writer = tf.summary.create_file_writer(str(self.log_dir))
            started = window_started = time.perf_counter()
            pairs_done = window_pairs = 0
            try:
                for piece in self.runner.pieces(step, target):
                    with self.runner.guard(min(target, (step // config.skip_step + 1) * config.skip_step)):
                        losses, pairs = self.runner.run(piece)
                        check_finite(losses, step, self.manager.latest_checkpoint, config.learning_rate)
                        step += len(losses)
                        self.step.assign_add(len(losses))
                        self.data_position.assign_add(len(losses))
                        pairs_done, window_pairs = pairs_done + pairs, window_pairs + pairs
                        with writer.as_default(step=step):
                            tf.summary.scalar("loss", float(losses.mean()))
                        report.add(step, losses)
                        if step % config.skip_step == 0 or step == target:
                            elapsed = time.perf_counter() - window_started
                            self._summaries(writer, step, window_pairs / elapsed if elapsed else 0.0)
                            self._save(step)
                            window_pairs, window_started = 0, time.perf_counter()
            except KeyboardInterrupt:
                raise TrainingInterrupted.at(step, self.manager.latest_checkpoint) from None
            finally:
                report.close()
                writer.close()
        return TrainResult(self.run_dir, step, report.history, time.perf_counter() - started, pairs_done)

    def _save(self, step: int) -> None:
        with self.runner.saving():
            runs.save_checkpoint(
                lambda: self.manager.save(checkpoint_number=step),
                self.manager.directory,
                step,
                self.manager.latest_checkpoint,
            )

    def _check_not_trained_elsewhere(self) -> None:
        """Refuse to go on from a state older than the run directory's newest checkpoint (another process trained
        the run since this trainer restored it): saving would prune that process's checkpoints."""
        steps = runs.checkpoint_steps(self.run_dir / runs.CHECKPOINTS, runs.CHECKPOINT_BASENAMES[API])
        mine = int(self.step.numpy())
        if steps and steps[0] > mine:
            raise runs.RunError(
                f"{self.run_dir} has a checkpoint of step {steps[0]:,}, newer than the step {mine:,} this trainer "
                f"restored: another process trained the run meanwhile. Create a new Trainer to resume from it."
            )

    def _summaries(self, writer, step: int, pairs_per_second: float) -> None:
        with writer.as_default(step=step):
            tf.summary.scalar("learning_rate", float(self.optimizer.learning_rate()))
            tf.summary.scalar("pairs_per_second", pairs_per_second)
            for variable in (self.model.embed_matrix, self.model.output_weight):
                tf.summary.histogram(variable.name.split("/")[-1].split(":")[0], self._histogram_sample(variable))

    def _histogram_sample(self, variable) -> np.ndarray:
        """The values of a fixed random sample of a matrix's rows (about HISTOGRAM_SAMPLE values) for its
        histogram: TensorBoard's histogram summary one-hot encodes every value it is given, which for a whole
        embedding matrix takes seconds, and only the sampled rows are read (of a sharded table too)."""
        rows, columns = (int(size) for size in variable.shape)
        count = min(rows, max(1, HISTOGRAM_SAMPLE // columns))
        if self._sample_index is None or len(self._sample_index) != count:
            self._sample_index = np.sort(np.random.default_rng(0).choice(rows, size=count, replace=False))
        return tf.nn.embedding_lookup(variable, self._sample_index).numpy().reshape(-1)
