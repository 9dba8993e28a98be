"""Settings: every default in one place, resolved once from options, environment, TOML.

The CLI and the Python API share :func:`resolve`; whatever is not given anywhere takes
the value of :data:`DEFAULTS`. Precedence, highest first:

1. command-line options (or keyword arguments of the Python API),
2. environment: ``XOI_PARTNER_ID``, ``XOI_SHARE_SECRET``, ``XOI_BASE_URL``,
   ``XOI_SHARE_URL_TEMPLATE``, ``XOI_CLUSTER``, ``XOI_MAPPING``,
3. the TOML file (``--config FILE``, else ``xoi-invoices.toml`` in the working folder).

The SMTP password is read from ``XOI_SMTP_PASSWORD`` only: never from a file, never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from tinycss2.color3 import parse_color  # type: ignore[import-untyped]

from . import einvoice, logo, toml_file
from .company import Company as Company  # where the invoice and others import it from
from .errors import ConfigError
from .money import currencies
from .smtp_settings import Smtp as Smtp  # where the mailer and others import it from
from .smtp_settings import checked_smtp
from .suggest import did_you_mean
from .text import CONTROL

DEFAULT_CONFIG_FILE = "xoi-invoices.toml"

ENVIRONMENT = {
    "XOI_PARTNER_ID": "partner_id",
    "XOI_SHARE_SECRET": "share_secret",
    "XOI_BASE_URL": "base_url",
    "XOI_SHARE_URL_TEMPLATE": "share_url_template",
    "XOI_CLUSTER": "cluster",
    "XOI_MAPPING": "mapping",
}


@dataclass(frozen=True)
class Settings:
    """Everything a command needs besides its inputs. ``share_secret`` never prints."""

    partner_id: str | None = None
    share_secret: str | None = field(default=None, repr=False)
    base_url: str = "https://vision.xoeye.io"
    share_url_template: str = "{base_url}/share/{share_id}"
    currency: str = "USD"
    out: Path = Path("output")
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Seconds one invoice may take to render before it is reported as failed (0: no
    # limit). Here a one-page invoice takes 0.1 s, one of 1,000 lines (34 pages) 4 s.
    render_timeout: int = 300
    # Seconds a run waits for another command's lock on the folder before exit 75 (0:
    # none): a nightly run that meets a clerk's regenerate waits instead of skipping a night.
    lock_timeout: int = 0
    quiet: bool = False
    log_format: str = "text"
    locale: str = "en_US"
    pdf_variant: str | None = None
    # "factur-x": every invoice also an EN 16931 e-invoice, PDF/A-3b implied (core/einvoice.py)
    einvoice: str | None = None
    templates: Path | None = None
    merge: Path | None = None
    cluster: str | None = None  # a Dask scheduler's address: render there (see cluster.py)
    mapping: Path | None = None  # how to read an export not in our format (see mapping.py)
    company: Company = field(default_factory=Company)
    send: bool = False
    smtp: Smtp = field(default_factory=Smtp)
    # The billing desk (`serve`): the exports it re-renders from (file names or globs),
    # where it listens, and the reverse proxy that authenticates clerks in an office.
    inputs: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8750
    auth_header: str | None = None
    trusted_proxy: str | None = None
    desk_token: str | None = field(default=None, repr=False)  # XOI_DESK_TOKEN only

    def require_partner_id(self) -> str:
        if not self.partner_id:
            raise ConfigError(
                "no partner id: set XOI_PARTNER_ID or partner_id in the configuration file "
                "(XOi issues it at onboarding)"
            )
        return self.partner_id


DEFAULTS = Settings()
PDF_VARIANTS = ("pdf/a-3b", "pdf/ua-1")
_PATHS = ("out", "logo", "templates", "merge", "mapping")

# Secrets come from the environment only (like the SMTP password).
_SETTING_NAMES = {f.name for f in fields(Settings)} - {"company", "smtp", "desk_token"}
_COMPANY_NAMES = {f.name for f in fields(Company)}
# TOML spells the sender `from`, a Python keyword.
_SMTP_KEYS = {"from" if f.name == "sender" else f.name: f.name
              for f in fields(Smtp) if f.name != "password"}


def _normalize(key: str) -> str:
    return key.strip().lower().replace("-", "_")


_TRUE = ("1", "true", "yes", "on")
# Ten years of payment terms, a day per invoice: beyond is a typo (and, for the terms, a
# due date past the calendar).
_MOST = {"payment_terms_days": 3650, "render_timeout": 86400, "lock_timeout": 86400,
         "workers": 512, "port": 65535}
_FALSE = ("0", "false", "no", "off", "")


def _coerce(name: str, value: Any, *, source: str) -> Any:
    """Turn a TOML or environment value into the type the setting has."""
    default = getattr(DEFAULTS, name, None)
    if default is None:
        default = getattr(DEFAULTS.company, name, None)
    if default is None:
        default = getattr(DEFAULTS.smtp, name, None)
    # A NUL makes every file call fail; other controls would reach the invoice or a log.
    # The value is not shown: it may be the secret.
    if isinstance(value, str) and CONTROL.search(value):
        raise ConfigError(f"{name}: holds control characters", source=source)
    try:
        if name in _PATHS:
            if isinstance(value, Path):
                return value
            if not isinstance(value, str):  # `out = 3` in TOML is a typo, not a folder "3"
                raise TypeError(value)
            try:
                return None if value == "" else Path(value).expanduser()
            except RuntimeError:  # ~name of a user this machine does not have
                raise ConfigError(f"{name}: {value!r}: no home folder for "
                                  f"{value.split('/')[0]!r} here", source=source) from None
        if name == "inputs":
            return _inputs(value)
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            answer = str(value).strip().lower()
            if answer not in _TRUE + _FALSE:  # "maybe" is a typo, not "no"
                raise ValueError(value)
            return answer in _TRUE
        if isinstance(default, int):
            # A whole number: not 1.5 (or 1e999) from TOML, not "two" from the environment.
            if isinstance(value, bool | float) or (isinstance(value, str)
                                                   and not value.strip().isdigit()):
                raise ValueError(value)
            number = int(value)
            if not (1 if name == "workers" else 0) <= number <= _MOST.get(name, 10**6):
                raise ValueError(number)
            return number
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a valid value", source=source) from None
    if name == "payment_means" and type(value) is int:  # `payment_means = 58` is a code
        value = str(value)
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text, got {value!r}", source=source)
    return value


def _inputs(value: Any) -> tuple[str, ...]:
    """The desk's exports: a list of file names or globs (one name alone is a list of one)."""
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not all(
            isinstance(item, str | Path) and str(item).strip() for item in items):
        raise TypeError(value)
    return tuple(str(Path(item).expanduser()) for item in items)


Tables = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


def _from_toml(path: Path) -> Tables:
    """The top-level settings, ``[company]`` and ``[smtp]`` of one file."""
    document, text = toml_file.read(path, "configuration")
    lines = toml_file.key_lines(text)

    def fail(table: str, key: str, message: str) -> ConfigError:
        return ConfigError(message, source=path, line=lines.get(f"{table}.{key}"))

    def unknown(table: str, key: str, known: Iterable[str]) -> ConfigError:
        where = f"[{table}] " if table else ""
        return fail(table, key, f"unknown key {where}{key!r}"
                    f"{did_you_mean(_normalize(key), sorted(known))}")

    def coerce(table: str, key: str, name: str, value: Any) -> Any:
        try:
            return _coerce(name, value, source=str(path))
        except ConfigError as error:
            raise fail(table, key, f"[{table}] {error.message}" if table else error.message
                       ) from None

    settings: dict[str, Any] = {}
    company: dict[str, Any] = {}
    smtp: dict[str, Any] = {}
    for key, value in document.items():
        name = _normalize(key)
        if name == "smtp" and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                sub_name = _normalize(sub_key)
                if sub_name == "password":
                    raise fail("smtp", sub_key, "[smtp] password: not read from a file; set "
                               "XOI_SMTP_PASSWORD in the environment")
                if sub_name not in _SMTP_KEYS:
                    raise unknown("smtp", sub_key, _SMTP_KEYS)
                smtp[_SMTP_KEYS[sub_name]] = coerce("smtp", sub_key, _SMTP_KEYS[sub_name],
                                                    sub_value)
        elif name == "company" and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                sub_name = _normalize(sub_key)
                if sub_name not in _COMPANY_NAMES:
                    raise unknown("company", sub_key, _COMPANY_NAMES)
                company[sub_name] = coerce("company", sub_key, sub_name, sub_value)
        elif name in ("smtp", "company"):
            raise fail("", key, f"{key!r}: expected a table [{name}]")
        elif name in _SETTING_NAMES:
            settings[name] = coerce("", key, name, value)
        else:
            raise unknown("", key, {*_SETTING_NAMES, "company", "smtp"})
    # Files named in the configuration are found beside it, wherever the run starts.
    for table, name in ((company, "logo"), (settings, "templates"), (settings, "mapping")):
        if table.get(name) is not None and not table[name].is_absolute():
            table[name] = path.parent / table[name]
    if "inputs" in settings:
        settings["inputs"] = tuple(str(path.parent / item) for item in settings["inputs"])
    return settings, company, smtp


def _locale(name: str) -> str:
    """``de-DE``, ``de_de`` and ``de_DE`` all mean ``de_DE``; unknown locales are errors."""
    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        raise ConfigError(f"locale: {name!r} is not a known locale (e.g. en_US, de_DE)") \
            from None


def resolve(
    options: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings of one command; ``None`` in ``options`` means "not given"."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    company: dict[str, Any] = {}
    smtp: dict[str, Any] = {}
    if config_file is not None:
        settings, company, smtp = _from_toml(Path(config_file))
    else:
        implicit = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if implicit.is_file():
            settings, company, smtp = _from_toml(implicit)
    if environ.get("XOI_DESK_TOKEN"):
        settings["desk_token"] = environ["XOI_DESK_TOKEN"]
    if environ.get("XOI_SMTP_PASSWORD"):
        smtp["password"] = environ["XOI_SMTP_PASSWORD"]
    for variable, name in ENVIRONMENT.items():
        if environ.get(variable):
            settings[name] = _coerce(name, environ[variable], source=variable)
    for name, value in (options or {}).items():
        if value is not None:
            settings[name] = _coerce(name, value, source="option")
    accent = company.get("accent_color", DEFAULTS.company.accent_color)
    # It goes into the stylesheet as is: one CSS colour token and nothing else, and one
    # WeasyPrint knows (an unknown word would be dropped silently).
    if not re.fullmatch(r"#?[0-9A-Za-z]{3,20}", accent) or parse_color(accent) is None:
        raise ConfigError(f"[company] accent_color: {accent!r} is not a CSS colour "
                          "like #0b5cad")
    currency = str(settings.get("currency", DEFAULTS.currency)).upper()
    if currency not in currencies():
        raise ConfigError(f"currency: {currency!r} is not an ISO 4217 currency code")
    settings["currency"] = currency
    if company.get("logo") is not None:
        logo.check(company["logo"])
    if settings.get("log_format", "text") not in ("text", "json"):
        raise ConfigError(f"log_format: {settings['log_format']!r} is not text or json")
    if settings.get("pdf_variant") not in (None, *PDF_VARIANTS):
        raise ConfigError(f"pdf_variant: {settings['pdf_variant']!r} is not one of "
                          f"{', '.join(PDF_VARIANTS)}")
    if settings.get("einvoice") not in (None, *einvoice.FORMATS):
        raise ConfigError(f"einvoice: {settings['einvoice']!r} is not one of "
                          f"{', '.join(einvoice.FORMATS)}")
    settings["locale"] = _locale(settings.get("locale", DEFAULTS.locale))
    if settings.get("templates") is not None and not settings["templates"].is_dir():
        raise ConfigError(f"templates: {settings['templates']} is not a folder")
    result = replace(DEFAULTS, **settings)
    issuer = replace(result.company, **company)
    issuer = einvoice.check_company(issuer, result.currency) if result.einvoice else \
        einvoice.checked(issuer)
    return replace(result, company=issuer, smtp=checked_smtp(replace(DEFAULTS.smtp, **smtp)))
