"""Reading at scale: ``validate`` of 1,000,000 CSV rows, with its time and peak RSS.

Issue 12's target on the 2-core machine: at most 60 s and 500 MB. The reader's own share
is measured too, in a process of its own that only iterates ``read_file`` over the same
file, so that the figures tell the reader's memory from what validation and the share
links keep per ticket. Both run under measure.py (peak RSS from the kernel). ``make bench``
runs it; alone:

    .venv/bin/python benchmarks/reading.py [--rows N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthetic import CONFIG, generate_rows

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).parent / "xoi-invoices"
ROWS = 1_000_000
TARGET_S = 60.0
TARGET_RSS_MB = 500.0
# The reader alone, as ``validate`` drives it (the CLI turns the cycle collector off) but
# keeping nothing.
_READ_ONLY = """\
import gc
import sys
from pathlib import Path
from pipeline.read import read_file
gc.disable()
print(sum(1 for _ in read_file(Path(sys.argv[1]))), "records")
"""


@dataclass
class Figure:
    label: str
    seconds: float
    status: int
    peak_mb: float
    target: bool  # whether issue 12's targets apply (the whole command)
    cpu_seconds: float = 0.0  # tells a slow program from a busy machine
    target_s: float = TARGET_S
    target_mb: float = TARGET_RSS_MB
    complete: bool = True  # the command did all it was measured for

    def verdict(self) -> str:
        if not self.target:
            return ""
        ok = self.status == 0 and self.complete and self.seconds <= self.target_s \
            and self.peak_mb <= self.target_mb
        return "PASS" if ok else "FAIL"


def measure_reading(work: Path, config: Path, rows: int = ROWS) -> list[Figure]:
    """``validate`` of ``rows`` synthetic CSV rows, then ``read_file`` alone over them."""
    path = work / f"rows-{rows}.csv"
    if not path.exists():
        generate_rows(path, rows)
    return [
        measure(f"validate {rows:,} rows", [str(CLI), "validate", str(path), "--config",
                                             str(config)], work, target=True),
        measure(f"read_file alone, {rows:,} rows", [sys.executable, "-c", _READ_ONLY,
                                                     str(path)], work, target=False),
    ]


def measure(label: str, command: list[str], work: Path, target: bool,
            environment: dict[str, str] | None = None) -> Figure:
    log = work / f"{''.join(c if c.isalnum() else '_' for c in label)}.log"
    # The TOML file decides, not the caller's XOI_* settings.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("XOI_")} | \
        (environment or {})
    result = subprocess.run([sys.executable, str(HERE / "measure.py"), str(log), "--",
                             *command], capture_output=True, text=True, check=True,
                            cwd=work, env=environment)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    if data["status"] != 0:
        print(f"  FAIL {label}: exit status {data['status']}; see {log}")
    return Figure(label, data["seconds"], data["status"], data["max_rss_kib"] * 1024 / 1e6,
                  target, data["cpu_seconds"])


def report_lines(figures: list[Figure]) -> list[str]:
    """One line per figure, for bench.py's table and for running alone."""
    return [f"{figure.label:<40}{figure.seconds:>8.1f} s{figure.peak_mb:>8.0f} MB  "
            f"{_targets(figure) if figure.target else '(information)':<24}"
            f"{figure.verdict():>6}   (CPU {figure.cpu_seconds:.1f} s)" for figure in figures]


def _targets(figure: Figure) -> str:
    return f"<= {figure.target_s:.0f} s, <= {figure.target_mb:.0f} MB"


def standalone(doc: str | None, rows: int, prefix: str,
               measured: Callable[[Path, Path, int], list[str]]) -> None:
    """Run one bench module alone: ``--rows`` and ``--keep`` parsed, a work folder with the
    bench configuration, ``measured(work, config, rows)``'s lines printed."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=rows, help=f"CSV rows [{rows:,}]")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    arguments = parser.parse_args()
    work = arguments.keep.resolve() if arguments.keep else Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        config = work / "bench.toml"
        config.write_text(CONFIG, encoding="utf-8")
        lines = measured(work, config, max(arguments.rows, 1))
    finally:
        if not arguments.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    print(f"took {time.perf_counter() - started:.0f} s")


def main() -> None:
    standalone(__doc__, ROWS, "xoi-reading-",
               lambda work, config, rows: [*report_lines(measure_reading(work, config, rows)),
                                           "peak RSS in MB of 10^6 bytes, whole process tree"])


if __name__ == "__main__":
    main()
