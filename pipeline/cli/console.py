"""What a command tells the person or the cron job watching it.

Text mode: problems on stderr as ``file:line: ticket T: field: reason``, a progress bar
when stderr is a terminal, a line per message emailed (unless quiet), and always one
summary line on stdout (with ``run --send``, a second one for the sending). JSON mode
(``--log-format json``): every event, the summary included, as one JSON object per line
on stderr, for log collectors.
"""

from __future__ import annotations

import shlex
import sys
import time
from typing import Any

import click

from ..core.models import Delivered, Outcome
from ..core.terminal import json_text, shown, unfiltered
from ..store import report_data

_ALWAYS = ("rejected", "failed", "warning", "skipped")


def _say(text: str, *, err: bool = False) -> None:
    """Every line a command prints but its JSON: what the input holds (a ticket, a
    file or column name) shows as escapes there, never as terminal controls."""
    click.echo(shown(text), err=err)


class Console:
    def __init__(self, *, quiet: bool = False, log_format: str = "text") -> None:
        self.quiet = quiet
        self.json = log_format == "json"
        self.bar: Any = None

    @staticmethod
    def error(message: str, exit_code: int, details: dict[str, object]) -> None:
        """A fatal error as one JSON event on stderr (JSON mode only)."""
        line = {"ts": round(time.time(), 3), "event": "error", "message": message,
                "exit_status": exit_code, **{k: v for k, v in details.items() if v}}
        click.echo(json_text(line), err=True)

    def __call__(self, event: str, data: dict[str, object]) -> None:
        if self.json:
            line = {"ts": round(time.time(), 3), "event": event, **data}
            click.echo(json_text(line, default=str), err=True)
            return
        if event in _ALWAYS:
            self._clear_bar()
            prefix = {"warning": "warning: ", "failed": "failed: ",
                      "skipped": "skipped: "}.get(event, "")
            message = data.get("message") or \
                f"ticket {data['service_ticket']}: {data['reason']}"
            _say(f"{prefix}{message}", err=True)
        elif event == "others_rejected":
            self._clear_bar()
            count = int(str(data["count"]))
            files = shlex.join(str(path) for path in data["inputs"])  # type: ignore[attr-defined]
            _say(f"{count:,} other record{' has' if count == 1 else 's have'} problems: "
                 f"xoi-invoices validate {files}", err=True)
        elif event == "start" and not self.quiet and sys.stderr.isatty() and data["total"]:
            self.bar = click.progressbar(length=int(str(data["total"])), label="rendering",
                                         file=unfiltered(sys.stderr), show_pos=True,
                                         show_eta=True)
            self.bar.__enter__()
        elif event in ("rendered", "failed") and self.bar is not None:
            self.bar.update(1)
        elif event == "sending":  # after rendering (run --send): its bar is full
            self._close_bar()
        elif event == "would_send":
            _say(f"would send {data['service_ticket']} to {data['recipient']}: "
                 f"{data['subject']}")
        elif event == "sent" and not self.quiet:
            _say(f"sent {data['service_ticket']} to {data['recipient']}")

    def _clear_bar(self) -> None:
        if self.bar is not None:
            click.echo("", err=True)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def finish(self, outcome: Outcome | Delivered, verb: str | None = None) -> None:
        self._close_bar()
        if self.json:
            self("summary", report_data(outcome) if isinstance(outcome, Outcome)
                 else outcome.report())
            return
        for line in (verb or outcome.summary()).split("\n"):  # run --send: two lines
            _say(line)
