"""English and Simplified Chinese: selection, formatting, and complete catalogs."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from marketplace.config import PROJECT_ROOT
from marketplace.i18n import CONTEXT_PACKAGES, extract_catalog, format_money, negotiate_locale


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"), ("zh-Hans", "zh_Hans"), ("zh-TW", "zh_Hans"),
    ("en-US,en;q=0.9", "en"), ("fr-FR", "en"), ("", "en"),
])
def test_accept_language(header, expected):
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    assert negotiate_locale(parse_accept_header(header, LanguageAccept)) == expected


def test_accept_language_chinese_page(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "上海短剧，授权全球" in page
    assert 'lang="zh-Hans"' in page


def test_switch_language_for_anonymous_and_user(client, csrf_token, login, create_user):
    token = csrf_token("/")
    client.post("/locale", data={"locale": "zh_Hans", "csrf_token": token, "next": "/"})
    assert "加入平台" in client.get("/").get_data(as_text=True)
    user = create_user(locale="en")
    login(user)
    client.post("/locale", data={"locale": "zh_Hans", "csrf_token": csrf_token("/dashboard")})
    assert user.locale == "zh_Hans"
    assert "工作台" in client.get("/dashboard").get_data(as_text=True)


def test_user_preference_beats_accept_language(client, login, create_user):
    user = create_user(locale="zh_Hans")
    login(user)
    page = client.get("/dashboard", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "工作台" in page


def test_money_and_dates_follow_locale(app):
    from datetime import UTC, datetime

    from flask_babel import format_datetime

    with app.test_request_context():
        with force_locale("en"):
            assert format_money(123456789, "USD") == "$1,234,567.89"
            assert format_money(5000000, "JPY") == "¥5,000,000"
        with force_locale("zh_Hans"):
            assert format_money(123456789, "CNY") == "¥1,234,567.89"
            assert "2026年" in format_datetime(datetime(2026, 10, 12, 9, 30, tzinfo=UTC), "long")


@pytest.mark.parametrize("package", CONTEXT_PACKAGES)
def test_every_interface_string_is_translated_to_chinese(package):
    """Each context's strings all have a Chinese translation in its catalog."""
    from babel.messages.pofile import read_po

    strings = {m.id for m in extract_catalog(package) if m.id}
    if not strings:
        pytest.skip(f"{package} has no interface strings yet")
    po = PROJECT_ROOT / package / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    assert po.exists(), f"run `pdx i18n update {package}` and translate {po}"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    missing = []
    for msgid in strings:
        message = catalog.get(msgid)
        translated = message and not message.fuzzy and all(
            message.string if isinstance(message.string, tuple) else (message.string,))
        if not translated:
            missing.append(msgid)
    assert not missing, f"untranslated in {package}: {missing[:10]} (run `pdx i18n update`)"


def test_catalogs_agree_where_they_share_a_string():
    """Flask-Babel merges the contexts' catalogs, so a string translated two ways would
    show one context's wording on another's pages."""
    from babel.messages.pofile import read_po

    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for package in CONTEXT_PACKAGES:
        po = PROJECT_ROOT / package / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            for message in read_po(fh):
                if not message.id or not isinstance(message.id, str) or not message.string:
                    continue
                first = seen.setdefault(message.id, (package, message.string))
                if first[1] != message.string:
                    clashes.append(f"{message.id!r}: {first[0]} {first[1]!r} vs "
                                   f"{package} {message.string!r}")
    assert not clashes, "translate these the same way everywhere:\n" + "\n".join(clashes)
