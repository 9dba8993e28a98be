"""Rendering on a Dask cluster (``run --cluster ADDRESS``): the third executor.

The machine that runs the batch stays the only writer: Dask workers only turn invoices
into PDF bytes, and the results come back here to be stored as each batch completes.
What a worker needs, a :class:`.bundle.Bundle`, travels once per worker: :func:`connected`
registers it as a worker plugin (:mod:`.cluster_worker`), whose setup checks the worker
and builds one Renderer per worker thread before the run reads any input, so the first
invoice costs what the others cost. A task carries the bundle's digest and a batch of
invoices sized to about :data:`TASK_SECONDS` of work (:func:`.tasks.hand_out`).

The scheduler comes first: :func:`connected`, which the batch enters before it reads any
input, reaches the scheduler, waits for a worker and compares every worker's fingerprint
(:mod:`.identity`) with this machine's. A worker that joins later is prepared (checked
and warmed) before it takes a task; if its check failed, its first task raises the
refusal. A difference is :class:`ConfigError` naming the worker and the item (exit 2); so
is a scheduler that cannot be reached, told within :data:`CONNECT_TIMEOUT`.

Faults, as in a local run: Dask gives the tasks of a worker that died to another one; a
batch that kills every worker it lands on comes back as ``KilledWorker`` after the
scheduler's ``distributed.scheduler.allowed-failures``; its invoices are rendered again
in batches of one, then alone (the scheduler also blames the innocent tasks a dying
worker held), and the culprit fails alone with :data:`.tasks.CRASHED`; ``render_timeout``
is held in the worker's thread (:mod:`.deadline`). A scheduler that goes away mid-run ends
the run with one line (exit 2); what was stored until then stays recorded. Dask's errors
become ours in two places: :func:`connected` before the run, :func:`_mid_run` while it
renders.

At most :data:`IN_FLIGHT_PER_THREAD` tasks per worker thread are out at once, so this
machine's memory stays flat whatever the batch's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import socket
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from queue import Empty, SimpleQueue

import distributed
from distributed import Client, Future, KilledWorker
from distributed.comm.addressing import parse_address, parse_host_port
from distributed.comm.core import CommClosedError
from distributed.comm.registry import get_backend

from ..core.config import Settings
from ..core.errors import ConfigError
from ..core.models import Invoice
from ..core.stop import Stop
from .bundle import Bundle, bundle
from .cluster_worker import Prepare, refused, render_batch, worker_fingerprint
from .identity import differences
from .pdf import Renderer
from .seam import GRACE, ExecutorFor, Result
from .tasks import Done, hand_out

CONNECT_TIMEOUT = 10  # seconds to reach the scheduler, and for a first worker to join
IN_FLIGHT_PER_THREAD = 2  # tasks handed out per worker thread: busy, yet memory stays flat
TASK_SECONDS = 2.0  # of a worker's time per task: the scheduler pays for a task once in 2 s
_RESIZE = 5.0  # seconds between looks at how many worker threads the cluster has
_LOST = (OSError, CommClosedError, distributed.TimeoutError)


@contextlib.contextmanager
def connected(settings: Settings) -> Iterator[ExecutorFor]:
    """Executors over one client of the scheduler at ``settings.cluster``, made before the
    run reads its inputs: the scheduler answers, a worker has joined it, the templates
    and logo hold, and every worker would render this machine's bytes. The client closes
    when the block ends.

    What Dask raises on the way becomes one ConfigError (exit 2), worded for where it went
    wrong; what it raises while rendering is :func:`_mid_run`'s. distributed's own log
    lines would come on top of that line (and break --log-format json), so they are kept
    quiet while the client is open.
    """
    address = settings.cluster or ""
    _check_address(address)
    with _quiet_distributed():
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as error:  # refused, timed out, or not a Dask scheduler at all
            raise ConfigError(f"cannot reach the Dask scheduler: {error}",
                              source=address) from None
        try:
            with _checking(address):
                try:
                    client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
                except distributed.TimeoutError:
                    raise ConfigError(f"no Dask worker joined the scheduler in "
                                      f"{CONNECT_TIMEOUT} s", source=address) from None
            # After the connection: an unreachable scheduler is told first.
            Renderer(settings)  # a broken template or logo fails here, before any task is sent
            package = bundle(settings)
            plugin = plugin_name(settings, package)
            try:
                with _checking(address):
                    _check(client, package, address)
                    # Returns once every worker has checked itself and built its Renderers:
                    # the warm-up is done before the night's clock starts.
                    client.register_plugin(Prepare(package), name=plugin)
                yield lambda count: Cluster(client, package, address)
            finally:  # refused by one worker, the plugin is registered on the others
                # A scheduler gone took the plugin with it: asking would wait for a reconnect.
                with contextlib.suppress(Exception):
                    if client.status == "running":
                        client.unregister_worker_plugin(plugin)
        finally:
            with contextlib.suppress(*_LOST):
                client.close(timeout=GRACE)


def plugin_name(settings: Settings, package: Bundle) -> str:
    """The run's worker plugin, named by its bundle and its output folder, not by the run:
    a run killed before it could remove its plugin leaves one behind (the scheduler keeps
    it), which that folder's next run replaces, instead of one more every night for each
    joining worker to set up; and two runs of one bundle into two folders (the lock keeps
    two out of one) never remove each other's."""
    folder = f"{socket.gethostname()}:{settings.out.resolve()}"
    return f"xoi-invoices-{package.digest[:16]}-{hashlib.sha256(folder.encode()).hexdigest()[:8]}"


class Cluster:
    """Renders on the scheduler a :func:`connected` client reaches."""

    def __init__(self, client: Client, package: Bundle, address: str) -> None:
        self.client, self.bundle, self.address = client, package, address

    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        with _mid_run(self.address):
            yield from hand_out(lambda queue: contextlib.nullcontext(
                _OnCluster(self.client, self.bundle)), invoices, stop, seconds=TASK_SECONDS)


def _check(client: Client, package: Bundle, address: str) -> None:
    """Refuse the run when a worker would render different bytes, before any does."""
    here = dict(package.fingerprint)
    found: Mapping[str, object] = client.run(worker_fingerprint, package.families,
                                             on_error="return")
    for worker, theirs in sorted(found.items()):
        if isinstance(theirs, BaseException):
            raise ConfigError(f"worker {worker} cannot report its render fingerprint "
                              f"({type(theirs).__name__}: {theirs}); install "
                              "xoi-invoices[cluster] there", source=address)
        mismatch = differences(here, theirs)  # type: ignore[arg-type]
        if mismatch:
            raise refused(worker, mismatch)


def _check_address(address: str) -> None:
    """A bad address is told before a Client exists: a failed one's clean-up prints a
    traceback and waits for its own timeout."""
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss") and not parse_host_port(location, 8786)[0]:
            raise ValueError("no host")
    except ValueError:
        raise ConfigError("not a Dask scheduler's address; write it like tcp://10.0.0.5:8786",
                          source=address) from None


@contextlib.contextmanager
def _checking(address: str) -> Iterator[None]:
    """Before the run: the scheduler stops answering while its workers are looked at."""
    try:
        yield
    except _LOST as error:
        raise ConfigError(f"lost the Dask scheduler before rendering: {error}",
                          source=address) from None


class _TaskRaised(Exception):
    """What a render task raised on its worker (the one argument): :func:`_mid_run`
    words it."""


@contextlib.contextmanager
def _mid_run(address: str) -> Iterator[None]:
    """While the invoices render, and only then: what comes from the run's own folder or
    inputs is never a lost scheduler."""
    try:
        yield
    except _TaskRaised as raised:
        failed = raised.args[0]
        raise ConfigError(f"a Dask worker could not run the render task: "
                          f"{type(failed).__name__}: {failed}") from None
    except _LOST as error:
        raise ConfigError(f"lost the Dask scheduler mid-run: {error}; the invoices "
                          "stored so far are recorded, the next run renders the rest",
                          source=address) from None


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


class _OnCluster:
    """The cluster's workers as the loop sees them: one round takes the whole run, as Dask
    gives the tasks of a worker that died to another one."""

    def __init__(self, client: Client, package: Bundle) -> None:
        self.client, self.digest = client, package.digest
        # What as_completed does, with a timeout: the loop must look at ``stop`` meanwhile.
        self.done: SimpleQueue[Future[Done]] = SimpleQueue()
        self.window, self.resized, self.stopping = 0, float("-inf"), False

    def room(self) -> int:
        """Enough tasks to keep every worker thread busy, as many as the cluster has now."""
        if time.monotonic() - self.resized > _RESIZE:
            threads: int = sum(self.client.nthreads().values())
            self.window, self.resized = max(2, IN_FLIGHT_PER_THREAD * threads), time.monotonic()
        return self.window

    def submit(self, batch: Sequence[Invoice]) -> Future[Done]:
        # The invoices as bytes: the scheduler passes them on without unpickling them.
        task: Future[Done] = self.client.submit(render_batch, self.digest,
                                                pickle.dumps(list(batch)), pure=False)
        task.add_done_callback(self.done.put)
        return task

    def finished(self, out: Collection[Future[Done]],
                 timeout: float) -> Collection[Future[Done]]:
        try:
            return [self.done.get(timeout=timeout)]
        except Empty:
            return []

    def result(self, task: Future[Done]) -> Done | None:
        if task.status == "cancelled":  # not by us, who no longer count it as out
            if self.stopping:
                return None  # dropped, as everything still out at a stop may be
            raise CommClosedError("the client was closed")  # it gave up on the scheduler
        if task.status == "error":  # raised on a worker: an OSError there is no lost scheduler
            failed = task.exception()
            if isinstance(failed, KilledWorker):  # the scheduler gave up: its workers died
                return None
            if isinstance(failed, ConfigError):
                raise failed  # a worker that would render other bytes
            raise _TaskRaised(failed)
        result: Done = task.result()  # what fails here is fetching it: the scheduler gone
        return result

    def cancel_waiting(self, out: Collection[Future[Done]]) -> list[Future[Done]]:
        self.stopping = True
        running = {key for keys in self.client.processing().values() for key in keys}
        waiting = [task for task in out if task.key not in running]
        self.client.cancel(waiting)
        return waiting

    def end(self, out: Collection[Future[Done]]) -> None:
        self.client.cancel(list(out))  # dropped: the next run renders them
