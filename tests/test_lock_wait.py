"""Waiting for the folder's lock (``--lock-timeout``) and asking who holds it without
waiting (:func:`store.lock_holder`), against a real second process that holds it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import batch, store
from pipeline.cli import main
from pipeline.core.config import Settings, resolve
from pipeline.core.errors import ConfigError, LockedError, OutputError

from .conftest import ENV, ROOT, held, order, write_csv


def test_run_waits_for_the_lock_and_succeeds_when_the_holder_lets_go(
        tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    out = tmp_path / "output"
    with held(out, 1):
        started = time.monotonic()
        result = runner.invoke(main, ["run", str(source), "--workers", "1",
                                      "--lock-timeout", "5"])
        waited = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert waited >= 0.5
    assert (out / "invoices").is_dir() and json.loads((out / "report.json").read_text())


def test_a_lock_held_past_the_timeout_is_exit_75_naming_the_holder(
        tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    out = tmp_path / "output"
    with held(out, 3) as holder:
        started = time.monotonic()
        result = runner.invoke(main, ["regenerate", "WO-1", "--input", str(source),
                                      "--lock-timeout", "1"])
        waited = time.monotonic() - started
    assert result.exit_code == 75, result.output
    assert 0.9 <= waited < 3
    assert f"pid {holder.pid} on " in result.output and "waited 1 s" in result.output
    assert not (out / "report.json").exists()


def test_a_stop_ends_the_wait(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    out = tmp_path / "output"
    settings = Settings(partner_id=ENV["XOI_PARTNER_ID"], share_secret=ENV["XOI_SHARE_SECRET"],
                        out=out, workers=1, lock_timeout=60)
    stop = threading.Event()
    with held(out, 3):
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        with pytest.raises(LockedError, match="stopped while waiting"):
            batch.run([source], settings, stop=stop)
        assert time.monotonic() - started < 2


def test_lock_timeout_setting(tmp_path: Path) -> None:
    assert Settings().lock_timeout == 0
    (tmp_path / "c.toml").write_text("lock_timeout = 600\n")
    assert resolve(config_file=tmp_path / "c.toml").lock_timeout == 600
    (tmp_path / "c.toml").write_text("lock_timeout = 86401\n")
    with pytest.raises(ConfigError, match="lock_timeout"):
        resolve(config_file=tmp_path / "c.toml")


def test_the_makefile_waits_an_hour_by_default() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK_TIMEOUT ?= 3600" in makefile
    assert "--lock-timeout $(LOCK_TIMEOUT)" in makefile


def test_lock_holder_names_a_writer_and_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "output"
    assert store.lock_holder(out) is None and not out.exists()
    out.mkdir()
    assert store.lock_holder(out) is None and not (out / ".lock").exists()
    with held(out, 1.5) as holder:
        assert f", pid {holder.pid} on " in (store.lock_holder(out) or "")
    assert store.lock_holder(out) is None
    # A reader (verify, merge) is no writer; a lock file that is a link is refused.
    with store.OutputFolder(out).lock(shared=True):
        assert store.lock_holder(out) is None
    (out / ".lock").unlink()
    (out / ".lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match="link"):
        store.lock_holder(out)
    assert not (tmp_path / "elsewhere").exists()


def test_the_desks_probe_never_makes_a_writer_that_does_not_wait_fail(tmp_path: Path) -> None:
    """A desk asks who holds the lock with a shared lock let go at once; a writer asking
    for it in that instant, with no wait at all, must still get it."""
    out = tmp_path / "output"
    out.mkdir()
    folder = store.OutputFolder(out)
    done = threading.Event()
    probes = 0

    def probe() -> None:
        nonlocal probes
        while not done.is_set():
            store.lock_holder(out)
            probes += 1

    prober = threading.Thread(target=probe)
    prober.start()
    failures = 0
    try:
        for _ in range(500):
            try:
                with folder.lock(wait=0):
                    pass
            except LockedError:
                failures += 1
    finally:
        done.set()
        prober.join()
    assert failures == 0 and probes > 500


def test_a_real_holder_still_refuses_a_writer_that_does_not_wait(tmp_path: Path) -> None:
    out = tmp_path / "output"
    with held(out, 2):
        started = time.monotonic()
        with pytest.raises(LockedError, match="another run holds"), \
                store.OutputFolder(out).lock(wait=0):
            pass
        assert time.monotonic() - started < 1
