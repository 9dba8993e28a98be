"""The desk's one writer: the jobs that change the folder (regenerate, send) run one at a
time in a thread of their own, never inside a request, so the pages answer while one runs.

A job waits while another command holds the folder's lock (the nightly run), showing the
holder, and starts when it is free; the clerk can cancel it until then. It runs through
the same library calls as the command line, which take the lock themselves: a run that
starts between our look and theirs makes the job wait again (:class:`LockedError`).
A job is asked for with the form's one-time key: a double click finds the job the first
click made instead of making a second one.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from ..core.errors import LockedError, XoiError

LOOK_AGAIN = 0.5  # seconds between looks at a held lock
KEPT = 500  # finished jobs remembered for their pages
_log = logging.getLogger("pipeline.desk")


class Cancelled(Exception):
    """The clerk cancelled the job, or the desk is stopping, before it started."""


@dataclass(eq=False)
class Job:
    kind: str  # "regenerate" or "send"
    ticket: str
    invoice_number: str
    who: str
    reason: str
    work: Callable[[Job], list[str]]  # does it; its lines say what changed
    source: str = ""  # what it works from (an export), as shown
    cleanup: Callable[[], None] | None = None  # once it has ended (an uploaded export)
    trail_row: int = 0  # its row in the audit trail, once it started
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    state: str = "waiting"  # waiting | running | done | failed
    waiting_for: str = ""
    lines: list[str] = field(default_factory=list)
    error: str = ""
    queued_at: str = field(default_factory=store.timestamp)
    started_at: str = ""
    finished_at: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def title(self) -> str:
        verb = "Re-render" if self.kind == "regenerate" else "Send"
        return f"{verb} invoice {self.invoice_number}"


class Jobs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # Told of every job as it starts and as it ends (the audit trail: a desk killed
        # mid-send still says who asked and why); set by whoever serves the desk.
        self.started: Callable[[Job], None] = lambda job: None
        self.finished: Callable[[Job], None] = lambda job: None
        self.stopping = threading.Event()
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._keys: dict[str, Job] = {}
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="desk-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Cancel what waits, let the job that runs finish, and end the thread."""
        with self._wake:
            self.stopping.set()
            for job in self._queue:
                job.cancelled.set()
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def submit(self, job: Job, key: str) -> Job:
        """Queue ``job`` unless ``key`` (the form's one-time key) already asked for one."""
        with self._wake:
            known = self._keys.get(key)
            if known is not None:
                return known
            if self._queue or any(j.state == "running" for j in self._jobs.values()):
                job.waiting_for = "behind another clerk's job"
            self._keys[key] = self._jobs[job.id] = job
            self._queue.append(job)
            self._forget()
            self._wake.notify_all()
        return job

    def by_key(self, key: str) -> Job | None:
        return self._keys.get(key)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not started; whether it was waiting. One behind another
        job ends at once; the first in line ends as soon as its wait for the lock sees it."""
        job = self._jobs.get(job_id)
        if job is None or job.state != "waiting":
            return False
        job.cancelled.set()
        with self._wake:
            queued = job in self._queue and self._queue[0] is not job
            if queued:
                self._queue.remove(job)
            self._wake.notify_all()
        if queued:
            self._end(job, "cancelled before it started")
        return True

    def _forget(self) -> None:
        done = [job for job in self._jobs.values() if job.state in ("done", "failed")]
        for job in done[:max(0, len(done) - KEPT)]:
            del self._jobs[job.id]
            self._keys = {key: kept for key, kept in self._keys.items() if kept is not job}

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self.stopping.is_set():
                    self._wake.wait()
                if not self._queue:
                    return
                job = self._queue[0]
            try:
                self._run(job)
            finally:
                with self._wake:
                    self._queue.popleft()
                    if self._queue:
                        self._queue[0].waiting_for = ""

    def _run(self, job: Job) -> None:
        try:
            while True:
                self._wait_for_lock(job)
                job.state, job.started_at = "running", store.timestamp()
                if not job.trail_row:
                    self.started(job)
                try:
                    job.lines = job.work(job)
                except LockedError:  # a command took the folder between our look and ours
                    job.state = "waiting"
                    continue
                break
        except (Cancelled, XoiError) as error:
            self._end(job, str(error))
            return
        except Exception:  # a bug of ours: the page says so, the log says where
            _log.exception("desk job %s (%s %s) failed", job.id, job.kind, job.ticket)
            self._end(job, "unexpected error: the desk's log has the details")
            return
        self._end(job)

    def _end(self, job: Job, error: str = "") -> None:
        """Into the audit trail, then ``done``, or ``failed`` for ``error``: a page that
        says the job ended finds its row there."""
        job.error, job.finished_at = error, store.timestamp()
        try:
            self.finished(job)
        except Exception:
            _log.exception("desk job %s: its audit row could not be written", job.id)
        job.state = "failed" if error else "done"
        if job.cleanup is not None:
            job.cleanup()

    def _wait_for_lock(self, job: Job) -> None:
        """Until no command holds the folder's lock; :class:`Cancelled` if cancelled first."""
        while True:
            if job.cancelled.is_set():
                raise Cancelled("cancelled before it started" if not self.stopping.is_set()
                                else "cancelled: the desk was stopped before it started")
            holder = store.lock_holder(self.folder)
            if holder is None:
                job.waiting_for = ""
                return
            job.waiting_for = f"waiting for {holder}"
            with self._wake:
                self._wake.wait(LOOK_AGAIN)
