"""Files that appear whole or not at all, under names that cannot leave the output folder."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

TEMP_PREFIX = ".tmp-"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


def safe_name(value: str) -> str:
    """A file name made only of ``A-Z a-z 0-9 . _ -`` that no other value maps to.

    Whenever the value had to change (path separators, ``..``, spaces, accents, a name too
    long) a short hash of the original is appended, so ``INV/1`` and ``INV_1`` never share
    a file.
    """
    ascii_ = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", ascii_).lstrip(".-")[:MAX_NAME] or "_"
    if name != value:
        name += "-" + hashlib.sha256(value.encode()).hexdigest()[:8]
    return name


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it into place.

    A reader (or a run killed at any moment) sees the old file or the new one, never a
    truncated one; a killed run leaves at most a ``.tmp-`` file that :func:`sweep` removes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
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
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
