"""Rights grants (rights in and rights out), inquiries, offers with their rounds, deals
with signatures and instalments.

One table, ``rights_grant``, holds every grant the avails engine weighs: the producer's
rights in (its chain of title) and the rights out (an open offer's terms, an accepted
deal waiting for signatures, a signed deal). Its list-valued dimensions (media,
territories, languages, holdbacks) are JSON columns, so the grants of a title load in
one query and map straight onto :class:`licensing.domain.Grant` (see :func:`to_domain`).

Offers keep every round's full terms (``OfferRound.terms``, the shape of
:class:`licensing.terms.Terms`), so a counter-offer never overwrites the history.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import Title
from licensing import domain
from marketplace.accounts.models import Organization, User
from marketplace.db import one_of, utcnow
from marketplace.extensions import db


class GrantSource(enum.StrEnum):
    MANUAL = "manual"  # rights in typed in by the producer
    EMA = "ema"  # rights in imported from an EMA avails file
    OFFER = "offer"  # the live terms of an open offer
    DEAL = "deal"  # an accepted deal


class OfferStatus(enum.StrEnum):
    OPEN = "open"
    COUNTERED = "countered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


#: Offers still being negotiated.
LIVE_OFFER_STATUSES = (OfferStatus.OPEN, OfferStatus.COUNTERED)


class FeeModel(enum.StrEnum):
    FLAT = "flat"
    MG_REVSHARE = "mg_revshare"
    REVSHARE = "revshare"


class Trigger(enum.StrEnum):
    ON_SIGNATURE = "on_signature"
    ON_DELIVERY_ACCEPTANCE = "on_delivery_acceptance"
    ON_DATE = "on_date"


class DealStatus(enum.StrEnum):
    PENDING_SIGNATURE = "pending_signature"
    SIGNED = "signed"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"
    REVERTED = "reverted"


class Side(enum.StrEnum):
    BUYER = "buyer"
    PRODUCER = "producer"


class RightsGrant(db.Model):
    """A grant over a title (or episode range) x media x territories x languages x term."""

    __tablename__ = "rights_grant"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR starts_on < ends_on", name="term_in_order"),
        CheckConstraint(one_of("kind", domain.GrantKind), name="kind"),
        CheckConstraint(one_of("status", domain.GrantStatus), name="status"),
        CheckConstraint(one_of("source", GrantSource), name="source"),
        CheckConstraint("episode_first IS NULL OR episode_first >= 1", name="episode_first"),
        CheckConstraint("episode_last IS NULL OR (episode_first IS NOT NULL "
                        "AND episode_last >= episode_first)", name="episode_last"),
        CheckConstraint("expires_on IS NOT NULL OR status NOT IN "
                        "('offer', 'option', 'first_negotiation', 'first_refusal')",
                        name="soft_status_expires"),
        CheckConstraint("reverted_on IS NOT NULL OR status != 'reverted'",
                        name="reverted_has_date"),
        Index("ix_rights_grant_title_kind", "title_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(40))
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    #: The licensor: the title's producer.
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    #: The buyer of a rights-out grant (exempt from its own holdbacks).
    licensee_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), index=True)
    media: Mapped[list[str]] = mapped_column(JSON)
    territories: Mapped[list[str]] = mapped_column(JSON)
    territories_excluded: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ``["pt:subtitle", "en"]``; None means every language.
    languages: Mapped[list[str] | None] = mapped_column(JSON)
    episode_first: Mapped[int | None]
    episode_last: Mapped[int | None]
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]  # None: perpetual
    exclusive: Mapped[bool] = mapped_column(default=False)
    #: ``[{"media", "territories", "territories_excluded", "languages", "start", "until"}]``
    holdbacks: Mapped[list[dict]] = mapped_column(JSON, default=list)
    may_sublicense: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("rights_grant.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    expires_on: Mapped[date | None]
    reverted_on: Mapped[date | None]
    source: Mapped[str] = mapped_column(String(10), default=GrantSource.MANUAL)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    title: Mapped[Title] = relationship()
    licensee: Mapped[Organization | None] = relationship(foreign_keys=[licensee_org_id])

    @property
    def episodes(self) -> domain.EpisodeRange | None:
        if self.episode_first is None:
            return None
        return domain.EpisodeRange(self.episode_first, self.episode_last)

    def __repr__(self) -> str:
        return f"<RightsGrant {self.label} {self.kind} {self.status}>"


def holdback_to_domain(data: dict) -> domain.Holdback:
    return domain.Holdback(
        media=tuple(data["media"]), territories=tuple(data["territories"]),
        territories_excluded=tuple(data.get("territories_excluded") or ()),
        languages=tuple(data["languages"]) if data.get("languages") else None,
        start=date.fromisoformat(data["start"]) if data.get("start") else None,
        until=date.fromisoformat(data["until"]) if data.get("until") else None)


def to_domain(row) -> domain.Grant:
    """The engine's view of a stored grant (ids become strings). ``row`` is a
    ``RightsGrant`` or a Core row of its table (the index loads thousands at once)."""
    return domain.Grant(
        id=str(row.id), label=row.label, kind=domain.GrantKind(row.kind),
        title_id=str(row.title_id), media=tuple(row.media),
        territories=tuple(row.territories),
        territories_excluded=tuple(row.territories_excluded or ()),
        languages=tuple(row.languages) if row.languages else None,
        episodes=(domain.EpisodeRange(row.episode_first, row.episode_last)
                  if row.episode_first is not None else None),
        start=row.starts_on, end=row.ends_on,
        exclusive=row.exclusive,
        holdbacks=tuple(holdback_to_domain(h) for h in row.holdbacks or ()),
        may_sublicense=row.may_sublicense,
        parent_id=str(row.parent_id) if row.parent_id else None,
        status=domain.GrantStatus(row.status), expires_on=row.expires_on,
        reverted_on=row.reverted_on,
        licensee_id=str(row.licensee_org_id) if row.licensee_org_id else None)


class Inquiry(db.Model):
    """A question thread between a buyer and the producer about one title."""

    __tablename__ = "inquiry"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    producer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)

    title: Mapped[Title] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    producer: Mapped[Organization] = relationship(foreign_keys=[producer_org_id])
    messages: Mapped[list[InquiryMessage]] = relationship(
        back_populates="inquiry", cascade="all, delete-orphan", order_by="InquiryMessage.id")


class InquiryMessage(db.Model):
    __tablename__ = "inquiry_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(
        ForeignKey("inquiry.id", ondelete="CASCADE"), index=True)
    author_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    inquiry: Mapped[Inquiry] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
    author_org: Mapped[Organization] = relationship()


class Offer(db.Model):
    """A buyer's proposal for a title, negotiated in rounds until accepted or closed."""

    __tablename__ = "offer"
    __table_args__ = (CheckConstraint(one_of("status", OfferStatus), name="status"),
                      CheckConstraint("current_round >= 1", name="current_round"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # O-2026-0001
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    producer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    inquiry_id: Mapped[int | None] = mapped_column(
        ForeignKey("inquiry.id", ondelete="SET NULL"))
    #: The live terms as a grant (status "offer": contested until the round expires).
    grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("rights_grant.id", ondelete="SET NULL"))
    market_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("market_event.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=OfferStatus.OPEN)
    current_round: Mapped[int] = mapped_column(default=1)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]

    title: Mapped[Title] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    producer: Mapped[Organization] = relationship(foreign_keys=[producer_org_id])
    grant: Mapped[RightsGrant | None] = relationship()
    rounds: Mapped[list[OfferRound]] = relationship(
        back_populates="offer", cascade="all, delete-orphan", order_by="OfferRound.number")
    market_event = relationship("MarketEvent")
    deal: Mapped[Deal | None] = relationship(back_populates="offer", uselist=False)

    @property
    def round(self) -> OfferRound:
        """The current round: the terms on the table."""
        return next(r for r in self.rounds if r.number == self.current_round)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_OFFER_STATUSES

    def is_expired(self, today: date) -> bool:
        return self.status == OfferStatus.EXPIRED or (
            self.is_live and self.round.expires_on <= today)

    def display_status(self, today: date) -> str:
        return OfferStatus.EXPIRED if self.is_expired(today) else self.status

    def side_of(self, org_id: int | None) -> Side | None:
        if org_id == self.buyer_org_id:
            return Side.BUYER
        if org_id == self.producer_org_id:
            return Side.PRODUCER
        return None


class OfferRound(db.Model):
    """One proposal: full terms, fee model and instalments, who proposed it and when."""

    __tablename__ = "offer_round"
    __table_args__ = (
        UniqueConstraint("offer_id", "number"),
        CheckConstraint(one_of("fee_model", FeeModel), name="fee_model"),
        CheckConstraint("(fee_model = 'flat' AND flat_fee_minor > 0) OR "
                        "(fee_model = 'mg_revshare' AND minimum_guarantee_minor > 0 "
                        "AND revenue_share_bp > 0) OR "
                        "(fee_model = 'revshare' AND revenue_share_bp > 0)", name="fee_amounts"),
        CheckConstraint("revenue_share_bp IS NULL OR "
                        "(revenue_share_bp >= 0 AND revenue_share_bp <= 10000)",
                        name="revenue_share_bp"),
        CheckConstraint("length(currency) = 3", name="currency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="CASCADE"))
    number: Mapped[int]
    proposed_by_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"))
    proposed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The rights proposed (:meth:`licensing.terms.Terms.to_json`).
    terms: Mapped[dict] = mapped_column(JSON)
    fee_model: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    flat_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    minimum_guarantee_minor: Mapped[int | None] = mapped_column(BigInteger)
    revenue_share_bp: Mapped[int | None]
    expires_on: Mapped[date]
    message: Mapped[str | None] = mapped_column(Text)
    #: The engine's verdict when the round was made: free | contested.
    check_status: Mapped[str | None] = mapped_column(String(12))
    check_summary: Mapped[str | None] = mapped_column(Text)

    offer: Mapped[Offer] = relationship(back_populates="rounds")
    proposed_by_org: Mapped[Organization] = relationship()
    proposed_by: Mapped[User | None] = relationship()
    instalments: Mapped[list[OfferInstalment]] = relationship(
        back_populates="round", cascade="all, delete-orphan", order_by="OfferInstalment.position")


def _instalment_checks() -> tuple[CheckConstraint, ...]:
    # A constraint belongs to one table: each instalment table gets its own copies.
    return (
        CheckConstraint("percent_bp IS NULL OR (percent_bp > 0 AND percent_bp <= 10000)",
                        name="percent_bp"),
        CheckConstraint("amount_minor IS NULL OR amount_minor > 0", name="amount_minor"),
        CheckConstraint(one_of("trigger", Trigger), name="trigger"),
        CheckConstraint("(trigger = 'on_date') = (due_on IS NOT NULL)", name="due_on"),
    )


class OfferInstalment(db.Model):
    __tablename__ = "offer_instalment"
    __table_args__ = (
        *_instalment_checks(),
        CheckConstraint("(percent_bp IS NULL) != (amount_minor IS NULL)",
                        name="percent_or_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("offer_round.id", ondelete="CASCADE"),
                                          index=True)
    position: Mapped[int]
    percent_bp: Mapped[int | None]
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    trigger: Mapped[str] = mapped_column(String(30))
    due_on: Mapped[date | None]

    round: Mapped[OfferRound] = relationship(back_populates="instalments")


class Deal(db.Model):
    """An accepted offer: the grant it created, both signatures and the instalments."""

    __tablename__ = "deal"
    __table_args__ = (
        CheckConstraint(one_of("status", DealStatus), name="status"),
        CheckConstraint(one_of("fee_model", FeeModel), name="fee_model"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # D-2026-0001
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="RESTRICT"),
                                          unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("offer_round.id", ondelete="RESTRICT"))
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    producer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("rights_grant.id", ondelete="RESTRICT"),
                                          unique=True)
    market_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("market_event.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=DealStatus.PENDING_SIGNATURE)
    terms: Mapped[dict] = mapped_column(JSON)
    fee_model: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    flat_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    minimum_guarantee_minor: Mapped[int | None] = mapped_column(BigInteger)
    revenue_share_bp: Mapped[int | None]
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    #: Both sides sign before this day, or the acceptance lapses.
    sign_by: Mapped[date]
    signed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    offer: Mapped[Offer] = relationship(back_populates="deal")
    round: Mapped[OfferRound] = relationship()
    title: Mapped[Title] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    producer: Mapped[Organization] = relationship(foreign_keys=[producer_org_id])
    grant: Mapped[RightsGrant] = relationship()
    market_event = relationship("MarketEvent")
    signatures: Mapped[list[DealSignature]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealSignature.signed_at")
    instalments: Mapped[list[DealInstalment]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealInstalment.position")

    def signature(self, side: str) -> DealSignature | None:
        return next((s for s in self.signatures if s.side == side), None)

    def side_of(self, org_id: int | None) -> Side | None:
        if org_id == self.buyer_org_id:
            return Side.BUYER
        if org_id == self.producer_org_id:
            return Side.PRODUCER
        return None

    def display_status(self, today: date) -> str:
        """Signed deals read as active during their term and expired after it."""
        if self.status == DealStatus.PENDING_SIGNATURE and today >= self.sign_by:
            return DealStatus.EXPIRED
        if self.status in (DealStatus.SIGNED, DealStatus.ACTIVE):
            start = date.fromisoformat(self.terms["start"])
            end = date.fromisoformat(self.terms["end"]) if self.terms.get("end") else None
            if end is not None and today >= end:
                return DealStatus.EXPIRED
            if today >= start:
                return DealStatus.ACTIVE
            return DealStatus.SIGNED
        return self.status


class DealSignature(db.Model):
    """Click-to-sign: the name typed, the user, the time and the IP address."""

    __tablename__ = "deal_signature"
    __table_args__ = (UniqueConstraint("deal_id", "side"),
                      CheckConstraint(one_of("side", Side), name="side"))

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(10))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))

    deal: Mapped[Deal] = relationship(back_populates="signatures")
    user: Mapped[User | None] = relationship()


class DealInstalment(db.Model):
    """What the buyer pays when: copied from the accepted round, with the amount due."""

    __tablename__ = "deal_instalment"
    __table_args__ = (
        *_instalment_checks(),
        CheckConstraint("status IN ('pending', 'invoiced', 'paid')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    percent_bp: Mapped[int | None]
    #: Always set: the amount due in minor units (from the percentage of the fee or MG).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    trigger: Mapped[str] = mapped_column(String(30))
    due_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default="pending")

    deal: Mapped[Deal] = relationship(back_populates="instalments")


class LicensingCounter(db.Model):
    """Named counters: deal, offer and rights numbers per year (``deal:2026``) and the
    version of each bucket of titles' grants (``avails:12``) that tells every process
    when its cached avails index is stale."""

    __tablename__ = "licensing_counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
