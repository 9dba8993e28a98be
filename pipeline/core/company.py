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
    # What an e-invoice (``einvoice = "factur-x"``) states of the seller, as EN 16931 names
    # it: BT-31 and BT-30, the postal address BT-35/38/37/40, the account BT-84/86 and how
    # to pay BT-81 (58: SEPA credit transfer). Optional otherwise; core/einvoice.py checks.
    vat_id: str = ""
    registration_id: str = ""  # BT-30: the trade register's number (HRB 123456, a SIREN)
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""
    iban: str = ""
    bic: str = ""
    payment_means: str = "58"
