"""A deadline that lands where Python cannot raise it still stops the work, unreported."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from pipeline.render.deadline import TimedOut, deadline


class _Slow:
    """Its ``__del__`` outlasts the deadline, so the first interruption lands in it."""

    interrupted = False

    def __del__(self) -> None:
        until = time.monotonic() + 3
        try:
            while time.monotonic() < until:
                time.sleep(0.01)
        except TimedOut:
            _Slow.interrupted = True
            raise


def _dropped_then_stopped() -> str:
    _Slow.interrupted = False
    try:
        with deadline(1):
            _Slow()  # freed at once: ``__del__`` runs here, and its TimedOut is dropped
            while True:
                time.sleep(0.01)
    except TimedOut:
        return "stopped" if _Slow.interrupted else "stopped, never dropped"
    return "ran on"


def test_a_deadline_dropped_in_a_finalizer_repeats_and_is_not_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    assert _dropped_then_stopped() == "stopped"
    assert reported == []


def test_in_a_thread_too(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(_dropped_then_stopped()))
    worker.start()
    worker.join(30)
    assert outcome == ["stopped"]
    assert reported == []


def test_other_unraisable_errors_still_reach_the_hook(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class Broken:
        def __del__(self) -> None:
            raise ValueError("in a finalizer")

    with deadline(5):
        Broken()
    assert [type(r.exc_value) for r in reported] == [ValueError]


class _DropsTimedOut:
    """Freed at once, its ``__del__`` raises where Python can only report it."""

    def __del__(self) -> None:
        raise TimedOut


def test_the_callers_hook_reports_again_once_the_deadline_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    with deadline(5):
        _DropsTimedOut()
    assert reported == []
    assert _dropped_then_stopped() == "stopped"  # a deadline that expires ends as well
    assert sys.unraisablehook == reported.append
    _DropsTimedOut()
    assert [r.exc_type for r in reported] == [TimedOut]


def test_a_deadline_ending_in_another_thread_leaves_this_one_quiet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    started, end = threading.Event(), threading.Event()

    def earlier() -> None:
        with deadline(30):
            started.set()
            end.wait(30)

    other = threading.Thread(target=earlier)
    other.start()
    started.wait(30)
    with deadline(5):  # begins after the other thread's, ends after it too
        end.set()
        other.join(30)
        _DropsTimedOut()
    assert reported == []
    assert sys.unraisablehook == reported.append


def test_without_a_render_timeout_the_hook_is_untouched(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[sys.UnraisableHookArgs] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    with deadline(0):
        _DropsTimedOut()
    assert [r.exc_type for r in reported] == [TimedOut]


def test_a_hook_that_chains_back_never_loops() -> None:
    """A host's hook set while a deadline runs, chaining to the one it found (ours): a later
    unraisable is still reported once, never a RecursionError."""
    script = '''
import sys, threading
from pipeline.render.deadline import deadline
class Obj:
    def __del__(self): raise ValueError("boom")
ready, go = threading.Event(), threading.Event()
def other():
    with deadline(5):
        ready.set(); go.wait()
thread = threading.Thread(target=other); thread.start(); ready.wait()
previous = sys.unraisablehook
def host(unraisable): print("host saw", unraisable.exc_type.__name__); previous(unraisable)
sys.unraisablehook = host
go.set(); thread.join()
with deadline(5):
    Obj()
'''
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout == "host saw ValueError\n"
    assert "RecursionError" not in result.stderr and "ValueError: boom" in result.stderr
