"""cs20lib.background.prefetch: same items in the same order, errors where they happened, no thread left."""

import threading
import time

import pytest

from cs20lib.background import prefetch


def test_items_and_order_are_the_generators():
    made = []

    def numbers():
        for n in range(50):
            made.append(threading.current_thread().name)
            yield n

    assert list(prefetch(numbers(), depth=3)) == list(range(50))
    assert set(made) == {"cs20-prefetch"}  # made in the background thread


def test_a_producer_error_is_raised_at_its_item():
    def failing():
        yield 1
        yield 2
        raise ValueError("bad chunk")

    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_producer():
    made = []

    def endless():
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    for item in prefetch(endless(), depth=2):
        if item == 3:
            break
    deadline = time.monotonic() + 5
    while any(t.name == "cs20-prefetch" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "cs20-prefetch" for t in threading.enumerate())
    assert len(made) <= 4 + 2 + 1  # at most depth (+ the one being put) ahead of the consumer
