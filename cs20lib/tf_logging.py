"""Importing TensorFlow without its C++ start-up chatter.

TensorFlow's C++ runtime writes log lines straight to standard error while it loads and looks for
GPUs: ``Could not find cuda drivers``, ``failed call to cuInit: ... UNKNOWN ERROR (303)``, ``All log
messages before absl::InitializeLog() is called ...``, ``This TensorFlow binary is optimized ...``. On a
machine without a GPU they are expected, but to a student they look like failures. The lecture sets
``TF_CPP_MIN_LOG_LEVEL`` before importing TensorFlow; some of today's lines ignore it, so
:func:`import_tensorflow` also holds back, during the import and the first look for devices, the lines
known to be harmless, and passes everything else through.

To see every line: ``--verbose`` on the command line, or ``TF_CPP_MIN_LOG_LEVEL=0`` (or 1) in the
environment; then nothing is held back.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["HARMLESS", "import_tensorflow"]

#: start-up lines that say nothing is wrong (no GPU here, CPU features, logging set-up)
HARMLESS = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|cudart_stub\.cc"
    r"|cuda_(platform|executor|diagnostics)\.cc"
    r"|cpu_feature_guard\.cc"
    r"|To enable the following instructions"
    r"|rebuild TensorFlow with the appropriate compiler flags"
    r"|oneDNN custom operations are on"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning"
)


def import_tensorflow(verbose: bool = False):
    """Import TensorFlow (and find its devices), keeping the harmless C++ start-up lines off standard error.

    ``verbose=True`` shows everything (``TF_CPP_MIN_LOG_LEVEL=0``). Otherwise INFO and WARNING lines are
    off (``TF_CPP_MIN_LOG_LEVEL=2`` unless the environment asks for another level) and, unless the level
    asked for is 0 or 1, the start-up lines matching :data:`HARMLESS` are dropped; any other line still
    reaches standard error. Returns the module.
    """
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or level in ("0", "1"):
        import tensorflow as tf

        return tf
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # finding the devices logs too
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not HARMLESS.search(line):
                    print(line, file=sys.stderr)
    return tf
