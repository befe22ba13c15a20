"""Read ahead in a thread: parse the next batches while the database ingests the previous ones.

Any reader can wrap its batch iterator in `readahead`: parsing (one core) overlaps the bulk
write (the other), and an exception on the parsing side re-raises on the consumer's, in order,
never lost in the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
# Batches parsed ahead while the database ingests the previous ones. Two keeps memory at a
# few blocks (1 MiB of text each by default) and is enough to keep both cores busy.
READAHEAD = 2
_DONE = object()
_PUT_POLL_S = 0.1  # how often a blocked producer checks whether the consumer gave up


def readahead(items: Iterator[T], depth: int = READAHEAD) -> Iterator[T]:
    """Run `items` in a thread, `depth` items ahead; its exception re-raises here, in order."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(q, item, stop):
                    return
            _put(q, _DONE, stop)
        except BaseException as e:  # handed to the consumer, raised there
            _put(q, e, stop)

    worker = threading.Thread(target=produce, name="readahead", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()  # the consumer gave up (database error): let the producer end
        worker.join()


def _put(q: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=_PUT_POLL_S)
            return True
        except queue.Full:
            continue
    return False
