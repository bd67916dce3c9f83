from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organization
from marketplace.db import utcnow
from marketplace.extensions import db


class MarketSeries(enum.StrEnum):
    MIPCOM = "mipcom"
    MIPTV = "miptv"
    ATF = "atf"
    FILMART = "filmart"
    STVF = "stvf"


SERIES_NAMES = {
    MarketSeries.MIPCOM: "MIPCOM",
    MarketSeries.MIPTV: "MIPTV",
    MarketSeries.ATF: "Asia TV Forum & Market",
    MarketSeries.FILMART: "FILMART",
    MarketSeries.STVF: "Shanghai TV Festival",
}


class MarketEvent(db.Model):
    __tablename__ = "market_event"
    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="dates_in_order"),
        CheckConstraint("series IN ('mipcom', 'miptv', 'atf', 'filmart', 'stvf')",
                        name="series"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. MIPCOM-2026
    series: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organizer: Mapped[Organization | None] = relationship()
