"""Argument checks shared by the modules: one message style for every bad number or matrix.

Each function returns the value (a plain ``int`` or ``float``; a NumPy matrix) or raises ``ValueError``
(``TypeError`` for a vocabulary that is not one) naming the argument, what it must be and what it was.
``bool`` is refused where a number is wanted, although Python counts it as an ``int``.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["embedding_matrix", "finite_rows", "integer", "real"]


def integer(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``minimum .. maximum`` (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer{_range(minimum, maximum)}, not {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range(minimum, maximum)}, not {value!r}")
    return value


def real(name: str, value, minimum: float | None = None, *, above: float | None = None) -> float:
    """``value`` as a finite ``float``, at least ``minimum`` and greater than ``above`` (when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number{_real_range(minimum, above)}, not {value!r}")
    value = float(value)
    if (minimum is not None and value < minimum) or (above is not None and not value > above):
        raise ValueError(f"{name} must be a finite number{_real_range(minimum, above)}, not {value!r}")
    return value


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum:,} to {maximum:,}"
    if minimum is not None:
        return f" >= {minimum:,}"
    if maximum is not None:
        return f" <= {maximum:,}"
    return ""


def _real_range(minimum, above) -> str:
    if above is not None:
        return f" > {above:g}"
    if minimum is not None:
        return f" >= {minimum:g}"
    return ""


def embedding_matrix(embeddings, vocab=None, name: str = "embeddings"):
    """``embeddings`` as a NumPy matrix ``[rows, dim]`` of real numbers (a ``tf.Variable`` or tensor is read),
    with one row per entry of ``vocab`` (a :class:`~cs20lib.vocab.Vocabulary`) when it is given."""
    import numpy as np

    if vocab is not None and not (hasattr(vocab, "words") and hasattr(vocab, "counts")):
        raise TypeError(f"vocab must be a cs20lib.Vocabulary, not {type(vocab).__name__}")
    if hasattr(embeddings, "numpy") and not isinstance(embeddings, np.ndarray):
        embeddings = embeddings.numpy()  # a tf.Variable or EagerTensor
    matrix = np.asarray(embeddings)
    if matrix.ndim != 2 or matrix.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D matrix [len(vocab), dim], not an array of shape {matrix.shape}")
    if matrix.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold real numbers, not {matrix.dtype}")
    if vocab is not None and matrix.shape[0] != len(vocab.words):
        raise ValueError(
            f"{name} has {matrix.shape[0]:,} rows but the vocabulary has {len(vocab.words):,} entries (UNK "
            f"included): row i must be the vector of word i (did the matrix come from another vocabulary?)"
        )
    return matrix


def finite_rows(rows, first_row: int = 0, name: str = "embedding") -> None:
    """ValueError naming the first row of ``rows`` (numbered from ``first_row``) with NaN or infinite values."""
    import numpy as np

    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        bad = first_row + int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name} row {bad} has NaN or infinite values (did training diverge?)")
