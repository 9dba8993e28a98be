"""What every input format shares: the file as a stream of UTF-8 lines, and field names."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

_CHUNK = 1 << 16


def field_name(key: object) -> str:
    """Field names are case-insensitive and surrounding spaces do not count."""
    return str(key).strip().lower()


def lines(path: Path) -> Iterator[str]:
    """The file's lines as read, line ends kept: UTF-8, with or without a BOM.

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (what csv expects of a file opened
    with ``newline=""``); a line is decoded when it is reached, so a file that is not
    UTF-8 raises :class:`InputError` there, naming the line of the first bad byte.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from handle
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", source=path) from None
    except UnicodeDecodeError:
        # Read again to name the byte and its line; unless the file changed meanwhile.
        raise not_utf8(path) or InputError("not UTF-8", source=path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=path) from None


def not_utf8(path: Path) -> InputError | None:
    """The error for the file's first byte that is not UTF-8, or None if there is none.

    Read again from the start in chunks: the text decoder that failed knows neither the
    byte's offset in the file nor its line.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    try:
        with path.open("rb") as handle:
            while True:
                chunk = handle.read(_CHUNK)
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as error:
                    # error.object is the chunk after the few bytes of a character the last
                    # chunk cut in two; those are never a line end.
                    line += error.object.count(b"\n", 0, error.start)
                    return InputError(
                        f"not UTF-8 (byte 0x{error.object[error.start]:02x}); export the "
                        "file as UTF-8", source=path, line=line)
                if not chunk:
                    return None
                line += chunk.count(b"\n")
    except OSError as error:
        return InputError(f"cannot read: {error.strerror}", source=path)
