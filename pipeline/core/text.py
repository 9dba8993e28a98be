"""What text from an export may hold, wherever it is checked: no control or bidi
characters, a bound on its length, and only what UTF-8 can write; and text folded onto
one line, wherever a line break would end it early (an email header, a server's reply)."""

from __future__ import annotations

import re

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

