"""`make bench`'s cluster figures (called from bench.py): a Dask scheduler and two workers
on this machine against ``run --workers 2``, the CPU each process spends per invoice, and
the coordinator's store rate.

- cluster: ``dask scheduler`` and two ``dask worker --nthreads 1`` processes are started
  first (as in a deployment, where they outlive one night's run); then ``run --workers 2``
  and ``run --cluster`` are measured back to back like the other runs (the cluster run's
  peak RSS is the coordinator's), each into a fresh folder, and their manifests compared
  (same bytes, same sha256 column);
- CPU per invoice, from the processes' own CPU times: the coordinator's from measure.py
  (``main_cpu_seconds``), the pool's from the rest of the local run's tree, the
  scheduler's and the Dask workers' (each nanny with the worker process it spawns) from
  psutil right before and right after ``run --cluster``. The coordinator and the scheduler
  are one process each however many workers there are: their CPU per invoice, beyond a
  run's fixed CPU (measured by a run of one invoice after the others) and, for the
  scheduler, beyond what it spends a second idle (measured during the local run), sets the
  ceiling of one run, and with the workers' figure the cores a night needs (``sizing``);
- store rate: what the coordinator absorbs, in process, without rendering: 2,000 new
  invoices' results of 25 KB stored into a fresh output folder (sha256, atomic write
  with fsync, ledger row), once with a commit per row (as before batching) and once with
  the ledger's batches.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import psutil  # type: ignore[import-untyped]
from synthetic import generate_orders

from pipeline.batch.stream import Linking
from pipeline.core import config
from pipeline.send.log import BillingFacts
from pipeline.store import folder, ledger

DASK = Path(sys.executable).with_name("dask")
CLI = Path(sys.executable).with_name("xoi-invoices")
STORED = 2000  # results per store-rate measurement
PDF_BYTES = 25_000
READY = 120  # seconds for the scheduler and workers to come up
TARGET_CLUSTER = 0.9  # issue 23 (0.8 in issue 12): on the same 2 cores, this share of the pool
TARGET_STORE_MS = 2.0
# As the README deploys render workers: Dask's statistical profiler samples every thread's
# stack every 10 ms, a cost that makes no PDF (see docs/performance.md).
WORKER_ENVIRONMENT = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
# Issue 23: CPU ms per invoice, so that one run absorbs >= 1,000 invoices/s.
TARGET_COORDINATOR_MS = 1.0
TARGET_SCHEDULER_MS = 0.5
TARGET_WORKER = 0.05  # a Dask worker's CPU per invoice over the pool worker's, at most
NIGHTS = (10_000, 100_000, 1_000_000)


class _Run(NamedTuple):
    measured: Any  # bench.py's Measured
    rendered: int
    scheduler_seconds: float  # CPU the scheduler spent meanwhile
    workers_seconds: float  # and the Dask workers


def bench_cluster(work: Path, orders: Path, config_file: Path,
                  measure: Callable[[str, list[str], Path], Any]) -> dict[str, Any]:
    """The figures, printed as they come; ``measure`` is bench.py's (peak RSS, CPU)."""
    single = work / "orders-1.csv"
    generate_orders(single, 1)
    labels = {"local": "run --workers 2 (reference)",
              "cluster": "run --cluster, scheduler + 2 workers"}
    with _cluster(work) as (address, scheduler, workers):
        options = {"local": ["--workers", "2"], "cluster": ["--cluster", address]}

        def run(key: str, label: str, source: Path, out: Path) -> _Run:
            before = _cpu([scheduler]), _cpu(workers)
            measured = measure(label, [
                str(CLI), "run", str(source), "--config", str(config_file), "--out", str(out),
                *options[key], "--quiet"], work)
            after = _cpu([scheduler]), _cpu(workers)
            report = json.loads((out / "report.json").read_text()) \
                if measured.status == 0 else {}
            measured.extra = {"rendered": len(report.get("rendered", []))}
            return _Run(measured, measured.done, after[0] - before[0], after[1] - before[1])

        runs = {}
        # Back to back, so that other work on the machine weighs on both alike.
        for key, label in labels.items():
            runs[key] = run(key, label, orders, work / f"out-{key}")
            measured, rendered = runs[key].measured, runs[key].rendered
            print(f"  {label:<44} {measured.seconds:7.1f} s  {rendered} invoices, "
                  f"{measured.rate:.2f}/s, peak RSS {measured.max_rss_kib * 1024 / 1e6:.0f} MB",
                  flush=True)
        # A run's fixed CPU (start-up, connecting, the fingerprint check) is no limit on
        # how many invoices a second it absorbs: one run of a single invoice measures it,
        # after the runs above so that those find the workers as cold as a night does.
        fixed = {key: run(key, f"{label}, 1 invoice", single, work / f"out-{key}-1")
                 for key, label in labels.items()}
    figures = _cpu_figures(runs, fixed)
    print(f"  CPU per invoice beyond a run's fixed CPU: coordinator "
          f"{figures['local_coordinator_ms']:.2f} ms local "
          f"(+ {figures['local_coordinator_fixed_s']:.2f} s a run), "
          f"{figures['cluster_coordinator_ms']:.2f} ms cluster "
          f"(+ {figures['cluster_coordinator_fixed_s']:.2f} s);\n"
          f"  scheduler {figures['scheduler_ms']:.2f} ms (+ {figures['scheduler_fixed_s']:.2f} s "
          f"a run, + {figures['scheduler_idle_ms_s']:.0f} ms a second idle or not);\n"
          f"  workers, all included, {figures['local_worker_ms']:.0f} ms pool, "
          f"{figures['cluster_worker_ms']:.0f} ms Dask (the two Dask workers spend "
          f"{figures['workers_idle_ms_s']:.0f} ms a second idle)", flush=True)
    local, cluster = (runs[key].measured for key in ("local", "cluster"))
    manifests = [work / f"out-{key}" / "manifest.csv" for key in ("local", "cluster")]
    figures["cluster_rate"], figures["local_rate"] = cluster.rate, local.rate
    figures["cluster_ratio"] = cluster.rate / local.rate if local.rate else 0.0
    figures["cluster_same"] = bool(local.done and cluster.done) \
        and manifests[0].read_bytes() == manifests[1].read_bytes()
    for key, rows in (("store_before", 1), ("store_after", ledger.ROWS_PER_COMMIT)):
        figures[key] = store_rate(work / f"store-{rows}", config_file, rows)
        print(f"  store {STORED} results, {rows:>3} rows per commit   "
              f"{1000 / figures[key]:.2f} ms each, {figures[key]:,.0f} results/s", flush=True)
    return figures


def _cpu_figures(runs: dict[str, _Run], fixed: dict[str, _Run]) -> dict[str, Any]:
    """CPU ms per invoice: the coordinator's and the scheduler's beyond a run's fixed CPU
    (``*_fixed_s``), the scheduler's also beyond what it spends a second idle
    (``scheduler_idle_ms_s``); the workers' all included."""
    def beyond(total: float, one: float, rendered: int) -> float:
        return (total - one) / (rendered - 1) * 1000 if rendered > 1 else 0.0

    # While the local run renders, the scheduler and the Dask workers only keep house
    # (heartbeats, their monitors). The scheduler's share is CPU a second, not an invoice:
    # ~16 ms/s is over 1 ms an invoice at this machine's ~15 invoices/s and 0.016 ms at a
    # ceiling of 1,000/s. A worker's is not subtracted: a worker renders so many invoices
    # a second however large the cluster, so its housekeeping is a cost of each invoice.
    local = runs["local"]
    idle: tuple[float, float] = (local.scheduler_seconds / local.measured.seconds,
                                 local.workers_seconds / local.measured.seconds)

    def busy(run: _Run) -> float:
        return run.scheduler_seconds - idle[0] * float(run.measured.seconds)

    figures: dict[str, Any] = {"scheduler_idle_ms_s": idle[0] * 1000,
                               "workers_idle_ms_s": idle[1] * 1000}
    for key in ("local", "cluster"):
        figures[f"{key}_coordinator_fixed_s"] = fixed[key].measured.main_cpu_seconds
        figures[f"{key}_coordinator_ms"] = beyond(
            runs[key].measured.main_cpu_seconds, fixed[key].measured.main_cpu_seconds,
            runs[key].rendered)
    figures["scheduler_fixed_s"] = busy(fixed["cluster"])
    figures["scheduler_ms"] = beyond(busy(runs["cluster"]), busy(fixed["cluster"]),
                                     runs["cluster"].rendered)
    figures["local_worker_ms"] = runs["local"].measured.others_cpu_ms
    figures["cluster_worker_ms"] = (runs["cluster"].workers_seconds / runs["cluster"].rendered
                                    * 1000 if runs["cluster"].rendered else 0.0)
    return figures


def cluster_rows(figures: dict[str, Any],
                 verdict: Callable[[bool, str], str]) -> list[tuple[str, str, str]]:
    """bench.py's target table rows for these figures."""
    ratio, after, before = (figures[key] for key in
                            ("cluster_ratio", "store_after", "store_before"))
    coordinator, local_coordinator, scheduler, dask, pool = (figures[key] for key in (
        "cluster_coordinator_ms", "local_coordinator_ms", "scheduler_ms", "cluster_worker_ms",
        "local_worker_ms"))
    worker_over = dask / pool - 1 if pool else 0.0
    rate, bound = ceiling(figures)
    return [
        (f"run --cluster (2 workers here) vs --workers 2  >= {TARGET_CLUSTER}x",
         f"{ratio:.2f}x" + ("" if figures["cluster_same"] else ", other manifest"),
         verdict(ratio >= TARGET_CLUSTER and figures["cluster_same"], "cluster vs local")),
        (f"coordinator CPU per invoice, --cluster      <= {TARGET_COORDINATOR_MS:.0f} ms",
         f"{coordinator:.2f} ms + {figures['cluster_coordinator_fixed_s']:.2f} s a run",
         verdict(0 < coordinator <= TARGET_COORDINATOR_MS, "coordinator CPU, cluster")),
        ("coordinator CPU per invoice, --workers 2     (information)",
         f"{local_coordinator:.2f} ms + {figures['local_coordinator_fixed_s']:.2f} s a run", ""),
        (f"scheduler CPU per invoice, beyond idle       <= {TARGET_SCHEDULER_MS} ms",
         f"{scheduler:.2f} ms + {figures['scheduler_idle_ms_s']:.0f} ms/s",
         verdict(0 < scheduler <= TARGET_SCHEDULER_MS, "scheduler CPU")),
        (f"worker CPU per invoice, Dask / pool          <= +{TARGET_WORKER:.0%}",
         f"{dask:.0f} / {pool:.0f} ms ({worker_over:+.1%})",
         verdict(dask > 0 and pool > 0 and worker_over <= TARGET_WORKER,
                 "worker CPU, Dask vs pool")),
        ("implied ceiling of one run                   (information)",
         f"{rate:,.0f}/s ({bound})", ""),
        (f"coordinator store, batched ledger            <= {TARGET_STORE_MS:.0f} ms",
         f"{1000 / after:.2f} ms ({after:,.0f}/s)",
         verdict(1000 / after <= TARGET_STORE_MS, "store cost")),
        ("coordinator store, a commit per row          (information)",
         f"{1000 / before:.2f} ms ({before:,.0f}/s)", ""),
    ]


def ceiling(figures: dict[str, Any]) -> tuple[float, str]:
    """Invoices/s one cluster run can absorb, and the process that sets it: the coordinator
    and the scheduler are one process each, a core at most, however many workers serve."""
    bound = max(("coordinator", figures["cluster_coordinator_ms"]),
                ("scheduler", figures["scheduler_ms"]), key=lambda pair: pair[1])
    return (1000 / bound[1] if bound[1] else 0.0), bound[0]


def sizing(figures: dict[str, Any]) -> list[str]:
    """A Markdown table for docs/performance.md: a night at one run's ceiling, on as many
    worker cores as that rate keeps busy at the Dask workers' CPU per invoice."""
    rate, bound = ceiling(figures)
    worker_ms = figures["cluster_worker_ms"]
    cores = rate * worker_ms / 1000
    lines = [f"Sizing at the ceiling of one run, {rate:,.0f} invoices/s, set by the {bound} "
             f"(CPU per invoice: coordinator {figures['cluster_coordinator_ms']:.2f} ms,",
             f"scheduler {figures['scheduler_ms']:.2f} ms, Dask worker {worker_ms:.0f} ms):",
             "",
             "| invoices a night | worker cores | minutes | worker core-hours |",
             "|---:|---:|---:|---:|"]
    lines += [f"| {night:,} | {cores:,.1f} | {night / rate / 60 if rate else 0.0:,.1f} | "
              f"{night * worker_ms / 3.6e6:,.1f} |" for night in NIGHTS]
    return lines


def store_rate(out: Path, config_file: Path, rows_per_commit: int) -> float:
    """Results per second :meth:`OutputFolder.store` takes for new invoices, render
    excluded."""
    settings = config.resolve({"out": out}, config_file=config_file)
    orders = out.with_suffix(".csv")
    generate_orders(orders, STORED)
    invoices = [invoice for chunk in Linking([orders], settings, date(2026, 12, 1))
                for invoice in chunk.invoices]
    pdf = os.urandom(PDF_BYTES)
    with folder.writing(out, annex=BillingFacts()) as target:  # as a run stores
        assert target.ledger is not None
        target.ledger.rows_per_commit = rows_per_commit
        started = time.perf_counter()
        for number, invoice in enumerate(invoices):
            target.store(invoice, pdf + number.to_bytes(4), 1, "bench", None)
        target.ledger.commit()
        return len(invoices) / (time.perf_counter() - started)


@contextlib.contextmanager
def _cluster(work: Path) -> Any:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    common = ["--no-dashboard"]
    processes = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port",
                                   str(port), *common], cwd=work, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        processes += [subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1",
                                        "--host", "127.0.0.1", *common], cwd=work,
                                       env={**os.environ, **WORKER_ENVIRONMENT},
                                       start_new_session=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL) for _ in range(2)]
        _wait_for_workers(address, 2)
        yield address, processes[0].pid, [process.pid for process in processes[1:]]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)


def _cpu(pids: list[int]) -> float:
    """User and system CPU seconds of these processes and all their descendants (a nanny
    spawns its worker process)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            for process in (root, *root.children(recursive=True)):
                # A process that ends between the listing and the reading took its time
                # with it: no figure can include it.
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = process.cpu_times()
                    total += times.user + times.system
    return total


def _wait_for_workers(address: str, count: int) -> None:
    import distributed

    with distributed.Client(address, timeout=READY) as client:
        client.wait_for_workers(count, timeout=READY)
