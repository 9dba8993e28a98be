"""A stop request, as every long stage watches it: read, link, render and send.

Ctrl-C or SIGTERM sets it on the command line (:mod:`pipeline.cli.signals`); the Python API
takes any object with ``is_set()``, such as a :class:`threading.Event`.
"""

from __future__ import annotations

from typing import Protocol


class Stop(Protocol):
    """What a stage needs of a stop request (a :class:`threading.Event` will do)."""

    def is_set(self) -> bool: ...
