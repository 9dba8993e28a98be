"""The package's shape is a contract: layers and no cycles (import-linter), small modules,
each subpackage in the wheel, and checking work orders never loads the heavy engines."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
MAX_LINES = 300


def _contracts() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [contract["name"] for contract in config["tool"]["importlinter"]["contracts"]]


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in _contracts():
        assert f"{name} KEPT" in result.stdout


def test_the_contracts_name_every_stage() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    layers = next(contract["layers"] for contract in config["tool"]["importlinter"]["contracts"]
                  if contract["type"] == "layers")
    on_disk = {f"pipeline.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}
    assert set(layers) == on_disk


def test_the_wheel_lists_every_subpackage() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {".".join(path.parent.relative_to(ROOT).parts)
               for path in PACKAGE.rglob("__init__.py")}
    assert listed == on_disk | {"pipeline.templates"}


@pytest.mark.parametrize("module", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_is_over_the_limit(module: Path) -> None:
    assert len(module.read_text().splitlines()) <= MAX_LINES


def test_checking_loads_no_engine() -> None:
    # The contract above is static; this is what a process really loads to validate.
    code = ("import sys, pipeline.batch, pipeline.validate, pipeline.plan, pipeline.render, "
            "pipeline.store\n"
            "print(sorted(m for m in ('weasyprint', 'distributed', 'dask', 'click') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
