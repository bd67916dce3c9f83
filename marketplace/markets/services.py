from __future__ import annotations

from datetime import date

from sqlalchemy import select

from marketplace import audit
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.markets.models import SERIES_NAMES, MarketEvent, MarketSeries


class MarketError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def create_event(*, series: str, year: int, city: str, country: str, starts_on: date,
                 ends_on: date, by: User, name: str | None = None) -> MarketEvent:
    """A market edition, run by the creating festival organization."""
    if series not in MarketSeries.__members__.values():
        raise MarketError(_("Choose one of MIPCOM, MIPTV, Asia TV Forum, FILMART or the "
                            "Shanghai TV Festival."), "series")
    if ends_on < starts_on:
        raise MarketError(_("The market cannot end before it starts."), "ends_on")
    if len(country or "") != 2:
        raise MarketError(_("Use a two-letter country code."), "country")
    code = f"{series.upper()}-{year}"
    if db.session.scalar(select(MarketEvent.id).where(MarketEvent.code == code)):
        raise MarketError(_("%(code)s already exists.", code=code), "series")
    event = MarketEvent(code=code, series=series, name=name or f"{SERIES_NAMES[series]} {year}",
                        city=city.strip(), country=country.upper(), starts_on=starts_on,
                        ends_on=ends_on, organizer_id=by.organization_id)
    db.session.add(event)
    db.session.flush()
    audit.record("market.created", "market_event", event.id, parties=[by.organization_id],
                 actor=by, changes={"code": code})
    return event


def upcoming_and_past(today: date) -> tuple[list[MarketEvent], list[MarketEvent]]:
    events = db.session.scalars(select(MarketEvent).order_by(MarketEvent.starts_on)).all()
    return ([e for e in events if e.ends_on >= today],
            sorted((e for e in events if e.ends_on < today), key=lambda e: e.starts_on,
                   reverse=True))
