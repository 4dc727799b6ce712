"""Export word embeddings for TensorBoard's Embedding Projector, the lecture's ``visualize()`` and today's way.

The lecture restores the trained matrix, copies its first 1,000 rows into a new variable ``embedding``,
saves that with a ``tf.train.Saver`` into a folder, and writes there a ``projector_config.pbtxt`` naming
the tensor and its metadata file (one word per line). :func:`export_projector` does the same for a NumPy
matrix, in either API:

* ``api="tf1"``: the lecture's way, inside its own ``tf.Graph()``: a ``tf.compat.v1`` variable named
  ``embedding`` saved by ``tf.compat.v1.train.Saver`` in a ``tf.compat.v1.Session``. Checkpoint key:
  ``embedding``.
* ``api="tf2"``: ``tf.train.Checkpoint(embedding=tf.Variable(...)).save(...)``. TF2 checkpoints key a
  variable by its path in the object graph, so the key is ``embedding/.ATTRIBUTES/VARIABLE_VALUE``.

A folder written by :func:`export_projector` holds::

    checkpoint                                  which checkpoint is the latest (relative path)
    projector.ckpt-1.index                      the checkpoint: rows 0 .. n-1 of the matrix, float32
    projector.ckpt-1.data-00000-of-00001
    projector.ckpt-1.meta                       (tf1 only: the Saver's MetaGraph)
    metadata.tsv                                one word per line, row i = word i, row 0 = UNK
    projector_config.pbtxt                      tensor name + metadata_path "metadata.tsv" (relative)
    events.out.tfevents.*                       an empty event file, so TensorBoard lists the folder

TensorBoard's projector plugin lists only folders under ``--logdir`` that hold an event file, finds the
checkpoint through the folder's ``checkpoint`` file, and resolves a relative ``metadata_path`` against
the config's folder: hence the empty event file, and no ``model_checkpoint_path`` in the config, so an
export can be moved or copied whole.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np

from . import checks

__all__ = [
    "CHECKPOINT_PREFIX",
    "APIS",
    "METADATA_FILE",
    "NUM_VISUALIZE",
    "checkpoint_key",
    "export_projector",
    "projector_command",
]

#: The two ways of saving: the lecture's graph-mode Saver, or a TF2 object-based checkpoint.
APIS = ("tf1", "tf2")
#: File-name prefix of the exported checkpoint (``projector.ckpt-1.index`` and friends).
CHECKPOINT_PREFIX = "projector.ckpt"
#: The metadata file, named relative to the export folder in the config.
METADATA_FILE = "metadata.tsv"
DEFAULT_TENSOR_NAME = "embedding"
#: rows exported by default: the lecture's NUM_VISUALIZE
NUM_VISUALIZE = 3_000

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OUR_CHECKPOINT_RE = re.compile(re.escape(CHECKPOINT_PREFIX) + r"-\d+\Z")


def checkpoint_key(api: str = "tf2", tensor_name: str | None = None) -> str:
    """The name the projector shows (and the checkpoint stores) for a variable called ``tensor_name``.

    ``tf1``: the variable's name itself (``embedding``); ``tf2``: its object-graph path
    (``embedding/.ATTRIBUTES/VARIABLE_VALUE``).
    """
    _check_api(api)
    name = _check_tensor_name(tensor_name)
    return name if api == "tf1" else f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


def export_projector(
    logdir: str | os.PathLike,
    embeddings,
    vocab,
    n_words: int | None = NUM_VISUALIZE,
    *,
    api: str = "tf2",
    tensor_name: str | None = None,
) -> Path:
    """Write the first ``n_words`` rows of ``embeddings`` and their words for the Embedding Projector.

    ``embeddings`` is ``[len(vocab), dim]`` with row i the vector of word i (a NumPy array or anything
    ``np.asarray`` takes, e.g. a ``tf.Variable``'s ``.numpy()``). ``n_words`` rows are exported (all of
    them when the vocabulary is smaller, or when ``n_words`` is None), as float32. ``api`` is ``"tf1"``
    (the lecture's Saver) or ``"tf2"`` (``tf.train.Checkpoint``); ``tensor_name`` names the variable
    (default ``embedding``; see :func:`checkpoint_key` for the name the projector shows).

    ``logdir`` is created if needed. It may be the directory given to ``tensorboard --logdir`` or any
    folder below it (e.g. ``runs/exp1/projector`` beside ``runs/exp1/train``); it should be a folder of
    its own: exporting again into it replaces the previous export (one checkpoint, one config), and a
    folder whose ``checkpoint`` file points at someone else's checkpoints is refused rather than
    overwritten. Returns ``logdir`` as a :class:`~pathlib.Path`; :func:`projector_command` gives the
    command that opens it.
    """
    _check_api(api)
    name = _check_tensor_name(tensor_name)
    if n_words is not None and (isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer)) or n_words < 1):
        raise ValueError(f"n_words must be a positive integer (or None for every row), not {n_words!r}")
    matrix = _check_matrix(embeddings, vocab)
    n = len(matrix) if n_words is None else min(int(n_words), len(matrix))
    words = list(vocab.words[:n])
    bad = [w for w in words if not isinstance(w, str) or not w or any(c in w for c in "\t\r\n")]
    if bad:
        raise ValueError(
            f"the projector's one-column metadata needs non-empty words without tabs or line breaks; "
            f"cannot write {bad[:3]!r}"
        )
    rows = np.ascontiguousarray(matrix[:n], dtype=np.float32)
    checks.finite_rows(rows)

    logdir = Path(logdir).expanduser()
    logdir.mkdir(parents=True, exist_ok=True)
    _remove_previous_export(logdir)

    import tensorflow as tf  # only exporting needs TensorFlow

    prefix = str(logdir.resolve() / CHECKPOINT_PREFIX)
    if api == "tf1":
        _save_tf1(tf, rows, name, prefix)
    else:
        _save_tf2(tf, rows, name, prefix)

    vocab.write_metadata(logdir / METADATA_FILE, limit=n)

    from tensorboard.plugins import projector

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = checkpoint_key(api, name)
    embedding.metadata_path = METADATA_FILE  # relative: resolved against the config's folder
    # model_checkpoint_path stays empty: the plugin then finds the checkpoint through the folder's
    # `checkpoint` file, which holds relative paths, so the folder can be moved.
    projector.visualize_embeddings(str(logdir), config)

    if not any("tfevents" in p.name for p in logdir.iterdir() if p.is_file()):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        writer = EventFileWriter(str(logdir))  # writes the file-version record: enough to be a run
        writer.close()
    return logdir


def projector_command(logdir: str | os.PathLike) -> str:
    """The command that opens an export: ``tensorboard --logdir <absolute path>``.

    Then browse to http://localhost:6006/#projector. The path is quoted for the shell the student is
    likely to use (POSIX shells; ``cmd``/PowerShell on Windows) only when it needs quoting.
    """
    path = str(Path(logdir).expanduser().resolve())
    quoted = subprocess.list2cmdline([path]) if os.name == "nt" else shlex.quote(path)
    return f"tensorboard --logdir {quoted}"


# --------------------------------------------------------------------------------------------
def _check_api(api) -> None:
    if api not in APIS:
        raise ValueError(f"api must be one of {', '.join(map(repr, APIS))}, not {api!r}")


def _check_tensor_name(tensor_name) -> str:
    if tensor_name is None:
        return DEFAULT_TENSOR_NAME
    if not isinstance(tensor_name, str) or not _NAME_RE.match(tensor_name):
        raise ValueError(f"tensor_name must be a Python-identifier-like name such as 'embedding', not {tensor_name!r}")
    return tensor_name


def _check_matrix(embeddings, vocab) -> np.ndarray:
    if not hasattr(vocab, "write_metadata"):
        raise TypeError(f"vocab must be a cs20lib.Vocabulary, not {type(vocab).__name__}")
    return checks.embedding_matrix(embeddings, vocab)


def _remove_previous_export(logdir: Path) -> None:
    """Delete an earlier export's checkpoint files, refusing to touch anybody else's checkpoints."""
    state = logdir / "checkpoint"
    if state.exists():
        text = state.read_text(encoding="utf-8", errors="replace")
        paths = re.findall(r'checkpoint_paths?:\s*"((?:[^"\\]|\\.)*)"', text)
        foreign = sorted({p for p in paths if not _OUR_CHECKPOINT_RE.match(os.path.basename(p))})
        if foreign:
            raise ValueError(
                f"{logdir} already holds other checkpoints ({', '.join(foreign[:3])}); export the "
                f"projector into a folder of its own, e.g. {logdir / 'projector'}"
            )
        state.unlink()
    for path in logdir.glob(CHECKPOINT_PREFIX + "-*"):
        if path.is_file():
            path.unlink()


def _save_tf1(tf, rows: np.ndarray, name: str, prefix: str) -> None:
    graph = tf.Graph()
    with graph.as_default():
        # Fed through a placeholder rather than baked in as a constant: the .meta file stays small.
        initial = tf.compat.v1.placeholder(tf.float32, shape=rows.shape, name=f"{name}_initial_value")
        variable = tf.compat.v1.Variable(initial, name=name)
        saver = tf.compat.v1.train.Saver({name: variable}, save_relative_paths=True)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(variable.initializer, feed_dict={initial: rows})
            saver.save(sess, prefix, global_step=1)


def _save_tf2(tf, rows: np.ndarray, name: str, prefix: str) -> None:
    with tf.init_scope():  # lifts out of tf.function / graph-building code where it can
        if not tf.executing_eagerly():
            raise RuntimeError('api="tf2" needs eager execution; inside a tf.Graph use api="tf1"')
        with tf.device("/CPU:0"):
            variable = tf.Variable(rows, name=name, trainable=False)
        tf.train.Checkpoint(**{name: variable}).save(prefix)
