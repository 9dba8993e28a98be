"""Text from the input (a ticket, a file or column name) never drives the terminal it is
printed on: control characters, bidirectional overrides and line separators are shown as
escapes, ``\\x1b``, ``\\u202e``, as Python writes them.

:func:`shown` is for one message; :class:`SafeStream` is what the ``xoi-invoices`` command
writes its stdout and stderr through (:mod:`pipeline.__main__`), so that a message no
one passed through :func:`shown` is made harmless too.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any, TextIO

# C0 and C1 controls and DEL (ESC starts a terminal's escape sequences, BEL ends OSC
# ones); lone surrogates (no encoding can write them); line and paragraph separators;
# the marks and overrides that make a terminal show text in another order than it is.
_UNSAFE = "\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_IN_MESSAGE = re.compile(f"[\x00-\x1f{_UNSAFE}]")
_IN_JSON = re.compile(f"[{_UNSAFE}]")
# Whole outputs (a help text, a launch page, a drafted mapping) keep their lines and tabs.
_IN_OUTPUT = re.compile(f"[\x00-\x08\x0b-\x1f{_UNSAFE}]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return _SHORT.get(match[0]) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _u_escape(match: re.Match[str]) -> str:
    """The escape JSON and TOML strings read back as the character itself."""
    return f"\\u{ord(match[0]):04x}"


def json_text(data: object, **options: Any) -> str:
    """``data`` as JSON (``options`` as for :func:`json.dumps`) that any encoder can write
    and a terminal shows as it is: what :func:`shown` escapes is a JSON escape here,
    ``\\u001b``, so a program reading it back gets the data unchanged."""
    text = json.dumps(data, ensure_ascii=False, **options)  # C0 controls escaped already
    return _IN_JSON.sub(_u_escape, text)


def shown(text: str) -> str:
    """One line of ``text``, safe to print: every unsafe character as its escape."""
    return _IN_MESSAGE.sub(_escape, text)


class SafeStream(io.TextIOWrapper):
    """A text stream over another's bytes that writes unsafe characters as ``\\u``
    escapes, line feeds and tabs excepted: in a drafted mapping's TOML or a JSON text
    they stand for the character itself."""

    inner: TextIO

    @classmethod
    def over(cls, stream: TextIO) -> SafeStream:
        stream.flush()
        safe = cls(stream.buffer, encoding=stream.encoding, errors="backslashreplace",
                   line_buffering=bool(stream.line_buffering), write_through=True)
        safe.inner = stream
        return safe

    def write(self, text: str) -> int:
        super().write(_IN_OUTPUT.sub(_u_escape, text))
        return len(text)


def unfiltered(stream: TextIO) -> TextIO:
    """The stream under ``stream``: a progress bar's own escape sequences must reach the
    terminal."""
    return stream.inner if isinstance(stream, SafeStream) else stream
