"""Read: work-order exports (CSV, JSON, JSON Lines) → raw records with their line numbers.

Only what makes a whole file unreadable is an error here (:class:`InputError`); a bad
record is the validator's to report, so one bad row never costs the good ones. Files of
any size stream in bounded memory.

- :func:`read_file` an export written with the contract's field names;
- :func:`load_mapping` and :func:`read_mapped` an export written otherwise, through a
  mapping file (:class:`Mapping`);
- :func:`draft` a starting mapping for a clerk to edit (``mapping draft``);
- :func:`lines` a file as decoded lines, for whatever counts them;
- :data:`SUFFIXES` the file names it reads (suffix → kind).
"""

from .draft import draft
from .files import SUFFIXES, read_file
from .mapping_file import Mapping, load_mapping
from .remap import read_mapped
from .text import lines

__all__ = ["SUFFIXES", "Mapping", "draft", "lines", "load_mapping", "read_file",
           "read_mapped"]
