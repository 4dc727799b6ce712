"""word2vec's negative-sampling step as one fused TensorFlow op, built on first use; and the choice of step.

:func:`cs20lib.tf2_model.negative_sampling_update` writes word2vec's update with TensorFlow's ops:
gathers, batched matrix products and two scatters, each a pass over memory, and the scatters run row
by row on one core (BENCHMARKS.md, "Where a step's time goes"). The word2vec tool instead loops over
the pairs once, doing the dot products and both updates for a pair while its vectors are in cache
(Mikolov et al. 2013b). ``kernels/word2vec_op.cc`` is that loop as a TensorFlow custom op,
``Cs20Word2vecUpdate``; TensorFlow's own word2vec tutorial took the same route (tensorflow/models,
tutorials/embedding, ``NegTrainWord2vec``). Its two modes:

* deterministic (``hogwild=False``): one thread, the pairs in a fixed order; the same inputs give the
  same bits, so an interrupted run resumes exactly;
* Hogwild (``hogwild=True``): the rows of a batch split over TensorFlow's intra-op threads, updating the
  shared tables without locks (Niu et al. 2011, "Hogwild!"), as the C tool and gensim do: faster, and
  not bit-reproducible from run to run. With TensorFlow's op determinism on
  (``tf.config.experimental.enable_op_determinism``), the deterministic mode is used.

The op is compiled from its source with the machine's C++ compiler (``$CXX``, else ``g++``) and
TensorFlow's flags (``tf.sysconfig.get_compile_flags`` / ``get_link_flags``; C++17, ``-O3``,
``-march=native``) by :func:`cs20lib.native.build`, into a cache that loads only what this user built
(owner, permissions and a SHA-256 recorded at build time are checked), under a name keyed by the source,
TensorFlow's version, the compiler, the flags and the CPU's features: a later run, or another machine
sharing the cache, rebuilds exactly when any of them changes. Then ``tf.load_op_library`` loads it; a
library that does not load, or lacks the op, is moved aside and built again once. Where it cannot be
built (not Linux, no compiler, a compile error), :func:`negative_update` with ``kernel="auto"`` prints
one line saying why and returns the TensorFlow update; ``kernel="fused"`` raises
:class:`KernelUnavailableError` instead.

Learning rate: both steps take the rate of the batch-mean loss, as the trainer's SGD does, and give
each pair the step ``learning_rate / batch_size`` (the word2vec preset's 0.025 * 512 is word2vec's 0.025
per pair). The TensorFlow step computes a batch's updates from the vectors at the start of the step and
adds them up; the fused op applies each pair's update at once, in order, as the C tool does. The two
agree exactly when no vector occurs twice in a step (``tests/test_fused_op.py``), and otherwise
differ by the order of the updates only.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

from . import native

__all__ = [
    "KernelUnavailableError",
    "available",
    "cannot_build",
    "centers_update",
    "fused_update",
    "library_path",
    "load_library",
    "negative_update",
    "step_kind",
]

SOURCE = native.KERNELS / "word2vec_op.cc"
HEADER = native.KERNELS / "word2vec_math.h"
#: besides TensorFlow's flags; -fopenmp-simd lets the source's `omp simd` pragmas vectorise the dot
#: products without -ffast-math (which would let the compiler assume no NaN, hiding a diverged run)
OPTIMIZE = ["-O3", "-march=native", "-fopenmp-simd", "-fPIC", "-shared", "-Wno-deprecated-declarations"]

_library = None  # the loaded op library, once built
_failure: str | None = None  # why it cannot be built, once known (asked once per process)
_told = False  # whether the fallback line has been printed


class KernelUnavailableError(RuntimeError):
    """The fused op cannot be built or loaded here; the message says why."""


def _cpu_features() -> str:
    """The CPU's feature flags (``-march=native`` builds for them), so a cache shared with another CPU rebuilds."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _flags() -> list[str]:
    """The compiler's flags: ours, then TensorFlow's (its headers and library)."""
    import tensorflow as tf

    return [*OPTIMIZE, *_cpu_exceptions(), *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]


def _cpu_exceptions() -> list[str]:
    """Instruction sets to leave out of ``-march=native``: on CPUs with AVX512-FP16 (Intel Sapphire Rapids and
    later), ``-march=native`` makes the Eigen headers that TensorFlow 2.21 ships take a half-precision path that
    GCC 12 cannot compile ("expected initializer before '<' token" in PacketMathFP16.h). The op is float32
    throughout, so it loses nothing."""
    if "avx512_fp16" not in _cpu_features().split():
        return []
    try:
        probe = subprocess.run(
            [native.compiler(), "-mno-avx512fp16", "-x", "c++", "-fsyntax-only", "/dev/null"],
            capture_output=True,
            timeout=60,
        )
    except (native.NativeBuildError, OSError, subprocess.SubprocessError):
        return []
    return ["-mno-avx512fp16"] if probe.returncode == 0 else []


def cannot_build() -> str | None:
    """Why the op cannot be built on this machine (not Linux, no C++ compiler), without building it;
    ``None`` when a build can be tried (it may still fail: :func:`available` tries it)."""
    try:
        native.kernel_source(SOURCE.name)
        native.compiler()
    except native.NativeBuildError as error:
        return str(error)
    return None


def library_path() -> Path:
    """Where the op's library for this TensorFlow, compiler, flags and CPU lives in the cache (built or not)."""
    import tensorflow as tf

    try:
        source = native.kernel_source(SOURCE.name)
        return native.library_path(
            source, f"word2vec_op-tf{tf.__version__}", _flags(), (tf.__version__, _cpu_features())
        )
    except native.NativeBuildError as error:
        raise KernelUnavailableError(str(error)) from None


def build() -> Path:
    """The op library, compiled now unless a trusted identical build is cached (:func:`cs20lib.native.build`);
    raises :class:`KernelUnavailableError`."""
    import tensorflow as tf

    try:
        source = native.kernel_source(SOURCE.name)
        return native.build(source, f"word2vec_op-tf{tf.__version__}", _flags(), (tf.__version__, _cpu_features()))
    except native.NativeBuildError as error:
        raise KernelUnavailableError(str(error)) from None


def _load(path: Path):
    """Load the op library at ``path``; the reason it cannot be used, as a KernelUnavailableError."""
    import tensorflow as tf

    try:
        library = tf.load_op_library(str(path))
    except (tf.errors.OpError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise KernelUnavailableError(f"TensorFlow cannot load {path} ({reason})") from None
    if not hasattr(library, "cs20_word2vec_update"):
        raise KernelUnavailableError(f"{path} loads but holds no Cs20Word2vecUpdate op")
    return library


def _load_anew(path: Path):
    """Load a library built again at a path this process already tried: through a link of another name, since
    the dynamic loader hands back whatever it loaded under a name before, even after the file was replaced."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cs20-load-") as folder:
        link = Path(folder) / path.name
        link.symlink_to(path)
        return _load(link)  # the mapping outlives the link


def load_library():
    """The loaded op library (built if needed; once per process); raises :class:`KernelUnavailableError`.

    A library that cannot be loaded, or holds no op, is moved aside and built again, once."""
    global _library, _failure
    if _library is not None:
        return _library
    if _failure is not None:
        raise KernelUnavailableError(_failure)
    try:
        _check_cpu_only()
        path = build()
        try:
            _library = _load(path)
        except KernelUnavailableError as error:
            native.reject(path, str(error))
            try:
                _library = _load_anew(build())
            except KernelUnavailableError as again:
                raise KernelUnavailableError(f"{again}, also after building it again") from None
    except KernelUnavailableError as error:
        _failure = str(error)
        raise
    return _library


def available() -> bool:
    """Whether the fused op builds and loads here (it is built now if need be)."""
    try:
        load_library()
    except KernelUnavailableError:
        return False
    return True


def fused_update(
    model, output_ids, input_ids, negatives, learning_rate, batch_size: int, *, hogwild: bool = False, rows=False
):
    """:func:`cs20lib.tf2_model.negative_sampling_update` done by the fused op: same arguments, same
    learning rate (``learning_rate / batch_size`` per pair), the updates applied in place, pair by pair
    (``rows=False``, the word2vec tool's order) or a row's pairs together from the row's start values
    (``rows=True``, HogBatch); returns the mean loss per pair."""
    library = load_library()
    return library.cs20_word2vec_update(
        model.embed_matrix.handle,
        model.output_weight.handle,
        output_ids,
        input_ids,
        negatives,
        learning_rate / batch_size,
        hogwild=hogwild,
        row_update=bool(rows),
    )


def _op_determinism() -> bool:
    """Whether TensorFlow's op determinism is on (it has no public getter in TF 2.21)."""
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return False


def _check_cpu_only() -> None:
    """The op has a CPU kernel only: with a GPU, TensorFlow would place the tables there, out of its reach."""
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        raise KernelUnavailableError("it has a CPU kernel only, and TensorFlow puts the tables on the GPU here")


def step_kind(config) -> str:
    """Which step trains ``config``'s negative sampling: ``"tf"`` (TensorFlow's ops), ``"fused"`` (the op on
    rows NumPy made) or ``"loop"`` (the op making its own rows from center positions; window batches only).

    ``config.kernel`` ``"auto"`` takes ``"loop"`` for window batches and ``"fused"`` for pairs where the op
    builds, else ``"tf"`` after one line on standard error saying why; ``"fused"`` and ``"loop"`` raise
    :class:`KernelUnavailableError` where it cannot be built.
    """
    if config.kernel == "tf" or config.loss != "negative":
        return "tf"
    if config.kernel == "loop" and config.batching != "windows":
        raise ValueError("kernel 'loop' makes word2vec's window batches: it needs batching='windows'")
    try:
        load_library()
    except KernelUnavailableError as error:
        if config.kernel != "auto":
            raise KernelUnavailableError(f"{error}; kernel 'auto' falls back to TensorFlow's ops") from None
        global _told
        if not _told:
            print(
                f"cs20lib: the fused word2vec kernel is not available ({error}); "
                f"training with TensorFlow's ops instead (slower).",
                file=sys.stderr,
                flush=True,
            )
            _told = True
        return "tf"
    if config.kernel == "auto":
        return "loop" if config.batching == "windows" else "fused"
    return config.kernel


def _modes(config) -> dict:
    """The op's attributes for ``config``: Hogwild unless TensorFlow's op determinism is on; row updates."""
    return {"hogwild": bool(config.hogwild) and not _op_determinism(), "rows": config.fused_update == "rows"}


def negative_update(config):
    """The negative-sampling update for rows made outside the step: ``(update, can_jit)``.

    ``update(model, output_ids, input_ids, negatives, learning_rate, batch_size)`` returns the mean loss;
    ``can_jit`` says whether XLA may compile it (the custom op has no XLA kernel). TensorFlow's ops or the
    fused op, as :func:`step_kind` chooses (a ``"loop"`` choice falls to the fused op here: its rows are
    made already).
    """
    from .tf2_model import negative_sampling_update

    if step_kind(config) == "tf":
        return negative_sampling_update, True
    modes = _modes(config)

    def update(model, output_ids, input_ids, negatives, learning_rate, batch_size):
        return fused_update(model, output_ids, input_ids, negatives, learning_rate, batch_size, **modes)

    return update, False


def centers_update(config, model, keep, alias):
    """word2vec's loop as one op, for ``config`` (kernel ``"loop"``): ``update(corpus, reach, positions, step,
    learning_rate, batch_size) -> (mean loss, pairs)`` trains the centers at ``positions`` of ``corpus``
    (an epoch's words after subsampling) with the windows ``reach`` and ``config.negative`` noise words from
    the alias table (``keep``, ``alias``; :func:`cs20lib.noise.alias_table`) drawn by a generator keyed by
    (``config.seed``, ``step``, row). Each pair's step is ``learning_rate / batch_size``."""
    import tensorflow as tf

    library = load_library()
    modes = _modes(config)
    seed = tf.constant(config.seed, tf.int64)

    def update(corpus, reach, positions, step, learning_rate, batch_size):
        return library.cs20_word2vec_centers(
            model.embed_matrix.handle,
            model.output_weight.handle,
            corpus,
            reach,
            positions,
            keep,
            alias,
            seed,
            step,
            learning_rate / batch_size,
            negative=config.negative,
            hogwild=modes["hogwild"],
            row_update=modes["rows"],
        )

    return update
