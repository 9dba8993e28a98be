"""What runs on a Dask worker for a cluster run (:mod:`.cluster` sends it there).

The :class:`.bundle.Bundle` travels once per worker, in the :class:`Prepare` plugin the
run registers: its ``setup`` checks the worker's fingerprint against the coordinator's
and builds one :class:`.tasks.Rendering` per worker thread, before the worker takes a
task of the run (a worker that joins mid-run runs it before it accepts any). A task then
carries only the bundle's digest and its batch of invoices: :func:`render_batch`.

Dask's plugin base class, and the worker's plugins to build a run's Renderers again when
more runs than :data:`_RENDERERS_KEPT` pushed them out, are the only Dask this module uses:
the rest is the worker's own state, kept per process for the runs (tenants) of a night.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ..core.errors import ConfigError
from .bundle import Bundle, materialise
from .identity import differences, fingerprint
from .tasks import Done, Rendering

_RENDERERS_KEPT = 4  # bundles warm per worker process: the runs (tenants) of a night take turns


@dataclass
class _Warm:
    """One bundle's Renderings on this worker, free to take: one per thread, never shared."""

    free: SimpleQueue[Rendering]
    renderings: int
    batches: int = 0


_STATE: OrderedDict[str, _Warm | ConfigError] = OrderedDict()  # digest → warm, or refused
_PREPARING = threading.Lock()  # two runs' setups at once would build the same bundle twice
_RENDERING = [0]  # batches being rendered now, by any thread
_COUNTING = threading.Lock()
_SETUPS: dict[str, int] = {}  # digest → how many times it was built here (for the tests)


@functools.cache
def worker_fingerprint(font_families: tuple[str, ...]) -> dict[str, str]:
    """This worker's fingerprint, once per process (asked before the run, and by each
    run's setup): a worker whose fonts or libraries change is restarted anyway."""
    return fingerprint(font_families)


class Prepare(WorkerPlugin):
    """The run's bundle, checked and warmed on each worker as it registers the plugin."""

    def __init__(self, package: Bundle) -> None:
        self.package = package

    async def setup(self, worker: Any) -> None:
        # Building Renderers takes a second or more: not on the worker's event loop, which
        # must keep answering the scheduler meanwhile.
        await asyncio.get_running_loop().run_in_executor(None, _prepare, self.package, worker)


def _prepare(package: Bundle, worker: Any) -> None:
    address, threads = worker.address, worker.state.nthreads
    with _PREPARING:
        mismatch = differences(dict(package.fingerprint), worker_fingerprint(package.families))
        if mismatch:
            refusal = refused(address, mismatch)
            if not isinstance(_STATE.get(package.digest), _Warm):  # another run's, sound
                _keep(package.digest, refusal, worker)
            raise refusal
        if isinstance(_STATE.get(package.digest), _Warm):
            _STATE.move_to_end(package.digest)
            return
        # Only while no thread renders: a freeze would keep their half-built documents
        # for good, and a full collection would stall them.
        idle = _RENDERING[0] == 0
        if idle:
            gc.unfreeze()  # what was frozen before may be garbage now (an evicted Renderer)
        free: SimpleQueue[Rendering] = SimpleQueue()
        try:
            settings = materialise(package)
            for _ in range(max(1, threads)):
                free.put(Rendering(settings))
        except Exception as error:  # kept, so a worker that joined mid-run says it on a task
            failed = ConfigError(f"worker {address} cannot build its Renderers: "
                                 f"{type(error).__name__}: {error}")
            _keep(package.digest, failed, worker)
            raise failed from error
        _keep(package.digest, _Warm(free, max(1, threads)), worker)
        _SETUPS[package.digest] = _SETUPS.get(package.digest, 0) + 1
        # A Dask worker's own heap (distributed, tornado, the Renderer's caches) is large and
        # long-lived; WeasyPrint's cycles make the collector scan it again and again:
        # measured, freezing it saves ~12% of a worker's CPU per invoice.
        if idle:
            gc.collect()
            gc.freeze()


def _keep(digest: str, state: _Warm | ConfigError, worker: Any) -> None:
    """Keep ``state``; past :data:`_RENDERERS_KEPT`, drop the oldest bundles whose run is
    over (its plugin removed). Never one whose run goes on: with more tenants at once than
    that, each task would build its Renderers again."""
    _STATE[digest] = state
    _STATE.move_to_end(digest)
    running = {plugin.package.digest for plugin in list(worker.plugins.values())
               if isinstance(plugin, Prepare)}
    over = [kept for kept in _STATE if kept not in running and kept != digest]
    for kept in over[:max(0, len(_STATE) - _RENDERERS_KEPT)]:
        del _STATE[kept]


def render_batch(digest: str, payload: bytes) -> Done:
    """A batch of invoices on a worker: the Dask task. The invoices come pickled as bytes,
    so the scheduler passes them on without unpickling them."""
    warm = _STATE.get(digest)
    if warm is None:  # evicted since its setup, by more runs (tenants) than are kept
        warm = _rebuilt(digest)
    if isinstance(warm, ConfigError):
        raise warm
    rendering = warm.free.get()
    with _COUNTING:
        _RENDERING[0] += 1
    try:
        # The coordinator's own pickle, as trusted as every task Dask unpickles anyway.
        done = rendering.batch(pickle.loads(payload))  # noqa: S301
    finally:
        warm.free.put(rendering)
        with _COUNTING:
            _RENDERING[0] -= 1
            warm.batches += 1
    return done


def _rebuilt(digest: str) -> _Warm | ConfigError:
    """The run's Renderers built again from its plugin, which the worker still holds while
    the run lasts: a night of many tenants on one cluster must not end a run because
    others pushed its Renderers out."""
    worker = get_worker()
    for plugin in list(worker.plugins.values()):
        if isinstance(plugin, Prepare) and plugin.package.digest == digest:
            with contextlib.suppress(ConfigError):  # kept in _STATE, returned below
                _prepare(plugin.package, worker)
            break
    return _STATE.get(digest) or ConfigError(
        f"worker {worker.address} was not prepared for this run: its setup failed "
        "(see the worker's log)")


def stats() -> dict[str, dict[str, int]]:
    """What this worker holds, per digest: Renderings warm, setups that built them,
    batches rendered."""
    # A copy in one step: a setup may change the cache meanwhile, in another thread.
    warm = {digest: state for digest, state in list(_STATE.items()) if isinstance(state, _Warm)}
    return {"renderings": {digest: state.renderings for digest, state in warm.items()},
            "setups": dict(_SETUPS),
            "batches": {digest: state.batches for digest, state in warm.items()}}


def refused(address: str, mismatch: list[str]) -> ConfigError:
    return ConfigError(f"worker {address} would render different bytes: "
                       f"{'; '.join(mismatch)}. Install the same xoi-invoices, libraries "
                       "and fonts on every worker (`make install`)")
