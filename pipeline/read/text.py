"""What every input format shares: the file as a stream of decoded lines, field names, and
the shape of a file whose mapping (:mod:`.mapping_file`) says it is written otherwise than ours."""

from __future__ import annotations

import codecs
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InputError
from ..core.files import NotAFile, open_regular_file

_CHUNK = 1 << 16
UTF8 = "utf-8-sig"  # UTF-8 with or without a BOM


@dataclass(frozen=True, slots=True)
class Shape:
    """How the readers find a file's records: ours (the defaults) or a mapping's."""

    encoding: str = UTF8
    delimiter: str = ","
    # The JSON path of the list of work orders; None: a list, or {"work_orders": [...]}.
    records: tuple[str, ...] | None = None
    ticket: str = "service_ticket"  # the CSV column whose rows make one ticket
    # What is wrong with a CSV header (its cells as written), or None; None: our columns.
    header: Callable[[list[str]], str | None] | None = None


OURS = Shape()


def lines(path: Path, encoding: str = UTF8) -> Iterator[str]:
    """The file's lines as read, line ends kept: UTF-8 with or without a BOM, unless a
    mapping names another ``encoding``.

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (what csv expects of a file opened
    with ``newline=""``); a line is decoded when it is reached, so a file that is not
    UTF-8 raises :class:`InputError` there, naming the line of the first bad byte.
    """
    try:
        with open(_regular(path), encoding=encoding, newline="") as handle:
            yield from handle
    except UnicodeError:  # also a codec's own complaint, as UTF-16's about a missing BOM
        # Read again to name the byte and its line; unless the file changed meanwhile.
        raise not_utf8(path, encoding) or InputError(f"not {_name(encoding)}",
                                                     source=path) from None
    except OSError as error:
        raise _unreadable(path, error) from None


def _regular(path: Path) -> int:
    """:func:`open_regular_file` for an export: :class:`InputError` unless it is a
    regular file (a folder is the caller's :class:`IsADirectoryError`)."""
    try:
        return open_regular_file(path)
    except NotAFile as error:
        if stat.S_ISDIR(error.mode):
            raise IsADirectoryError from None
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(error.mode) else "a device or socket"
        raise InputError(f"is {kind}, not a file: give the export's file",
                         source=path) from None


def read_bytes(path: Path) -> bytes:
    """The whole file, which must be a regular file, as :func:`lines` requires; an
    :class:`OSError` of its own is the caller's to tell."""
    with open(_regular(path), "rb") as handle:
        return handle.read()


def _unreadable(path: Path, error: OSError) -> InputError:
    if isinstance(error, FileNotFoundError):
        return InputError("no such file", source=path)
    if isinstance(error, IsADirectoryError):
        return InputError("is a folder, not a file", source=path)
    return InputError(f"cannot read: {error.strerror}", source=path)


def _name(encoding: str) -> str:
    return "UTF-8" if encoding == UTF8 else encoding


def not_utf8(path: Path, encoding: str = UTF8) -> InputError | None:
    """The error for the file's first byte that is not UTF-8 (or not the mapping's
    ``encoding``), or None if there is none.

    Read again from the start in chunks: the text decoder that failed knows neither the
    byte's offset in the file nor its line.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    advice = "export the file as UTF-8" if encoding == UTF8 else \
        "is [format] encoding in the mapping right?"
    line = 1
    try:
        with open(_regular(path), "rb") as handle:
            while True:
                chunk = handle.read(_CHUNK)
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as error:
                    # error.object is the chunk after the few bytes of a character the last
                    # chunk cut in two; those are never a line end.
                    line += error.object.count(b"\n", 0, error.start)
                    return InputError(
                        f"not {_name(encoding)} (byte 0x{error.object[error.start]:02x}); "
                        f"{advice}", source=path, line=line)
                except UnicodeError as error:
                    return InputError(f"not {_name(encoding)} ({error}); {advice}",
                                      source=path, line=line)
                if not chunk:
                    return None
                line += chunk.count(b"\n")
    except OSError as error:
        return _unreadable(path, error)
