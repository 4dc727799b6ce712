"""Runners for the TF2 trainer on TensorFlow's distributed engine: parameter servers, mirrored replicas, machines.

The lecture's ``embedding_lookup`` and ``nce_loss`` take ``partition_strategy`` because an embedding
table can outgrow one machine: TF1 split it into a ``PartitionedVariable`` and put the parts on
parameter servers. The TF2 form is ``tf.distribute.ParameterServerStrategy`` with a
``variable_partitioner``: every variable created under the strategy's scope that is large enough
becomes a ``ShardedVariable``, blocks of consecutive rows (TF1's ``partition_strategy="div"``) on the
parameter-server tasks. A ``ClusterCoordinator`` (this process) schedules the training function on the
workers, asynchronously: each worker reads the rows it needs, computes a step on its own batches from
its own copy of the input pipeline, and writes the updated rows back, without waiting for the others
(Dean et al. 2012, "Large Scale Distributed Deep Networks": Downpour SGD; word2vec's own threads do
the same on shared memory, "Hogwild", Recht et al. 2011). Keras 3 has no parameter-server support;
this is a custom loop over the ``tf.Module`` model, which is what :class:`~cs20lib.training.Trainer` is.

The trainer's loop is :meth:`cs20lib.training.Trainer.train`, the same for every strategy; this module
gives it runners (:class:`~cs20lib.training.Runner`), and :func:`runner_for` picks one for
``train --strategy``:

* :class:`ParameterServerRunner`: tables sharded over parameter servers, steps run by closures scheduled
  on the workers; checkpoints are ordinary TF2 checkpoints, which restore into the single-process model
  and back (TF2 reshards on restore), so every other command works unchanged.
* :func:`mirrored_strategy`: data parallelism on one machine (``MirroredStrategy``); a
  :class:`~cs20lib.training.LocalRunner` on it splits each batch between the replicas, and their sparse
  updates are all-gathered and applied to every copy. ``MultiWorkerMirroredStrategy`` is the same on
  several machines (``train --strategy multi-worker``, one process per machine, TF_CONFIG).
* :func:`worker_window_dataset`: word2vec's window batches made with TensorFlow ops only, so a worker can
  build them itself (a per-worker dataset runs in the worker's process, away from NumPy and Python).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from .cluster import ClusterError, LocalCluster, cluster_from_tf_config, first_closed, servers_on_loopback
from .config import STRATEGIES
from .noise import alias_table, draw_negatives
from .skipgram import keep_probabilities, window_offsets
from .tf2_model import negative_sampling_update
from .training import LocalRunner, Runner, Trainer, report_windows

__all__ = [
    "ParameterServerRunner",
    "is_chief",
    "logical_cpus",
    "mirrored_strategy",
    "parameter_server_strategy",
    "runner_for",
    "split_cpu_if_no_gpu",
    "worker_scratch",
    "worker_window_dataset",
]

#: seconds a group of scheduled steps may take before the run stops with a clear error instead of waiting on
JOIN_TIMEOUT = 600.0


def logical_cpus(count: int) -> list[str]:
    """Split the CPU into ``count`` logical devices (before TensorFlow starts), e.g. to try MirroredStrategy
    on a laptop; returns their names. A GPU machine needs no such thing: each GPU is a device."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise RuntimeError(
                f"TensorFlow has already started with {len(tf.config.list_logical_devices('CPU'))} CPU device(s); "
                f"split the CPU into {count} before anything else runs (in a notebook: restart the kernel)"
            ) from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def split_cpu_if_no_gpu(devices: int | None = None) -> list[str] | None:
    """Without GPUs (or with ``devices`` given), split the CPU into ``devices`` logical devices (default 2)
    and return their names; with GPUs and no ``devices``, None (each GPU is a device)."""
    if tf.config.list_physical_devices("GPU") and devices is None:
        return None
    return logical_cpus(devices or 2)


def mirrored_strategy(devices: int | None = None):
    """``MirroredStrategy`` over every GPU, or, without GPUs, over ``devices`` logical CPUs (default 2)."""
    names = split_cpu_if_no_gpu(devices)
    if names is None:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy(names, cross_device_ops=tf.distribute.ReductionToOneDevice())


def parameter_server_strategy(cluster_resolver, num_ps: int):
    """``ParameterServerStrategy`` whose variables are split into ``num_ps`` row blocks, one per parameter server.

    Connecting to the cluster starts a TensorFlow server in this process too (the coordinator's own task);
    for a local cluster it is kept on the loopback device, as the tasks are (:func:`cs20lib.cluster.keep_on_loopback`).
    """
    partitioner = tf.distribute.experimental.partitioners.FixedShardsPartitioner(num_shards=num_ps)
    with servers_on_loopback(cluster_resolver.cluster_spec().as_dict()):
        return tf.distribute.ParameterServerStrategy(cluster_resolver, variable_partitioner=partitioner)


def worker_window_dataset(ids, keep, *, batch_size: int, skip_window: int, seed: int, first_epoch: int = 0):
    """Endless word2vec window batches (centers ``[B]``, contexts ``[B, 2w]``, -1 for none) from TensorFlow ops.

    Epoch e keeps each occurrence of word i with probability ``keep[i]`` (subsampling; 0 drops UNK),
    drawn from the stateless seed (``seed``, e), as :class:`~cs20lib.skipgram.SkipGramStream` does
    with NumPy, and shuffles the centers; each center reaches a window drawn uniformly from
    1..``skip_window`` each way. The batches of an epoch come in an order that each copy of the dataset
    shuffles for itself, so workers reading their own copies train on different batches at any one time.
    """
    ids = tf.constant(np.asarray(ids, dtype=np.int32))
    keep = tf.constant(np.asarray(keep, dtype=np.float32))
    offsets = tf.constant(window_offsets(skip_window))  # [2w]: -w .. -1, 1 .. w

    def epoch_batches(epoch):
        draw = tf.random.stateless_uniform(tf.shape(ids), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        kept = tf.boolean_mask(ids, draw < tf.gather(keep, ids))
        count = tf.shape(kept)[0]
        num_batches = tf.cast(count // batch_size, tf.int64)
        # centers in a random order, as SkipGramStream shuffles them: a batch of neighbouring centers would
        # update the same few rows many times over from one stale read
        centers = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(seed, tf.int64) + 2, epoch])
        )

        def batch(index):
            positions = centers[index * batch_size : (index + 1) * batch_size]
            reach_seed = tf.stack([tf.constant(seed, tf.int64) + 1, epoch * (1 << 32) + index])
            reach = tf.random.stateless_uniform(
                [batch_size], seed=reach_seed, minval=1, maxval=skip_window + 1, dtype=tf.int32
            )
            around = positions[:, None] + offsets[None, :]
            inside = (tf.abs(offsets)[None, :] <= reach[:, None]) & (around >= 0) & (around < count)
            contexts = tf.where(inside, tf.gather(kept, tf.clip_by_value(around, 0, count - 1)), -1)
            return tf.gather(kept, positions), contexts

        order = tf.data.Dataset.range(num_batches).shuffle(tf.maximum(num_batches, 1), reshuffle_each_iteration=False)
        return order.map(batch)

    return tf.data.Dataset.range(first_epoch, first_epoch + 1_000_000).flat_map(epoch_batches).prefetch(2)


def check_parameter_server_config(config) -> None:
    """Parameter-server training runs word2vec's window step; a clear error for other settings."""
    if config.loss != "negative" or config.batching != "windows":
        raise ValueError(
            "--strategy parameter-server trains word2vec's way (--loss negative --batching windows, "
            "the word2vec preset); the lecture's NCE runs on one process"
        )


class ParameterServerRunner(Runner):
    """:class:`~cs20lib.training.Trainer`'s steps on a cluster: tables sharded over the parameter servers, steps
    on the workers.

    ``cluster_resolver`` names the cluster (``LocalCluster.resolver()``, or
    ``tf.distribute.cluster_resolver.TFConfigClusterResolver()`` on real machines); the tables are split into
    ``num_ps`` row blocks. Needs the negative-sampling loss with window batches (the word2vec preset). A
    piece is the steps up to the next report step: closures of ``steps_per_closure`` steps each are
    scheduled on the workers, and the coordinator (this process) waits for all of them, at most
    ``join_timeout`` seconds, then the trainer logs and checkpoints. Each worker reads batches from its own
    copy of :func:`worker_window_dataset`.
    """

    def __init__(self, cluster_resolver, num_ps: int, *, steps_per_closure: int = 25, join_timeout=JOIN_TIMEOUT):
        self.steps_per_closure, self.join_timeout = steps_per_closure, join_timeout
        self.cluster = cluster_resolver.cluster_spec().as_dict()  # to name a task that stopped
        self.strategy = parameter_server_strategy(cluster_resolver, num_ps)
        self.coordinator = tf.distribute.coordinator.ClusterCoordinator(self.strategy)

    def attach(self, trainer: Trainer) -> None:
        super().attach(trainer)
        config, vocab, plan = trainer.config, trainer.vocab, trainer.plan
        check_parameter_server_config(config)
        self._run_closure = self._compile(trainer)
        keep = keep_probabilities(vocab.counts, config.sample) if config.sample else np.ones(len(vocab), np.float32)
        keep = np.array(keep, dtype=np.float32)
        if not config.keep_unk:
            keep[0] = 0.0
        # a resumed run starts in the epoch it stopped in (epochs counted after UNK dropping and subsampling)
        first_epoch = int(int(trainer.step.numpy()) // max(plan.steps_per_epoch, 1.0))
        settings = dict(batch_size=config.batch_size, skip_window=config.skip_window, seed=config.seed)
        ids = plan.stream.ids

        def dataset_fn():
            return worker_window_dataset(ids, keep, first_epoch=first_epoch, **settings)

        self._iterator = iter(self.coordinator.create_per_worker_dataset(dataset_fn))

    def _compile(self, trainer: Trainer):
        config, model, optimizer = trainer.config, trainer.model, trainer.optimizer
        keep, alias = (tf.constant(table) for table in alias_table(trainer.vocab.counts, config.power))
        size = config.batch_size

        def worker_step(centers, contexts):
            """One step on a worker: rows read from and written to the parameter servers."""
            iteration = optimizer.iterations.assign_add(1) - 1  # each step its own noise words
            negatives = draw_negatives(keep, alias, [size, config.negative], tf.stack([config.seed, iteration]))
            loss = negative_sampling_update(model, centers, contexts, negatives, optimizer.learning_rate(), size)
            return loss, tf.reduce_sum(tf.cast(contexts >= 0, tf.int64))

        @tf.function
        def run_steps(iterator, count):
            """``count`` steps on one worker's batches; their mean loss and the pairs they trained on."""
            total, pairs = tf.constant(0.0), tf.constant(0, tf.int64)
            for _ in tf.range(count):
                centers, contexts = next(iterator)
                loss, step_pairs = self.strategy.run(worker_step, args=(centers, contexts))
                total, pairs = total + loss, pairs + step_pairs
            return total / tf.cast(count, tf.float32), pairs

        return run_steps

    def pieces(self, step: int, target: int):
        return report_windows(step, target, self.trainer.config.skip_step)

    def run(self, piece) -> tuple[np.ndarray, int]:
        """Schedule the steps of ``piece`` on the workers, wait for them; the losses and the pairs."""
        start, stop = piece
        counts = [min(self.steps_per_closure, stop - s) for s in range(start, stop, self.steps_per_closure)]
        results = [self.coordinator.schedule(self._run_closure, args=(self._iterator, c)) for c in counts]
        self._join(stop)
        fetched = [result.fetch() for result in results]
        losses = np.repeat([float(loss) for loss, _ in fetched], counts)
        return losses, int(sum(int(pairs) for _, pairs in fetched))

    def saving(self):
        return _quiet_tensorflow_warnings()  # saving sharded tables retraces its function each time

    @contextlib.contextmanager
    def guard(self, step: int):
        """A task that stopped answering while the steps up to ``step`` ran, were logged or saved: one clear
        error naming it (TensorFlow reports it from whichever remote operation noticed first)."""
        try:
            yield
        except tf.errors.OpError as exc:
            if isinstance(exc, (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError)):
                raise self._cluster_error(exc, step) from None
            if first_closed(self.cluster) is not None:
                raise self._cluster_error(exc, step) from None
            raise

    def _join(self, step: int) -> None:
        """Wait for every scheduled closure, at most ``join_timeout`` seconds."""
        deadline = time.monotonic() + self.join_timeout
        while not self.coordinator.done():  # raises what a closure raised (a worker's failure is retried instead)
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the workers did not finish the steps before step {step:,} within {self.join_timeout:.0f} s; "
                    f"{self._resume_hint()}"
                )
            time.sleep(0.05)

    def _cluster_error(self, exc, step: int) -> ClusterError:
        """The error for a task that stopped answering: which one (parameter servers are checked first), what to do.
        A task killed a moment ago may still hold its port while its process ends: look again for a few seconds."""
        failed, deadline = first_closed(self.cluster), time.monotonic() + 5.0
        while failed is None and time.monotonic() < deadline:
            time.sleep(0.25)
            failed = first_closed(self.cluster)
        lines = [line.strip() for line in exc.message.splitlines() if "UNAVAILABLE" in line or "ABORTED" in line]
        return ClusterError(
            f"{'task ' + failed if failed else 'a task of the cluster'} stopped answering, so training stopped before "
            f"step {step:,} ({lines[0] if lines else exc.message.strip().splitlines()[0]}). {self._resume_hint()}"
        )

    def _resume_hint(self) -> str:
        latest = self.trainer.manager.latest_checkpoint
        if latest is None:
            return "No checkpoint was written yet; run the same command again to start over."
        return f"The last checkpoint is {latest}; run the same command again to resume from it."


@contextlib.contextmanager
def _quiet_tensorflow_warnings():
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def is_chief(environ=None) -> bool:
    """Whether this process writes a multi-worker run's results: the ``chief`` task, or worker 0 without one."""
    environ = os.environ if environ is None else environ
    if not environ.get("TF_CONFIG"):
        return True
    cluster, kind, index = cluster_from_tf_config(environ, need_ps=False)
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)


@contextlib.contextmanager
def runner_for(strategy: str, *, workers: int = 2, ps: int = 1, devices: int | None = None, **options):
    """The runner for ``train --strategy`` other than ``default`` (a context manager: a local cluster lives as
    long as it). ``options`` go to the runner.

    * ``mirrored``: :class:`~cs20lib.training.LocalRunner` on ``MirroredStrategy`` (the GPUs, or ``devices``
      logical CPUs), each batch split between the replicas;
    * ``parameter-server``: :class:`ParameterServerRunner` on the cluster in ``TF_CONFIG``, or else on a
      :class:`~cs20lib.cluster.LocalCluster` of ``workers`` workers and ``ps`` parameter servers started here,
      which ends with this process;
    * ``multi-worker``: ``MultiWorkerMirroredStrategy``, one such process per task of ``TF_CONFIG``.
    """
    if strategy not in STRATEGIES or strategy == "default":
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES[1:])}, not {strategy!r}")
    if strategy == "mirrored":
        yield LocalRunner(mirrored_strategy(devices), **options)
    elif strategy == "parameter-server":
        if os.environ.get("TF_CONFIG"):
            cluster, _, _ = cluster_from_tf_config()
            resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
            yield ParameterServerRunner(resolver, len(cluster["ps"]), **options)
        else:
            # The tasks stay up until this process ends (they watch it): TensorFlow keeps talking to them as
            # long as it runs (it registers and removes functions on every task), even after training.
            local = LocalCluster(workers, ps).start()
            yield ParameterServerRunner(local.resolver(), ps, **options)
    else:
        cluster, _, _ = cluster_from_tf_config(need_ps=False)  # a clear error without TF_CONFIG
        with servers_on_loopback(cluster):  # each worker's own server, when every worker is on this machine
            multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
        yield LocalRunner(multi_worker, **options)


def worker_scratch(trainer: Trainer):
    """For a multi-worker run's workers other than the chief: save into a temporary folder (saving is collective:
    every worker saves, but only the chief's files are kept). A context manager; returns the trainer."""

    @contextlib.contextmanager
    def scratch():
        if is_chief():
            yield trainer
            return
        with tempfile.TemporaryDirectory(prefix="cs20-worker-") as folder:
            trainer.manager = tf.train.CheckpointManager(
                trainer.checkpoint, str(Path(folder) / "checkpoints"), 1, step_counter=trainer.step
            )
            trainer.log_dir = Path(folder) / "train"
            trainer.lock_dir = Path(folder)  # the chief holds the run directory
            yield trainer

    return scratch()
