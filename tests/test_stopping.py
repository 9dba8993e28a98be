"""Ctrl-C and SIGTERM stop a run cleanly: manifest, report, one line, 130/143, no leftovers.

Real subprocesses with real signals: SIGINT goes to the whole process group, as a
terminal's Ctrl-C does; SIGTERM to the run alone, as ``timeout`` and ``kill`` do.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ENV, manifest, order, report, session_processes, write_csv

COUNT = 40


def _cli(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, **ENV, "SOURCE_DATE_EPOCH": "1790000000"}
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _pdfs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / "invoices").glob("*.pdf")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The input and the folder an uninterrupted run made of it."""
    root = tmp_path_factory.mktemp("stopping")
    source = write_csv(root / "in.csv", [order(f"WO-{n:03}", share_id="")
                                         for n in range(COUNT)])
    done = _cli(["run", str(source), "--out", str(root / "reference"), "--workers", "2",
                 "--quiet"], root)
    assert done.wait(timeout=300) == 0, done.communicate()
    return source, root / "reference"


@pytest.mark.parametrize(("signum", "group", "status"), [
    (signal.SIGINT, True, 130),    # Ctrl-C in a terminal: every process of the run gets it
    (signal.SIGTERM, False, 143),  # systemd stop, timeout(1), kill
])
def test_a_signal_stops_the_run_cleanly_and_the_next_run_completes(
        tmp_path: Path, reference: tuple[Path, Path], signum: int, group: bool,
        status: int) -> None:
    source, expected = reference
    out = tmp_path / "out"
    process = _cli(["run", str(source), "--out", str(out), "--workers", "2", "--quiet"],
                   tmp_path)
    deadline = time.monotonic() + 120
    while len(list(out.glob("invoices/*.pdf"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # stop it after a few invoices
    (os.killpg if group else os.kill)(process.pid, signum)
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - started < 10  # in flight finishes or is dropped, quickly
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr and "leaked" not in stderr and "Aborted" not in stderr
    done = report(out)
    assert done["interrupted"] is True
    assert 3 <= len(done["rendered"]) < COUNT and done["failed"] == []
    assert done["left"] == COUNT - len(done["rendered"])
    assert stdout == f"interrupted: {len(done['rendered'])} rendered, {done['left']} left " \
        "for the next run\n"
    assert [row["service_ticket"] for row in manifest(out)] == sorted(done["rendered"])
    deadline = time.monotonic() + 10
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_processes(process.pid) == []  # no worker, no forkserver left behind
    assert not list(out.rglob(".tmp-*"))
    rerun = _cli(["run", str(source), "--out", str(out), "--workers", "2", "--quiet"],
                 tmp_path)
    rerun_out, rerun_err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, rerun_err
    assert re.match(rf"rendered {done['left']}, unchanged {len(done['rendered'])},", rerun_out)
    assert _pdfs(out) == _pdfs(expected)
    assert (out / "manifest.csv").read_bytes() == (expected / "manifest.csv").read_bytes()
    assert report(out)["interrupted"] is False
