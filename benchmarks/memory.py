"""Where a process's memory goes: its resident set size sampled while it runs, by stage.

Used by ``benchmarks/vs_gensim.py``: a worker names each stage of its run (``trace.stage("reading")``) and a
thread samples ``VmRSS`` from ``/proc/self/status`` every ``interval`` seconds; :meth:`MemoryTrace.stages`
gives each stage's RSS when it began and the largest sampled while it lasted. :func:`import_floor` is the
peak of a process that only imports TensorFlow: the part of every TensorFlow program's memory that is not
the program's.
"""

from __future__ import annotations

import resource
import threading
import time

__all__ = ["MemoryTrace", "import_floor", "rss_mb"]


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux: /proc/self/status; elsewhere the peak so far)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemoryTrace:
    """RSS sampled every ``interval`` seconds in a daemon thread, attributed to the stage named last."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self._stages: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.stage("start")
        self._thread = threading.Thread(target=self._sample, name="memory-trace", daemon=True)
        self._thread.start()

    def stage(self, name: str) -> None:
        """From now on, samples belong to stage ``name``."""
        now = rss_mb()
        with self._lock:
            self._stages.append({"stage": name, "start_mb": round(now, 1), "peak_mb": round(now, 1)})

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            now = rss_mb()
            with self._lock:
                current = self._stages[-1]
                current["peak_mb"] = round(max(current["peak_mb"], now), 1)

    def stages(self) -> list[dict]:
        """Each stage: its name, the RSS when it began and the largest sampled while it lasted (MB)."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            return [dict(stage) for stage in self._stages]


def import_floor() -> dict:
    """The peak RSS of this process after importing TensorFlow and finding its devices (what
    :func:`cs20lib.tf_logging.import_tensorflow` does), and nothing else: call it in a fresh process."""
    started = time.perf_counter()
    from cs20lib.tf_logging import import_tensorflow

    tf = import_tensorflow()
    tf.constant(1.0).numpy()  # the eager runtime started, as any program's first op starts it
    return {
        "system": "tensorflow-import",
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_mb": rss_mb(),
        "seconds": time.perf_counter() - started,
    }
