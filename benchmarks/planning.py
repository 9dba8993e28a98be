"""Planning at scale: ``run`` over 1,000,000 confirmed work orders into an empty folder,
stopped right when rendering would start, with its time and peak RSS.

Issue 12's last item: ``run`` plans a million invoices without holding them all as
objects. The measured process calls :func:`batch.run` as the CLI does (a stop request,
two workers), with a ``progress`` callback that asks it to stop at the ``start`` event:
everything before rendering (reading, checks, links, the ledger, fingerprints, the
spool of invoices to render) and after it (manifest, report) is measured, no PDF is
made. The targets: peak RSS within validate's 500 MB (the issue's "without holding them
all as objects"), and time no worse than planning took while it held them all (97-117 s
here): 120 s. The issue sets no time for it; a run also fingerprints and spools every
invoice, so it takes ~1.5 times validate of the same rows. ``make bench``
runs it; alone:

    .venv/bin/python benchmarks/planning.py [--rows N] [--keep DIR]

With ``PYTHONPATH=DIR`` it measures the ``pipeline`` package in DIR instead (e.g. another
commit's ``git archive``), for a before/after comparison on one machine; the measured
process says which package it ran.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from reading import Figure, measure, report_lines, standalone
from synthetic import generate_rows

ROWS = 1_000_000
TARGET_S = 120.0
TARGET_RSS_MB = 500.0
# What the CLI's run does, but stopping at the start event; prints what was planned.
_PLAN = """\
import json
import sys
import threading
import time
from pathlib import Path

import pipeline

rows, toml, out = sys.argv[1:4]
settings = pipeline.resolve({"out": Path(out), "workers": 2}, config_file=toml)
stop = threading.Event()
seen = {}
started = time.monotonic()


def progress(event, data):
    if event == "start":
        seen.update(data, planned_seconds=round(time.monotonic() - started, 1))
        stop.set()


outcome = pipeline.run([Path(rows)], settings, progress=progress, stop=stop)
print(json.dumps({**seen, "interrupted": outcome.interrupted, "left": outcome.left,
                  "rendered": len(outcome.rendered), "code": pipeline.__file__}))
"""


def measure_planning(work: Path, config: Path, rows: int = ROWS) -> list[Figure]:
    """``run`` of ``rows`` synthetic confirmed work orders, one line item each, stopped at
    the start of rendering."""
    path = work / f"rows-{rows}-confirmed.csv"
    if not path.exists():
        generate_rows(path, rows, all_confirmed=True)
    out = work / f"out-plan-{rows}"
    shutil.rmtree(out, ignore_errors=True)
    label = f"plan {rows:,} invoices"
    figure = measure(label, [sys.executable, "-c", _PLAN, str(path), str(config), str(out)],
                     work, target=True)
    figure.target_s, figure.target_mb = TARGET_S, TARGET_RSS_MB
    log = work / f"{''.join(c if c.isalnum() else '_' for c in label)}.log"
    lines = log.read_text(errors="replace").strip().splitlines()
    seen = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    # Honest only if every order was planned to render and none was rendered.
    figure.complete = seen.get("total") == rows and seen.get("rendered") == 0
    if not figure.complete:
        print(f"  FAIL {label}: planned {seen.get('total')} of {rows:,}; see {log}")
    print(f"  {label}: the package at {seen.get('code')}")
    shutil.rmtree(out, ignore_errors=True)
    return [figure]


def main() -> None:
    standalone(__doc__, ROWS, "xoi-planning-",
               lambda work, config, rows: [*report_lines(measure_planning(work, config, rows)),
                                           "peak RSS in MB of 10^6 bytes, whole process tree"])


if __name__ == "__main__":
    main()
