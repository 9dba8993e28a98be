"""`make bench`: xoi-invoices against the loop a user would write, side by side, one run.

Generates N synthetic confirmed work orders (CSV; one page each with ~6 line items, plus a
few long multi-page ones) and a TOML configuration in a temporary folder, then measures on
this machine:

a. the real CLI, ``run --workers 1`` and ``--workers 2``, as subprocesses into fresh
   output folders: invoices/s and the peak RSS of the largest process;
b. the naive loop (naive.py) in its own Python process: per invoice, Jinja renders the
   same invoice design with an inline SVG QR code and ``HTML(string=...).write_pdf()``
   runs with nothing reused; once as installed (HarfBuzz subsetting) and once as a stock
   install without ``libharfbuzz-subset0`` (``weasyprint.pdf.fonts.harfbuzz_subset =
   None`` in that process only);
c. a re-run of 900 unchanged invoices;
d. ``validate`` of 100,000 CSV rows;
e. peak RSS for 150 and for 900 invoices with ``--workers 2`` (memory must stay flat);
f. ``validate`` of 1,000,000 CSV rows and ``read_file`` alone over them (reading.py);
g. ``run --cluster`` on a Dask scheduler and two workers here against ``--workers 2``, the
   CPU per invoice of the coordinator, the scheduler and the workers, the ceiling of one
   run and the sizing it implies, and the coordinator's store rate (cluster_bench.py);
h. ``validate`` of the 100,000 rows of d. exported as another FSM writes them, through a
   mapping, against d. itself (mapped.py);
i. ``run`` planning 1,000,000 invoices into an empty folder, stopped where rendering
   would start (planning.py);
j. the billing desk's index over a 1,000,000-invoice ledger: its backfill, each kind of
   front-page query (<= 200 ms) and what its triggers cost a night's ledger writes
   (desk_bench.py).

Peak RSS comes from the kernel: every measured command runs under measure.py, which
waits for its whole process tree (the forkserver and the pool workers included) and
reads ``getrusage(RUSAGE_CHILDREN).ru_maxrss``. Inputs come from synthetic.py.

It is a measurement: the exit status is 0 whatever the figures; a missed target prints a
FAIL line.

    make bench            # N=2000
    make bench N=900
    .venv/bin/python benchmarks/bench.py --count 300 --naive 50 --keep /tmp/bench
    .venv/bin/python benchmarks/bench.py --only cluster --count 600   # g. alone
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_bench import bench_cluster, cluster_rows, sizing
from desk_bench import measure_desk
from mapped import Compared, measure_mapping
from planning import measure_planning
from reading import Figure, measure_reading, report_lines
from synthetic import CONFIG, LONG_EVERY, LONG_ITEMS, generate_orders, generate_rows

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).parent / "xoi-invoices"

# Targets of issue 5 on the 2-core machine.
TARGET_VS_NAIVE_HB = 2.5
TARGET_VS_NAIVE_STOCK = 8.0
TARGET_RSS_MB = 250.0
TARGET_FLAT = 0.25
TARGET_RERUN_S = 3.0
TARGET_VALIDATE_S = 5.0
RERUN_COUNT = 900
FLAT_SMALL, FLAT_LARGE = 150, 900
VALIDATE_ROWS = 100_000
RULE = "-" * 100

# ---------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    seconds: float
    status: int
    max_rss_kib: int
    cpu_seconds: float
    main_cpu_seconds: float
    main_hwm_kib: int
    other_hwm_kib: int
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> int:
        """Invoices rendered (CLI) or written (naive loop)."""
        return int(self.extra.get("rendered", self.extra.get("count", 0)))

    @property
    def busy_seconds(self) -> float:
        """The seconds a rate is computed from: the whole command, or the naive loop."""
        return float(self.extra.get("loop_seconds", self.seconds))

    @property
    def rate(self) -> float:
        return self.done / self.busy_seconds if self.done and self.busy_seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU time per invoice, all processes of the command together."""
        cpu = float(self.extra.get("loop_cpu_seconds", self.cpu_seconds))
        return self._per_invoice_ms(cpu)

    @property
    def main_cpu_ms(self) -> float:
        """CPU time per invoice of the command's own process: the CLI's coordinator."""
        return self._per_invoice_ms(self.main_cpu_seconds)

    @property
    def others_cpu_ms(self) -> float:
        """CPU time per invoice of every other process: the forkserver and pool workers."""
        return self._per_invoice_ms(self.cpu_seconds - self.main_cpu_seconds)

    def _per_invoice_ms(self, seconds: float) -> float:
        return seconds / self.done * 1000 if self.done else 0.0


def measure(label: str, command: list[str], work: Path) -> Measured:
    log = work / f"{''.join(c if c.isalnum() else '_' for c in label)}.log"
    wrapper = [sys.executable, str(HERE / "measure.py"), str(log), "--", *command]
    result = subprocess.run(wrapper, capture_output=True, text=True, check=True, cwd=work,
                            env=_environment())
    data = json.loads(result.stdout.strip().splitlines()[-1])
    measured = Measured(label, data["seconds"], data["status"], data["max_rss_kib"],
                        data["cpu_seconds"], data["main_cpu_seconds"], data["main_hwm_kib"],
                        data["other_hwm_kib"], log)
    if not data["subreaper"]:
        print(f"  note: no child subreaper; RSS of orphaned processes may be missing ({label})")
    if measured.status != 0:
        print(f"  FAIL {label}: exit status {measured.status}; last lines of {log}:")
        for line in log.read_text(errors="replace").splitlines()[-5:]:
            print(f"      {line}")
    return measured


def _environment() -> dict[str, str]:
    """The caller's environment without XOI_* settings: the TOML file decides."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("XOI_")}
    environment.pop("SOURCE_DATE_EPOCH", None)
    return environment


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    from importlib.metadata import version

    status = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}",
                             "libharfbuzz-subset0"], capture_output=True, text=True,
                            check=False)
    package = status.stdout.strip()
    installed = package.startswith("install ok installed")
    used = subprocess.run(
        [sys.executable, "-c", "import weasyprint.pdf.fonts as f; "
         "print(f.harfbuzz_subset is not None)"], capture_output=True, text=True, check=False,
    ).stdout.strip() == "True"
    return {
        "cpu": cpu, "cores": str(len(os.sched_getaffinity(0))), "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "weasyprint": version("weasyprint"),
        "harfbuzz_subset": ("libharfbuzz-subset0 " + package.split()[-1] if installed
                            else "libharfbuzz-subset0 not installed")
        + (" (used by WeasyPrint)" if used else " (NOT used by WeasyPrint)"),
    }


def load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def run_cli(label: str, orders: Path, config: Path, out: Path, work: Path, workers: int,
            templates: Path | None) -> Measured:
    command = [str(CLI), "run", str(orders), "--config", str(config), "--out", str(out),
               "--workers", str(workers), "--quiet"]
    if templates is not None:
        command += ["--templates", str(templates)]
    measured = measure(label, command, work)
    report_file = out / "report.json"
    report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    measured.extra = {"workers": workers, "rendered": len(report.get("rendered", [])),
                      "unchanged": len(report.get("unchanged", [])),
                      "failed": len(report.get("failed", [])),
                      "report_seconds": report.get("seconds")}
    return measured


def naive(label: str, orders: Path, count: int, work: Path, stock: bool) -> Measured:
    command = [sys.executable, str(HERE / "naive.py"), str(orders), str(count),
               str(work / label.replace(" ", "-"))]
    if stock:
        command.append("--stock")
    measured = measure(label, command, work)
    lines = measured.log.read_text().strip().splitlines()
    measured.extra = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return measured


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", "-n", type=int, default=2000,
                        help="work orders for the throughput runs [2000]")
    parser.add_argument("--naive", type=int, default=200,
                        help="invoices each naive loop renders, at most --count [200]")
    parser.add_argument("--templates", type=Path,
                        help="pass --templates DIR to every run (to measure a template)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--only", choices=["cluster"],
                        help="measure this part alone: cluster = g. (two runs of --count, "
                             "the store rate)")
    arguments = parser.parse_args()
    count = max(arguments.count, 1)
    naive_count = max(1, min(count, arguments.naive))
    templates = arguments.templates.resolve() if arguments.templates else None

    if arguments.keep:
        work = arguments.keep.resolve()
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="xoi-bench-"))
    info = machine()
    print(f"xoi-invoices benchmark: {count:,} work orders"
          + (f", {arguments.only} only" if arguments.only else
             f", naive loops on {naive_count}")
          + (f", templates {templates}" if templates else ""))
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, {info['os']}, "
          f"Python {info['python']}, WeasyPrint {info['weasyprint']}, "
          f"{info['harfbuzz_subset']}")
    started, load_before = time.perf_counter(), load()
    print(f"load average before: {load_before}")
    try:
        if arguments.only == "cluster":
            figures = bench_cluster(work, _inputs(work, [count])[count], work / "bench.toml",
                                    measure)
        else:
            results = _bench(work, count, naive_count, templates)
            at_scale = measure_reading(work, work / "bench.toml")
            at_scale += measure_planning(work, work / "bench.toml")
            mapped = measure_mapping(work, work / "bench.toml", VALIDATE_ROWS)
            desk = measure_desk(work)
    finally:
        if not arguments.keep:
            shutil.rmtree(work, ignore_errors=True)
    if arguments.only == "cluster":
        _print_cluster(figures, info, (load_before, load()))
    else:
        _print(results, at_scale, mapped, desk, count, naive_count, info,
               (load_before, load()))
    print(f"benchmark took {time.perf_counter() - started:.0f} s")


def _inputs(work: Path, sizes: list[int]) -> dict[int, Path]:
    """The configuration (work/bench.toml) and a synthetic orders file of each size."""
    (work / "bench.toml").write_text(CONFIG, encoding="utf-8")
    inputs = {}
    for size in sorted(set(sizes)):
        inputs[size] = work / f"orders-{size}.csv"
        generate_orders(inputs[size], size)
    return inputs


def _bench(work: Path, count: int, naive_count: int,
           templates: Path | None) -> dict[str, Measured]:
    config = work / "bench.toml"
    inputs = _inputs(work, [count, RERUN_COUNT, FLAT_SMALL, FLAT_LARGE])
    rows = work / f"rows-{VALIDATE_ROWS}.csv"
    generate_rows(rows, VALIDATE_ROWS)
    print(f"inputs generated in {work}")
    results: dict[str, Measured] = {}

    def step(key: str, measured: Measured) -> None:
        results[key] = measured
        print(f"  {measured.label:<44} {measured.seconds:7.1f} s  peak RSS "
              f"{_mb(measured.max_rss_kib):4.0f} MB", flush=True)

    for workers in (1, 2):
        step(f"run{workers}", run_cli(f"run --workers {workers}", inputs[count], config,
                                      work / f"out-w{workers}", work, workers, templates))
    step("naive_harfbuzz", naive("naive loop HarfBuzz", inputs[count], naive_count, work,
                                 stock=False))
    step("naive_stock", naive("naive loop stock", inputs[count], naive_count, work,
                              stock=True))
    for size in (FLAT_SMALL, FLAT_LARGE):
        step(f"flat{size}", run_cli(f"run --workers 2, {size} invoices", inputs[size], config,
                                    work / f"out-{size}", work, 2, templates))
    rerun_out = work / f"out-{RERUN_COUNT}"
    if RERUN_COUNT not in (FLAT_SMALL, FLAT_LARGE):
        run_cli("first run before the re-run", inputs[RERUN_COUNT], config, rerun_out, work,
                2, templates)
    step("rerun", run_cli(f"re-run, {RERUN_COUNT} unchanged", inputs[RERUN_COUNT], config,
                          rerun_out, work, 2, templates))
    step("validate", measure(f"validate {VALIDATE_ROWS:,} rows",
                             [str(CLI), "validate", str(rows), "--config", str(config)], work))
    results["run2"].extra["cluster"] = bench_cluster(work, inputs[count], config, measure)
    return results


def _print(results: dict[str, Measured], at_scale: list[Figure], mapped: Compared,
           desk: tuple[list[str], list[str]], count: int, naive_count: int, info: dict[str, str],
           loads: tuple[str, str]) -> None:
    fails, verdict = _verdicts()
    print()
    print(RULE)
    print(f"{'':<46}{'invoices':>9}{'seconds':>9}{'inv/s':>8}{'CPU ms':>8}"
          f"{'peak RSS MB: largest':>21}{'parent':>8}{'worker':>8}")
    print(RULE)
    rows = (("run1", "xoi-invoices run --workers 1"), ("run2", "xoi-invoices run --workers 2"),
            ("naive_harfbuzz", "naive loop, HarfBuzz subsetter (as installed)"),
            ("naive_stock", "naive loop, stock install (fontTools subset)"),
            ("flat150", f"xoi-invoices run --workers 2, {FLAT_SMALL} invoices"),
            ("flat900", f"xoi-invoices run --workers 2, {FLAT_LARGE} invoices"))
    for key, title in rows:
        measured = results[key]
        pooled = int(measured.extra.get("workers", 1)) > 1
        worker = f"{_mb(measured.other_hwm_kib):8.0f}" if pooled else f"{'-':>8}"
        print(f"{title:<46}{measured.done:>9,}{measured.busy_seconds:>9.1f}"
              f"{measured.rate:>8.2f}{measured.cpu_ms:>8.0f}"
              f"{_mb(measured.max_rss_kib):>21.0f}{_mb(measured.main_hwm_kib):>8.0f}{worker}")
    print(RULE)
    print("seconds: xoi-invoices = the whole command (start-up, read, render, write, ledger);\n"
          "naive = its render loop only (imports and reading excluded). CPU ms: per invoice, "
          "all\nprocesses. RSS in MB of 10^6 bytes: largest = getrusage(RUSAGE_CHILDREN) "
          "ru_maxrss over\nthe whole process tree; parent and worker = highest sampled VmHWM.")
    print(RULE)
    hb, stock, ours = (results[k].rate for k in ("naive_harfbuzz", "naive_stock", "run2"))
    ratio_hb = ours / hb if hb else 0.0
    ratio_stock = ours / stock if stock else 0.0
    scale = ours / results["run1"].rate if results["run1"].rate else 0.0
    runs = ("run1", "run2", "flat150", "flat900")
    peak = max(_mb(results[key].max_rss_kib) for key in runs)
    small, large = (_mb(results[key].max_rss_kib) for key in ("flat150", "flat900"))
    growth = (large - small) / small if small else 0.0
    failed = sum(int(results[key].extra.get("failed", 0)) for key in runs)
    complete = all(results[key].done == expected for key, expected in
                   (("run1", count), ("run2", count), ("flat150", FLAT_SMALL),
                    ("flat900", FLAT_LARGE), ("naive_harfbuzz", naive_count),
                    ("naive_stock", naive_count)))
    rerun, validate = results["rerun"], results["validate"]
    table = [
        (f"run --workers 2 vs naive loop with HarfBuzz   >= {TARGET_VS_NAIVE_HB}x",
         f"{ratio_hb:.2f}x", verdict(ratio_hb >= TARGET_VS_NAIVE_HB, "ratio vs naive HarfBuzz")),
        (f"run --workers 2 vs naive loop, stock install  >= {TARGET_VS_NAIVE_STOCK:.0f}x",
         f"{ratio_stock:.2f}x",
         verdict(ratio_stock >= TARGET_VS_NAIVE_STOCK, "ratio vs naive stock install")),
        ("run --workers 2 vs --workers 1                (information)", f"{scale:.2f}x", ""),
        (f"peak RSS of the largest process, every run    <= {TARGET_RSS_MB:.0f} MB",
         f"{peak:.0f} MB", verdict(peak <= TARGET_RSS_MB, "peak RSS")),
        (f"peak RSS {FLAT_SMALL} vs {FLAT_LARGE} invoices, --workers 2    within "
         f"{TARGET_FLAT:.0%}", f"{small:.0f} / {large:.0f} MB ({growth:+.0%})",
         verdict(abs(growth) <= TARGET_FLAT, "flat memory")),
        (f"re-run of {RERUN_COUNT} unchanged invoices              <= {TARGET_RERUN_S:.0f} s",
         f"{rerun.seconds:.2f} s",
         verdict(rerun.seconds <= TARGET_RERUN_S and rerun.status == 0
                 and rerun.extra.get("rendered") == 0
                 and rerun.extra.get("unchanged") == RERUN_COUNT, "re-run")),
        (f"validate {VALIDATE_ROWS:,} rows                        <= "
         f"{TARGET_VALIDATE_S:.0f} s", f"{validate.seconds:.2f} s",
         verdict(validate.seconds <= TARGET_VALIDATE_S and validate.status == 0, "validate")),
        ("every invoice rendered, every command exit 0", f"{failed} failed",
         verdict(failed == 0 and complete and all(m.status == 0 for m in results.values()),
                 "failures")),
    ]
    table += cluster_rows(results["run2"].extra["cluster"], verdict)
    _print_targets(table)
    print("\n".join(sizing(results["run2"].extra["cluster"])))
    print(RULE)
    for figure, text in zip(at_scale, report_lines(at_scale), strict=True):
        print(text)
        if figure.verdict() == "FAIL":
            fails.append(figure.label)
    print(RULE)
    print("\n".join(mapped.lines()))
    if not mapped.ok():
        fails.append("validate through a mapping vs our format")
    print(RULE)
    print("\n".join(desk[0]))
    fails += desk[1]
    print(RULE)
    print(f"validate {VALIDATE_ROWS:,} rows: peak RSS {_mb(validate.max_rss_kib):.0f} MB "
          f"(information); re-run peak RSS {_mb(rerun.max_rss_kib):.0f} MB")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; Python "
          f"{info['python']}; WeasyPrint {info['weasyprint']}; {info['harfbuzz_subset']}")
    print(f"load average before/after: {loads[0]} / {loads[1]} (other work on the machine "
          "slows every figure)")
    print(f"inputs: {count:,} synthetic work orders (~6 line items, 1 page; a {LONG_ITEMS}-item "
          f"4-page one every {LONG_EVERY}); naive loops on the first {naive_count}")
    _print_fails(fails)


def _print_cluster(figures: dict[str, Any], info: dict[str, str],
                   loads: tuple[str, str]) -> None:
    """``--only cluster``: g.'s rows of the target table, and the sizing."""
    fails, verdict = _verdicts()
    print()
    _print_targets(cluster_rows(figures, verdict))
    print("\n".join(sizing(figures)))
    print(RULE)
    print(f"machine: {info['cpu']}, {info['cores']} cores; load average before/after: "
          f"{loads[0]} / {loads[1]} (other work on the machine slows the rates, hardly the "
          "CPU per invoice)")
    _print_fails(fails)


def _verdicts() -> tuple[list[str], Callable[[bool, str], str]]:
    """The list of missed targets, and the function that judges one into it."""
    fails: list[str] = []

    def verdict(ok: bool, what: str) -> str:
        if not ok:
            fails.append(what)
        return "PASS" if ok else "FAIL"

    return fails, verdict


def _print_targets(table: list[tuple[str, str, str]]) -> None:
    print(f"{'target':<62}{'measured':>24}{'result':>10}")
    print(RULE)
    for what, value, result in table:
        print(f"{what:<62}{value:>24}{result:>10}")
    print(RULE)


def _print_fails(fails: list[str]) -> None:
    for what in fails:
        print(f"FAIL: {what}")
    if not fails:
        print("all targets PASS")


if __name__ == "__main__":
    main()
