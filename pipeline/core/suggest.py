"""The "did you mean ...?" of every unknown name: configuration keys, mapping keys, the
export's columns and paths, tickets."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable


def closest(word: str, choices: Iterable[str], *, key: Callable[[str], str] = str,
            cutoff: float = 0.6) -> str | None:
    """The choice most like ``word`` as the user wrote it, or ``None``; ``key`` says what
    is compared (e.g. names without case), the answer is the choice itself."""
    found = closest_few(word, choices, n=1, key=key, cutoff=cutoff)
    return found[0] if found else None


def closest_few(word: str, choices: Iterable[str], *, n: int, key: Callable[[str], str] = str,
                cutoff: float = 0.6) -> list[str]:
    """The ``n`` choices most like ``word``, the closest first (see :func:`closest`)."""
    spelled = {key(choice): choice for choice in reversed(list(choices))}  # first one wins
    return [spelled[close] for close in
            difflib.get_close_matches(key(word), spelled, n=n, cutoff=cutoff)]


def did_you_mean(word: str, choices: Iterable[str], *, key: Callable[[str], str] = str,
                 cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` to end a message with, or ``""`` when nothing is close."""
    found = closest(word, choices, key=key, cutoff=cutoff)
    return f"; did you mean {found!r}?" if found else ""
