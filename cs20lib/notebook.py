"""Set-up shared by the notebooks: quiet and deterministic TensorFlow, versions, a clean work folder.

Import this module before TensorFlow (the notebooks' first code cell does): it sets
``TF_CPP_MIN_LOG_LEVEL`` so TensorFlow's C++ start-up messages do not land in the notebook's outputs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import logging  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

__all__ = ["load_words", "setup", "versions", "workdir"]


def setup(seed: int = 0, threads: int = 2) -> None:
    """Make a notebook's run reproducible and its output clean.

    Fixes the thread counts (two each way, as on the course's 2-core reference machine), turns on
    TensorFlow's op determinism, seeds Python's, NumPy's and TensorFlow's global generators, and
    silences TensorFlow's Python-side deprecation chatter (its messages say nothing about the lesson).
    """
    import matplotlib
    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", module="tensorflow")
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


def workdir(name: str, root: str | os.PathLike = "runs") -> Path:
    """An empty folder ``runs/<name>`` (relative to the notebook), emptied first so re-runs start clean."""
    path = Path(root) / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def load_words(max_words: int = 2_000_000) -> list[str]:
    """The first ``max_words`` words of text8 (``$CS20_TEXT8``, or downloaded), as the notebooks use it.

    The notebooks use a prefix of text8 so that they give the same outputs with the full corpus and
    with any copy holding at least that many words. Offline without text8 they fall back to the toy
    corpus, with a warning (their printed figures then differ from the stored ones).
    """
    from .corpus import load_corpus

    return load_corpus(max_words=max_words, fallback_to_toy=True, progress=False).words
