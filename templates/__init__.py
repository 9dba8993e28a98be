"""Built-in invoice templates, shipped as package data (``pipeline.templates``).

``xoi-invoices templates export DIR`` copies them; ``--templates DIR`` overrides them
one file at a time.
"""
