"""What an EN 16931 e-invoice (Factur-X, profile EN 16931) requires of the data.

The official validators (the CEN schematron and Factur-X's) refuse an invoice for a missing
or malformed fact; we check the same facts first, here, so a record that would make such
an invoice is rejected by name before anything renders and the seller's gaps stop the run
(exit 2). One owner for those rules: the codes (countries, VAT categories, payment means,
as the CEN rules 1.3.16 list them), what each VAT category asks (:data:`CATEGORIES`) and
the seller's fields (:func:`check_company`). Messages name the field and its business term:
``bill_to_country (BT-55): required for an e-invoice``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from stdnum import bic as bics
from stdnum import iban as ibans

from .company import Company
from .errors import ConfigError
from .money import minor_unit

FORMATS = ("factur-x",)
FILE_NAME = "factur-x.xml"  # the embedded XML's name, which Factur-X fixes
REQUIRED = "required for an e-invoice"

# ISO 3166-1 alpha-2 as rule BR-CL-14 lists it (1A: Kosovo).
_COUNTRIES = """
    1A AD AE AF AG AI AL AM AN AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BL BJ
    BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX
    CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH
    GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC
    MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL
    NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB
    SC SD SE SG SH SI SJ SK SL SM SN SO SR ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN
    TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW
"""
COUNTRIES = frozenset(_COUNTRIES.split())
# BR-CO-09: a VAT identifier starts with its country's code; Greece's may start with EL.
VAT_PREFIXES = COUNTRIES | {"EL"}
# UNTDID 4461, as rule BR-CL-16 lists it.
_PAYMENT_MEANS = """
    1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
    60 61 62 63 64 65 66 67 68 69 70 74 75 76 77 78 91 92 93 94 95 96 97 98 ZZZ
"""
PAYMENT_MEANS = frozenset(_PAYMENT_MEANS.split())
TRANSFERS = frozenset({"30", "58"})  # credit transfer, SEPA credit transfer
_VAT_ID = re.compile(r"[A-Z0-9]{2,14}")


@dataclass(frozen=True, slots=True)
class Category:
    """What a VAT category (UNCL 5305) asks of an invoice, by the CEN rules BR-S/Z/E/AE/
    IC/G/O/AF/AG: its rate, its exemption reason, and the VAT identifiers it needs."""

    words: str
    rate: str  # "positive", "zero" or "any"
    reason: str  # "forbidden", "required", or "coded": the VATEX code below stands for it
    code: str = ""
    buyer_vat: bool = False  # the buyer's VAT identifier (BT-48) is required
    vat_ids: bool = True  # False: no VAT identifier may be given at all (BR-O-02)


CATEGORIES = {
    "S": Category("standard rate", "positive", "forbidden"),
    "Z": Category("zero rated", "zero", "forbidden"),
    "E": Category("exempt from VAT", "zero", "required"),
    "AE": Category("reverse charge", "zero", "coded", "VATEX-EU-AE", buyer_vat=True),
    "K": Category("intra-community supply", "zero", "coded", "VATEX-EU-IC", buyer_vat=True),
    "G": Category("export outside the EU", "zero", "coded", "VATEX-EU-G"),
    "O": Category("not subject to VAT", "zero", "coded", "VATEX-EU-O", vat_ids=False),
    "L": Category("IGIC (Canary Islands)", "positive", "forbidden"),
    "M": Category("IPSI (Ceuta and Melilla)", "any", "forbidden"),
}


def country(value: str) -> str:
    """An ISO 3166-1 alpha-2 code (``de`` is ``DE``), or :class:`ValueError`."""
    code = value.strip().upper()
    if code not in COUNTRIES:
        raise ValueError(f"{value.strip()[:40]!r} is not an ISO 3166-1 country code like DE")
    return code


def vat_id(value: str) -> str:
    """A VAT identifier as the rules compare it (``DE 123 456 789`` is ``DE123456789``)."""
    compact = re.sub(r"[\s.-]", "", value).upper()
    if compact[:2] not in VAT_PREFIXES or not _VAT_ID.fullmatch(compact[2:]):
        raise ValueError(f"{value.strip()[:40]!r} is not a VAT identifier that starts with "
                         "its country's code, like DE123456789")
    return compact


def check_company(company: Company, currency: str) -> Company:
    """The seller with its fields as the rules compare them (:func:`checked`), or
    :class:`ConfigError` naming the first ``[company]`` field an e-invoice lacks (what BR-06,
    BR-08, BR-09, BR-61 ask), and a default ``currency`` it cannot state."""
    needed = [("name", "BT-27"), ("vat_id", "BT-31"), ("street", "BT-35"),
              ("postcode", "BT-38"), ("city", "BT-37"), ("country", "BT-40")]
    if company.payment_means in TRANSFERS:  # BR-61: a transfer names its account
        needed.append(("iban", "BT-84"))
    for name, term in needed:
        if not str(getattr(company, name)).strip():
            raise ConfigError(f"[company] {name} ({term}): {REQUIRED}")
    try:
        check_currency(currency)
    except ValueError as error:
        raise ConfigError(f"currency (BT-5): {error}") from None
    return checked(company)


def checked(company: Company) -> Company:
    """The seller with ``vat_id``, ``country``, ``iban`` and ``bic`` in the one form the
    rules (and banks) compare, or :class:`ConfigError` for one given but malformed, e-invoice
    or not: the invoice prints them."""
    normal: dict[str, Any] = {}
    for name, term, check in (("vat_id", "BT-31", vat_id), ("country", "BT-40", country),
                              ("iban", "BT-84", _iban), ("bic", "BT-86", _bic)):
        value = getattr(company, name)
        if value.strip():
            try:
                normal[name] = check(value)
            except ValueError as error:
                raise ConfigError(f"[company] {name} ({term}): {error}") from None
    if company.payment_means not in PAYMENT_MEANS:
        raise ConfigError(f"[company] payment_means (BT-81): {company.payment_means!r} is "
                          "not a UNTDID 4461 code like 58 (SEPA credit transfer)")
    return replace(company, **normal)


def check_currency(code: str) -> None:
    """:class:`ValueError` for a currency whose amounts EN 16931 cannot state: it allows at
    most 2 decimals (BR-DEC-*), and KWD or BHD have 3."""
    exponent = minor_unit(code).as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) else 0
    if decimals > 2:
        raise ValueError(f"{code} has {decimals} decimals, an e-invoice (EN 16931) at most 2")


def printed_iban(iban: str) -> str:
    """The IBAN as people read it, in groups of four."""
    return str(ibans.format(iban))


def _iban(value: str) -> str:
    try:
        return str(ibans.validate(value))  # the compact form: DE89370400440532013000
    except ValueError:
        raise ValueError(f"{value.strip()[:40]!r} is not a valid IBAN") from None


def _bic(value: str) -> str:
    try:
        return str(bics.validate(value))
    except ValueError:
        raise ValueError(f"{value.strip()[:40]!r} is not a valid BIC") from None


def category(given: str, tax_rate: Decimal) -> str:
    """The VAT category of an invoice: the one given, else S for a taxed one; "" when the
    data does not say (0 % can be Z, E, AE, K, G or O, and a guess would be a tax claim)."""
    return given or ("S" if tax_rate > 0 else "")
