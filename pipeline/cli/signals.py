"""Ctrl-C and SIGTERM (systemd stop, ``timeout``, an operator's kill) stop a run cleanly.

The first signal asks the run to stop: no invoice starts, those in flight finish or are
dropped within a few seconds, the manifest and a report saying ``"interrupted": true`` are
written, and the command exits 130 (SIGINT) or 143 (SIGTERM). A second signal exits at
once: files appear whole or not at all anyway, the kernel releases the folder's lock, and
the next run completes the work.

Only the command line installs these handlers (:func:`on_signals`); the Python API takes
any object with ``is_set()`` as its stop request, such as a :class:`threading.Event`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest(threading.Event):
    """Set by the first signal; remembers which one, for the exit status."""

    signum: int | None = None

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process a signal ended."""
        return 128 + (self.signum or signal.SIGINT)


@contextmanager
def on_signals() -> Iterator[StopRequest]:
    """SIGINT and SIGTERM set the request while the block runs; a second one exits."""
    request = StopRequest()

    def handle(signum: int, frame: FrameType | None) -> None:
        if request.is_set():
            os._exit(128 + signum)
        request.signum = signum
        request.set()

    if threading.current_thread() is not threading.main_thread():  # signals need it
        yield request
        return
    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
