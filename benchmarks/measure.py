"""Run one command and report its wall time, the peak RSS of its whole process tree and
its CPU time, the command's own apart from its descendants'.

    python benchmarks/measure.py LOG -- COMMAND...

Makes itself the child subreaper, so the forkserver and pool workers the command leaves
behind are re-parented here and waited for: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is
then the largest RSS any of them reached. A sampler also reads ``VmHWM`` of each process
of the tree, to tell the parent from the workers. ``cpu_seconds`` is the whole tree's
(``RUSAGE_CHILDREN`` once everything is reaped); ``main_cpu_seconds`` the command's own
process, all its threads, read from ``/proc/<pid>/stat`` while it is a zombie. Prints one
JSON line.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _own_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` without its children (fields 14 and 15 of its stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Field 2, the command name in parentheses, may itself hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_main(log: Path, command: list[str]) -> None:
    """Run ``command``; print its wall seconds, status, peak RSS (KiB) and CPU seconds as
    JSON."""
    libc = ctypes.CDLL(None, use_errno=True)
    # Orphans of the tree (the forkserver, pool workers) are re-parented to us, so that
    # waiting for them brings their peak RSS into RUSAGE_CHILDREN.
    subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    peaks: dict[int, int] = {}
    done = threading.Event()
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)

        def sample() -> None:
            while not done.wait(0.1):
                todo = [process.pid]
                while todo:
                    pid = todo.pop()
                    peaks[pid] = max(peaks.get(pid, 0), _hwm_kib(pid))
                    todo.extend(_children(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Until it is reaped the exited command stays a zombie whose stat still holds its
        # own CPU time; once reaped, that time is only known summed with its descendants'.
        # (wait4's rusage is no way out: it too counts the children the command reaped.)
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        main_cpu_seconds = _own_cpu_seconds(process.pid)
        status = process.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    while True:  # reap whatever the command left behind
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    workers = [kib for pid, kib in peaks.items() if pid != process.pid]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "seconds": seconds, "status": status, "subreaper": subreaper,
        "max_rss_kib": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "main_cpu_seconds": main_cpu_seconds,
        "main_hwm_kib": peaks.get(process.pid, 0),
        "other_hwm_kib": max(workers, default=0), "processes": len(peaks),
    }))


if __name__ == "__main__":
    measure_main(Path(sys.argv[1]), sys.argv[sys.argv.index("--") + 1:])
