"""Core: the vocabulary every stage speaks, and nothing else.

Each module is one idea, imported by name (``from ..core.models import Invoice``); none
imports a stage, WeasyPrint, Dask or click:

- records and errors: :mod:`.models` (frozen work orders, invoices, results),
  :mod:`.errors` (the one exception tree), :mod:`.money`, :mod:`.stop` (the ``Stop``
  a long step watches);
- the input contract: :mod:`.fields` (field names, required columns, yes/no),
  :mod:`.formats` (dates, decimal comma, cents), :mod:`.text` (what text may hold),
  :mod:`.tickets` (one spelling of a ticket), :mod:`.addresses` (email addresses);
- configuration: :mod:`.config` (resolved once: options, environment, TOML, defaults),
  :mod:`.smtp_settings`, :mod:`.toml_file`, :mod:`.logo`, :mod:`.template_files`,
  :mod:`.sandbox` (templates rendered in Jinja's sandbox);
- files and output: :mod:`.files` (whole files or none, regular files only),
  :mod:`.file_names` (a ticket's file names), :mod:`.terminal` (text made harmless for a
  terminal), :mod:`.compact` (what tickets compare, in a few bytes), :mod:`.suggest`
  (the close match a typo gets).
"""
