"""Reading TensorBoard event files back into NumPy: what TensorBoard plots, for a notebook or a test.

A log directory holds one ``events.out.tfevents.<time>.<host>...`` file per writer that was opened on
it (a resumed run or a re-run cell adds one). :func:`read_events` reads them all in the order they were
written; where two files hold a value for the same tag and step, the later one wins, as when a cell
that logs steps 0..99 is run twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["read_events", "read_scalars"]


def _value(value) -> np.ndarray | float:
    """The data of one summary value: a float (TF1 scalar), a (left, right, count) array (TF1
    histogram), or the tensor TF2's summaries store (scalar or histogram buckets)."""
    import tensorflow as tf

    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "histo":
        limits = np.array(value.histo.bucket_limit)
        return np.stack([np.r_[value.histo.min, limits[:-1]], limits, value.histo.bucket], axis=1)
    data = tf.make_ndarray(value.tensor)
    return float(data) if data.shape == () else data


def read_events(logdir: str | os.PathLike) -> dict[str, tuple[list[int], list]]:
    """``{tag: (steps, values)}`` of every summary in ``logdir``'s event files, tags sorted, steps ascending.

    Raises FileNotFoundError, saying what to run, when the folder holds no event file.
    """
    import tensorflow as tf

    logdir = Path(logdir)
    files = sorted(logdir.glob("events.out.tfevents.*"), key=lambda path: (path.name.split(".")[3], path.name))
    if not files:
        raise FileNotFoundError(f"{logdir} holds no TensorBoard event file yet: run the cell that writes it first.")
    found: dict[str, dict[int, object]] = {}
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, {})[event.step] = _value(value)
    return {tag: (sorted(points), [points[step] for step in sorted(points)]) for tag, points in sorted(found.items())}


def read_scalars(logdir: str | os.PathLike, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one scalar summary as arrays; KeyError naming the tags there if it is absent."""
    events = read_events(logdir)
    if tag not in events:
        raise KeyError(f"no summary {tag!r} in {logdir}; it has {sorted(events)}")
    steps, values = events[tag]
    return np.array(steps), np.array(values, dtype=np.float64)
