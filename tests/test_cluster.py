"""Rendering on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes
on 127.0.0.1, the shape of a deployment, started once for this file and stopped after it."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from pipeline import batch  # noqa: E402
from pipeline.core.config import Settings  # noqa: E402
from pipeline.core.errors import ConfigError  # noqa: E402
from pipeline.core.template_files import BUILT_IN  # noqa: E402
from pipeline.render import cluster as on_cluster  # noqa: E402
from pipeline.render import cluster_worker  # noqa: E402
from pipeline.render.bundle import bundle  # noqa: E402
from pipeline.render.tasks import CRASHED  # noqa: E402

from .conftest import ENV, order, write_csv  # noqa: E402

pytestmark = pytest.mark.cluster
DASK = Path(sys.executable).with_name("dask")
POISON = Path(__file__).with_name("cluster_poison.py")
READY = 60  # seconds for the processes to come up


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Cluster:
    address: str
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        """A ``dask worker`` (its nanny restarts it when it dies) in a session of its own."""
        worker = subprocess.Popen(
            [str(DASK), "worker", self.address, "--nthreads", "1", "--no-dashboard",
             "--host", "127.0.0.1", "--preload", str(POISON),
             "--local-directory", str(self.folder)],
            cwd=self.folder, env={**os.environ, **env}, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(worker)
        return worker

    def wait_for(self, count: int) -> None:
        with distributed.Client(self.address, timeout=READY) as client:
            deadline = time.monotonic() + READY
            while len(client.scheduler_info(n_workers=-1)["workers"]) != count:
                assert time.monotonic() < deadline, f"not {count} workers in {READY} s"
                time.sleep(0.2)

    def worker_pids(self) -> dict[str, int]:
        with distributed.Client(self.address, timeout=READY) as client:
            pids: dict[str, int] = client.run(os.getpid)
            return pids

    def worker_of(self, process: subprocess.Popen[bytes]) -> str:
        """The address of the worker a ``dask worker`` process started."""
        return next(address for address, pid in self.worker_pids().items()
                    if pid in _children(process.pid))

    def stats(self) -> dict[str, dict[str, dict[str, int]]]:
        """:func:`cluster_worker.stats` of each worker, by address."""
        with distributed.Client(self.address, timeout=READY) as client:
            found: dict[str, dict[str, dict[str, int]]] = client.run(cluster_worker.stats)
            return found

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        self.processes.remove(process)


@contextlib.contextmanager
def _started(folder: Path, workers: int) -> Iterator[Cluster]:
    port = _free_port()
    found = Cluster(f"tcp://127.0.0.1:{port}", folder)
    try:
        # Two deaths make a task a poison invoice here (three by default): a shorter test.
        found.processes.append(subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], cwd=folder, start_new_session=True,
            env={**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(workers):
            found.start_worker()
        found.wait_for(workers)
        yield found
    finally:
        for process in list(found.processes):
            found.stop(process)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with _started(tmp_path_factory.mktemp("dask"), 2) as started:
        yield started


@dataclass
class Sent:
    """The render tasks a run submitted: each one's digest and pickled batch, as sent."""

    tasks: list[tuple[str, bytes]] = field(default_factory=list)

    def batches(self) -> list[list[Any]]:
        return [pickle.loads(payload) for _, payload in self.tasks]  # noqa: S301 (our own)

    def sizes(self) -> list[int]:
        return [len(invoices) for invoices in self.batches()]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Records what the run hands to ``Client.submit``, which still sends it."""
    found = Sent()
    submit = distributed.Client.submit

    def recording(client: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        if function is cluster_worker.render_batch:
            found.tasks.append(args)
        return submit(client, function, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", recording)
    return found


def _custom(settings: Settings, folder: Path) -> Settings:
    """Settings with override templates (a marked stylesheet) and a logo."""
    templates = folder / "templates"
    templates.mkdir()
    css = (BUILT_IN / "invoice.css").read_text()
    (templates / "invoice.css").write_text(css + "\nh1 { letter-spacing: 1px; } /* MARK */\n")
    logo = folder / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
                    '<rect width="4" height="4"/></svg>')
    return replace(settings, templates=templates, company=replace(settings.company, logo=logo))


def _output(out: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in (out / "invoices").glob("*.pdf")}
    files["manifest.csv"] = (out / "manifest.csv").read_bytes()
    return files


def test_a_cluster_run_writes_the_bytes_of_a_local_run(tmp_path: Path, settings: Settings,
                                                       cluster: Cluster) -> None:
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}", share_id="") for n in range(8)])
    local = batch.run([source], replace(settings, out=tmp_path / "local", workers=2))
    remote = batch.run([source], replace(settings, out=tmp_path / "remote",
                                         cluster=cluster.address))
    assert not remote.failed, remote.failed
    assert sorted(remote.rendered) == sorted(local.rendered) == [f"WO-{n}" for n in range(8)]
    assert _output(tmp_path / "remote") == _output(tmp_path / "local")


def test_override_templates_and_logo_reach_the_workers(tmp_path: Path, settings: Settings,
                                                       cluster: Cluster) -> None:
    custom = _custom(settings, tmp_path)
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    batch.run([source], replace(custom, out=tmp_path / "local", workers=2))
    batch.run([source], replace(custom, out=tmp_path / "remote", cluster=cluster.address))
    assert _output(tmp_path / "remote") == _output(tmp_path / "local")


def test_a_task_renders_a_batch_of_invoices(tmp_path: Path, settings: Settings,
                                            cluster: Cluster, sent: Sent,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(on_cluster, "TASK_SECONDS", 60.0)  # as large as the loop allows
    tickets = [f"WO-{n}" for n in range(40)]
    source = write_csv(tmp_path / "in.csv", [order(ticket) for ticket in tickets])
    outcome = batch.run([source], replace(settings, cluster=cluster.address))
    assert not outcome.failed and sorted(outcome.rendered) == sorted(tickets)
    assert len(sent.tasks) < 40 and sum(sent.sizes()) == 40, sent.sizes()
    batch.run([source], replace(settings, out=tmp_path / "local"))
    assert _output(settings.out) == _output(tmp_path / "local")


def test_a_poison_invoice_in_a_batch_fails_alone(tmp_path: Path, settings: Settings,
                                                 cluster: Cluster, sent: Sent,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(on_cluster, "TASK_SECONDS", 60.0)
    tickets = [f"WO-{n}" for n in range(20)]
    rows = [*map(order, tickets[:10]), order("POISON-1"), *map(order, tickets[10:])]
    outcome = batch.run([write_csv(tmp_path / "in.csv", rows)],
                        replace(settings, cluster=cluster.address))
    assert [(f.service_ticket, f.reason) for f in outcome.failed] == [("POISON-1", CRASHED)]
    assert sorted(outcome.rendered) == sorted(tickets)
    first = next(invoices for invoices in sent.batches()
                 if "POISON-1" in [invoice.ticket for invoice in invoices])
    assert len(first) > 1, "the poison invoice was not sent in a batch"
    cluster.wait_for(2)


def test_the_bundle_travels_once_per_worker_and_warms_it_before_the_run(
        tmp_path: Path, settings: Settings, cluster: Cluster, sent: Sent) -> None:
    custom = replace(_custom(settings, tmp_path), cluster=cluster.address)
    digest = bundle(custom).digest
    before: dict[str, dict[str, dict[str, int]]] = {}

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "start":  # planned, nothing rendered yet
            before.update(cluster.stats())

    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(6)])
    assert len(batch.run([source], custom, progress=progress).rendered) == 6
    assert len(before) == 2
    for address, held in before.items():
        assert (held["renderings"].get(digest), held["setups"].get(digest),
                held["batches"].get(digest)) == (1, 1, 0), (address, held)
    assert sent.tasks and {task_digest for task_digest, _ in sent.tasks} == {digest}
    for (_, payload), size in zip(sent.tasks, sent.sizes(), strict=True):
        assert len(payload) < 2000 * size, (len(payload), size)
        assert b"MARK" not in payload and b"<svg" not in payload and b"Bundle" not in payload
    again = batch.run([source], replace(custom, out=tmp_path / "again"))
    assert len(again.rendered) == 6
    after = cluster.stats()
    assert all(held["setups"].get(digest) == 1 for held in after.values()), after
    assert sum(held["batches"].get(digest, 0) for held in after.values()) == len(sent.tasks)


def test_renderers_pushed_out_by_other_runs_are_built_again(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    """More tenants than a worker keeps warm: the run goes on, its Renderers rebuilt from
    its plugin, instead of ending with "not prepared"."""
    remote = replace(settings, cluster=cluster.address)
    digest = bundle(remote).digest

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "start":  # prepared, nothing rendered yet: as if other runs evicted it
            with distributed.Client(cluster.address, timeout=READY) as client:
                client.run(lambda: cluster_worker._STATE.clear())  # there, not a copy

    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(4)])
    outcome = batch.run([source], remote, progress=progress)
    assert sorted(outcome.rendered) == [f"WO-{n}" for n in range(4)] and not outcome.failed
    rebuilt = [held for held in cluster.stats().values() if held["batches"].get(digest)]
    assert rebuilt and all(held["setups"][digest] >= 2 for held in rebuilt), rebuilt


def test_a_run_s_plugin_is_named_by_its_bundle_and_its_folder(tmp_path: Path,
                                                               settings: Settings) -> None:
    package = bundle(settings)
    names = {on_cluster.plugin_name(replace(settings, out=tmp_path / folder), package)
             for folder in ("a", "a/../a", "b")}
    assert len(names) == 2 and all(name.startswith(f"xoi-invoices-{package.digest[:16]}-")
                                   for name in names)


def test_a_worker_keeps_the_renderers_of_every_run_still_going() -> None:
    """Past the runs a worker keeps warm, only those whose run is over (plugin removed) are
    dropped: six tenants at once must not rebuild Renderers on every task."""
    from types import SimpleNamespace

    running = {f"plugin-{n}": cluster_worker.Prepare(SimpleNamespace(digest=f"d{n}"))  # type: ignore[arg-type]
               for n in range(6)}
    worker = SimpleNamespace(plugins=running)
    saved = dict(cluster_worker._STATE)
    cluster_worker._STATE.clear()
    try:
        for n in range(6):
            cluster_worker._keep(f"d{n}", ConfigError("stand-in"), worker)
        assert list(cluster_worker._STATE) == [f"d{n}" for n in range(6)]
        del running["plugin-0"], running["plugin-2"]  # those two runs ended
        cluster_worker._keep("d6", ConfigError("stand-in"), worker)
        assert list(cluster_worker._STATE) == ["d1", "d3", "d4", "d5", "d6"]
    finally:
        cluster_worker._STATE.clear()
        cluster_worker._STATE.update(saved)


def test_a_worker_that_joins_mid_run_is_prepared_before_it_renders(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    custom = _custom(settings, tmp_path)
    tickets = [f"WO-{n}" for n in range(40)]
    source = write_csv(tmp_path / "in.csv", [order(ticket) for ticket in tickets])
    joined: list[subprocess.Popen[bytes]] = []

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "rendered" and not joined:
            joined.append(cluster.start_worker())
            cluster.wait_for(3)

    remote = replace(custom, cluster=cluster.address)
    try:
        outcome = batch.run([source], remote, progress=progress)
        newcomer = cluster.stats()[cluster.worker_of(joined[0])]
    finally:
        for process in joined:
            cluster.stop(process)
    cluster.wait_for(2)
    digest = bundle(remote).digest
    assert newcomer["setups"] == {digest: 1} and newcomer["renderings"] == {digest: 1}
    assert newcomer["batches"].get(digest, 0) >= 1, newcomer
    assert not outcome.failed and sorted(outcome.rendered) == sorted(tickets)
    batch.run([source], replace(custom, out=tmp_path / "local"))
    assert _output(settings.out) == _output(tmp_path / "local")


def test_a_worker_killed_mid_run_costs_no_invoice(tmp_path: Path, settings: Settings,
                                                  cluster: Cluster) -> None:
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(16)])
    victim = next(iter(cluster.worker_pids().values()))
    killed = []

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "rendered" and not killed:
            os.kill(victim, signal.SIGKILL)  # its nanny starts a fresh one
            killed.append(victim)

    outcome = batch.run([source], replace(settings, cluster=cluster.address),
                        progress=progress)
    assert killed and not outcome.failed
    assert sorted(outcome.rendered) == sorted(f"WO-{n}" for n in range(16))
    reference = batch.run([source], replace(settings, out=tmp_path / "local"))
    assert _output(settings.out) == _output(tmp_path / "local") and reference.rendered
    cluster.wait_for(2)


def test_an_invoice_that_kills_every_worker_fails_alone(tmp_path: Path, settings: Settings,
                                                        cluster: Cluster) -> None:
    rows = [order("POISON-1"), *(order(f"WO-{n}") for n in range(6))]
    source = write_csv(tmp_path / "in.csv", rows)
    outcome = batch.run([source], replace(settings, cluster=cluster.address))
    assert [(f.service_ticket, f.reason) for f in outcome.failed] == [("POISON-1", CRASHED)]
    assert sorted(outcome.rendered) == [f"WO-{n}" for n in range(6)]
    cluster.wait_for(2)


def test_the_render_timeout_holds_on_workers(tmp_path: Path, settings: Settings,
                                             cluster: Cluster) -> None:
    rows = [order("WO-1"), *[order("WO-2", item_description=f"Part {n}")
                             for n in range(1500)], order("WO-3")]
    source = write_csv(tmp_path / "in.csv", rows)
    outcome = batch.run([source], replace(settings, cluster=cluster.address,
                                          render_timeout=1))
    assert [(f.service_ticket, f.reason) for f in outcome.failed] == [(
        "WO-2", "rendering took longer than 1 s (render_timeout)")]
    assert sorted(outcome.rendered) == ["WO-1", "WO-3"]


def test_a_worker_with_other_fonts_is_refused_before_anything_renders(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    odd = cluster.start_worker(FONTCONFIG_FILE=_only_dejavu(tmp_path))
    try:
        cluster.wait_for(3)
        odd_address = cluster.worker_of(odd)
        source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
        with pytest.raises(ConfigError) as refused:
            batch.run([source], replace(settings, cluster=cluster.address))
        assert f"worker {odd_address} would render different bytes: font Noto Sans: " \
            "/usr/share/fonts/truetype/dejavu/" in str(refused.value)
        assert not settings.out.exists()  # refused before the folder is taken
    finally:
        cluster.stop(odd)
    cluster.wait_for(2)


def test_a_worker_with_other_fonts_that_joins_mid_run_ends_it_on_its_first_task(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(40)])
    joined: list[subprocess.Popen[bytes]] = []

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "rendered" and not joined:
            joined.append(cluster.start_worker(FONTCONFIG_FILE=_only_dejavu(tmp_path)))
            cluster.wait_for(3)

    try:
        with pytest.raises(ConfigError) as refused:
            batch.run([source], replace(settings, cluster=cluster.address), progress=progress)
        odd_address = cluster.worker_of(joined[0])
    finally:
        for process in joined:
            cluster.stop(process)
    cluster.wait_for(2)
    assert str(refused.value).startswith(f"worker {odd_address} would render different "
                                         "bytes: font Noto Sans: /usr/share/fonts/truetype/dejavu/")
    rerun = batch.run([source], settings)  # what was stored before stays recorded
    assert rerun.unchanged and len(rerun.rendered) + len(rerun.unchanged) == 40


def _only_dejavu(folder: Path) -> str:
    """A fontconfig file that knows only DejaVu: a worker with other fonts."""
    fonts = folder / "fonts.conf"
    fonts.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
                     "<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir>"
                     f"<cachedir>{folder}/cache</cachedir></fontconfig>")
    return str(fonts)


def test_a_stop_request_ends_a_cluster_run_and_the_next_run_completes_it(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    tickets = [f"WO-{n}" for n in range(12)]
    source = write_csv(tmp_path / "in.csv", [order(ticket) for ticket in tickets])
    stop = threading.Event()

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "rendered":
            stop.set()  # as the first Ctrl-C does

    remote = replace(settings, cluster=cluster.address)
    first = batch.run([source], remote, progress=progress, stop=stop)
    assert first.interrupted and first.left > 0 and not first.failed
    second = batch.run([source], remote)
    assert sorted([*first.rendered, *second.rendered]) == sorted(tickets)
    batch.run([source], replace(settings, out=tmp_path / "local"))
    assert _output(settings.out) == _output(tmp_path / "local")


def test_a_scheduler_lost_mid_run_is_one_error_and_what_was_stored_stays(
        tmp_path: Path, settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(12)])
    with _started(tmp_path, 1) as lonely:
        scheduler = lonely.processes[0]

        def progress(event: str, data: dict[str, object]) -> None:
            if event == "rendered" and scheduler.poll() is None:
                os.killpg(scheduler.pid, signal.SIGKILL)

        with pytest.raises(ConfigError, match="lost the Dask scheduler mid-run"):
            batch.run([source], replace(settings, cluster=lonely.address), progress=progress)
    stored = list(settings.out.glob("invoices/*.pdf"))
    assert stored
    rerun = batch.run([source], settings)  # locally: the next run renders only the rest
    assert len(rerun.rendered) == 12 - len(stored) and len(rerun.unchanged) == len(stored)


def test_distributed_logs_are_quiet_only_while_the_client_is_open(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    """A host application's own lines on the ``distributed`` logger are heard after a run."""
    log = logging.getLogger("distributed")
    level, heard = log.level, list[str]()
    handler = logging.Handler()
    handler.emit = lambda record: heard.append(record.getMessage())  # type: ignore[method-assign]

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "rendered":
            log.warning("during the run")

    log.addHandler(handler)
    try:
        source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
        batch.run([source], replace(settings, cluster=cluster.address), progress=progress)
        log.warning("after the run")
    finally:
        log.removeHandler(handler)
    assert (heard, log.level) == (["after the run"], level)


def _children(pid: int) -> set[int]:
    """``pid`` and its descendants."""
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.add(int(stat.parent.name))
                    frontier.append(int(stat.parent.name))
    return found


def _cli(args: list[str], cwd: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    script = f"{prelude}\nimport sys\nfrom pipeline.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **ENV})


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    done = _cli(["run", str(source), "--cluster", f"tcp://127.0.0.1:{_free_port()}"],
                tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: tcp://127.0.0.1:") and \
        "cannot reach the Dask scheduler" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("address", ["tcp://[::1", "tcp://", "tcp://localhost:abc",
                                     "foo://x"])
def test_a_malformed_scheduler_address_is_one_line_at_once(tmp_path: Path,
                                                          address: str) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    done = _cli(["run", str(source), "--cluster", address], tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"Error: {address}: not a Dask scheduler's address; write it like "
           "tcp://10.0.0.5:8786\n")


def test_without_the_cluster_extra_cluster_is_one_clear_error(tmp_path: Path) -> None:
    blocked = ("import sys\n"
               "class Blocked:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('distributed', 'dask'):\n"
               "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
               "sys.meta_path.insert(0, Blocked())\n")
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    done = _cli(["run", str(source), "--cluster", "tcp://127.0.0.1:8786"], tmp_path, blocked)
    assert done.returncode == 2
    assert done.stderr == "Error: tcp://127.0.0.1:8786: --cluster needs Dask: pip install " \
        "'xoi-invoices[cluster]'\n"


def test_the_scheduler_is_checked_before_any_input_is_read(tmp_path: Path) -> None:
    """A named pipe as the input: reading it would block, and the subprocess time out."""
    from pipeline.render.cluster import CONNECT_TIMEOUT

    fifo = tmp_path / "orders.csv"
    os.mkfifo(fifo)
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    done = _cli(["run", str(fifo), "--out", str(tmp_path / "out"), "--cluster", address],
                tmp_path)
    assert time.monotonic() - started < CONNECT_TIMEOUT + 5
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"Error: {address}: cannot reach the Dask scheduler")
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_hides_no_error_under_rejected_records(tmp_path: Path) -> None:
    rows = [order(f"WO-{n}", item_unit_price="x") for n in range(20)]
    source = write_csv(tmp_path / "in.csv", rows)
    done = _cli(["run", str(source), "--out", str(tmp_path / "out"), "--cluster",
                 f"tcp://127.0.0.1:{_free_port()}"], tmp_path)
    assert done.returncode == 2 and "rejected" not in done.stderr + done.stdout
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_an_oserror_of_the_run_itself_is_not_a_lost_scheduler(
        tmp_path: Path, settings: Settings, cluster: Cluster) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "rendered":
            raise PermissionError("the output folder said no")

    with pytest.raises(PermissionError, match="the output folder said no"):
        batch.run([source], replace(settings, cluster=cluster.address), progress=progress)
