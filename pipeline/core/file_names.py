"""The names invoices get on disk: made only of safe characters, and never the same file
for two invoice numbers (:func:`safe_name`), compared as the file system compares them
(:func:`file_key`)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


MAX_NAME = 100


# Names Windows keeps for devices, in any case and whatever follows a dot: a folder shared
# with Windows clients cannot hold CON.pdf or nul.2024.pdf (opening one opens the device).
_DEVICE = re.compile(r"(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?", re.IGNORECASE)


def safe_name(value: str) -> str:
    """A file name made only of ``A-Z a-z 0-9 . _ -`` that no other value maps to.

    Whenever the value had to change (path separators, ``..``, spaces, accents, a name too
    long) a short hash of the original is appended, so ``INV/1`` and ``INV_1`` never share
    a file. A Windows device name (``CON``, ``com1.x``) gets it too, right after the device
    word: ``CON-1a2b3c4d``, ``com1-5e6f7a8b.x``.
    """
    return _safe_name(value, devices=True)


def file_names(value: str) -> tuple[str, str]:
    """The names :func:`safe_name` gives ``value`` now, and gave it before device names
    got their hash: a folder may still hold an invoice written under the older one."""
    return safe_name(value), _safe_name(value, devices=False)


def _safe_name(value: str, *, devices: bool) -> str:
    ascii_ = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", ascii_).lstrip(".-")[:MAX_NAME] or "_"
    device = _DEVICE.fullmatch(name) if devices else None
    if name != value or device:
        # Before the first dot: Windows reads CON.x-1a2b3c4d as CON too.
        cut = device.end(1) if device else len(name)
        name = f"{name[:cut]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}{name[cut:]}"
    return name


def file_key(invoice_number: str) -> str:
    """The invoice's PDF file name as the file systems billing folders are often shared
    from compare it: without letter case ("INV-a" and "INV-A" are one file)."""
    # Nor compatibility forms: a full-width number prints as its plain twin, so the two
    # are one invoice on paper (NFKC leaves a plain number, as the ledger keyed it, as is).
    return safe_name(unicodedata.normalize("NFKC", invoice_number)).lower()

