"""Reading an operator's TOML file (the configuration, a mapping): whatever is wrong with
it is one :class:`ConfigError` naming the file and, where it can be known, the line."""

from __future__ import annotations

import codecs
import os
import re
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .fields import field_name
from .files import NotAFile, open_regular_file

_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def read(path: Path, what: str, *, parse_float: Callable[[str], Any] = float
         ) -> tuple[dict[str, Any], str]:
    """The document in ``path`` and its text; ``what`` names the file in errors."""
    try:
        with open(_opened(path), "rb") as handle:
            data = handle.read()
    except _Unfit as problem:
        raise ConfigError(f"cannot read the {what}: {problem}", source=path) from None
    except OSError as error:
        raise ConfigError(f"cannot read the {what}: {error.strerror}", source=path) from None
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode()
    except UnicodeDecodeError as error:
        raise ConfigError(f"the {what} is not UTF-8 text (byte 0x{body[error.start]:02x}); "
                          "save it as UTF-8", source=path,
                          line=body.count(b"\n", 0, error.start) + 1) from None
    try:
        return tomllib.loads(text, parse_float=parse_float), text
    except tomllib.TOMLDecodeError as error:
        where = _TOML_LINE.search(str(error))
        message = _TOML_LINE.sub("", str(error)).strip()
        if message.startswith("Cannot overwrite a value"):
            message = "a key given twice"
        raise ConfigError(f"invalid TOML: {message}", source=path,
                          line=int(where[1]) if where else None) from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ConfigError("invalid TOML: arrays or tables nested too deeply",
                          source=path) from None


def file_problem(path: Path) -> str | None:
    """Why an operator's file (the logo) cannot be read as one, or None."""
    try:
        os.close(_opened(path))
    except _Unfit as problem:
        return str(problem)
    return None


class _Unfit(Exception):
    """Why an operator's file cannot be read as one."""


def _opened(path: Path) -> int:
    """:func:`~pipeline.core.files.open_regular_file`, what is wrong said as :class:`_Unfit`."""
    try:
        return open_regular_file(path)
    except NotAFile as error:
        raise _Unfit("a folder, not a file" if stat.S_ISDIR(error.mode)
                     else "a named pipe or a device, not a file") from None
    except FileNotFoundError:
        raise _Unfit("no such file") from None
    except OSError as error:
        raise _Unfit(error.strerror or str(error)) from None


def key_lines(text: str) -> dict[str, int]:
    """Where each key is: "table.key" → line, the key as written and as
    :func:`~pipeline.core.fields.field_name` has it; top-level keys are ".key" (tomllib gives no
    lines)."""
    found: dict[str, int] = {}
    table = ""
    header = re.compile(r"\s*\[\s*([^\]]+?)\s*\]")
    key = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
    for number, line in enumerate(text.split("\n"), start=1):  # TOML ends lines so only
        if match := header.match(line):
            table = field_name(match[1].strip("\"'"))
            found.setdefault(f".{table}", number)
        elif match := key.match(line):
            name = next(part for part in match.groups() if part is not None)
            found.setdefault(f"{table}.{name}", number)
            found.setdefault(f"{table}.{field_name(name)}", number)
    return found
