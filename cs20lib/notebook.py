"""Set-up shared by the notebooks: quiet and deterministic TensorFlow, short tracebacks, versions,
and each notebook's folder of results.

Import this module before TensorFlow (the notebooks' first code cell does): it sets
``TF_CPP_MIN_LOG_LEVEL`` so TensorFlow's C++ start-up messages do not land in the notebook's outputs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import logging  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

__all__ = [
    "StaleResultError",
    "empty_folder",
    "for_corpus",
    "full_tracebacks",
    "load_corpus",
    "load_words",
    "record",
    "result",
    "run_folder",
    "setup",
    "short_tracebacks",
    "versions",
]

#: set to 0 by the tests and ``make notebooks``, which rebuild every folder: earlier results are then
#: deleted instead of kept under ``runs/earlier/``
KEEP_EARLIER_ENV = "CS20_KEEP_EARLIER_RUNS"
EARLIER = "earlier"
#: earlier sessions' results kept per notebook under runs/earlier/ (older ones are deleted)
EARLIER_KEPT = 3
_opened_this_session: set[Path] = set()


def setup(seed: int = 0, threads: int = 2) -> None:
    """Make a notebook's run reproducible and its output clean.

    Fixes the thread counts (two each way, as on the course's 2-core reference machine), turns on
    TensorFlow's op determinism, seeds Python's, NumPy's and TensorFlow's global generators, and
    silences TensorFlow's Python-side deprecation chatter (its messages say nothing about the lesson).
    """
    import matplotlib
    import numpy as np

    from .tf_logging import import_tensorflow

    tf = import_tensorflow()
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    # TensorFlow's own deprecation notices about tf.compat.v1, which the notebooks show on purpose
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras)(\.|$)")
    short_tracebacks()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started its thread pools in this kernel: keep them
        pass
    tf.config.experimental.enable_op_determinism()
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    np.set_printoptions(precision=4, suppress=True)
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (6.4, 4.0)})


def versions() -> dict[str, str]:
    """Versions of what the course runs on."""
    import numpy as np
    import tensorboard
    import tensorflow as tf

    from . import __version__

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tensorboard": tensorboard.__version__,
        "numpy": np.__version__,
        "cs20lib": __version__,
    }


def run_folder(name: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/<name>`` (relative to the notebook): where a notebook writes its results.

    The first call in a kernel session starts the folder empty: results an earlier session left there
    are moved to ``runs/earlier/<name>-<time>-<id>`` (a unique name, so two sessions starting in the same
    second each keep theirs). Of those, the :data:`EARLIER_KEPT` newest of each notebook are kept and
    older ones deleted, so ``runs/earlier/`` does not grow without bound; a notebook's results are its
    own cells' outputs, which running it again makes anew. Later calls in the same session return the
    folder as it is, so re-running a cell never deletes what other cells wrote.
    """
    path = Path(root) / name
    if path.resolve() not in _opened_this_session:
        _opened_this_session.add(path.resolve())
        if path.exists() and any(path.iterdir()):
            if os.environ.get(KEEP_EARLIER_ENV, "1") == "0":
                shutil.rmtree(path)
            else:
                _move_aside(path, Path(root) / EARLIER, name.replace("/", "_"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _move_aside(path: Path, earlier: Path, stem: str) -> Path:
    """Move ``path`` into ``earlier`` under a unique name; keep only the EARLIER_KEPT newest copies of ``stem``."""
    import uuid

    earlier.mkdir(parents=True, exist_ok=True)
    aside = earlier / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    os.replace(path, aside)
    pattern = re.compile(re.escape(stem) + r"-\d{8}-\d{6}(-[0-9a-f]{6})?")
    copies = sorted(
        (entry for entry in earlier.iterdir() if pattern.fullmatch(entry.name)),
        key=lambda entry: (entry.stat().st_mtime, entry.name),
    )
    for old in copies[:-EARLIER_KEPT]:
        shutil.rmtree(old, ignore_errors=True)
    return aside


def empty_folder(path: str | os.PathLike) -> Path:
    """``path``, created, with whatever an earlier run of the same cell left in it deleted.

    For a cell that writes a log into a folder of its own: TensorBoard reads every event file in a
    folder, so running such a cell twice into the same folder would show its curves twice.
    """
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# -- results and the settings they were made with ----------------------------------------------
class StaleResultError(RuntimeError):
    """A cell asked for a result that this kernel has not made yet, or made under other settings."""


#: name -> (the settings when it was made, the result)
_results: dict[str, tuple[dict, object]] = {}
_SETTING = re.compile(r"[A-Z][A-Z0-9_]+")
_SIMPLE = (int, float, str, bool, type(None), Path, tuple)


def _settings(namespace: dict) -> dict:
    """A notebook's settings: its UPPER_CASE names (two characters or more) bound to plain values."""
    return {name: value for name, value in namespace.items() if _SETTING.fullmatch(name) and isinstance(value, _SIMPLE)}


def _notebook_namespace(depth: int = 2) -> dict:
    """The namespace of the notebook (IPython's user namespace), else the caller's globals."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    import sys

    return sys._getframe(depth).f_globals


def record(name: str, value, settings: dict | None = None):
    """Keep ``value``, the result a training cell made, under ``name`` with the settings it was made with.

    ``settings`` defaults to the notebook's settings as they are now (its UPPER_CASE names, such as
    ``NUM_TRAIN_STEPS``). Returns ``value``. :func:`result` gives it back while the settings are unchanged.
    """
    snapshot = dict(_settings(_notebook_namespace()) if settings is None else settings)
    _results[name] = (snapshot, value)
    return value


def result(name: str, settings: dict | None = None):
    """The value :func:`record` kept under ``name``, if the settings it was made with still hold.

    Raises :class:`StaleResultError` with one line that says which cell to run when there is no such
    result in this kernel yet, or when a setting has changed since (the result would belong to other
    settings than the ones the notebook now shows).
    """
    if name not in _results:
        raise StaleResultError(f"{name} has not run in this kernel yet: run the training cells above first")
    made_with, value = _results[name]
    now = _settings(_notebook_namespace()) if settings is None else settings
    changed = [key for key in made_with if key in now and not _same(made_with[key], now[key])]
    if changed:
        was = ", ".join(f"{key} = {made_with[key]!r}" for key in changed)
        is_now = ", ".join(f"{key} = {now[key]!r}" for key in changed)
        raise StaleResultError(
            f"{name} was made with {was}, but now {is_now}: run the training cells above again first"
        )
    return value


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # values that do not compare: treat as changed
        return False


# -- tracebacks --------------------------------------------------------------------------------
_CELL_FILE = re.compile(r"ipykernel_\d+[/\\]\d+\.py$|^<ipython-input-")
#: TensorFlow appends the whole creation traceback of a graph object to some messages
_TF_ORIGIN = re.compile(r"\n\s*(Originally defined at|Traceback for operation).*", re.DOTALL)


def _short_traceback(shell, etype, value, tb, tb_offset=None):
    """What a student needs from an error: the lines of their own cells that led to it, then the
    exception's type and message (without the creation traceback TensorFlow appends to some)."""
    names = getattr(shell.compile, "_filename_map", {})
    cells = [
        frame for frame in traceback.extract_tb(tb) if frame.filename in names or _CELL_FILE.search(frame.filename)
    ]
    lines = []
    for frame in cells:
        where = f"In[{names[frame.filename]}]" if frame.filename in names else frame.filename
        lines.append(f"Cell {where}, line {frame.lineno}:  {frame.line}")
    hidden = len(traceback.extract_tb(tb)) - len(cells)
    if hidden:
        lines.append(f"  ({hidden} frames inside libraries not shown: notebook.full_tracebacks() shows them)")
    message = _TF_ORIGIN.sub("", str(value)).strip()
    if isinstance(value, StaleResultError):  # the message says all there is to say
        lines = []
    stb = lines + [f"{etype.__name__}: {message}" if message else etype.__name__]
    shell._showtraceback(etype, value, stb)
    return stb


def short_tracebacks() -> None:
    """Show errors in this notebook as the cell lines that raised them plus the message (setup() calls it)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((Exception,), _short_traceback)


def full_tracebacks() -> None:
    """Back to IPython's full tracebacks, every frame inside TensorFlow included."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((), None)


def load_corpus(max_words: int = 2_000_000):
    """The first ``max_words`` words of text8 (``$CS20_TEXT8``, or downloaded), as the notebooks use it: a
    :class:`~cs20lib.corpus.Corpus`, whose name and fingerprint a run's settings take (:func:`for_corpus`).

    The notebooks use a prefix of text8 so that they give the same outputs with the full corpus and
    with any copy holding at least that many words. Offline without text8 they fall back to the toy
    corpus, with a warning (their printed figures then differ from the stored ones).
    """
    from .corpus import load_corpus as load

    return load(max_words=max_words, fallback_to_toy=True, progress=False)


def load_words(max_words: int = 2_000_000) -> list[str]:
    """The words of :func:`load_corpus`."""
    return load_corpus(max_words).words


def for_corpus(config, corpus):
    """``config`` for a run on ``corpus``: its name and fingerprint, so the run directory says which corpus it
    is, as :func:`cs20lib.experiment.prepare_data` names it for the command line."""
    return config.replace(corpus=corpus.name, corpus_fingerprint=corpus.fingerprint)
