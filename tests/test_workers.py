"""Parallel rendering: same output whatever the worker count, recycled pools, streamed checks.

Speed and memory are measured by ``make bench`` (benchmarks/bench.py), not here.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline import batch
from pipeline.batch.stream import Linking
from pipeline.core.config import Settings
from pipeline.core.models import Invoice
from pipeline.render import pool as workers
from pipeline.render.layout import column_widths
from pipeline.render.seam import Pending, RenderedPdf, RenderFailure, Result
from pipeline.render.tasks import CRASHED, MOST_PER_TASK, Done, Sizer, _round, hand_out
from pipeline.validate import inputs
from tests.conftest import order, session_processes, write_csv


def _invoices(tmp_path: Path, settings: Settings, count: int, name: str = "in.csv",
              rows: list[dict[str, str]] | None = None) -> list[Invoice]:
    source = write_csv(tmp_path / name, rows or [order(f"WO-{n}") for n in range(count)])
    return [invoice for chunk in Linking([source], settings, date(2026, 12, 1))
            for invoice in chunk.invoices]


def _pooled(invoices: list[Invoice], settings: Settings) -> list[Result]:
    return list(workers.ProcessPool(settings).render(invoices, threading.Event()))


def test_two_workers_write_the_bytes_one_worker_writes(tmp_path: Path,
                                                       settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}", share_id="") for n in range(7)])
    outputs = []
    for count in (1, 2):
        out = tmp_path / f"w{count}"
        outcome = batch.run([source], replace(settings, out=out, workers=count))
        assert sorted(outcome.rendered) == [f"WO-{n}" for n in range(7)]
        outputs.append({p.name: p.read_bytes() for p in (out / "invoices").iterdir()})
        outputs[-1]["manifest.csv"] = (out / "manifest.csv").read_bytes()
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 8


def test_pools_are_replaced_and_every_invoice_comes_back(tmp_path: Path, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "TASKS_PER_WORKER", 1)  # a fresh pool every 2 invoices
    invoices = _invoices(tmp_path, replace(settings, workers=2), 5)
    results = _pooled(invoices, replace(settings, workers=2))
    assert sorted(result.invoice.ticket for result in results) == \
        sorted(invoice.ticket for invoice in invoices)
    for result in results:
        assert isinstance(result, RenderedPdf) and result.pages == 1
        assert result.invoice.share_url in PdfReader(io.BytesIO(result.pdf)).pages[0] \
            .extract_text().replace("\n", "")


def _descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def test_a_worker_killed_mid_run_costs_no_invoice(tmp_path: Path, settings: Settings) -> None:
    pooled = replace(settings, workers=2)
    invoices = _invoices(tmp_path, pooled, 12)
    results = []
    for result in workers.ProcessPool(pooled).render(invoices, threading.Event()):
        if not results:
            # The forkserver is our child; the pool workers are its children.
            forkserver = next(p for p in _descendants(os.getpid())
                              if _descendants(p))
            os.kill(_descendants(forkserver)[0], signal.SIGKILL)
        results.append(result)
    assert sorted(result.invoice.ticket for result in results) == \
        sorted(invoice.ticket for invoice in invoices)
    assert all(isinstance(result, RenderedPdf) for result in results), results


def test_an_invoice_that_kills_its_worker_every_time_fails_alone(
        tmp_path: Path, settings: Settings) -> None:
    """Stands in for an invoice that crashes WeasyPrint: whichever worker renders the big
    invoice is killed, in the shared pool and again when it is rendered alone."""
    pooled = replace(settings, workers=2)
    small = _invoices(tmp_path, pooled, 6)
    rows = [order("WO-BIG", item_description=f"Part {n}") for n in range(2000)]
    big = _invoices(tmp_path, pooled, 1, "big.csv", rows)
    stop = threading.Event()

    def kill_slow_workers() -> None:
        while not stop.is_set():
            forkservers = [p for p in _descendants(os.getpid()) if _descendants(p)]
            for worker in (w for f in forkservers for w in _descendants(f)):
                with contextlib.suppress(OSError, IndexError):
                    stat = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()
                    if (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK") > 3:
                        os.kill(worker, signal.SIGKILL)
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_slow_workers, daemon=True)
    watcher.start()
    try:
        results = _pooled([small[0], *big, *small[1:]], pooled)
    finally:
        stop.set()
        watcher.join()
    failed = [(result.invoice.ticket, result.reason) for result in results
              if isinstance(result, RenderFailure)]
    assert failed == [("WO-BIG", CRASHED)]
    assert sorted(result.invoice.ticket for result in results
                  if isinstance(result, RenderedPdf)) == \
        sorted(invoice.ticket for invoice in small)


class _Workers:
    """Stand-in workers for the shared loop: tasks finish in the order handed out, one per
    look, each invoice taking a worker ``each`` seconds; a ticket in ``dies`` kills its
    worker, and, as in a broken pool, the other tasks out die with it."""

    def __init__(self, dies: set[str], window: int, each: float = 0.25) -> None:
        self.dies, self.window, self.each, self.broken = dies, window, each, False
        self.batches: dict[object, list[str]] = {}
        self.running: set[object] = set()

    def room(self) -> int:
        return 0 if self.broken else self.window

    def submit(self, batch: list[str]) -> object:
        task = object()
        self.batches[task] = list(batch)
        return task

    def finished(self, out: list[object], timeout: float) -> list[object]:
        return [next(iter(out))]

    def result(self, task: object) -> Done | None:
        batch = self.batches[task]
        self.broken = self.broken or bool(self.dies.intersection(batch))
        if self.broken:
            return None
        return Done(tuple(RenderedPdf(ticket, b"", 1) for ticket in batch),  # type: ignore[arg-type]
                    self.each * len(batch))

    def cancel_waiting(self, out: list[object]) -> list[object]:
        return [task for task in out if task not in self.running]

    def end(self, out: list[object]) -> None:
        raise AssertionError("every task finished within the grace period")


class _Rounds:
    """Each round on workers of its own, as the pool starts a new one; keeps every batch
    handed out."""

    def __init__(self, dies: set[str], window: int = 3) -> None:
        self.dies, self.window, self.handed_out = dies, window, []

    def __call__(self, queue: object) -> contextlib.nullcontext[_Workers]:
        workers = _Workers(self.dies, self.window)
        self.handed_out.append(workers.batches)
        return contextlib.nullcontext(workers)

    def sizes(self) -> list[int]:
        return [len(batch) for batches in self.handed_out for batch in batches.values()]


def _outcomes(results: list[Result]) -> list[tuple[str, str]]:
    return [(str(result.invoice), result.reason if isinstance(result, RenderFailure)
             else "rendered") for result in results]


def test_the_tasks_out_with_a_dead_worker_are_rendered_alone_before_the_rest() -> None:
    results = list(hand_out(_Rounds({"X"}), ["A", "X", "B", "C", "D"], threading.Event(),
                            seconds=0))
    assert _outcomes(results) == [("A", "rendered"), ("X", CRASHED), ("B", "rendered"),
                                  ("C", "rendered"), ("D", "rendered")]


def test_a_poison_invoice_in_a_batch_fails_alone() -> None:
    tickets = [f"T{n}" for n in range(12)]
    tickets[3] = "X"
    rounds = _Rounds({"X"}, window=2)
    results = list(hand_out(rounds, tickets, threading.Event(), seconds=1.0))
    assert sorted(_outcomes(results)) == sorted(
        (ticket, CRASHED if ticket == "X" else "rendered") for ticket in tickets)
    # One invoice a task until a batch came back, then at most twice the last batch (0.25 s
    # an invoice would make 4 a second); the dead batches' invoices one a task.
    assert rounds.sizes()[:4] == [1, 1, 2, 2]
    isolating = rounds.handed_out[1:-1]
    assert isolating and all(len(batch) == 1 for batches in isolating
                             for batch in batches.values())


def test_at_a_stop_a_task_whose_worker_dies_is_dropped_not_failed() -> None:
    stop = threading.Event()
    results = []
    for result in hand_out(_Rounds({"X"}), ["A", "X", "B", "C"], stop, seconds=0):
        results.append(result)
        stop.set()
    assert _outcomes(results) == [("A", "rendered")]  # X and B died with it; C never began


def test_at_a_stop_the_waiting_batches_are_given_back_whole_and_in_order() -> None:
    workers, stop = _Workers(set(), window=3), threading.Event()
    queue, sizer = Pending([f"T{n}" for n in range(20)]), Sizer(1.0)
    sizer.saw(_done(4, 1.0))  # 4 invoices a task
    rendered = []
    loop = _round(workers, queue, stop, sizer)  # type: ignore[arg-type]
    with contextlib.suppress(StopIteration):
        while True:
            result = next(loop)
            if not rendered:  # the first batch is done, the next is running, one waits
                workers.running.add(list(workers.batches)[1])
                stop.set()
            rendered.append(str(result.invoice))
    # The running batch finished; the waiting one and the untouched rest come next.
    assert rendered == [f"T{n}" for n in range(8)]
    assert queue.take(100) == [f"T{n}" for n in range(8, 20)]


def _done(count: int, seconds: float, result: Result | None = None) -> Done:
    return Done((result or RenderedPdf("T", b"", 1),) * count, seconds)  # type: ignore[arg-type]


def test_a_task_carries_a_second_of_work_and_the_tail_is_shared_out() -> None:
    sizer, plenty = Sizer(1.0), Pending([f"T{n}" for n in range(1000)])
    assert sizer.size(4, plenty) == 1  # nothing known yet
    sizer.saw(_done(10, 1.0))
    assert sizer.size(4, plenty) == 10
    assert sizer.size(4, Pending([f"T{n}" for n in range(7)])) == 2
    sizer.saw(_done(10, 0.01))  # older batches fade: (1.0 * 0.8 + 0.01) / (10 * 0.8 + 10)
    assert sizer.each == pytest.approx(0.81 / 18)
    assert Sizer(0).size(4, plenty) == 1
    fast = Sizer(60.0)
    fast.saw(_done(1, 0.1))
    assert fast.size(4, plenty) == 2  # at most twice the last batch: it grows, not leaps
    fast.saw(_done(64, 6.4))
    assert fast.size(4, plenty) == MOST_PER_TASK


def test_invoices_that_fail_fast_do_not_make_the_next_batches_huge() -> None:
    sizer, plenty = Sizer(0.25), Pending([f"T{n}" for n in range(1000)])
    sizer.saw(_done(2, 0.4))  # 0.2 s a PDF: one task a PDF or two
    for _ in range(10):  # a stretch of broken records, each failing in a millisecond
        sizer.saw(_done(4, 0.004, RenderFailure("T", "cannot render")))  # type: ignore[arg-type]
    assert sizer.size(2, plenty) == 1 and sizer.each == pytest.approx(0.2)


# The alarm may land in a gc callback (hypothesis installs one in this process), where
# Python drops the exception with this warning; the repeated alarm then stops the render.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_invoice_over_the_render_timeout_fails_alone(tmp_path: Path,
                                                        settings: Settings) -> None:
    rows = [order("WO-1"), *[order("WO-2", item_description=f"Part {n}")
                             for n in range(1500)], order("WO-3")]
    source = write_csv(tmp_path / "in.csv", rows)
    outcome = batch.run([source], replace(settings, render_timeout=1))
    assert [(f.service_ticket, f.reason) for f in outcome.failed] == [(
        "WO-2", "rendering took longer than 1 s (render_timeout)")]
    assert sorted(outcome.rendered) == ["WO-1", "WO-3"]
    assert PdfReader(settings.out / "invoices/INV-WO-3.pdf").pages[0].extract_text()


def test_a_render_error_in_a_worker_is_a_failure_not_a_crash(tmp_path: Path,
                                                             settings: Settings) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "invoice.html").write_text("{{ invoice.total }}{{ invoice.nope.deeper }}")
    pooled = replace(settings, workers=2, templates=templates)
    results = _pooled(_invoices(tmp_path, pooled, 3), pooled)
    assert len(results) == 3
    for result in results:
        assert isinstance(result, RenderFailure) and "invoice.html:1" in result.reason


def test_columns_grow_with_the_longest_value() -> None:
    def invoice(quantity: str, amount: str, number: str = "INV-1") -> dict[str, object]:
        return {"line_items": [{"quantity": quantity, "unit_price": "$9.00",
                                "amount": amount}], "number": number, "date": "11/29/2026",
                "due": "12/29/2026", "ticket": "WO-1", "po_number": "",
                "subtotal": amount, "tax": "$0.00", "total": amount}

    narrow = column_widths(invoice("1", "$9.00"))
    assert narrow == {"quantity": "max(14mm, calc(1ch + 6mm))",
                      "money": "max(24mm, calc(5ch + 6mm))",
                      "facts": "min(55mm, max(20mm, calc(11.5ch + 1mm)))",
                      "totals": "min(58mm, max(28mm, calc(6.25ch + 1mm)))"}
    wide = column_widths(invoice("12,345.5", "98.765.432,10 SAR", "INV-" + "9" * 40))
    assert wide["quantity"] == "max(14mm, calc(8ch + 6mm))"
    assert wide["money"] == "max(24mm, calc(17ch + 6mm))"
    assert wide["facts"] == "min(55mm, max(20mm, calc(50.6ch + 1mm)))"
    assert wide["totals"] == "min(58mm, max(28mm, calc(21.25ch + 1mm)))"


def test_huge_amounts_print_whole(tmp_path: Path, settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1", item_quantity="1234.5",
                                                   item_unit_price="98765432.10")])
    assert batch.run([source], settings).rendered == ["WO-1"]
    text = PdfReader(settings.out / "invoices/INV-WO-1.pdf").pages[0].extract_text()
    assert "$98,765,432.10" in text and "$121,925,925,927.45" in text.replace("\n", " ")


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path, settings: Settings,
                                                           enabled: bool) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    (gc.enable if enabled else gc.disable)()
    try:
        inputs.check([source], settings)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_validate_never_loads_the_renderer(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    script = ("import sys; from pipeline.cli import main\n"
              "try:\n    main(['validate', sys.argv[1]])\n"
              "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
              "assert 'weasyprint' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script, str(source)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={"XOI_PARTNER_ID": "p", "XOI_SHARE_SECRET": "s",
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "checked 1 work order" in done.stdout


def test_workers_die_with_a_run_killed_by_sigkill(tmp_path: Path) -> None:
    """A cron job's kill -9 must not leave render processes behind, waiting forever."""
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(60)])
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(source), "--workers",
                            "2", "--quiet"], cwd=tmp_path, start_new_session=True,
                           env={**os.environ, "XOI_PARTNER_ID": "p", "XOI_SHARE_SECRET": "s"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("output/invoices/*.pdf")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(session_processes(run.pid)) >= 4  # the run, the forkserver and two workers
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while session_processes(run.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = session_processes(run.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_an_invoice_rendered_in_the_run_process_has_the_cycle_collector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WeasyPrint's boxes hold reference cycles: without the collector a run rendering in
    its own process (--workers 1) kept every invoice it rendered (2.4 GB for 1,000)."""
    from click.testing import CliRunner

    from pipeline.cli import main
    from pipeline.render import pdf as render

    seen: list[bool] = []
    original = render.Renderer.pdf

    def pdf(self: render.Renderer, invoice: Invoice) -> tuple[bytes, int]:
        seen.append(gc.isenabled())
        return original(self, invoice)

    monkeypatch.setattr(render.Renderer, "pdf", pdf)
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    result = CliRunner(env={"XOI_PARTNER_ID": "p", "XOI_SHARE_SECRET": "s"}).invoke(
        main, ["run", "in.csv", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert seen == [True, True]
