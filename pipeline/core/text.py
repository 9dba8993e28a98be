"""What text from an export may hold, wherever it is checked: no control or bidi
characters, a bound on its length, and only what UTF-8 can write (:func:`clean_text`);
and text folded onto one line, wherever a line break would end it early (an email
header, a server's reply)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from .tickets import canonical, invisible

MAX_OTHER_TEXT = 1000  # characters of any text without a limit of its own


# C0/C1 controls but tab and newline, and the bidi embeddings, overrides and isolates that
# make an invoice show text in another order than it is stored (a spoofed amount or name).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def one_line(value: str) -> str:
    """Line breaks, tabs and runs of spaces as one space, none around: a header value
    stays one header, a server's multi-line reply one line of a message."""
    return " ".join(value.split())


def utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: not so with a lone surrogate, which a JSON
    ``\\ud800`` escape or an undecodable command-line byte leaves in a Python string."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TextError(ValueError):
    """Why a value is no text an invoice may carry, worded to follow the field's name."""


class TooLong(TextError):
    """Text over its limit; ``text`` is it cleaned, for a check that goes on regardless."""

    def __init__(self, text: str, limit: int) -> None:
        super().__init__(f"longer than {limit} characters")
        self.text = text


def clean_text(value: object, *, limit: int, crlf: bool = True, single_line: bool = False,
               all_visible: bool = False) -> str:
    """``value`` as the text an invoice carries: NFC, surrounding spaces off, blank for
    None; :class:`TextError` says what is wrong, the first problem only.

    ``crlf``: a CR LF or a lone CR is a line break, written LF, not a control character.
    ``single_line``: no line break at all. ``all_visible``: nothing that prints as
    nothing (:func:`tickets.invisible`).
    """
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        # str() would print a Python repr like {'x': Decimal('1')} on the invoice.
        raise TextError(f"expected text, got {json.dumps(value, default=str):.40}")
    text = canonical(str(value))
    if crlf:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if CONTROL.search(text):
        raise TextError("holds control characters")
    if not utf8(text):  # undecodable bytes of a command-line argument
        raise TextError("is not UTF-8 text")
    if single_line and "\n" in text:
        raise TextError("holds a line break")
    hidden = invisible(text) if all_visible else None
    if hidden:
        raise TextError(f"holds {hidden}, which prints as nothing or breaks a line")
    if len(text) > limit:
        raise TooLong(text, limit)
    return text
