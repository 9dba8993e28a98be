"""Nothing issued is ever silently lost: a re-render keeps the previous PDF in history/."""

from __future__ import annotations

from pathlib import Path

from .errors import OutputError
from .models import Rendered
from .write import fsync_dir, make_folder

HISTORY = "invoices/history"


def keep_previous(folder: Path, previous: Rendered | None, target: Path, new: bytes) -> None:
    """Move the ticket's current PDF to ``history/<name>.<n>.pdf`` if ``new`` differs.

    The old file is the one the ledger names (its invoice number may have changed) or,
    failing that, whatever sits at ``target``.
    """
    candidates = [folder / previous.pdf] if previous else []
    candidates.append(target)
    for current in candidates:
        if not current.is_file():
            continue
        if current == target and current.read_bytes() == new:
            return
        archive = folder / HISTORY
        make_folder(archive)
        number = 1
        while (archive / f"{current.stem}.{number}.pdf").exists():
            number += 1
        try:
            current.replace(archive / f"{current.stem}.{number}.pdf")
        except OSError as error:
            raise OutputError(f"cannot move to {HISTORY}/: {error.strerror}",
                              source=current) from None
        fsync_dir(archive)
        return
