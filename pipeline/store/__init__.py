"""Store: the output folder, the only place the pipeline writes, and what it remembers.

- :func:`writing` and :func:`reading` open a folder (locked, its entries checked);
  :class:`OutputFolder` stores each PDF with its ledger row, withdraws, and writes the
  manifest and the report; :func:`timestamp` is the time every row records;
- :class:`Ledger` (over :class:`Database`, where SQLite's errors become ours) remembers
  what was issued; :class:`Annex` lets a later stage keep its own tables in the same file
  and the same transactions, without the store knowing it;
- :func:`merge` (and :func:`check_target`) one print-ready PDF; :func:`verify` re-opens
  every PDF the manifest lists;
- :func:`report_data`, :func:`csv_parts`, :func:`spreadsheet_safe`: what a report or a
  CSV file says, and how a cell is kept from being a formula;
- :func:`check_ledger` whether a folder holds a ledger at all;
- :func:`lock_holder`, :func:`last_report`, :func:`open_ledger`, :func:`versions` (each
  :class:`Version` of an invoice in history/) and :func:`version_count`: what a process
  that stays up reads of a folder without its lock;
- :func:`not_files`, :func:`closest_invoiced`, :func:`listed`, :class:`Nearest`: tickets a
  clerk typed, and the closest ones that are there.

The file names (``MANIFEST``, ``DELIVERIES``…) are the contract's (SPEC.md, "Output").
"""

from .audit import verify
from .database import Database
from .entries import DELIVERIES, LEDGER, MANIFEST, REPORT, check_ledger
from .folder import OutputFolder, reading, timestamp, writing
from .ledger import Annex, Ledger
from .lookup import Version, last_report, lock_holder, open_ledger, version_count, versions
from .manifest import csv_parts, report_data, spreadsheet_safe
from .print_pdf import check_target, merge
from .typed_tickets import Nearest, closest_invoiced, listed, not_files

__all__ = [
    "DELIVERIES", "LEDGER", "MANIFEST", "REPORT", "Annex", "Database", "Ledger", "Nearest",
    "OutputFolder", "Version", "check_ledger", "check_target", "closest_invoiced",
    "csv_parts", "last_report", "listed", "lock_holder", "merge", "not_files",
    "open_ledger", "reading", "report_data", "spreadsheet_safe", "timestamp", "verify",
    "version_count", "versions", "writing",
]
