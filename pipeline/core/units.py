"""A line item's unit: a UN/ECE Recommendation 20 code in the e-invoice (BT-130), words on
the invoice.

The codes are those the CEN schematron's BR-CL-23 accepts (``unit_codes.txt``), so we refuse
exactly what the validator refuses, before anything renders. They are case-sensitive, as
the validator is, and all upper case: ``hur`` is refused with "use HUR", never read as HUR,
because upper-casing would turn ``stk`` (German Stück) into STK (stick, cigarette) and
``kw`` into KW (kilogram per millimetre). A blank unit is the default, C62 (one).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from importlib.resources import files

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_decimal
from babel.units import UnknownUnitError, format_unit

DEFAULT_UNIT = "C62"
BARE = frozenset({"C62", "EA"})  # pure counts: just the number, as before units existed
EXAMPLES = "(e.g. HUR hour, C62 one, H87 piece, MTR metre)"

# code: (English name, CLDR unit or "", what people write for it, compared without case,
# spaces, dots or hyphens). Durations print long ("2.5 hours": "hr", "Tg.", "m." for a
# month in French read badly); measures print their symbol ("2.5 m²", "12 kWh").
KNOWN: dict[str, tuple[str, str, str]] = {
    "HUR": ("hour", "duration-hour", "h hr hrs hour hours std stunde stunden heure heures "
            "hora horas"),
    "LH": ("labour hour", "duration-hour", "laborhour labourhour manhour"),
    "MIN": ("minute", "duration-minute", "min mins minute minutes minuten minuto minutos"),
    "SEC": ("second", "duration-second", "s sec secs second seconds"),
    "DAY": ("day", "duration-day", "d day days tag tage jour jours dia dias día días"),
    "WEE": ("week", "duration-week", "wk wks week weeks woche wochen semaine semana"),
    "MON": ("month", "duration-month", "mo mos month months monat monate mois mes meses"),
    "ANN": ("year", "duration-year", "yr yrs year years jahr jahre an año"),
    "MTR": ("metre", "length-meter", "m mtr meter meters metre metres mètre mètres metro"),
    "DMT": ("decimetre", "length-decimeter", "dm"),
    "CMT": ("centimetre", "length-centimeter", "cm"),
    "MMT": ("millimetre", "length-millimeter", "mm"),
    "KMT": ("kilometre", "length-kilometer", "km"),
    "FOT": ("foot", "length-foot", "ft foot feet"),
    "INH": ("inch", "length-inch", "in inch inches zoll"),
    "YRD": ("yard", "length-yard", "yd yds yard yards"),
    "SMI": ("mile", "length-mile", "mi mile miles"),
    "MTK": ("square metre", "area-square-meter", "m2 m² sqm qm squaremetre squaremeter"),
    "FTK": ("square foot", "area-square-foot", "sqft ft2 ft² squarefoot squarefeet"),
    "MTQ": ("cubic metre", "volume-cubic-meter", "m3 m³ cbm cubicmetre cubicmeter"),
    "FTQ": ("cubic foot", "volume-cubic-foot", "ft3 ft³ cuft cubicfoot cubicfeet"),
    "LTR": ("litre", "volume-liter", "l lt litre litres liter liters"),
    "MLT": ("millilitre", "volume-milliliter", "ml"),
    "GLL": ("US gallon", "volume-gallon", "gal gallon gallons"),
    "GLI": ("imperial gallon", "volume-gallon-imperial", ""),
    "KGM": ("kilogram", "mass-kilogram", "kg kgs kilo kilos kilogram kilograms kilogramm"),
    "GRM": ("gram", "mass-gram", "g gr gram grams gramm"),
    "LBR": ("pound", "mass-pound", "lb lbs pound pounds"),
    "ONZ": ("ounce", "mass-ounce", "oz ounce ounces"),
    "TNE": ("tonne", "mass-tonne", "t to ton tons tonne tonnes"),
    "KWH": ("kilowatt hour", "energy-kilowatt-hour", "kwh kilowatthour kilowatthours"),
    "KWT": ("kilowatt", "power-kilowatt", "kw kilowatt kilowatts"),
    "C62": ("one", "", "unit units u ud uds x einheit"),
    "EA": ("each", "", "each"),
    "H87": ("piece", "", "pc pcs pce piece pieces stk stück stueck st pièce pieza pza"),
    "SET": ("set", "", "sets satz"),
    "PR": ("pair", "", "pair pairs paar"),
    "LS": ("lump sum", "", "lumpsum flatrate pauschal psch pauschale forfait"),
    "KT": ("kit", "", "kit kits"),
    "LM": ("linear metre", "", "lfm linearmetre linearmeter"),
    "XBX": ("box", "", "box boxes karton"),
    "XRO": ("roll", "", "roll rolls rolle rollen"),
}

# Words for codes CLDR has no unit for, "one/other" in labels.py's languages.
LANGUAGES = ("en", "de", "fr", "es")
WORDS: dict[str, str] = {
    "H87": "pc/pcs | Stk./Stk. | pièce/pièces | pieza/piezas",
    "SET": "set/sets | Satz/Sätze | jeu/jeux | juego/juegos",
    "PR": "pair/pairs | Paar/Paar | paire/paires | par/pares",
    "LS": "lump sum/lump sums | pauschal/pauschal | forfait/forfaits | global/global",
    "KT": "kit/kits | Kit/Kits | kit/kits | kit/kits",
    "LM": "lin. m/lin. m | lfm/lfm | ml/ml | ml/ml",
    "XBX": "box/boxes | Karton/Kartons | boîte/boîtes | caja/cajas",
    "XRO": "roll/rolls | Rolle/Rollen | rouleau/rouleaux | rollo/rollos",
}


@cache
def codes() -> frozenset[str]:
    """Every code BR-CL-23 accepts, read once from ``unit_codes.txt`` (``#`` lines skipped)."""
    text = files("pipeline.core").joinpath("unit_codes.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


@cache
def _written() -> dict[str, str]:
    return {word: code for code, (_, _, words) in KNOWN.items() for word in words.split()}


def _key(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text.casefold())


def unit_code(value: str) -> str:
    """``value`` as a code the e-invoice may carry (blank: C62); ``ValueError`` otherwise,
    with the code to use. The message holds no ``"; "``: it separates a record's problems."""
    text = value.strip()
    if not text:
        return DEFAULT_UNIT
    if text in codes():
        return text
    shown = repr(text if len(text) <= 40 else text[:37] + "...").replace("; ", ";\u00a0")
    told = f"{shown} is not a UN/ECE Rec 20 unit code"
    code = _written().get(_key(text))
    if code is None and text.upper() in codes():
        code = text.upper()
    if code is None:
        raise ValueError(f"{told} {EXAMPLES}")
    name = KNOWN[code][0] if code in KNOWN else "codes are upper case"
    raise ValueError(f"{told}: use {code} ({name})")


def quantity_words(quantity: str, code: str, locale: str, count: Decimal) -> str:
    """The quantity cell: ``quantity`` (already formatted in ``locale``, worth ``count``)
    with its unit in words: ``2.5 hours``, ``2,5 Stunden``, ``3 pcs``, ``12 m²``; the bare
    number for C62 and EA; ``3 XPP`` for a code we have no words for. Never raises."""
    if code in BARE:
        return quantity
    unit = KNOWN[code][1] if code in KNOWN else ""
    if unit:
        long = unit.startswith("duration-")
        try:
            text = str(format_unit(count, unit, length="long" if long else "short",
                                   locale=locale))
            number = str(format_decimal(count, locale=locale))  # as format_unit wrote it
        except (UnknownLocaleError, UnknownUnitError, ValueError):
            return f"{quantity} {code}"
        # CLDR's pattern for the count's plural form, with the caller's digits in it.
        return text.replace(number, quantity, 1) if number in text else f"{quantity} {code}"
    if code in WORDS:
        language = locale.split("_")[0].lower()
        language = language if language in LANGUAGES else "en"  # English words and plurals
        one, other = WORDS[code].split(" | ")[LANGUAGES.index(language)].split("/")
        return f"{quantity} {one if Locale(language).plural_form(count) == 'one' else other}"
    return f"{quantity} {code}"
