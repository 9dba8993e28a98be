"""Files that appear whole or not at all, under names that cannot leave the output folder."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import OutputError

TEMP_PREFIX = ".tmp-"


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISREG, "a regular file"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a device"


def _refused(path: Path, mode: int, *, folder: bool = False) -> OutputError:
    expected = "a folder" if folder else "a regular file"
    return OutputError(
        f"is {_kind(mode)}, not {expected}: the output folder's own entries must be real "
        "files and folders (a link would send what is written there to its target); move "
        "it away and run again", source=path)


def own_entry(path: Path, *, folder: bool = False, alone: bool = False) -> bool:
    """Whether ``path`` exists, as a regular file (a folder if ``folder``); never
    following a link. :class:`OutputError` names it when it is a link (planted in the
    output folder, it would send what is written there to its target), a FIFO, a device
    or a socket, or a file where a folder belongs; ``alone``: or a file with other names
    (see :func:`_alone`)."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    # A folder where a file belongs is neither followed nor waited on: writing the file
    # fails on its own, naming it (one invoice fails, the others are written).
    if not (stat.S_ISDIR(info.st_mode) or (not folder and stat.S_ISREG(info.st_mode))):
        raise _refused(path, info.st_mode, folder=folder)
    if alone:
        _alone(path, info)
    return True


def open_regular(path: Path, flags: int, mode: int = 0o666, *, alone: bool = False) -> int:
    """``os.open`` that refuses (naming ``path``) a link, a FIFO or a device: not
    followed, and not waited on (opening a FIFO blocks until a writer comes); ``alone``:
    nor a file with other names (see :func:`_alone`). A file it creates gets ``mode``
    less the umask, as any new file of the user."""
    try:
        descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, mode)
    except IsADirectoryError:
        raise _refused(path, stat.S_IFDIR) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _refused(path, stat.S_IFLNK) from None
        raise
    info = os.fstat(descriptor)
    try:
        if not stat.S_ISREG(info.st_mode):
            raise _refused(path, info.st_mode)
        if alone:
            _alone(path, info)
    except OutputError:
        os.close(descriptor)
        raise
    return descriptor


def _alone(path: Path, info: os.stat_result) -> None:
    """:class:`OutputError` when a file written in place (the lock, the ledger) has other
    names: a hard link (``ln ~/victim output/.lock``) would carry the writes to them."""
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        raise OutputError(f"has {info.st_nlink} names (hard links): xoi-invoices writes this "
                          "file in place, which would change the others too; move it away "
                          "and run again", source=path)


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_folder(path: Path) -> None:
    """Create ``path`` and its parents; :class:`OutputError` names it when that fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError("is a file, not a folder", source=path) from None
    except OSError as error:
        raise OutputError(f"cannot create this folder: {error.strerror}", source=path) \
            from None


def writable(path: Path) -> None:
    """:class:`OutputError` unless a file can be written at ``path`` (its folder is made)."""
    descriptor, temporary = _temporary_beside(path)
    os.close(descriptor)
    temporary.unlink()


def _temporary_beside(path: Path) -> tuple[int, Path]:
    """A new file to rename onto ``path``: opened for writing, its name unused before.

    Not mkstemp: its files are readable by their owner only, and the PDFs and the manifest
    are for whoever reads the output folder, so they get what any new file gets (0666
    less the umask).
    """
    make_folder(path.parent)
    while True:
        temporary = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError(f"cannot write: {error.strerror}", source=path) from None


def atomic_write(path: Path, data: bytes | Iterable[bytes], *, sync_folder: bool = True) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it into place.

    A reader (or a run killed at any moment) sees the old file or the new one, never a
    truncated one; a killed run leaves at most a ``.tmp-`` file that :func:`sweep` removes.
    :class:`OutputError` names ``path`` (not the temporary file) when it cannot be written.
    ``data`` may come in parts (a manifest of a million rows is never one string).
    Without ``sync_folder`` the new name is durable only once the caller fsyncs the folder
    (the ledger does, once for a batch of rows, before it commits them).
    """
    descriptor, temporary = _temporary_beside(path)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for part in (data,) if isinstance(data, bytes) else data:
                handle.write(part)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"cannot write: {error.strerror}", source=path) from None
        raise
    if sync_folder:
        fsync_dir(path.parent)


def sweep(folder: Path) -> int:
    """Remove temporary files a killed run left behind; how many were removed."""
    removed = 0
    for leftover in folder.rglob(f"{TEMP_PREFIX}*"):
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
class NotAFile(Exception):
    """What :func:`open_regular_file` found instead of a regular file (its ``mode``)."""

    def __init__(self, mode: int) -> None:
        super().__init__(mode)
        self.mode = mode


def open_regular_file(path: Path) -> int:
    """A descriptor of ``path`` (a link followed) open for reading, or :class:`NotAFile`.

    Opened without blocking and checked on the open file, not by a ``stat`` before: a
    named pipe with no writer would wait forever, and a device such as ``/dev/zero``
    never ends; nor can the file be swapped for one between the check and the read.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFile(mode)
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor

