"""Nothing issued is ever silently lost: a re-render keeps the previous PDF in history/."""

from __future__ import annotations

from pathlib import Path

from .errors import OutputError
from .write import fsync_dir, make_folder


def keep_previous(history: Path, previous: Path | None, target: Path, new: bytes) -> None:
    """Move the ticket's current PDF into ``history`` as ``<name>.<n>.pdf`` if ``new``
    differs.

    The old file is the one the ledger names (``previous``: its invoice number may have
    changed) or, failing that, whatever sits at ``target``.
    """
    candidates = [previous] if previous else []
    candidates.append(target)
    for current in candidates:
        if not current.is_file():
            continue
        if current != target or current.read_bytes() != new:
            archive(history, current)
        return


def archive(history: Path, current: Path) -> Path:
    """Move ``current`` into ``history`` under the next free number; its new path."""
    make_folder(history)
    number = 1
    while (history / f"{current.stem}.{number}.pdf").exists():
        number += 1
    kept = history / f"{current.stem}.{number}.pdf"
    try:
        current.replace(kept)
    except OSError as error:
        raise OutputError(f"cannot move to {history.parent.name}/{history.name}/: "
                          f"{error.strerror}", source=current) from None
    fsync_dir(history)
    return kept
