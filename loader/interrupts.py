"""Ctrl-C reaches Python, never a database driver: SIGINT is blocked in the kernel and forwarded.

A terminal's Ctrl-C goes to the whole process group. The ADBC driver manager installs its own
C-level SIGINT handler around every blocking call (`_blocking_call`, even over SIG_IGN) and answers
a signal by cancelling the running statement: PostgreSQL then reports "canceling statement due to
user request" as if the data were wrong, and SQLite, which cannot cancel, fails the call with
NOT_IMPLEMENTED after it finished. Replacing a handler cannot win against that (the driver swaps
handlers per call), but a *blocked* signal is never delivered to any handler at all. So:

- a service worker blocks SIGINT for good (`block_in_worker`): only the supervisor decides what a
  Ctrl-C means (drain first, abort on the second);
- a process that handles Ctrl-C itself (`loader load`, `backfill`, `pull`, the supervisor) blocks it
  and runs one thread that waits for it with sigwait and hands it to the main thread as Python's own
  signal (`_thread.interrupt_main`): the Python handler runs between two bytecodes — a
  KeyboardInterrupt, or the supervisor's drain handler — and no statement is ever cancelled under a
  driver's feet. `request()` records that the user asked to stop, so an error that a driver raises
  while the interrupt unwinds through its C code is reported as an interruption, never as bad data.

The mask must be set before any other thread starts (threads inherit it; one that does not block
SIGINT would receive it instead), hence the calls at the very start of `main` and of a worker.
"""

from __future__ import annotations

import _thread
import signal
import threading

_REQUESTED = threading.Event()
_forwarding = False


def block_in_worker() -> None:
    """A worker process never sees the terminal's SIGINT: the supervisor drains or aborts it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def forward_to_main() -> None:
    """Block SIGINT and deliver it to the main thread's Python handler from a waiting thread."""
    global _forwarding
    if _forwarding or threading.current_thread() is not threading.main_thread():
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    threading.Thread(target=_forward, name="loader-sigint", daemon=True).start()
    _forwarding = True


def _forward() -> None:
    while True:
        signal.sigwait({signal.SIGINT})
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            request()  # the default handler means "stop now": a KeyboardInterrupt follows
        _thread.interrupt_main(signal.SIGINT)


def request() -> None:
    """The user asked the running load to stop: its errors from now on are the interruption's."""
    _REQUESTED.set()


def requested() -> bool:
    return _REQUESTED.is_set()


def clear() -> None:
    """For a process that goes on after an interrupted load (tests, the supervisor's inline pool)."""
    _REQUESTED.clear()
