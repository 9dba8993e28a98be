"""Rendering on a Dask cluster (``run --cluster ADDRESS``): the third executor.

The machine that runs the batch stays the only writer: Dask workers only turn an invoice
into PDF bytes, and the results come back here to be stored as they complete. What a
worker needs travels with each task as a :class:`Bundle`: the settings, the bytes of
the override templates and of the logo (a few KB), and this machine's render
fingerprint. A worker needs no configuration file; it writes the bundle's files once
into a temporary folder named by its digest and keeps one Renderer per thread and
bundle, built on its first task.

Before anything renders, every worker's fingerprint (:mod:`.identity`) must
equal this machine's; a worker that joins later checks itself on its first task. A
difference is :class:`ConfigError` naming the worker and the item (exit 2).

Faults, as in a local run (the loop is :func:`.tasks.hand_out`): Dask gives the tasks of
a worker that died to another one; an invoice that kills every worker it lands on comes
back as ``KilledWorker`` after the scheduler's ``distributed.scheduler.allowed-failures``,
is rendered once more alone on the cluster (the scheduler also blames the innocent tasks
a dying worker held), and then fails alone with :data:`.tasks.CRASHED`; ``render_timeout``
is held in the worker's thread (:mod:`.deadline`). A scheduler that cannot be reached, or
goes away, ends the run with one line (exit 2); what was stored until then stays
recorded. Dask's errors become ours in one place, :func:`_scheduler`.

At most :data:`IN_FLIGHT_PER_THREAD` tasks per worker thread are out at once, so this
machine's memory stays flat whatever the batch's size.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty, SimpleQueue

import distributed
from distributed import Client, Future, KilledWorker
from distributed.comm.addressing import parse_address, parse_host_port
from distributed.comm.core import CommClosedError
from distributed.comm.registry import get_backend

from ..core.config import DEFAULTS, Settings, Smtp
from ..core.errors import ConfigError
from ..core.files import atomic_write
from ..core.models import Invoice
from ..core.stop import Stop
from ..core.template_files import contained
from .identity import differences, families, fingerprint
from .pdf import Renderer
from .seam import GRACE, Result
from .tasks import Rendering, hand_out

CONNECT_TIMEOUT = 10  # seconds to reach the scheduler, and for a first worker to join
IN_FLIGHT_PER_THREAD = 2  # tasks handed out per worker thread: busy, yet memory stays flat
_RESIZE = 5.0  # seconds between looks at how many worker threads the cluster has
_RENDERERS_KEPT = 4  # per worker thread: the runs (tenants) of a night take turns
_LOST = (OSError, CommClosedError, distributed.TimeoutError)


@dataclass(frozen=True)
class Bundle:
    """What a worker needs to render the run's invoices."""

    settings: Settings
    templates: tuple[tuple[str, bytes], ...]  # relative path → bytes, of the override folder
    logo: bytes | None
    fingerprint: tuple[tuple[str, str], ...]
    families: tuple[str, ...]
    digest: str


def bundle(settings: Settings) -> Bundle:
    folder, logo = settings.templates, settings.company.logo
    templates = tuple((path.relative_to(folder).as_posix(), path.read_bytes())
                      for path in contained(folder)) if folder else ()
    logo_bytes = logo.read_bytes() if logo is not None else None
    used = tuple(families(settings))
    # Only what shapes a PDF travels: the secrets stay here (links are made here, mail is
    # sent from here), and what only the coordinator uses does not split the Renderers.
    settings = replace(settings, share_secret=None, smtp=Smtp(), send=False, merge=None,
                       out=DEFAULTS.out, quiet=False, log_format=DEFAULTS.log_format,
                       cluster=None, mapping=None)
    digest = hashlib.sha256(repr((settings, used)).encode())
    for name, data in templates:
        digest.update(name.encode() + b"\0" + data)
    digest.update(logo_bytes or b"")
    return Bundle(settings, templates, logo_bytes, tuple(fingerprint(used).items()), used,
                  digest.hexdigest())


# ---- on a worker ----

_local = threading.local()  # per thread: bundle digest → Rendering (Renderers are not shared)


@functools.cache
def worker_fingerprint(font_families: tuple[str, ...]) -> dict[str, str]:
    """This worker's fingerprint, once per process (asked before the run, and by each
    thread's first task): a worker whose fonts or libraries change is restarted anyway."""
    return fingerprint(font_families)


def render_task(package: Bundle, invoice: Invoice) -> Result:
    """One invoice on a worker: the Dask task."""
    renderings: dict[str, Rendering] = _local.__dict__.setdefault("renderings", {})
    rendering = renderings.get(package.digest)
    if rendering is None:
        mismatch = differences(dict(package.fingerprint), worker_fingerprint(package.families))
        if mismatch:
            raise _refused(distributed.get_worker().address, mismatch)
        if len(renderings) >= _RENDERERS_KEPT:  # a long-lived worker serves many runs
            del renderings[next(iter(renderings))]
        gc.unfreeze()  # what was frozen before may be garbage now (an evicted Renderer)
        rendering = renderings[package.digest] = Rendering(_materialise(package))
        # A Dask worker's own heap (distributed, tornado, the Renderer's caches) is large and
        # long-lived; WeasyPrint's cycles make the collector scan it again and again:
        # measured, freezing it saves ~12% of a worker's CPU per invoice.
        gc.collect()
        gc.freeze()
    return rendering(invoice)


def _materialise(package: Bundle) -> Settings:
    """The settings with the bundle's files written here, where this worker can read them."""
    settings = package.settings
    if not package.templates and package.logo is None:
        return settings
    folder = Path(tempfile.gettempdir()) / f"xoi-invoices-{package.digest[:16]}"
    for name, data in package.templates:
        atomic_write(folder / "templates" / name, data)  # whole files for concurrent threads
    templates = folder / "templates" if package.templates else None
    company = settings.company
    if package.logo is not None and company.logo is not None:
        logo = folder / "logo" / company.logo.name  # the name tells the image type
        atomic_write(logo, package.logo)
        company = replace(company, logo=logo)
    return replace(settings, templates=templates, company=company)


# ---- on this machine ----

class Cluster:
    """Renders on the Dask scheduler at ``settings.cluster``."""

    def __init__(self, settings: Settings) -> None:
        Renderer(settings)  # a broken template or logo fails here, before any task is sent
        self.settings = settings
        self.address = settings.cluster or ""
        self.bundle = bundle(settings)

    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        with _scheduler(self.address) as client:
            self._check(client)
            yield from hand_out(lambda queue: contextlib.nullcontext(
                _OnCluster(client, self.bundle)), invoices, stop)

    def _check(self, client: Client) -> None:
        """Refuse the run when a worker would render different bytes, before any does."""
        here = dict(self.bundle.fingerprint)
        found: Mapping[str, object] = client.run(worker_fingerprint, self.bundle.families,
                                                 on_error="return")
        for address, theirs in sorted(found.items()):
            if isinstance(theirs, BaseException):
                raise ConfigError(f"worker {address} cannot report its render fingerprint "
                                  f"({type(theirs).__name__}: {theirs}); install "
                                  "xoi-invoices[cluster] there", source=self.address)
            mismatch = differences(here, theirs)  # type: ignore[arg-type]
            if mismatch:
                raise _refused(address, mismatch)


class _TaskRaised(Exception):
    """What a render task raised on its worker (the one argument): :func:`_scheduler`
    words it."""


@contextlib.contextmanager
def _scheduler(address: str) -> Iterator[Client]:
    """A client of the scheduler at ``address``, once a worker has joined it.

    The boundary with Dask: what it raises becomes one ConfigError here (exit 2), worded
    for where it went wrong. distributed's own log lines would come on top of that line
    (and break --log-format json), so they are kept quiet while the client is open.
    """
    # A bad address is told before a Client exists: a failed one's clean-up prints a
    # traceback and waits for its own timeout.
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss") and not parse_host_port(location, 8786)[0]:
            raise ValueError("no host")
    except ValueError:
        raise ConfigError("not a Dask scheduler's address; write it like tcp://10.0.0.5:8786",
                          source=address) from None
    with _quiet_distributed():
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as error:  # refused, timed out, or not a Dask scheduler at all
            raise ConfigError(f"cannot reach the Dask scheduler: {error}",
                              source=address) from None
        try:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except distributed.TimeoutError:
                raise ConfigError(f"no Dask worker joined the scheduler in {CONNECT_TIMEOUT} s",
                                  source=address) from None
            yield client
        except _TaskRaised as raised:
            failed = raised.args[0]
            raise ConfigError(f"a Dask worker could not run the render task: "
                              f"{type(failed).__name__}: {failed}") from None
        except _LOST as error:
            raise ConfigError(f"lost the Dask scheduler mid-run: {error}; the invoices "
                              "stored so far are recorded, the next run renders the rest",
                              source=address) from None
        finally:
            with contextlib.suppress(*_LOST):
                client.close(timeout=GRACE)


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
        self.client, self.bundle = client, package
        # What as_completed does, with a timeout: the loop must look at ``stop`` meanwhile.
        self.done: SimpleQueue[Future[Result]] = SimpleQueue()
        self.window, self.resized, self.stopping = 0, float("-inf"), False

    def room(self) -> int:
        """Enough tasks to keep every worker thread busy, as many as the cluster has now."""
        if time.monotonic() - self.resized > _RESIZE:
            threads: int = sum(self.client.nthreads().values())
            self.window, self.resized = max(2, IN_FLIGHT_PER_THREAD * threads), time.monotonic()
        return self.window

    def submit(self, invoice: Invoice) -> Future[Result]:
        task: Future[Result] = self.client.submit(render_task, self.bundle, invoice, pure=False)
        task.add_done_callback(self.done.put)
        return task

    def finished(self, out: Collection[Future[Result]],
                 timeout: float) -> Collection[Future[Result]]:
        try:
            return [self.done.get(timeout=timeout)]
        except Empty:
            return []

    def result(self, task: Future[Result]) -> Result | None:
        if task.status == "cancelled":  # not by us, who no longer count it as out
            if self.stopping:
                return None  # dropped, as everything still out at a stop may be
            raise CommClosedError("the client was closed")  # it gave up on the scheduler
        try:
            result: Result = task.result()
        except KilledWorker:  # the scheduler gave up on it: its workers died with it
            return None
        except (ConfigError, *_LOST):
            raise  # a worker that would render other bytes; the scheduler gone
        except Exception as error:
            raise _TaskRaised(error) from error
        return result

    def cancel_waiting(self, out: Collection[Future[Result]]) -> list[Future[Result]]:
        self.stopping = True
        running = {key for keys in self.client.processing().values() for key in keys}
        waiting = [task for task in out if task.key not in running]
        self.client.cancel(waiting)
        return waiting

    def end(self, out: Collection[Future[Result]]) -> None:
        self.client.cancel(list(out))  # dropped: the next run renders them


def _refused(address: str, mismatch: list[str]) -> ConfigError:
    return ConfigError(f"worker {address} would render different bytes: "
                       f"{'; '.join(mismatch)}. Install the same xoi-invoices, libraries "
                       "and fonts on every worker (`make install`)")
