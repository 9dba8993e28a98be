"""Validate Factur-X / ZUGFeRD CII XML (profile EN 16931) with the official rules, offline.

Three checks, all of them required for a file to pass:

1. **CEN EN 16931 CII schematron**: ``tests/validators/EN16931-CII-validation.xslt``, the
   ConnectingEurope/eInvoicing-EN16931 release vendored unmodified (see
   ``tests/validators/NOTICE.md``). Failures read ``"CEN BR-CO-10: <text> (at <path>)"``.
2. **Factur-X EN 16931 schematron**: ``FACTUR-X_EN16931.xslt`` as shipped in the pinned
   ``factur-x`` package (``facturx/xsd_and_schematron/facturx-en16931/``). Its code-list checks
   call ``document('FACTUR-X_EN16931_codedb.xml')``: a relative URI, which XSLT resolves against
   the stylesheet's own base URI, so the stylesheet is compiled *from its file* (never from a
   string: that would lose the base URI) and finds the code list beside it, with no network and no
   patched copy. Failures read ``"Factur-X FX-SCH-A-000123: <text> (at <path>)"``.
3. **Factur-X EN 16931 XSD** (same folder), with lxml: ``"XSD: line 12: <message>"``. A file that
   is not even well-formed XML reads ``"XML: line 3: <message>"`` and is not given to the
   schematrons.

Warnings: a schematron assert with ``flag="warning"`` (or ``"information"``) is **not** a failure.
The CEN file flags about 470 of its ~800 asserts as warnings (mostly "should not be present"
elements of the CII syntax); the official validators report them without rejecting the invoice.
`check_xml` / `check_pdf` return them separately in `Findings.warnings`; `validate_xml` /
`validate_pdf` return failures only; the command line lists them with ``--warnings``. Every other
flag (``fatal``, ``error``, or none, as in most Factur-X asserts and its ``report`` rules) is a
failure.

API: `validate_xml(paths)` / `validate_pdf(paths)` map each path to its failures (empty list =
passes); `check_xml` / `check_pdf` / `check_files` (XML and PDF mixed, told apart by content) map
it to `Findings` (failures and warnings); `run_worker` is the bare schematron run, with timings. A
PDF is judged by the ``factur-x.xml`` in its /Names /EmbeddedFiles tree, which must be there once.

Saxon (``saxonche``, XSLT 2.0 without a JVM) never runs in the calling process: it does not
survive a fork and takes a moment to start (about 0.6 s to compile both stylesheets). Each call
starts ONE worker subprocess (``python einvoice_validators.py --worker``) that compiles both
stylesheets once and applies them to every file of the call (about 25 ms a file); give it many
files at once. The worker lets Saxon read ``file:`` URIs only.

As a script::

    python tests/einvoice_validators.py [--warnings] FILE...   # CII XML or Factur-X PDF

prints ``FILE: passes CEN EN 16931, Factur-X EN 16931 XSD and schematron`` or each failure, and
exits 1 when any file failed.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

HERE = Path(__file__).resolve().parent
CEN_XSLT = HERE / "validators" / "EN16931-CII-validation.xslt"
FACTURX_ATTACHMENT = "factur-x.xml"
PASSES = "passes CEN EN 16931, Factur-X EN 16931 XSD and schematron"

SVRL = "http://purl.oclc.org/dsdl/svrl"
NOT_FAILURES = frozenset({"warning", "information", "info"})
# Saxon's configuration feature that limits the URI schemes a stylesheet may read.
ALLOWED_PROTOCOLS = "http://saxon.sf.net/feature/allowedProtocols"


def facturx_dir() -> Path:
    """The EN 16931 folder of the installed factur-x package (XSD, XSLT and code list)."""
    folder = Path(str(importlib.resources.files("facturx"))) / "xsd_and_schematron"
    return folder / "facturx-en16931"


def facturx_xslt() -> Path:
    return facturx_dir() / "FACTUR-X_EN16931.xslt"


def facturx_xsd() -> Path:
    return facturx_dir() / "Factur-X_EN16931.xsd"


@dataclass
class Findings:
    """What the validators said about one file: failures reject it, warnings do not."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class WorkerRun:
    """One worker's findings by path, and its own clock (seconds): start, compile, validate."""

    findings: dict[Path, Findings]
    timings: dict[str, float]
    wall: float


# ---------------------------------------------------------------------------------------------
# The calling process: lxml only.


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(facturx_xsd()), _xml_parser()))


def _xsd_failures(path: Path) -> tuple[list[str], bool]:
    """(failures, well_formed) for the Factur-X EN 16931 XSD."""
    try:
        doc = etree.parse(str(path), _xml_parser())
    except etree.XMLSyntaxError as exc:
        return [f"XML: line {exc.lineno}: {exc.msg}"], False
    schema = _schema()
    if schema.validate(doc):
        return [], True
    return [f"XSD: line {e.line}: {e.message}" for e in schema.error_log], True


def run_worker(paths: Sequence[Path], timeout: float | None = None) -> WorkerRun:
    """Apply both schematrons to ``paths`` in one Saxon subprocess (no XSD check here)."""
    absolute = [Path(p).resolve() for p in paths]
    if timeout is None:
        timeout = 120.0 + 2.0 * len(absolute)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker"],
        input=json.dumps([str(p) for p in absolute]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    try:
        answer = json.loads(proc.stdout)
    except json.JSONDecodeError:
        answer = None
    if proc.returncode != 0 or not isinstance(answer, dict):
        raise RuntimeError(
            f"the validator worker failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    findings: dict[Path, Findings] = {}
    for original, resolved in zip(paths, absolute, strict=True):
        found = answer["files"][str(resolved)]
        findings[Path(original)] = Findings(list(found["failures"]), list(found["warnings"]))
    return WorkerRun(findings, dict(answer["timings"]), wall)


def check_xml(paths: Iterable[Path]) -> dict[Path, Findings]:
    """Failures and warnings of every CII XML file, from all three validators."""
    paths = [Path(p) for p in paths]
    results: dict[Path, Findings] = {}
    for_worker: list[Path] = []
    for path in paths:
        failures, well_formed = _xsd_failures(path)
        results[path] = Findings(failures=failures)
        if well_formed:
            for_worker.append(path)
    if for_worker:
        for path, found in run_worker(for_worker).findings.items():
            # Schematron first, then XSD: the business rule is the more telling message.
            results[path].failures[:0] = found.failures
            results[path].warnings.extend(found.warnings)
    return results


def validate_xml(paths: list[Path]) -> dict[Path, list[str]]:
    """For each CII XML file the list of failures; an empty list passes all three validators."""
    return {path: found.failures for path, found in check_xml(paths).items()}


def embedded_facturx(pdf: Path) -> list[bytes]:
    """Every ``factur-x.xml`` in the PDF's /Names /EmbeddedFiles name tree (read by pypdf)."""
    from pypdf import PdfReader

    return list(PdfReader(pdf).attachments.get(FACTURX_ATTACHMENT, []))


def _is_pdf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(1024).lstrip().startswith(b"%PDF-")


def check_files(paths: Iterable[Path], *, only_pdf: bool = False) -> dict[Path, Findings]:
    """XML files and PDFs (told apart by their first bytes) together, in one worker.

    A PDF is judged by its embedded ``factur-x.xml``, which must be there exactly once.
    """
    paths = [Path(p) for p in paths]
    results: dict[Path, Findings] = {}
    targets: dict[Path, Path] = {}  # the XML to validate -> the file it stands for
    with tempfile.TemporaryDirectory(prefix="einvoice-") as tmp:
        for number, path in enumerate(paths):
            if not _is_pdf(path):
                if only_pdf:
                    results[path] = Findings(["PDF: not a PDF file"])
                else:
                    targets[path] = path
                continue
            try:
                found = embedded_facturx(path)
            except Exception as exc:  # pypdf raises many kinds on a broken file
                results[path] = Findings([f"PDF: cannot be read: {exc}"])
                continue
            if len(found) != 1:
                what = "no" if not found else f"{len(found)} copies of"
                results[path] = Findings([f"PDF: {what} embedded {FACTURX_ATTACHMENT}"])
                continue
            xml = Path(tmp) / f"{number}-{FACTURX_ATTACHMENT}"
            xml.write_bytes(found[0])
            targets[xml] = path
        for xml, found_xml in check_xml(list(targets)).items():
            results[targets[xml]] = found_xml
    return {path: results[path] for path in paths}


def check_pdf(paths: Iterable[Path]) -> dict[Path, Findings]:
    """Like `check_xml`, for the ``factur-x.xml`` embedded in each PDF."""
    return check_files(paths, only_pdf=True)


def validate_pdf(paths: list[Path]) -> dict[Path, list[str]]:
    """For each PDF the failures of its embedded ``factur-x.xml``; empty list = passes."""
    return {path: found.failures for path, found in check_pdf(paths).items()}


# ---------------------------------------------------------------------------------------------
# The worker process: Saxon.


def _short_location(location: str) -> str:
    """``/*:A[namespace-uri()='…'][1]/*:B[namespace-uri()='…'][2]`` -> ``/A/B[2]``."""
    location = re.sub(r"\[namespace-uri\(\)='[^']*'\]", "", location)
    location = re.sub(r"(?<=/)(\*|[\w.-]+):", "", location)
    return location.replace("[1]", "")


def _svrl_findings(label: str, svrl: str) -> Findings:
    found = Findings()
    root = etree.fromstring(svrl.encode("utf-8"), _xml_parser())
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        rule = node.get("id") or ""
        text = " ".join("".join(node.itertext()).split())
        if rule and text.startswith(f"[{rule}]"):
            text = text[len(rule) + 2 :].lstrip("-: ")
        message = f"{label} {rule}: {text}" if rule else f"{label}: {text}"
        location = node.get("location")
        if location:
            message += f" (at {_short_location(location)})"
        flag = (node.get("flag") or "").lower()
        (found.warnings if flag in NOT_FAILURES else found.failures).append(message)
    found.failures = list(dict.fromkeys(found.failures))
    found.warnings = list(dict.fromkeys(found.warnings))
    return found


def _worker() -> int:
    """Read a JSON list of paths on stdin, write ``{"files": …, "timings": …}`` on stdout."""
    paths: list[str] = json.load(sys.stdin)
    # Saxon's native code may print; keep our stdout for the JSON answer alone.
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    clock = time.perf_counter()
    from saxonche import PySaxonApiError, PySaxonProcessor

    files: dict[str, dict[str, list[str]]] = {}
    timings: dict[str, float] = {}
    with PySaxonProcessor(license=False) as saxon:
        saxon.set_configuration_property(ALLOWED_PROTOCOLS, "file")
        compiler = saxon.new_xslt30_processor()
        timings["start"] = time.perf_counter() - clock
        clock = time.perf_counter()
        stylesheets: list[tuple[str, Any]] = [
            ("CEN", compiler.compile_stylesheet(stylesheet_file=str(CEN_XSLT))),
            ("Factur-X", compiler.compile_stylesheet(stylesheet_file=str(facturx_xslt()))),
        ]
        timings["compile"] = time.perf_counter() - clock
        clock = time.perf_counter()
        for path in paths:
            result = Findings()
            try:
                document = saxon.parse_xml(xml_file_name=path)
            except PySaxonApiError as exc:
                result.failures.append(f"XML: Saxon cannot parse it: {exc}")
                document = None
            for label, stylesheet in stylesheets if document is not None else []:
                try:
                    svrl = stylesheet.transform_to_string(xdm_node=document)
                except PySaxonApiError as exc:
                    result.failures.append(f"{label}: the schematron stopped: {exc}")
                    continue
                if not svrl:
                    result.failures.append(f"{label}: the schematron returned nothing")
                    continue
                found = _svrl_findings(label, svrl)
                result.failures.extend(found.failures)
                result.warnings.extend(found.warnings)
            files[path] = {"failures": result.failures, "warnings": result.warnings}
        timings["validate"] = time.perf_counter() - clock
    with os.fdopen(answer_fd, "w", encoding="utf-8") as out:
        json.dump({"files": files, "timings": timings}, out)
    return 0


# ---------------------------------------------------------------------------------------------
# The command line.


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Validate CII XML or Factur-X PDF files with the CEN EN 16931 schematron "
        "and the Factur-X EN 16931 XSD and schematron, offline."
    )
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE")
    parser.add_argument("--warnings", action="store_true", help="also list the warnings")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker()
    if not args.files:
        parser.error("give at least one XML or PDF file")
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        parser.error(f"not a file: {', '.join(missing)}")
    results = check_files(args.files)
    failed = False
    for path in args.files:
        found = results[path]
        failed = failed or bool(found.failures)
        if found.failures:
            print(f"{path}: {len(found.failures)} failure(s)")
            for failure in found.failures:
                print(f"  {failure}")
        else:
            print(f"{path}: {PASSES}")
        if found.warnings:
            if args.warnings:
                for warning in found.warnings:
                    print(f"  warning: {warning}")
            else:
                print(f"  ({len(found.warnings)} warning(s); --warnings lists them)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
