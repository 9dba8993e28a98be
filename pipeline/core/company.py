"""The issuer printed at the top of every invoice: the TOML table ``[company]``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Company:
    """The issuer printed at the top of every invoice (TOML table ``[company]``)."""

    name: str = "Your Company"
    address: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    tax_id: str = ""
    logo: Path | None = None
    accent_color: str = "#0b5cad"
    payment_terms_days: int = 30
    payment_instructions: str = ""
    footer: str = ""
