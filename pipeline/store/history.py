"""Nothing issued is ever silently lost: a re-render keeps the previous PDF in history/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import OutputError
from ..core.files import atomic_write, fsync_dir, make_folder, sha256_file


def keep_previous(history: Path, previous: Path | None, target: Path, new: bytes) -> None:
    """Keep the ticket's current PDF in ``history`` as ``<name>.<n>.pdf`` if ``new``
    differs.

    The old file is the one the ledger names (``previous``: its invoice number may have
    changed) or, failing that, whatever sits at ``target``. It is kept as a second name
    for the same file, not moved: until the new PDF replaces it in one rename, the
    current one stays in place, also when the new one cannot be written (a full disk).
    """
    candidates = [previous] if previous else []
    candidates.append(target)
    for current in candidates:
        if not current.is_file():
            continue
        if current != target or current.read_bytes() != new:
            archive(history, current, keep=True)
        return


def versions(history: Path, stem: str) -> Iterator[Path]:
    """The versions of the PDF named ``stem`` kept in ``history``, oldest first."""
    number = 1
    while os.path.lexists(kept := history / f"{stem}.{number}.pdf"):
        yield kept
        number += 1


def archive(history: Path, current: Path, *, keep: bool = False) -> Path:
    """Move ``current`` into ``history`` under the next free number (``keep``: link it
    there and leave it in place too); its path there.

    A version is kept once: when one of ``history`` already holds these bytes (a run
    killed after keeping it and before replacing it, a full disk night after night) that
    one is its path, and ``current`` is only removed (unless ``keep``).
    """
    make_folder(history)
    earlier = list(versions(history, current.stem))
    same = next((kept for kept in earlier if _same(kept, current)), None)
    if same is not None:
        if not keep:
            current.unlink()
        return same
    kept = history / f"{current.stem}.{len(earlier) + 1}.pdf"
    try:
        if not keep:
            current.replace(kept)
        else:
            try:
                os.link(current, kept)
            except OSError:  # a share without hard links: a copy, whole or not at all
                atomic_write(kept, current.read_bytes())
    except OSError as error:
        raise OutputError(f"cannot move to {history.parent.name}/{history.name}/: "
                          f"{error.strerror}", source=current) from None
    fsync_dir(history)
    return kept


def _same(kept: Path, current: Path) -> bool:
    """Whether ``kept`` holds the bytes of ``current``: the same file (a hard link), or
    a copy of it."""
    one, other = kept.lstat(), current.stat()
    if (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino):
        return True
    return one.st_size == other.st_size and sha256_file(kept) == sha256_file(current)
