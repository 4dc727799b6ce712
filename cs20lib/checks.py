"""Argument checks shared by the modules: one message style for every bad number.

Each function returns the value (as a plain ``int`` or ``float``) or raises ``ValueError`` naming the
argument, what it must be and what it was. ``bool`` is refused where a number is wanted, although
Python counts it as an ``int``.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["integer", "real"]


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
