"""Run directories: where a training run keeps its settings, vocabulary and checkpoints.

A run directory (``runs/<name>/``, the name from :meth:`Word2VecConfig.run_name`) holds::

    config.json      the settings, and which API trained it ("tf1": the graph model, "tf2": the tf.Module)
    vocab.json       the vocabulary: row i of every matrix is the vector of word i
    checkpoints/     the model's checkpoints (TF1 Saver: skip-gram-<step>.*, TF2 Checkpoint: ckpt-<step>.*)
    train/           TensorBoard event files

Both files are written before training starts, so an interrupted run can be evaluated. Checkpoint
state files name checkpoints by relative paths, so a run directory can be copied or moved. Resuming
takes the newest checkpoint that restores completely, whatever the state file says; a damaged one is
moved into ``checkpoints/damaged/`` (never deleted) with a note saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .config import Word2VecConfig
from .files import write_text_atomic
from .vocab import Vocabulary

__all__ = [
    "CHECKPOINT_BASENAMES",
    "CheckpointMismatchError",
    "RunBusyError",
    "RunError",
    "checkpoint_steps",
    "check_run_config",
    "load_embeddings",
    "lock_run",
    "open_run",
    "read_run_config",
    "restore_newest",
    "run_dir_for",
    "save_checkpoint",
    "train_command",
    "write_checkpoint_state",
]

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
CHECKPOINTS = "checkpoints"
DAMAGED = "damaged"
APIS = ("tf1", "tf2")
#: checkpoint file names of each API: the lecture's Saver prefix, and CheckpointManager's
CHECKPOINT_BASENAMES = {"tf1": "skip-gram", "tf2": "ckpt"}
#: where each API's checkpoint keeps the embedding matrix
EMBEDDING_KEYS = {"tf1": "embed_matrix", "tf2": "model/embed_matrix/.ATTRIBUTES/VARIABLE_VALUE"}


class RunError(RuntimeError):
    """A run directory cannot be used as asked; the message says what to do."""


class CheckpointMismatchError(RunError):
    """A run directory's checkpoints were written with other settings or from another corpus."""


class RunBusyError(RunError):
    """Another process is training in the run directory; the message names it."""


def run_dir_for(config: Word2VecConfig, api: str, root: str | os.PathLike = "runs") -> Path:
    """``root/<run name>``: the directory for this API and these settings."""
    return Path(root) / config.run_name(api)


# ----------------------------------------------------------------------------------------------
# config.json and vocab.json
# ----------------------------------------------------------------------------------------------
def read_run_config(run_dir: str | os.PathLike) -> tuple[str, Word2VecConfig]:
    """(api, config) recorded in a run directory."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunError(
            f"{run_dir} is not a run directory: it has no {CONFIG_FILE}. Pass a directory that "
            f"`python -m cs20lib train` printed, or train first."
        )
    remedy = "it is written by `python -m cs20lib train`: restore it from a copy, or train into a new run directory"
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path} is not valid JSON ({error}); {remedy}.") from None
    if not isinstance(values, dict) or values.get("api") not in APIS:
        raise RunError(f'{path} does not say which API trained the run ("api": "tf1" or "tf2"); {remedy}.')
    api = values.pop("api")
    try:
        return api, Word2VecConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise RunError(f"{path} holds settings this version cannot read ({error}); {remedy}.") from None


def check_run_config(run_dir: str | os.PathLike, config: Word2VecConfig, api: str) -> None:
    """Raise CheckpointMismatchError if ``run_dir`` was written by another API, other settings or another corpus.

    Settings in ``Word2VecConfig.RESUMABLE`` may differ (train longer, report more often). A directory
    without ``config.json`` but with checkpoints is refused too: nothing says what wrote them.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        if checkpoint_steps(run_dir / CHECKPOINTS, CHECKPOINT_BASENAMES[api]):
            raise CheckpointMismatchError(
                f"{run_dir / CHECKPOINTS} holds checkpoints but no {CONFIG_FILE} says what wrote them; "
                f"refusing to restore them. Train into a new run directory."
            )
        return
    recorded_api, recorded = read_run_config(run_dir)
    if recorded.corpus_fingerprint != config.corpus_fingerprint:
        raise CheckpointMismatchError(
            f"{run_dir} was trained on another corpus ({recorded.corpus!r}, fingerprint "
            f"{recorded.corpus_fingerprint or 'unknown'}) than this one ({config.corpus!r}, fingerprint "
            f"{config.corpus_fingerprint or 'unknown'}), so its checkpoints and vocabulary do not belong to it. "
            f"Train into a new run directory (leave --run-dir out: the default one is named after the corpus)."
        )
    mine, theirs = config.weights_key(), recorded.weights_key()
    differences = [
        f"{name}: checkpoint has {theirs.get(name)!r}, this run has {mine.get(name)!r}"
        for name in sorted(set(mine) | set(theirs))
        if mine.get(name) != theirs.get(name)
    ]
    if recorded_api != api:
        differences.insert(0, f"api: checkpoint is {recorded_api!r}, this run is {api!r}")
    if differences:
        raise CheckpointMismatchError(
            f"{run_dir} was trained with other settings, so its checkpoints do not fit this model: "
            + "; ".join(differences)
            + ". Resume with the recorded settings, or train into a new run directory (the default "
            "run directory is named after the settings, so leaving --run-dir out does that)."
        )


def open_run(run_dir: str | os.PathLike, config: Word2VecConfig, api: str, vocab: Vocabulary | None = None) -> Path:
    """Make ``run_dir`` ready for training: check it fits ``config`` and record the settings and vocabulary.

    ``config.json`` and ``vocab.json`` are written once, before any training; later runs in the same
    directory must match them (:func:`check_run_config`, and the same vocabulary). Opening the same run
    again in this process with the same settings and vocabulary does not check again: a run is checked
    once, where it is first opened (the command line, before it prints its plan; else the trainer).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a directory; choose another run directory.")
    key = (api, json.dumps(config.to_dict(), sort_keys=True), id(vocab))
    if _opened.get(run_dir.resolve()) == key and (run_dir / CONFIG_FILE).exists():
        return run_dir
    check_run_config(run_dir, config, api)
    run_dir.mkdir(parents=True, exist_ok=True)
    if vocab is not None:
        path = run_dir / VOCAB_FILE
        if path.exists() and Vocabulary.load(path) != vocab:
            raise CheckpointMismatchError(
                f"{path} holds another vocabulary than this run's; train into a new run directory."
            )
        if not path.exists():
            vocab.save(path)
    if not (run_dir / CONFIG_FILE).exists():
        text = json.dumps({"api": api, **config.to_dict()}, indent=2, sort_keys=True) + "\n"
        write_text_atomic(run_dir / CONFIG_FILE, text)
    _opened[run_dir.resolve()] = key
    return run_dir


_opened: dict[Path, tuple] = {}  # runs this process has opened: {resolved path: (api, settings, vocabulary)}


LOCK_FILE = ".lock"
_locks: dict[Path, list] = {}  # run directories this process holds: {resolved path: [file, depth]}


@contextlib.contextmanager
def lock_run(run_dir: str | os.PathLike, *, wait: bool = False, log=print):
    """Hold the run directory for training: a second process that wants to train in it is refused (or, with
    ``wait``, waits), so two trainings never write checkpoints and event files into one run at once.

    The lock is ``fcntl.flock`` on ``run_dir/.lock``, which names the holder (process id, command, since
    when); the operating system releases it when the process ends, however it ends. Taking it again in the
    process that holds it is allowed (a notebook training the same run twice, the command line around the
    trainer). Raises :class:`RunBusyError` naming the holder.
    """
    import fcntl

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    if key in _locks:
        _locks[key][1] += 1
        try:
            yield run_dir
        finally:
            _locks[key][1] -= 1
        return
    handle = open(run_dir / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            if not wait:
                raise RunBusyError(
                    f"{run_dir} is being trained by {holder}. Wait for it to finish (or stop it), then run this "
                    f"again; --wait waits for it. Two trainings in one run directory would overwrite each other's "
                    f"checkpoints."
                ) from None
            log(f"waiting for {holder} to finish with {run_dir} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        command = " ".join(_command_line())[:200]
        handle.write(f"process {os.getpid()} ({command}) since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        _locks[key] = [handle, 1]
        try:
            yield run_dir
        finally:
            del _locks[key]
            handle.seek(0)
            handle.truncate()
    finally:
        handle.close()  # releases the lock


def _command_line() -> list[str]:
    try:
        with open("/proc/self/cmdline", "rb") as cmdline:
            return [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
    except OSError:
        import sys

        return sys.argv


def train_command(run_dir: str | os.PathLike) -> str:
    """The ``python -m cs20lib train ...`` command that trains (or resumes) the run in ``run_dir``."""
    api, config = read_run_config(run_dir)
    flags = [f"--run-dir {run_dir}", f"--api {api}", f"--steps {config.num_train_steps}"]
    defaults = Word2VecConfig()
    names = {
        "vocab_size": "--vocab-size",
        "min_count": "--min-count",
        "batch_size": "--batch-size",
        "embed_size": "--embed-size",
        "skip_window": "--skip-window",
        "num_sampled": "--num-sampled",
        "negative": "--negative",
        "learning_rate": "--learning-rate",
        "loss": "--loss",
        "sample": "--sample",
        "batching": "--batching",
        "lr_decay": "--lr-decay",
        "init": "--init",
        "seed": "--seed",
        "max_words": "--max-words",
        "skip_step": "--skip-step",
    }
    for name, flag in names.items():
        value = getattr(config, name)
        if value != getattr(defaults, name):
            flags.append(
                f"{flag} {0 if value is None else value:g}"
                if isinstance(value, float)
                else f"{flag} {0 if value is None else value}"
            )
    if not config.keep_unk:
        flags.append("--drop-unk")
    corpus = "--corpus toy" if config.corpus == "toy" else "--corpus <the corpus it was trained on>"
    if config.corpus == "text8":
        corpus = ""
    return " ".join(["python -m cs20lib train", corpus, *flags]).replace("  ", " ")


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------
def checkpoint_steps(directory: str | os.PathLike, basename: str) -> list[int]:
    """The steps of the checkpoints ``<basename>-<step>.index`` in ``directory``, newest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    pattern = re.compile(re.escape(basename) + r"-(\d+)\.index\Z")
    steps = [int(match[1]) for path in directory.iterdir() if (match := pattern.match(path.name))]
    return sorted(steps, reverse=True)


def _check_readable(prefix: str) -> None:
    """Read every tensor of a checkpoint, so that a truncated or damaged one fails here and not half-way
    through restoring it into a model."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    for key in reader.get_variable_to_shape_map():
        reader.get_tensor(key)


def restore_newest(
    directory: str | os.PathLike,
    basename: str,
    restore: Callable[[str], None] | None = None,
    *,
    move_damaged: bool = True,
    notes: list[str] | None = None,
) -> str | None:
    """Restore the newest checkpoint in ``directory`` that reads completely; return its prefix (None if none).

    Checkpoints are tried newest step first, whatever the ``checkpoint`` state file says (it may be
    missing, stale or point elsewhere). One that cannot be read is skipped with a note in ``notes`` and,
    with ``move_damaged``, moved into ``directory/damaged/``. ``restore(prefix)`` loads a good one into the
    model. Then the state file is rewritten to list the remaining checkpoints by relative path, newest
    last, so a Saver or CheckpointManager made afterwards prunes only those. If checkpoints exist but
    none can be read, RunError: training must never start over on top of a run's checkpoints.
    """
    import tensorflow as tf

    directory = Path(directory)
    steps = checkpoint_steps(directory, basename)
    notes = notes if notes is not None else []
    chosen = None
    for step in steps:
        prefix = str(directory / f"{basename}-{step}")
        try:
            _check_readable(prefix)
            if restore is not None:
                restore(prefix)
            chosen = prefix
            break
        except (tf.errors.OpError, ValueError, AssertionError, IndexError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            where = ""
            if move_damaged:
                where = f"; moved to {_move_damaged(directory, basename, step)}"
            notes.append(f"skipped checkpoint {Path(prefix).name}: it cannot be read ({reason}){where}")
    if steps and chosen is None:
        raise RunError(
            f"none of the checkpoints in {directory} can be read ({'; '.join(notes)}). Nothing was deleted. "
            f"Restore them from a copy, or train into a new run directory."
        )
    if move_damaged and chosen is not None:
        write_checkpoint_state(directory, basename, Path(chosen).name)
    return chosen


def write_checkpoint_state(directory: str | os.PathLike, basename: str, newest: str) -> Path:
    """Write ``directory/checkpoint`` (TensorFlow's ``CheckpointState``, text format) naming ``newest`` and every
    ``<basename>-<step>`` checkpoint there by bare file name, with the time each was written.

    Bare names: TensorFlow reads them relative to the folder, so the run can be copied or moved, and
    ``tf.train.latest_checkpoint`` (the lecture's idiom) finds the checkpoint from any working directory.
    The times let a ``CheckpointManager`` made afterwards prune these checkpoints too (``max_to_keep``), as
    it prunes its own: it forgets checkpoints whose time is not after ``last_preserved_timestamp``.
    """
    directory = Path(directory)
    steps = sorted(checkpoint_steps(directory, basename))
    names = [f"{basename}-{step}" for step in steps if f"{basename}-{step}" != newest] + [newest]
    times = []
    for name in names:
        try:
            times.append((directory / f"{name}.index").stat().st_mtime)
        except OSError:
            times.append(time.time())
    lines = [f'model_checkpoint_path: "{newest}"']
    lines += [f'all_model_checkpoint_paths: "{name}"' for name in names]
    lines += [f"all_model_checkpoint_timestamps: {stamp:.6f}" for stamp in times]
    lines.append(f"last_preserved_timestamp: {min(times) - 1.0:.6f}")
    return write_text_atomic(directory / "checkpoint", "\n".join(lines) + "\n")


def _move_damaged(directory: Path, basename: str, step: int) -> Path:
    target = directory / DAMAGED
    target.mkdir(exist_ok=True)
    for path in directory.glob(f"{basename}-{step}.*"):
        os.replace(path, target / path.name)
    return target


def save_checkpoint(save: Callable[[], str], directory: str | os.PathLike, step: int, last_good: str | None) -> str:
    """Call ``save()`` (a Saver's or CheckpointManager's save) and turn a failure into one clear RunError.

    A failed save (a full disk, a read-only folder) leaves TensorFlow's temporary ``*_temp`` folder
    behind; it is removed, and the message names the last good checkpoint, which is intact.
    """
    import tensorflow as tf

    try:
        return save()
    except (tf.errors.OpError, OSError) as error:
        for leftover in Path(directory).glob("*_temp"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        reason = getattr(error, "message", None) or getattr(error, "strerror", None) or str(error)
        reason = str(reason).strip().splitlines()[0]
        raise RunError(
            f"could not save the checkpoint of step {step:,} in {directory} ({reason}). The last good checkpoint "
            f"({last_good or 'none yet'}) is intact: free some space or make the folder writable, then run the "
            f"same command again to resume from it."
        ) from None


def load_embeddings(run_dir: str | os.PathLike, notes: list[str] | None = None) -> np.ndarray:
    """The embedding matrix of a run's newest readable checkpoint (either API), as a NumPy array."""
    import tensorflow as tf

    run_dir = Path(run_dir)
    api, _ = read_run_config(run_dir)
    prefix = restore_newest(run_dir / CHECKPOINTS, CHECKPOINT_BASENAMES[api], move_damaged=False, notes=notes)
    if prefix is None:
        raise RunError(f"{run_dir} has no checkpoint yet; train it first: {train_command(run_dir)}")
    return tf.train.load_checkpoint(prefix).get_tensor(EMBEDDING_KEYS[api])
