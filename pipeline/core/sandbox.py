"""The Jinja setup every template renders in: invoice, stylesheet, emails, launch pages.

An override template is an operator's file, yet whoever can write it must not get to
run commands or read the machine's files through it (``lipsum.__globals__``, a
``{% include %}`` of a link to ``/etc/passwd``). So templates render in Jinja's immutable
sandbox, which refuses Python internals, and are loaded by :class:`FolderLoader`, which
serves a template only when its real path is a regular file inside the folder it was
found in. Either refusal is a :class:`jinja2.exceptions.SecurityError`, which
:func:`config_error` turns into one error naming the template and line.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import ConfigError


class FolderLoader(jinja2.BaseLoader):
    """Templates by name from ``folders``, first folder first, never from outside them.

    A name present in a folder is that folder's, or an error: a link leading out of it,
    a FIFO or a folder is refused rather than passed over for the next folder's file.
    """

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = [piece for piece in template.split("/") if piece not in ("", ".")]
        if ".." in pieces:
            raise SecurityError(f"{template!r} leads outside the templates folder")
        for folder in self.folders:
            path = folder.joinpath(*pieces)
            if os.path.lexists(path):
                return self._read(template, path, folder)
        raise jinja2.TemplateNotFound(template)

    @staticmethod
    def _read(template: str, path: Path, folder: Path) -> tuple[str, str, Callable[[], bool]]:
        try:
            real = path.resolve()
        except RuntimeError:  # a loop of links (Python 3.11)
            raise SecurityError(f"{template!r} is a loop of symbolic links") from None
        if not real.is_relative_to(folder.resolve()):
            raise SecurityError(f"{template!r} is a link to {real}, outside the "
                                f"templates folder {folder}")
        if not real.is_file():
            raise SecurityError(f"{template!r} is not a regular file")
        try:
            source = real.read_text(encoding="utf-8")
            mtime = real.stat().st_mtime
        except OSError as error:
            raise jinja2.TemplateError(f"{template!r}: cannot read: {error.strerror}") \
                from None
        return source, str(path), lambda: _modified(real) == mtime


def _modified(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def environment(folders: list[Path]) -> ImmutableSandboxedEnvironment:
    """The Jinja setup of every template, looked up in ``folders`` in order.

    HTML is escaped, so no work-order value becomes markup; CSS and plain text are not
    (there ``&`` would print as ``&amp;``): stylesheet values are escaped for CSS
    instead (``render.css_string``). A name a template uses but nobody passes is an
    error, not a blank on a customer's invoice.
    """
    return ImmutableSandboxedEnvironment(
        loader=FolderLoader(folders),
        autoescape=jinja2.select_autoescape(disabled_extensions=("css", "txt"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_error(error: Exception,
                   folders: list[Path]) -> tuple[str | None, int | None, str]:
    """Which template file and line an error of Jinja comes from, and what it says.

    A syntax error carries both; an error while rendering (an undefined variable, a
    refusal of the sandbox) carries neither, but Jinja rewrites the traceback so its
    frames point into the template.
    """
    where: str | None = getattr(error, "filename", None)
    line: int | None = getattr(error, "lineno", None)
    if where is None:
        roots = [folder.resolve() for folder in folders]
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            path = Path(frame.filename)
            if path.suffix != ".py" and any(path.resolve().is_relative_to(root)
                                            for root in roots):
                where, line = frame.filename, frame.lineno
                break
    message = getattr(error, "message", None) or str(error)
    return where, line, message


def config_error(error: Exception, folders: list[Path], what: str = "template") -> ConfigError:
    """A template's error as the configuration error that stops the command (exit 2)."""
    where, line, message = template_error(error, folders)
    kind = "refused" if isinstance(error, SecurityError) else "error"
    return ConfigError(f"{what} {kind}: {message}", source=where, line=line)
