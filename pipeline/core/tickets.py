"""A ticket's one spelling, and what makes two tickets look alike on paper.

A ticket is canonicalised once, where it is first read (:func:`canonical`), so grouping a
CSV ticket's rows, the one-record-per-ticket rule, links and file names all compare the
same text: ``Café`` typed with a composed or a decomposed accent is one ticket.

Two different spellings can still print alike (``J1`` and its full-width form, U+FF2A
U+FF11, or letter case): :func:`print_key` is what they share. :func:`invisible` finds
what prints as nothing or breaks a line, which no ticket or invoice number may hold.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode's default-ignorable code points that are not Cf (which is checked by category):
# a soft hyphen, fillers, variation selectors; they print as nothing.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
    "\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
# Controls, formats (zero-width spaces, BOM, bidi marks), line and paragraph separators.
_UNSEEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def canonical(text: str) -> str:
    """The one spelling of a ticket, and of any text the validator reads: NFC,
    surrounding spaces off."""
    if text.isascii():  # the common case, already its own NFC
        return text.strip()
    return unicodedata.normalize("NFC", text).strip()


def print_key(text: str) -> str:
    """What two tickets that print alike share: compatibility forms folded (full-width
    ``J1`` is ``J1``), letter case too, invisible characters left out (Unicode's caseless match)."""
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(char for char in folded if not _hidden(char))


def invisible(text: str) -> str | None:
    """The first character of ``text`` that prints as nothing or breaks a line, named
    (``U+200B ZERO WIDTH SPACE``); None when every character shows."""
    if text.isascii() and text.isprintable():
        return None
    char = next((char for char in text if _hidden(char)), None)
    if char is None:
        return None
    return f"U+{ord(char):04X} {unicodedata.name(char, 'without a name')}"


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _UNSEEN or _IGNORABLE.match(char) is not None
