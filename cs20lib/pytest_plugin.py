"""The course's rules for validating its notebooks with nbval, as a pytest plugin (``-p cs20lib.pytest_plugin``).

pyproject.toml's pytest options load it for ``make test``; a folder of notebooks written by
``python -m cs20lib notebooks DIR`` is validated the same way with
``python -m pytest -p cs20lib.pytest_plugin --nbval --nbval-current-env DIR``.

Every notebook cell nbval validates is marked ``notebooks``. Notebook 12 shows the fused op
(:mod:`cs20lib.fused_op`): where the op cannot be built (no C++ compiler, not Linux), its validation is
skipped with the reason; every other notebook runs everywhere.
"""

from __future__ import annotations

import pytest

#: notebooks whose stored outputs come from cs20lib's fused op
NEED_THE_FUSED_OP = {"12_making_it_fast"}


def pytest_collection_modifyitems(config, items):
    from .fused_op import cannot_build

    reason = cannot_build()
    skip = pytest.mark.skip(reason=f"it shows the fused op, which cannot be built here: {reason}")
    for item in items:
        if item.path.suffix != ".ipynb":
            continue
        item.add_marker(pytest.mark.notebooks)  # `make check` leaves them out: -m "not notebooks"
        if reason is not None and item.path.stem in NEED_THE_FUSED_OP:
            item.add_marker(skip)
