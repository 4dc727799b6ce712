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
* a NaN or infinite loss stops training with :class:`TrainingDivergedError` before anything is saved,
  so the last checkpoint on disk is still the last good one.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from .config import Word2VecConfig
from .runs import VOCAB_FILE, check_run_config, write_run_config
from .skipgram import SkipGramStream
from .tf2_model import SGD, SkipGram, alias_table, draw_negatives, log_uniform_sample, negative_sampling_step, negative_sampling_window_step
from .vocab import Vocabulary

__all__ = ["TrainResult", "Trainer", "TrainingDivergedError"]

MODEL_NAME = "tf2"
HISTOGRAM_SAMPLE = 65_536


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; nothing was saved after the last good checkpoint."""


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

    Creating a trainer restores the latest checkpoint of ``run_dir`` if there is one (after checking
    that ``run_dir/config.json`` matches ``config``). ``steps_per_call`` batches run per call of the
    compiled step; reports, summaries and checkpoints happen every ``config.skip_step`` steps.
    ``jit_compile`` lets XLA fuse the per-pair negative-sampling update (about 2x faster on 2 CPU
    cores); the window step's batched matrix products run faster without it, on TensorFlow's own
    multi-threaded kernels (``None``, the default, picks by ``config.batching``; see BENCHMARKS.md).
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
        progress: bool = True,
        jit_compile: bool | None = None,
    ):
        self.config, self.vocab = config, vocab
        self.run_dir = Path(run_dir)
        self.steps_per_call = steps_per_call
        self.verbose, self.progress = verbose, progress
        check_run_config(self.run_dir, config, MODEL_NAME)

        self.model = SkipGram(len(vocab), config.embed_size, init=config.init, seed=config.seed)
        decay = config.num_train_steps if config.lr_decay == "linear" else None
        self.optimizer = SGD(config.learning_rate, decay_steps=decay, min_learning_rate=config.min_learning_rate)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.data_position = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_position")
        self.noise = tf.random.Generator.from_seed(config.seed)
        self.checkpoint = tf.train.Checkpoint(
            model=self.model, optimizer=self.optimizer, step=self.step, data_position=self.data_position, noise=self.noise
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.run_dir / "checkpoints"), max_to_keep=max_to_keep, step_counter=self.step)
        self.restored_from = self.manager.restore_or_initialize()

        self.stream = SkipGramStream(
            ids, config.batch_size, config.skip_window, seed=config.seed, sample=config.sample,
            counts=vocab.counts, drop_unk=not config.keep_unk,
        )
        if config.loss == "negative":
            keep, alias = alias_table(vocab.counts, config.power)
            self._keep, self._alias = tf.constant(keep), tf.constant(alias)
        self._sample_index = None
        self._variables = (self.model.embed_matrix, self.model.nce_weight, self.model.nce_bias)
        size = config.batch_size
        width = None if config.batching == "windows" else 1  # windows: 2r columns, r <= skip_window
        if jit_compile is None:
            jit_compile = config.batching == "pairs"
        self._negative_step = tf.function(self._negative_step, jit_compile=jit_compile)
        self._window_step = tf.function(self._window_step, jit_compile=jit_compile)
        self._train_chunk = tf.function(
            self._train_chunk_eager,
            input_signature=[tf.TensorSpec([None, size], tf.int32), tf.TensorSpec([None, size, width], tf.int32)],
        )

    # -- the compiled step ----------------------------------------------------------------------
    def _nce_step(self, centers, targets):
        """The lecture's step: NCE loss, gradients by GradientTape, sparse SGD."""
        config = self.config
        with tf.GradientTape() as tape:
            sampled = log_uniform_sample(self.noise, config.num_sampled, len(self.vocab), targets)
            loss = self.model.nce_loss(centers, targets, sampled)
        gradients = tape.gradient(loss, self._variables)
        self.optimizer.apply_gradients(zip(gradients, self._variables))
        return loss

    def _negative_step(self, centers, targets):
        """word2vec's step, all in one XLA cluster: the learning rate, negatives drawn from
        unigram^power (an alias table, stateless RNG keyed by (seed, step), so a resumed run draws
        the same ones), and the update written out by hand."""
        config = self.config
        iteration = self.optimizer.iterations
        seed = tf.stack([tf.constant(config.seed, tf.int64), iteration])
        negatives = draw_negatives(self._keep, self._alias, [config.batch_size, config.num_sampled], seed)
        loss = negative_sampling_step(self.model, centers, targets, negatives, self.optimizer.learning_rate())
        iteration.assign_add(1)
        return loss

    def _window_step(self, centers, contexts):
        """word2vec's step over whole windows (``batching="windows"``), one XLA cluster."""
        config = self.config
        iteration = self.optimizer.iterations
        seed = tf.stack([tf.constant(config.seed, tf.int64), iteration])
        negatives = draw_negatives(self._keep, self._alias, [config.batch_size, config.num_sampled], seed)
        loss = negative_sampling_window_step(self.model, centers, contexts, negatives, self.optimizer.learning_rate(), config.batch_size)
        iteration.assign_add(1)
        return loss

    def _train_chunk_eager(self, centers, targets):
        """SGD on each batch of a chunk in turn; returns the per-batch losses."""
        if self.config.batching == "windows":
            step = self._window_step
        else:
            step = self._nce_step if self.config.loss == "nce" else self._negative_step
        count = tf.shape(centers)[0]
        losses = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            losses = losses.write(i, step(centers[i], targets[i]))
        self.step.assign_add(tf.cast(count, tf.int64))
        self.data_position.assign_add(tf.cast(count, tf.int64))
        return losses.stack()

    # -- the loop -------------------------------------------------------------------------------
    def embeddings(self) -> np.ndarray:
        return self.model.embed_matrix.numpy()

    def train(self, until_step: int | None = None) -> TrainResult:
        """Train until the global step reaches ``until_step`` (default ``config.num_train_steps``).

        Prints ``Average loss at step ...`` every ``skip_step`` steps (the lecture's report) and saves
        a checkpoint then and at the end.
        """
        config = self.config
        target = config.num_train_steps if until_step is None else until_step
        write_run_config(self.run_dir, config, MODEL_NAME)
        self.vocab.save(self.run_dir / VOCAB_FILE)
        writer = tf.summary.create_file_writer(str(self.run_dir / "train"))
        step = int(self.step.numpy())
        make_chunks = self.stream.window_chunks if config.batching == "windows" else self.stream.chunks
        chunks = make_chunks(start_batch=int(self.data_position.numpy()), batches_per_chunk=self.steps_per_call)
        bar = self._progress_bar(step, target)
        history, total_loss, window_pairs = [], 0.0, 0
        started = window_started = time.perf_counter()
        pairs_done = 0
        pending = None
        try:
            while step < target:
                if pending is None:
                    pending = next(chunks)
                boundary = min(target, (step // config.skip_step + 1) * config.skip_step)
                take = min(boundary - step, len(pending[0]))
                centers, targets = pending[0][:take], pending[1][:take]
                pending = None if take == len(pending[0]) else (pending[0][take:], pending[1][take:])
                losses = self._train_chunk(centers, targets).numpy()
                if not np.all(np.isfinite(losses)):
                    bad = step + int(np.argmin(np.isfinite(losses)))
                    last = self.manager.latest_checkpoint or "none yet"
                    raise TrainingDivergedError(
                        f"the loss became {losses[~np.isfinite(losses)][0]} at step {bad}; training stopped and "
                        f"nothing was saved after the last good checkpoint ({last}). Lower the learning rate "
                        f"({config.learning_rate}) and train into a new run directory."
                    )
                step += take
                pairs = int((targets >= 0).sum())
                pairs_done += pairs
                window_pairs += pairs
                total_loss += float(losses.sum())
                with writer.as_default(step=step):
                    tf.summary.scalar("loss", float(losses.mean()))
                if bar is not None:
                    bar.update(take)
                    bar.set_postfix(loss=f"{losses.mean():.2f}", refresh=False)
                if step % config.skip_step == 0 or step == target:
                    elapsed = time.perf_counter() - window_started
                    steps_in_window = (step - 1) % config.skip_step + 1
                    average = total_loss / steps_in_window
                    history.append((step - 1, average))
                    self._report(writer, step, average, window_pairs / elapsed if elapsed else 0.0, bar)
                    self.manager.save(checkpoint_number=step)
                    total_loss, window_pairs, window_started = 0.0, 0, time.perf_counter()
        finally:
            if bar is not None:
                bar.close()
            writer.close()
        return TrainResult(self.run_dir, step, history, time.perf_counter() - started, pairs_done)

    def _report(self, writer, step, average, pairs_per_second, bar) -> None:
        with writer.as_default(step=step):
            tf.summary.scalar("learning_rate", float(self.optimizer.learning_rate()))
            tf.summary.scalar("pairs_per_second", pairs_per_second)
            for variable in (self.model.embed_matrix, self.model.nce_weight):
                tf.summary.histogram(variable.name.split("/")[-1].split(":")[0], self._histogram_sample(variable))
        if self.verbose:
            line = f"Average loss at step {step - 1}: {average:5.1f}"
            if bar is not None:
                bar.write(line)
            else:
                print(line)

    def _histogram_sample(self, variable) -> np.ndarray:
        """A fixed sample of a matrix's values for its histogram.

        TensorBoard's histogram summary one-hot encodes every value (2.2 s for a 50,000 x 128 matrix on
        2 cores), so it is fed the same 65,536 randomly chosen entries at every report.
        """
        values = variable.numpy().reshape(-1)
        if self._sample_index is None or len(self._sample_index) > len(values):
            count = min(HISTOGRAM_SAMPLE, len(values))
            self._sample_index = np.sort(np.random.default_rng(0).choice(len(values), size=count, replace=False))
        return values[self._sample_index]

    def _progress_bar(self, step, target):
        if not self.progress or step >= target:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=target, initial=step, unit="step", desc="training", dynamic_ncols=True)
