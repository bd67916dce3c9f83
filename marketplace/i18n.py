"""Interface translation (not subtitles: those live in ``localization/``).

English and Simplified Chinese; the locale comes from the user's preference, then the
choice made on this browser, then Accept-Language. Dates, numbers and money are
formatted by Babel for that locale and the user's time zone.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import get_currency_precision
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import (
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    ngettext,  # noqa: F401
)
from flask_babel import gettext as _  # noqa: F401 - re-exported for every context
from flask_babel import lazy_gettext as _l  # noqa: F401
from flask_login import current_user

from marketplace.config import PROJECT_ROOT

LOCALES = {"en": "English", "zh_Hans": "简体中文"}
DEFAULT_LOCALE = "en"
DEFAULT_TIMEZONE = "Asia/Shanghai"
CONTEXT_PACKAGES = ("marketplace", "catalog", "licensing", "localization", "transcode")


def translation_directories() -> list[str]:
    """Each context keeps its own catalog; Flask-Babel merges them."""
    dirs = [PROJECT_ROOT / pkg / "translations" for pkg in CONTEXT_PACKAGES]
    return [str(d) for d in dirs if d.is_dir()]


def compile_catalogs(force: bool = False) -> list[Path]:
    """Compile every context's ``.po`` into ``.mo`` where it is missing or stale."""
    written = []
    for directory in translation_directories():
        for po_path in Path(directory).glob("*/LC_MESSAGES/*.po"):
            mo_path = po_path.with_suffix(".mo")
            if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=po_path.parent.parent.name)
            with mo_path.open("wb") as fh:
                write_mo(fh, catalog)
            written.append(mo_path)
    return written


def negotiate_locale(header_languages) -> str:
    """Map Accept-Language to a catalog: any Chinese (zh, zh-CN, zh-Hans, zh-TW) → zh_Hans."""
    for lang, _quality in header_languages:
        tag = lang.replace("_", "-").lower()
        if tag.startswith("zh"):
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def select_locale() -> str:
    if not has_request_context():  # a job: callers use force_locale for the recipient
        return DEFAULT_LOCALE
    if current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return negotiate_locale(request.accept_languages)


def select_timezone() -> str:
    if not has_request_context():
        return DEFAULT_TIMEZONE
    if current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return session.get("timezone") or DEFAULT_TIMEZONE


def format_money(amount_minor: int, currency: str) -> str:
    """Money is stored as integer minor units; Babel knows each currency's exponent."""
    exponent = get_currency_precision(currency)
    return format_currency(Decimal(amount_minor).scaleb(-exponent), currency)


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_directories())
    try:
        compile_catalogs()
    except OSError as exc:  # a read-only install: `pdx i18n compile` at build time instead
        app.logger.warning("could not compile message catalogs: %s", exc)
    from marketplace.extensions import babel

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters.update(
        date=format_date, datetime=format_datetime, number=format_decimal, money=format_money,
    )

    @app.context_processor
    def inject_locales():
        from flask_babel import get_locale

        return {"LOCALES": LOCALES, "current_locale": str(get_locale())}


def current_locale_name() -> str:
    from flask_babel import get_locale

    return str(get_locale() or current_app.config.get("BABEL_DEFAULT_LOCALE"))


def extract_catalog(package: str):
    """The interface strings of one context package, as a Babel catalog template."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    template = Catalog(project="pudong-drama-exchange", charset="utf-8")
    root = PROJECT_ROOT / package
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map=method_map, keywords=keywords,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}}):
        template.add(message, None, [(f"{package}/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def update_catalog(package: str, locale: str = "zh_Hans") -> tuple[Path, list[str]]:
    """Merge the package's current strings into its ``.po``; return the untranslated ones."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = extract_catalog(package)
    po_path = PROJECT_ROOT / package / "translations" / locale / "LC_MESSAGES" / "messages.po"
    if po_path.exists():
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
    else:
        catalog = Catalog(locale=locale, project="pudong-drama-exchange", charset="utf-8")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    po_path.parent.mkdir(parents=True, exist_ok=True)
    with po_path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=False)
    return po_path, untranslated(po_path)


def untranslated(po_path: Path) -> list[str]:
    with po_path.open("rb") as fh:
        catalog = read_po(fh)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing
