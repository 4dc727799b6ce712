"""Making the next input chunks in a background thread while TensorFlow trains on the current one.

The trainer's loop makes a chunk of batches with NumPy (:meth:`cs20lib.skipgram.SkipGramStream.window_chunks`),
then runs the compiled steps on it; done in turn, the two never overlap. With the fused word2vec op
(:mod:`cs20lib.fused_op`, one thread in its deterministic mode) the chunk making is a third of the
time of a step or more (BENCHMARKS.md), and a second core is free for it. :func:`prefetch` runs the
generator in a thread, ``depth`` items ahead (NumPy and a running ``tf.function`` release the GIL).
The items and their order are the generator's, so training is unchanged: only when they are made moves.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

__all__ = ["prefetch"]

_DONE = object()


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """The items of ``items``, in order, made by a daemon thread up to ``depth`` ahead of the consumer.

    An exception in the producer is raised in the consumer at the item where it happened. When the
    consumer stops early (``break``, an exception, the generator closed), the producer stops at its
    next item, so no thread is left blocked.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put((_DONE, error))
            return
        put((_DONE, None))

    thread = threading.Thread(target=produce, name="cs20-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
