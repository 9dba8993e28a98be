"""One run at a time per output folder, with a lock the kernel releases when a run dies."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import LockedError
from ..core.files import open_regular


@contextmanager
def hold(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock file at ``path``; :class:`LockedError` names the holder when another
    run has it.

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
        try:
            fcntl.flock(descriptor, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 512, 0).decode(errors="replace").strip() \
                or "another process"
            raise LockedError(f"another run holds the output folder's lock ({holder}); "
                              "try again when it has finished", source=path.parent) from None
        if not shared:
            holder = (f"pid {os.getpid()} on {socket.gethostname()} since "
                      f"{datetime.now(UTC).isoformat(timespec='seconds')}")
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, holder.encode(), 0)
        yield
    finally:
        os.close(descriptor)
