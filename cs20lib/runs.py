"""Run directories: one per model and hyperparameters, holding everything a run writes.

The lecture always writes to ``checkpoints/``; change a hyperparameter, run again, and ``train()``
silently restores the old run's weights into the new model (or fails deep inside TensorFlow when a
shape changed). Here :func:`run_dir_for` names a run directory after the settings that shape the
weights, so different settings never share checkpoints; every run directory records its settings in
``config.json``, and :func:`check_run_config` refuses to resume a directory written with other
settings, naming the ones that differ.

Layout of a run directory::

    config.json          model name + Word2VecConfig
    vocab.json           the Vocabulary (words and counts)
    checkpoints/         Saver (tf1) or CheckpointManager (tf2) checkpoints
    train/               TensorBoard event files (scalars, histograms, the tf1 graph)
    projector/           projector checkpoint, metadata.tsv, projector_config.pbtxt
    tsne.png             t-SNE of the most frequent words
    metrics.json         evaluation figures
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .config import Word2VecConfig

__all__ = [
    "CheckpointMismatchError",
    "check_run_config",
    "load_embeddings",
    "read_run_config",
    "run_dir_for",
    "write_run_config",
]

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"

#: where each model's checkpoint keeps the embedding matrix
EMBEDDING_KEYS = {"tf1": "embed_matrix", "tf2": "model/embed_matrix/.ATTRIBUTES/VARIABLE_VALUE"}


class CheckpointMismatchError(RuntimeError):
    """A run directory's checkpoints were written with other hyperparameters."""


def run_dir_for(config: Word2VecConfig, model: str, root: str | os.PathLike = "runs") -> Path:
    """``root/<run name>``: the directory for this model and these settings."""
    return Path(root) / config.run_name(model)


def write_run_config(run_dir: str | os.PathLike, config: Word2VecConfig, model: str) -> Path:
    """Record the settings of a run in ``run_dir/config.json`` (first write wins; checked on resume)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CONFIG_FILE
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"model": model, **config.to_dict()}, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    return path


def read_run_config(run_dir: str | os.PathLike) -> tuple[str, Word2VecConfig]:
    """(model, config) recorded in a run directory."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no {CONFIG_FILE}. Train first (python -m cs20lib train) or pass the directory a training run printed.")
    values = json.loads(path.read_text())
    model = values.pop("model")
    return model, Word2VecConfig.from_dict(values)


def check_run_config(run_dir: str | os.PathLike, config: Word2VecConfig, model: str) -> None:
    """Raise CheckpointMismatchError if ``run_dir`` was written by another model or other settings.

    Settings in ``Word2VecConfig.RESUMABLE`` may differ (train longer, report more often). A directory
    without ``config.json`` but with checkpoints is refused too: nothing says what wrote them.
    """
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not path.exists():
        if (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
            raise CheckpointMismatchError(
                f"{run_dir}/checkpoints holds checkpoints but no {CONFIG_FILE} says what wrote them; "
                f"refusing to restore them. Use a fresh run directory or delete that one."
            )
        return
    recorded_model, recorded = read_run_config(run_dir)
    differences = [
        f"{name}: checkpoint has {recorded.to_dict()[name]!r}, this run has {value!r}"
        for name, value in config.weights_key().items()
        if recorded.to_dict()[name] != value
    ]
    if recorded_model != model:
        differences.insert(0, f"model: checkpoint is {recorded_model!r}, this run is {model!r}")
    if differences:
        raise CheckpointMismatchError(
            f"{run_dir} was trained with other settings, so its checkpoints do not fit this model: "
            + "; ".join(differences)
            + ". Resume with the recorded settings, or train into a new run directory (the default "
            "run directory is named after the settings, so leaving --run-dir out does that)."
        )


def load_embeddings(run_dir: str | os.PathLike) -> np.ndarray:
    """The embedding matrix of a run's latest checkpoint (either model), as a NumPy array."""
    import tensorflow as tf

    run_dir = Path(run_dir)
    model, _ = read_run_config(run_dir)
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    if latest is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet; train it first (python -m cs20lib train --run-dir {run_dir}).")
    return tf.train.load_checkpoint(latest).get_tensor(EMBEDDING_KEYS[model])
