"""``render_timeout``: stop one invoice's render after so many seconds, in any thread.

In a process's main thread (this machine's workers) an alarm signal interrupts the
render. Signals reach only the main thread, and a Dask worker renders in a thread of its
own, so there a watchdog thread raises the same exception in the rendering thread
(``PyThreadState_SetAsyncExc``). Both land between two Python bytecodes: WeasyPrint's
layout is Python, so a slow or endless layout is stopped; one call into C that never
returns is not (none is known to).

A deadline that lands in a ``__del__``, a gc callback or a callback from C cannot be
raised there: Python hands it to ``sys.unraisablehook`` and carries on, and the repeats
then stop the render. Those dropped ``TimedOut`` are expected, so they are kept out of
the hook (which would print them to the night's log as "Exception ignored") while a
deadline runs in any thread; the hook found is put back when the last one ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

REPEAT = 0.1  # seconds between further interruptions once the deadline has passed


class TimedOut(BaseException):
    """Raised at the deadline. Not an Exception: WeasyPrint catches those around image
    loading and would carry on without the image."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise :class:`TimedOut` in this thread after ``seconds`` (0: never)."""
    if not seconds:
        yield
        return
    with _quiet.installed():
        if threading.current_thread() is threading.main_thread():
            with _alarm(seconds):
                yield
        else:
            with _watchdog(seconds):
                yield


class _Quiet:
    """``sys.unraisablehook`` while deadlines run: the hook it found, without TimedOut."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0  # deadlines, in every thread: the hook is the process's
        self.hook: Callable[[sys.UnraisableHookArgs], object] = sys.__unraisablehook__
        self.calling = threading.local()
        self.calling.active = False

    def __call__(self, unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_type is TimedOut:
            return
        # A hook set over this one that chains back to it would loop: the default speaks.
        if self.calling.active:
            sys.__unraisablehook__(unraisable)
            return
        self.calling.active = True
        try:
            self.hook(unraisable)
        finally:
            self.calling.active = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        with self.lock:
            if sys.unraisablehook is not self:
                self.hook, sys.unraisablehook = sys.unraisablehook, self
            self.running += 1
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1
                # A hook set over this one meanwhile (a host's, a test's) is left to its owner.
                if not self.running and sys.unraisablehook is self:
                    sys.unraisablehook = self.hook


_quiet = _Quiet()


def _expire(signum: int, frame: FrameType | None) -> None:
    raise TimedOut


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _expire)
    # Then again every REPEAT s: an exception raised inside a callback (from C code through
    # cffi, or a gc callback) is printed and dropped, and the render would go on.
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT)
    try:
        yield
    finally:
        while True:  # a repeat may land here too, before the timer is off
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except TimedOut:
                continue
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _watchdog(seconds: int) -> Iterator[None]:
    target = ctypes.c_ulong(threading.get_ident())
    done = threading.Event()
    lock = threading.Lock()  # no exception is sent once ``done`` is set under it

    def interrupt() -> None:
        if done.wait(seconds):
            return
        while True:  # again and again, for the same reason as the alarm's repeats
            with lock:
                if done.is_set():
                    return
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(TimedOut))
            if done.wait(REPEAT):
                return

    watchdog = threading.Thread(target=interrupt, name="render-timeout", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        while True:  # one sent just before ``done`` may land here
            try:
                with lock:
                    done.set()
                    # Withdraw one sent but not yet raised: it must not hit the caller.
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
                break
            except TimedOut:
                continue
        watchdog.join()
