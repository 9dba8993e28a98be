"""Nothing issued is ever silently lost: a re-render keeps the previous PDF in history/."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import OutputError
from .write import atomic_write, fsync_dir, make_folder


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


def archive(history: Path, current: Path, *, keep: bool = False) -> Path:
    """Move ``current`` into ``history`` under the next free number (``keep``: link it
    there and leave it in place too); its path there."""
    make_folder(history)
    number = 1
    while (history / f"{current.stem}.{number}.pdf").exists():
        number += 1
    kept = history / f"{current.stem}.{number}.pdf"
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
