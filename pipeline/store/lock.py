"""One run at a time per output folder, with a lock the kernel releases when a run dies."""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import LockedError
from ..core.files import open_regular
from ..core.stop import Stop
from ..core.terminal import shown

# How often a command that waits for the lock asks again: a run that ends is followed
# within a fifth of a second, and asking costs one system call.
POLL_SECONDS = 0.2
# How long even a command that does not wait (``wait`` 0) asks again, every
# GRACE_POLL_SECONDS, before it says the lock is held: :func:`holder` (the desk's probe)
# takes a shared lock for a few microseconds, and a writer asking just then must not be
# refused (exit 75 naming a holder that is gone). A real holder costs it a quarter second.
GRACE_SECONDS = 0.25
GRACE_POLL_SECONDS = 0.02


@contextmanager
def hold(path: Path, *, shared: bool = False, wait: float = 0,
         stop: Stop | None = None) -> Iterator[None]:
    """Hold the lock file at ``path``; :class:`LockedError` names the holder when another
    run has it for ``wait`` seconds more (0: not at all), or ``stop`` is set meanwhile.

    ``flock`` belongs to the open file: a run killed with SIGKILL releases it with its last
    descriptor, so a stale lock file never blocks the next run. ``shared`` is for commands
    that only read the folder (``verify``, ``merge``): any number of them at once, none
    while a run writes, and no need to write the folder. A lock file that is a link, a
    FIFO or a device, or has other names, is :class:`OutputError` naming it: never
    followed, written or waited on.
    """
    if shared:
        try:
            descriptor = open_regular(path, os.O_RDONLY)
        except FileNotFoundError:  # no run ever wrote here; nothing to wait for
            yield
            return
    else:
        descriptor = open_regular(path, os.O_RDWR | os.O_CREAT, alone=True)
    try:
        _take(descriptor, path, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, wait, stop)
        if not shared:
            holder = (f"{_command()}, pid {os.getpid()} on {socket.gethostname()} since "
                      f"{datetime.now(UTC).isoformat(timespec='seconds')}")
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, holder.encode(), 0)
        yield
    finally:
        os.close(descriptor)


def _command() -> str:
    """What holds the lock, as a clerk waiting for it knows it: ``xoi-invoices run`` (the
    nightly run), ``xoi-invoices serve`` (a desk's job)..."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if name in ("", "__main__.py", "-c", "python", "python3"):
        name = "xoi-invoices"
    words = [name, *(word for word in sys.argv[1:2] if word.isalpha())]
    return shown(" ".join(words))[:60]


def _take(descriptor: int, path: Path, mode: int, wait: float, stop: Stop | None) -> None:
    """``flock`` without blocking, asked again every :data:`POLL_SECONDS` for ``wait``
    seconds (a blocking ``flock`` could not be given up when ``stop`` is set), and at
    least for :data:`GRACE_SECONDS`, more often, so that a probe never refuses a writer."""
    started = time.monotonic()
    deadline = started + max(wait, GRACE_SECONDS)
    while True:
        try:
            fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        stopped = stop is not None and stop.is_set()
        now = time.monotonic()
        left = deadline - now
        if stopped or left <= 0:
            holder = _holder(descriptor) or "another process"
            waited = " (stopped while waiting for it)" if stopped else \
                f" (waited {wait:g} s)" if wait else ""
            raise LockedError(f"another run holds the output folder's lock ({holder})"
                              f"{waited}; try again when it has finished", source=path.parent)
        time.sleep(min(GRACE_POLL_SECONDS if now - started < GRACE_SECONDS else POLL_SECONDS,
                       left))


def _holder(descriptor: int) -> str:
    return os.pread(descriptor, 512, 0).decode(errors="replace").strip()


def holder(folder: Path, name: str) -> str | None:
    """Who holds the lock file ``folder / name`` for writing now, as it wrote itself
    ("pid N on HOST since T"); ``None`` when no one does. Never waits, creates nothing,
    and takes no exclusive lock: a shared one, tried and let go at once, tells whether a
    writer has it (a writer asking in that instant asks again: see :func:`_take`)."""
    try:
        descriptor = open_regular(folder / name, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(descriptor) or "another process"
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)
