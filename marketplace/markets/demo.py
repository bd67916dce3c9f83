from __future__ import annotations

from datetime import date

from sqlalchemy import select

from marketplace.accounts.models import Organization
from marketplace.extensions import db
from marketplace.markets.models import SERIES_NAMES, MarketEvent

EDITIONS = [
    ("filmart", 2026, "Hong Kong", "HK", date(2026, 3, 16), date(2026, 3, 19)),
    ("miptv", 2026, "Cannes", "FR", date(2026, 4, 13), date(2026, 4, 15)),
    ("stvf", 2026, "Shanghai", "CN", date(2026, 6, 22), date(2026, 6, 26)),
    ("mipcom", 2026, "Cannes", "FR", date(2026, 10, 12), date(2026, 10, 15)),
    ("atf", 2026, "Singapore", "SG", date(2026, 12, 2), date(2026, 12, 4)),
    ("filmart", 2027, "Hong Kong", "HK", date(2027, 3, 15), date(2027, 3, 18)),
]


def load_demo(log) -> None:
    organizer = db.session.scalar(select(Organization).where(
        Organization.slug == "cannes-markets"))
    for series, year, city, country, starts, ends in EDITIONS:
        code = f"{series.upper()}-{year}"
        if db.session.scalar(select(MarketEvent.id).where(MarketEvent.code == code)):
            continue
        db.session.add(MarketEvent(code=code, series=series, name=f"{SERIES_NAMES[series]} {year}",
                                   city=city, country=country, starts_on=starts, ends_on=ends,
                                   organizer=organizer))
    db.session.flush()
    log(f"markets: {len(EDITIONS)} market editions")
