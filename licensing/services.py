"""Licensing operations: rights in, avails, inquiries, offers, deals, EMA files.

Services flush; the caller commits once. Two operations take a lock first and so must
be called before anything else changes in the transaction: :func:`accept_offer` and
:func:`sign_deal` (PostgreSQL: ``SELECT … FOR UPDATE`` on the title; SQLite: the
transaction starts with ``BEGIN IMMEDIATE``). That is what makes two buyers accepting
overlapping exclusive offers at the same moment end in one deal and one refusal.

Every change to an offer or a deal is written to the audit log for both parties, and
the other party is notified in the app. Other contexts hear of signed deals through
``licensing.signals`` (sent after the commit).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask import current_app, g, has_app_context
from sqlalchemy import Connection, select

from catalog.models import Title
from licensing import domain, ema, index, present, reference, signals
from licensing.models import (
    LIVE_OFFER_STATUSES,
    Deal,
    DealInstalment,
    DealSignature,
    DealStatus,
    GrantSource,
    Inquiry,
    InquiryMessage,
    LicensingCounter,
    Offer,
    OfferInstalment,
    OfferRound,
    OfferStatus,
    RightsGrant,
    Side,
    to_domain,
)
from licensing.terms import (
    Fee,
    FieldErrors,
    Instalment,
    LicensingError,
    Terms,
    language_rights,
    media_codes,
    parse_bool,
    parse_date,
    territory_codes,
)
from marketplace import audit
from marketplace.accounts.models import Organization, OrgKind, User
from marketplace.db import begin_write, utcnow
from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.jobs import send_after_commit

log = logging.getLogger(__name__)

#: Days both sides have to sign an accepted offer (``PDX_LICENSING_SIGN_DAYS``).
DEFAULT_SIGN_DAYS = 30
RIGHTS_IN_STATUSES = ("active", "terminated", "reverted")


def today() -> date:
    return utcnow().date()


# --------------------------------------------------------------------------- counters


def bump_counter(name: str, *, connection: Connection | None = None) -> int:
    """Increment a named counter and return its new value, creating it at 1.

    One upsert statement, so two transactions never read the same value: the second
    waits for the first's row lock (PostgreSQL) or write lock (SQLite)."""
    conn = connection if connection is not None else db.session.connection()
    table = LicensingCounter.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.name],
                                      set_={"value": table.c.value + 1})
    return conn.execute(stmt.returning(table.c.value)).scalar_one()


def next_number(prefix: str, kind: str, year: int | None = None) -> str:
    """``D-2026-0001``: a per-year sequence per kind (deal, offer, rights)."""
    year = year or today().year
    return f"{prefix}-{year}-{bump_counter(f'{kind}:{year}'):04d}"


# --------------------------------------------------------------------------- grants


def forget_cached_grants() -> None:
    if has_app_context():
        g.pop("licensing_grants", None)


def title_grant_rows(title_id: int) -> list[RightsGrant]:
    """Every grant of a title in one query (cached for the request until a flush
    changes grants)."""
    cache = g.setdefault("licensing_grants", {}) if has_app_context() else {}
    if title_id not in cache:
        cache[title_id] = list(db.session.scalars(
            select(RightsGrant).where(RightsGrant.title_id == title_id)
            .order_by(RightsGrant.id)))
    return cache[title_id]


@dataclass
class TitleAvails:
    """A title's grants, loaded once, and what the engine says about a request."""

    title: Title
    rows: list[RightsGrant]
    grants: list[domain.Grant] = field(init=False)
    by_id: dict[str, RightsGrant] = field(init=False)

    def __post_init__(self) -> None:
        self.grants = [to_domain(r) for r in self.rows]
        self.by_id = {str(r.id): r for r in self.rows}

    def check(self, request: domain.AvailsRequest, as_of: date | None = None) -> domain.Answer:
        return domain.check(request.for_title(str(self.title.id)), self.grants,
                            as_of=as_of or today())


def reason_visibility(rows_by_id: Mapping[str, RightsGrant], user):
    """Reasons name a grant only to its licensor and licensee (and admins): a title's
    avails never tell a buyer whose deal blocks it."""
    org_id = user.organization_id if user and user.is_authenticated else None
    admin = bool(user and user.is_authenticated and user.is_admin)

    def visible(grant_id: str | None) -> bool:
        row = rows_by_id.get(grant_id or "")
        return admin or (row is not None and org_id is not None
                         and org_id in (row.organization_id, row.licensee_org_id))

    return visible


def grants_by_id(ids: Iterable[int]) -> dict[str, RightsGrant]:
    ids = set(ids)
    if not ids:
        return {}
    return {str(r.id): r for r in db.session.scalars(
        select(RightsGrant).where(RightsGrant.id.in_(ids)))}


def title_avails(title: Title, *, fresh: bool = False) -> TitleAvails:
    if fresh:
        forget_cached_grants()
    return TitleAvails(title, title_grant_rows(title.id))


def _audit_parties_for_grant(row: RightsGrant) -> list[int]:
    return [row.organization_id]


# --------------------------------------------------------------------------- rights in


def _require_producer_of(title: Title, by: User) -> None:
    if not (by.is_admin or by.organization_id == title.organization_id):
        raise LicensingError("title_id", _("Only the title's producer manages its rights."),
                             status=403)


def create_rights_in(title: Title, terms: Terms, *, by: User, status: str = "active",
                     reverted_on: date | None = None, note: str | None = None,
                     source: str = GrantSource.MANUAL) -> RightsGrant:
    """Record rights the producer holds from its chain of title."""
    _require_producer_of(title, by)
    status, reverted_on = _rights_in_status(status, reverted_on)
    row = RightsGrant(kind=domain.GrantKind.RIGHTS_IN, label=next_number("R", "rights"),
                      title_id=title.id, organization_id=title.organization_id,
                      status=status, reverted_on=reverted_on, source=source,
                      note=(note or "").strip()[:500] or None, **terms.grant_columns())
    db.session.add(row)
    db.session.flush()
    audit.record("rights_in.created", "rights_grant", row.id, parties=[row.organization_id],
                 actor=by, changes={"label": row.label, "title_id": title.id,
                                    "terms": terms.to_json(), "status": status})
    return row


def _rights_in_status(status: str, reverted_on: date | None) -> tuple[str, date | None]:
    if status not in RIGHTS_IN_STATUSES:
        raise LicensingError("status", _("Rights in are active, terminated or reverted."))
    if status == "reverted" and reverted_on is None:
        raise LicensingError("reverted_on", _("Give the date the rights reverted."))
    return status, reverted_on if status == "reverted" else None


def update_rights_in(row: RightsGrant, terms: Terms, *, by: User, status: str = "active",
                     reverted_on: date | None = None, note: str | None = None) -> RightsGrant:
    _require_rights_in(row, by)
    status, reverted_on = _rights_in_status(status, reverted_on)
    before = _grant_snapshot(row)
    for key, value in terms.grant_columns().items():
        setattr(row, key, value)
    row.status, row.reverted_on = status, reverted_on
    row.note = (note or "").strip()[:500] or None
    db.session.flush()
    audit.record("rights_in.updated", "rights_grant", row.id, parties=[row.organization_id],
                 actor=by, changes=_diff(before, _grant_snapshot(row)))
    return row


def delete_rights_in(row: RightsGrant, *, by: User) -> None:
    _require_rights_in(row, by)
    audit.record("rights_in.deleted", "rights_grant", row.id, parties=[row.organization_id],
                 actor=by, changes={"label": row.label, "title_id": row.title_id})
    db.session.delete(row)
    db.session.flush()


def _require_rights_in(row: RightsGrant, by: User) -> None:
    if row.kind != domain.GrantKind.RIGHTS_IN:
        raise LicensingError("id", _("Only rights in are edited here; deals change through "
                                     "their own pages."), status=409)
    if not (by.is_admin or by.organization_id == row.organization_id):
        raise LicensingError("id", _("Only the title's producer manages its rights."),
                             status=403)


def _grant_snapshot(row: RightsGrant) -> dict[str, Any]:
    return {"media": row.media, "territories": row.territories,
            "territories_excluded": row.territories_excluded, "languages": row.languages,
            "episodes": [row.episode_first, row.episode_last],
            "start": row.starts_on.isoformat(),
            "end": row.ends_on.isoformat() if row.ends_on else None,
            "exclusive": row.exclusive, "holdbacks": row.holdbacks,
            "may_sublicense": row.may_sublicense, "status": row.status,
            "reverted_on": row.reverted_on.isoformat() if row.reverted_on else None}


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed: ``{key: [old, new]}``."""
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"terms": {"media": …}}`` → ``{"terms.media": …}``, for readable diffs."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def rights_in_of(org_id: int) -> list[RightsGrant]:
    return list(db.session.scalars(
        select(RightsGrant).join(Title, Title.id == RightsGrant.title_id)
        .where(RightsGrant.organization_id == org_id,
               RightsGrant.kind == domain.GrantKind.RIGHTS_IN)
        .order_by(Title.original_title, RightsGrant.starts_on, RightsGrant.id)))


# --------------------------------------------------------------------------- EMA


def ema_title(title: Title) -> ema.EmaTitle:
    from catalog.domain import content_id

    return ema.EmaTitle(
        title_id=str(title.id), content_id=content_id(title.id),
        title=title.display_title("en"), episode_count=title.episode_count,
        episodes=tuple(ema.EmaEpisode(e.number, content_id(title.id, e.number), e.title)
                       for e in title.episodes))


def _org_resolver(org: Organization) -> ema.TitleResolver:
    """Rows name titles by the content ids this platform exports, or by title."""
    titles = list(db.session.scalars(select(Title).where(Title.organization_id == org.id)))
    by_id = ema.resolver_for(ema_title(t) for t in titles)
    by_name: dict[str, str] = {}
    for t in titles:
        for name in [t.original_title] + [loc.title for loc in t.localizations]:
            by_name.setdefault(name.strip().casefold(), str(t.id))

    def resolve(ref: ema.EmaTitleRef) -> str | None:
        found = by_id(ref)
        if found is None and ref.title:
            found = by_name.get(ref.title.strip().casefold())
        return found

    return resolve


@dataclass
class ImportResult:
    report: ema.EmaImport
    created: list[RightsGrant]


def import_ema(org: Organization, data: bytes, *, by: User) -> ImportResult:
    """Rights in from an EMA avails spreadsheet or XML, with a row-by-row report.

    Rows name the organization's titles by the content ids this platform exports (or
    by title). A file with any rejected row imports nothing: ``ema.EmaImportError``
    carries the report; ``ema.EmaFormatError`` says why a file is not an avails file.
    """
    if not (by.is_admin or by.organization_id == org.id) or org.kind != OrgKind.PRODUCER:
        raise LicensingError("org", _("Only a producer imports rights in for its titles."),
                             status=403)
    report = ema.read_avails(data, title_resolver=_org_resolver(org), strict=True,
                             as_of=today())
    titles = {str(t.id): t for t in db.session.scalars(
        select(Title).where(Title.organization_id == org.id))}
    created = []
    for grant in report.grants:
        title = titles[grant.title_id]
        row = RightsGrant(
            kind=domain.GrantKind.RIGHTS_IN, label=next_number("R", "rights"),
            title_id=title.id, organization_id=org.id, status="active",
            source=GrantSource.EMA, media=list(grant.media),
            territories=list(grant.territories),
            territories_excluded=list(grant.territories_excluded),
            languages=[str(r) for r in grant.languages] if grant.languages else None,
            episode_first=grant.episodes.first if grant.episodes else None,
            episode_last=grant.episodes.last if grant.episodes else None,
            starts_on=grant.start, ends_on=grant.end, exclusive=grant.exclusive,
            note=f"EMA {report.format} {report.version or ''}".strip()[:500])
        db.session.add(row)
        created.append(row)
    db.session.flush()
    audit.record("rights_in.imported", "organization", org.id, parties=[org.id], actor=by,
                 changes={"format": report.format, "version": report.version,
                          "rows": len(report.rows), "grants": [r.label for r in created]})
    return ImportResult(report, created)


def export_ema(org: Organization, fmt: str = "xlsx") -> ema.EmaExport:
    """A producer's avails (its rights in) or a buyer's licensed rights (its signed
    deals), as an EMA spreadsheet (v1.9) or XML (v2.4)."""
    if fmt not in ("xlsx", "xml"):
        raise LicensingError("format", _("Choose xlsx or xml."))
    if org.kind == OrgKind.PRODUCER:
        stmt = select(RightsGrant).where(RightsGrant.organization_id == org.id,
                                         RightsGrant.kind == domain.GrantKind.RIGHTS_IN,
                                         RightsGrant.status == "active")
        licensor = org.name
    else:
        stmt = select(RightsGrant).where(
            RightsGrant.licensee_org_id == org.id,
            RightsGrant.kind == domain.GrantKind.RIGHTS_OUT,
            RightsGrant.status.in_((domain.GrantStatus.SIGNED, domain.GrantStatus.ACTIVE)))
        licensor = "Pudong Drama Exchange"
    rows = list(db.session.scalars(stmt.order_by(RightsGrant.title_id, RightsGrant.id)))
    titles = {t.id: t for t in db.session.scalars(
        select(Title).where(Title.id.in_({r.title_id for r in rows})))}
    grants = [to_domain(r) for r in rows]
    meta = [ema_title(t) for t in titles.values()]
    writer = ema.write_avails_xlsx if fmt == "xlsx" else ema.write_avails_xml
    return writer(grants, meta, licensor=licensor)


# --------------------------------------------------------------------------- avails


def request_from_params(params: Mapping[str, Any]) -> tuple[domain.AvailsRequest, bool]:
    """An avails request from query parameters: ``territory`` (repeatable; countries or
    M.49 regions), ``exclude``, ``media`` (default ALL), ``from`` (default today), ``to``
    (default a year later; ``open`` for perpetual), ``exclusive``, ``rights_language``
    (``pt:subtitle``), ``contested`` (also list titles only contested)."""
    def many(name: str) -> list[str]:
        getlist = getattr(params, "getlist", None)
        values = getlist(name) if getlist else params.get(name)
        if values is None:
            return []
        return [values] if isinstance(values, str) else list(values)

    errors = FieldErrors()
    territories = territory_codes(many("territory"), "territory", errors)
    if not territories and "territory" not in errors:
        errors.add("territory", _("Choose at least one territory or region."))
    excluded = territory_codes(many("exclude"), "exclude", errors)
    media = media_codes(many("media"), "media", errors) or ("ALL",)
    languages = language_rights(many("rights_language"), "rights_language", errors)
    start = parse_date(params.get("from"), "from", errors) or today()
    raw_end = str(params.get("to") or "").strip()
    end = None if raw_end.lower() in ("open", "perpetual") else (
        parse_date(raw_end, "to", errors) if raw_end else add_years(start, 1))
    if end is not None and end <= start:
        errors.add("to", _("The window ends (%(end)s) before it starts (%(start)s).",
                           end=end.isoformat(), start=start.isoformat()))
    if territories and not errors and not reference.expand_territories(territories, excluded):
        errors.add("exclude", _("The exclusions leave no country."))
    errors.raise_any()
    request = domain.AvailsRequest(media=media, territories=territories,
                                   territories_excluded=excluded, languages=languages,
                                   start=start, end=end,
                                   exclusive=parse_bool(params.get("exclusive")))
    return request, parse_bool(params.get("contested"))


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def free_title_ids(request: domain.AvailsRequest, *, allow_contested: bool = False,
                   as_of: date | None = None) -> list[int]:
    """Titles on which the whole request is free (any status; callers join on
    published titles), from the cached catalog-wide index."""
    return index.free_title_ids(db.session, request, as_of or today(),
                                allow_contested=allow_contested)


def check_titles(request: domain.AvailsRequest, title_ids: Iterable[int],
                 as_of: date | None = None) -> dict[int, domain.Answer]:
    return index.check_titles(db.session, request, title_ids, as_of or today())


# --------------------------------------------------------------------------- conflicts


@dataclass(frozen=True)
class Verdict:
    """What the engine's answer means for an offer: refused parts and warnings."""

    answer: domain.Answer
    refused: tuple[domain.AnswerPart, ...]
    warnings: tuple[domain.AnswerPart, ...]

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def status(self) -> str:
        if self.refused:
            return "blocked"
        return "contested" if self.warnings else "free"

    @property
    def free_territories(self) -> tuple[str, ...]:
        """Countries free for everything asked: the "free instead" of a refusal."""
        return self.answer.free_territories()

    @property
    def free_from(self) -> date | None:
        """The day from which the whole request is free, when a later start would do."""
        ends = [p.end for p in self.refused]
        if not ends or any(e is None for e in ends):
            return None
        day = max(ends)  # type: ignore[type-var]
        request_end = self.answer.request.end
        return day if request_end is None or day < request_end else None

    @property
    def not_exclusive(self) -> bool:
        return any(r.cause is domain.Cause.RIGHTS_IN_NOT_EXCLUSIVE
                   for p in self.refused for r in p.reasons)


def verdict(answer: domain.Answer, *, accepting: bool = False) -> Verdict:
    """Blocked or not-held parts refuse; contested parts warn. When accepting, a part
    contested by anything but another open offer (an accepted deal awaiting signatures,
    an option, a first negotiation or refusal) refuses too."""
    refused, warnings = [], []
    for part in answer.parts:
        if part.status in (domain.Availability.BLOCKED, domain.Availability.NOT_HELD):
            refused.append(part)
        elif part.status is domain.Availability.CONTESTED:
            if accepting and any(r.status is not domain.GrantStatus.OFFER for r in part.reasons):
                refused.append(part)
            else:
                warnings.append(part)
    return Verdict(answer, tuple(refused), tuple(warnings))


def _refusal(v: Verdict, field_name: str = "territories") -> LicensingError:
    if v.not_exclusive:
        message = _("The producer does not hold these rights exclusively, so it cannot "
                    "license them exclusively.")
        field_name = "exclusive"
    elif all(p.status is domain.Availability.NOT_HELD for p in v.refused):
        message = _("The producer does not hold these rights.")
    else:
        message = _("These rights are not available.")
    free = v.free_territories
    if free:
        message += " " + _("Free instead: %(list)s.", list=present.territories_text(free))
    elif v.free_from:
        message += " " + _("Free from %(date)s.", date=v.free_from.isoformat())
    return LicensingError(field_name, message, status=409, conflict=v)


# --------------------------------------------------------------------------- locking


def _lock_title(title_id: int) -> None:
    """Serialize decisions on one title's rights until the transaction ends.

    On SQLite a transaction that has only read so far (a request that loaded the user and
    the offer) is ended and a new one starts with BEGIN IMMEDIATE: the write lock, taken
    before anything is read. A transaction that has already written holds that lock
    since its first write. On PostgreSQL it locks the title's row.
    """
    if not _sqlite_write_lock():
        db.session.execute(select(Title.id).where(Title.id == title_id).with_for_update())
    forget_cached_grants()


def _sqlite_write_lock() -> bool:
    """On SQLite, hold the database's write lock until the transaction ends and return
    True; elsewhere do nothing and return False."""
    session = db.session()  # the Session itself, not its scoped proxy
    if session.get_bind().dialect.name != "sqlite":
        return False
    begin_write(session)
    return True


def _locked(model, ident: int, by: User, missing: str):
    """An offer or deal, read again after taking its title's lock, and the acting user
    (ending the read-only transaction expires what was loaded before)."""
    title_id = db.session.scalar(select(model.title_id).where(model.id == ident))
    if title_id is None:
        raise LicensingError("id", missing, status=404)
    by_id = by.id
    _lock_title(title_id)
    return db.session.get(model, ident), db.session.get(User, by_id)


# --------------------------------------------------------------------------- notifications


def _notify(org_ids: Iterable[int], kind: str, params: dict, link: str) -> None:
    from marketplace import notifications

    notifications.notify(org_ids, kind, params, link)


def _link(endpoint: str, **values) -> str:
    from flask import url_for

    try:
        return url_for(endpoint, **values)
    except RuntimeError:  # no request: the CLI or a job
        with current_app.test_request_context():
            return url_for(endpoint, **values)


# --------------------------------------------------------------------------- inquiries


def _require_buyer(by: User) -> None:
    org = by.organization
    if org.kind != OrgKind.DISTRIBUTOR:
        raise LicensingError("organization", _("Only distributors ask about and license "
                                               "titles."), status=403)
    if not org.is_verified:
        raise LicensingError("organization", _("Your organization must be verified by the "
                                               "platform team first."), status=403)


def _published_title(title_id: Any) -> Title:
    title = db.session.get(Title, title_id) if str(title_id or "").isdigit() else None
    if title is None or title.status != "published":
        raise LicensingError("title_id", _("No published title with id %(id)s.",
                                           id=title_id))
    return title


def open_inquiry(title_id: int, *, by: User, subject: str, body: str) -> Inquiry:
    """A verified buyer asks the producer about a published title."""
    _require_buyer(by)
    title = _published_title(title_id)
    subject, body = (subject or "").strip(), (body or "").strip()
    errors = FieldErrors()
    if not subject:
        errors.add("subject", _("Give the question a subject."))
    if not body:
        errors.add("body", _("Write your question."))
    errors.raise_any()
    inquiry = Inquiry(title_id=title.id, buyer_org_id=by.organization_id,
                      producer_org_id=title.organization_id, subject=subject[:200],
                      created_by_id=by.id)
    inquiry.messages.append(InquiryMessage(author_org_id=by.organization_id,
                                           author_user_id=by.id, body=body[:10000]))
    db.session.add(inquiry)
    db.session.flush()
    audit.record("inquiry.opened", "inquiry", inquiry.id,
                 parties=[inquiry.buyer_org_id, inquiry.producer_org_id], actor=by,
                 changes={"title_id": title.id, "subject": inquiry.subject})
    _notify([inquiry.producer_org_id], "licensing.inquiry",
            {"org": by.organization.name, "title": title.original_title,
             "subject": inquiry.subject}, _link("licensing.inquiry", inquiry_id=inquiry.id))
    return inquiry


def post_message(inquiry: Inquiry, *, by: User, body: str) -> InquiryMessage:
    side = _party_side(inquiry, by)
    body = (body or "").strip()
    if not body:
        raise LicensingError("body", _("Write a message."))
    message = InquiryMessage(inquiry=inquiry, author_org_id=by.organization_id,
                             author_user_id=by.id, body=body[:10000])
    inquiry.last_message_at = utcnow()
    inquiry.status = "open"
    db.session.add(message)
    db.session.flush()
    other = inquiry.producer_org_id if side == Side.BUYER else inquiry.buyer_org_id
    _notify([other], "licensing.message",
            {"org": by.organization.name, "subject": inquiry.subject},
            _link("licensing.inquiry", inquiry_id=inquiry.id))
    return message


def _party_side(thing: Inquiry | Offer | Deal, by: User) -> Side:
    if by.organization_id == thing.buyer_org_id:
        return Side.BUYER
    if by.organization_id == thing.producer_org_id:
        return Side.PRODUCER
    raise LicensingError("organization", _("Only the two parties take part."), status=403)


# --------------------------------------------------------------------------- offers


def _parties(offer: Offer | Deal) -> list[int]:
    return [offer.buyer_org_id, offer.producer_org_id]


def _fee_json(fee: Fee) -> dict[str, Any]:
    return {"model": fee.model, "currency": fee.currency, "flat_fee_minor": fee.flat_fee_minor,
            "minimum_guarantee_minor": fee.minimum_guarantee_minor,
            "revenue_share_bp": fee.revenue_share_bp,
            "instalments": [{"trigger": i.trigger, "percent_bp": i.percent_bp,
                             "amount_minor": i.amount_minor,
                             "due_on": i.due_on.isoformat() if i.due_on else None}
                            for i in fee.instalments]}


def round_fee_json(r: OfferRound) -> dict[str, Any]:
    return _fee_json(_fee_of_round(r))


def _new_round(offer: Offer, number: int, terms: Terms, fee: Fee, *, by: User,
               expires_on: date, message: str | None, v: Verdict) -> OfferRound:
    rnd = OfferRound(
        number=number, proposed_by_org_id=by.organization_id,
        proposed_by_user_id=by.id, terms=terms.to_json(), fee_model=fee.model,
        currency=fee.currency, flat_fee_minor=fee.flat_fee_minor,
        minimum_guarantee_minor=fee.minimum_guarantee_minor,
        revenue_share_bp=fee.revenue_share_bp, expires_on=expires_on,
        message=(message or "").strip()[:10000] or None, check_status=v.status,
        check_summary=present.summary_text(v.answer, locale="en") if v.warnings else None)
    for n, item in enumerate(fee.instalments, 1):
        rnd.instalments.append(OfferInstalment(position=n, percent_bp=item.percent_bp,
                                               amount_minor=item.amount_minor,
                                               trigger=item.trigger, due_on=item.due_on))
    offer.rounds.append(rnd)  # through the parent, so the save cascades to the round
    return rnd


def _check_expiry(expires_on: date | None) -> date:
    if expires_on is None:
        raise LicensingError("expires_on", _("Say until when the offer stands."))
    if expires_on <= today():
        raise LicensingError("expires_on", _("The offer must stand at least until "
                                             "tomorrow."))
    return expires_on


def _market_event(code_or_id: Any):
    from marketplace.markets.models import MarketEvent

    if code_or_id in (None, ""):
        return None
    text = str(code_or_id).strip()
    stmt = select(MarketEvent).where(
        MarketEvent.id == int(text) if text.isdigit() else MarketEvent.code == text.upper())
    event = db.session.scalar(stmt)
    if event is None:
        raise LicensingError("market_event", _("No market %(code)s (e.g. MIPCOM-2026).",
                                               code=text))
    return event


def check_offer_terms(title: Title, terms: Terms, buyer_org_id: int, *,
                      ignore: Iterable[int] = (), accepting: bool = False,
                      fresh: bool = False) -> Verdict:
    avails = title_avails(title, fresh=fresh)
    request = terms.request(title.id, licensee_org_id=buyer_org_id, ignore_grant_ids=ignore)
    return verdict(avails.check(request), accepting=accepting)


def make_offer(title_id: int, terms: Terms, fee: Fee, *, by: User, expires_on: date | None,
               market_event: Any = None, inquiry: Inquiry | None = None,
               message: str | None = None) -> tuple[Offer, Verdict]:
    """A verified buyer proposes terms on a published title. The engine checks them:
    blocked or not held anywhere refuses (naming what is free instead); contested by
    other offers or options warns."""
    _require_buyer(by)
    title = _published_title(title_id)
    expires_on = _check_expiry(expires_on)
    event = _market_event(market_event)
    if inquiry is not None and (inquiry.buyer_org_id != by.organization_id
                                or inquiry.title_id != title.id):
        raise LicensingError("inquiry_id", _("That inquiry is about another title."))
    v = check_offer_terms(title, terms, by.organization_id)
    if not v.ok:
        raise _refusal(v)
    number = next_number("O", "offer")
    grant = RightsGrant(kind=domain.GrantKind.RIGHTS_OUT, label=number, title_id=title.id,
                        organization_id=title.organization_id,
                        licensee_org_id=by.organization_id, status=domain.GrantStatus.OFFER,
                        expires_on=expires_on, source=GrantSource.OFFER,
                        **terms.grant_columns())
    offer = Offer(number=number, title_id=title.id, buyer_org_id=by.organization_id,
                  producer_org_id=title.organization_id, grant=grant,
                  inquiry_id=inquiry.id if inquiry else None,
                  market_event_id=event.id if event else None, status=OfferStatus.OPEN,
                  current_round=1, created_by_id=by.id)
    _new_round(offer, 1, terms, fee, by=by, expires_on=expires_on, message=message, v=v)
    db.session.add(offer)
    db.session.flush()
    audit.record("offer.made", "offer", offer.id, parties=_parties(offer), actor=by,
                 changes={"number": number, "round": 1, "terms": terms.to_json(),
                          "fee": _fee_json(fee), "expires_on": expires_on.isoformat(),
                          "market_event": event.code if event else None,
                          "check": v.status})
    _notify([offer.producer_org_id], "licensing.offer",
            {"org": by.organization.name, "number": number, "title": title.original_title},
            _link("licensing.offer", offer_id=offer.id))
    return offer, v


def _require_responder(offer: Offer, by: User) -> Side:
    side = _party_side(offer, by)
    if not offer.is_live:
        raise LicensingError("status", _("This offer is %(status)s; nothing more can be done "
                                         "with it.", status=present.status_label(offer.status)),
                             status=409)
    if offer.round.proposed_by_org_id == by.organization_id:
        raise LicensingError("status", _("The other party answers this round."), status=409)
    return side


def counter_offer(offer: Offer, terms: Terms, fee: Fee, *, by: User,
                  expires_on: date | None, message: str | None = None
                  ) -> tuple[OfferRound, Verdict]:
    """The party whose turn it is proposes new terms; earlier rounds stay as they were."""
    side = _require_responder(offer, by)
    if offer.is_expired(today()):
        raise LicensingError("expires_on", _("This offer expired on %(date)s.",
                                             date=offer.round.expires_on.isoformat()),
                             status=409)
    expires_on = _check_expiry(expires_on)
    v = check_offer_terms(offer.title, terms, offer.buyer_org_id,
                          ignore=[offer.grant_id] if offer.grant_id else [])
    if not v.ok:
        raise _refusal(v)
    previous = offer.round
    before = _flat({"terms": previous.terms, "fee": round_fee_json(previous),
                    "expires_on": previous.expires_on.isoformat()})
    number = offer.current_round + 1
    rnd = _new_round(offer, number, terms, fee, by=by, expires_on=expires_on,
                     message=message, v=v)
    offer.current_round = number
    offer.status = OfferStatus.COUNTERED
    if offer.grant is not None:
        for key, value in terms.grant_columns().items():
            setattr(offer.grant, key, value)
        offer.grant.expires_on = expires_on
    db.session.flush()
    after = _flat({"terms": rnd.terms, "fee": round_fee_json(rnd),
                   "expires_on": expires_on.isoformat()})
    audit.record("offer.countered", "offer", offer.id, parties=_parties(offer), actor=by,
                 changes={"round": number, "by": side.value,
                          "changed": _diff(before, after), "check": v.status})
    other = offer.producer_org_id if side == Side.BUYER else offer.buyer_org_id
    _notify([other], "licensing.counter",
            {"org": by.organization.name, "number": offer.number, "round": number},
            _link("licensing.offer", offer_id=offer.id))
    return rnd, v


def _close(offer: Offer, status: OfferStatus) -> None:
    offer.status = status
    offer.closed_at = utcnow()
    if offer.grant is not None and offer.grant.status == domain.GrantStatus.OFFER:
        offer.grant.status = domain.GrantStatus.EXPIRED  # its cells are free again


def decline_offer(offer: Offer, *, by: User, reason: str | None = None) -> None:
    """The party whose turn it is says no; the negotiation ends."""
    side = _require_responder(offer, by)
    _close(offer, OfferStatus.DECLINED)
    db.session.flush()
    audit.record("offer.declined", "offer", offer.id, parties=_parties(offer), actor=by,
                 changes={"round": offer.current_round, "by": side.value,
                          "reason": (reason or "").strip()[:1000] or None})
    other = offer.producer_org_id if side == Side.BUYER else offer.buyer_org_id
    _notify([other], "licensing.declined", {"org": by.organization.name,
                                            "number": offer.number},
            _link("licensing.offer", offer_id=offer.id))


def withdraw_offer(offer: Offer, *, by: User) -> None:
    """The party who made the current round takes it back; the negotiation ends."""
    side = _party_side(offer, by)
    if not offer.is_live:
        raise LicensingError("status", _("This offer is %(status)s; nothing more can be done "
                                         "with it.", status=present.status_label(offer.status)),
                             status=409)
    if offer.round.proposed_by_org_id != by.organization_id:
        raise LicensingError("status", _("Only the party who proposed this round withdraws "
                                         "it; you can decline it."), status=409)
    _close(offer, OfferStatus.WITHDRAWN)
    db.session.flush()
    audit.record("offer.withdrawn", "offer", offer.id, parties=_parties(offer), actor=by,
                 changes={"round": offer.current_round, "by": side.value})
    other = offer.producer_org_id if side == Side.BUYER else offer.buyer_org_id
    _notify([other], "licensing.withdrawn", {"org": by.organization.name,
                                             "number": offer.number},
            _link("licensing.offer", offer_id=offer.id))


def expire_offers(as_of: date | None = None) -> list[Offer]:
    """Mark live offers past their round's expiry as expired (the engine already treats
    them as free), each audited once for both parties; returns them.

    Workers run this on a timer, several at once: each offer is claimed under a lock
    (PostgreSQL: its row, ``FOR UPDATE SKIP LOCKED``, so a second sweep passes over it;
    SQLite: the database's write lock, so a second sweep waits and finds it expired).
    Like :func:`accept_offer`, it starts its own transaction on SQLite: call it before
    changing anything."""
    as_of = as_of or today()
    stmt = (select(Offer).join(OfferRound, (OfferRound.offer_id == Offer.id)
                               & (OfferRound.number == Offer.current_round))
            .where(Offer.status.in_(LIVE_OFFER_STATUSES), OfferRound.expires_on <= as_of)
            .order_by(Offer.id).execution_options(populate_existing=True))
    if not _sqlite_write_lock():
        stmt = stmt.with_for_update(of=Offer, skip_locked=True)
    offers = list(db.session.scalars(stmt))
    for offer in offers:
        _close(offer, OfferStatus.EXPIRED)
        audit.record("offer.expired", "offer", offer.id, parties=_parties(offer), actor=None,
                     changes={"expires_on": offer.round.expires_on.isoformat()})
    db.session.flush()
    return offers


def sign_days() -> int:
    return int(current_app.config.get("PDX_LICENSING_SIGN_DAYS", DEFAULT_SIGN_DAYS))


def accept_offer(offer_id: int, *, by: User, ip: str | None = None) -> Deal:
    """The party whose turn it is accepts the current round: the engine checks the terms
    again under the title's lock and the deal is created, awaiting both signatures.

    Starts its own transaction (see :func:`_lock_title`): call it before changing
    anything. Raises LicensingError (409) when the rights were taken meanwhile, naming
    what is free instead, or when the offer expired.
    """
    offer, by = _locked(Offer, offer_id, by, _("No such offer."))
    side = _require_responder(offer, by)
    day = today()
    rnd = offer.round
    if rnd.expires_on <= day:
        raise LicensingError("expires_on", _("This offer expired on %(date)s and can no longer "
                                             "be accepted.", date=rnd.expires_on.isoformat()),
                             status=409)
    if offer.title.status != "published":
        raise LicensingError("title_id", _("The title is no longer published."), status=409)
    if not offer.buyer.is_verified:
        raise LicensingError("organization", _("The buyer's organization is not verified."),
                             status=409)
    terms = Terms.from_json(rnd.terms)
    v = check_offer_terms(offer.title, terms, offer.buyer_org_id,
                          ignore=[offer.grant_id] if offer.grant_id else [], accepting=True,
                          fresh=True)
    if not v.ok:
        raise _refusal(v)
    number = next_number("D", "deal")
    sign_by = day + timedelta(days=sign_days())
    # Until both sides sign, the deal holds its cells as an option: other offers on them
    # can no longer be accepted, and an unsigned acceptance lapses on its own.
    grant = RightsGrant(kind=domain.GrantKind.RIGHTS_OUT, label=number,
                        title_id=offer.title_id, organization_id=offer.producer_org_id,
                        licensee_org_id=offer.buyer_org_id,
                        status=domain.GrantStatus.OPTION, expires_on=sign_by,
                        source=GrantSource.DEAL, **terms.grant_columns())
    deal = Deal(number=number, offer=offer, round=rnd, title_id=offer.title_id,
                buyer_org_id=offer.buyer_org_id, producer_org_id=offer.producer_org_id,
                grant=grant, market_event_id=offer.market_event_id,
                status=DealStatus.PENDING_SIGNATURE, terms=rnd.terms, fee_model=rnd.fee_model,
                currency=rnd.currency, flat_fee_minor=rnd.flat_fee_minor,
                minimum_guarantee_minor=rnd.minimum_guarantee_minor,
                revenue_share_bp=rnd.revenue_share_bp, accepted_by_id=by.id, sign_by=sign_by)
    db.session.add(deal)
    fee = _fee_of_round(rnd)
    for item, amount in zip(fee.instalments, fee.amounts_due(), strict=True):
        deal.instalments.append(DealInstalment(
            position=len(deal.instalments) + 1, percent_bp=item.percent_bp,
            amount_minor=amount, trigger=item.trigger, due_on=item.due_on))
    offer.status = OfferStatus.ACCEPTED
    offer.closed_at = utcnow()
    if offer.grant is not None:
        offer.grant.status = domain.GrantStatus.EXPIRED  # the deal's grant takes over
    db.session.flush()
    audit.record("offer.accepted", "offer", offer.id, parties=_parties(offer), actor=by,
                 changes={"round": rnd.number, "by": side.value, "deal": number,
                          "ip": ip})
    audit.record("deal.created", "deal", deal.id, parties=_parties(deal), actor=by,
                 changes={"number": number, "offer": offer.number, "round": rnd.number,
                          "terms": rnd.terms, "fee": round_fee_json(rnd),
                          "sign_by": sign_by.isoformat(),
                          "market_event": offer.market_event.code if offer.market_event
                          else None})
    other = offer.producer_org_id if side == Side.BUYER else offer.buyer_org_id
    _notify([other], "licensing.accepted",
            {"org": by.organization.name, "number": offer.number, "deal": number},
            _link("licensing.deal", deal_id=deal.id))
    return deal


def _fee_of_round(rnd: OfferRound) -> Fee:
    return Fee(model=rnd.fee_model, currency=rnd.currency, flat_fee_minor=rnd.flat_fee_minor,
               minimum_guarantee_minor=rnd.minimum_guarantee_minor,
               revenue_share_bp=rnd.revenue_share_bp,
               instalments=tuple(Instalment(trigger=i.trigger, percent_bp=i.percent_bp,
                                            amount_minor=i.amount_minor, due_on=i.due_on)
                                 for i in rnd.instalments))


# --------------------------------------------------------------------------- deals


def sign_deal(deal_id: int, *, by: User, name: str, ip: str | None) -> DealSignature:
    """Click-to-sign for one side (once): the typed name, the user, the time and the IP.
    When both sides have signed, the deal is signed and its grant a hard block, and
    ``licensing.signals.deal_signed`` is sent once the transaction commits.
    Starts its own transaction, like :func:`accept_offer`."""
    name = (name or "").strip()
    if not name:
        raise LicensingError("name", _("Type your full name to sign."))
    deal, by = _locked(Deal, deal_id, by, _("No such deal."))
    side = _party_side(deal, by)
    if deal.status != DealStatus.PENDING_SIGNATURE:
        raise LicensingError("status", _("This deal is %(status)s; it is not waiting for "
                                         "signatures.", status=present.status_label(deal.status)),
                             status=409)
    if today() >= deal.sign_by:
        raise LicensingError("sign_by", _("The time to sign ended on %(date)s; the acceptance "
                                          "has lapsed.", date=deal.sign_by.isoformat()),
                             status=409)
    if deal.signature(side) is not None:
        raise LicensingError("side", _("Your side has already signed."), status=409)
    signature = DealSignature(deal=deal, side=side, organization_id=by.organization_id,
                              user_id=by.id, name=name[:200], ip=(ip or "")[:64] or None)
    db.session.add(signature)
    db.session.flush()
    audit.record("deal.signed", "deal", deal.id, parties=_parties(deal), actor=by,
                 changes={"side": side.value, "name": signature.name, "ip": signature.ip})
    other = deal.producer_org_id if side == Side.BUYER else deal.buyer_org_id
    if all(deal.signature(s) is not None for s in Side):
        deal.status = DealStatus.SIGNED
        deal.signed_at = utcnow()
        deal.grant.status = domain.GrantStatus.SIGNED
        deal.grant.expires_on = None
        db.session.flush()
        audit.record("deal.fully_signed", "deal", deal.id, parties=_parties(deal), actor=by,
                     changes={"status": [DealStatus.PENDING_SIGNATURE, DealStatus.SIGNED]})
        _notify(_parties(deal), "licensing.signed", {"deal": deal.number},
                _link("licensing.deal", deal_id=deal.id))
        send_after_commit(signals.deal_signed, deal_id=deal.id, number=deal.number)
    else:
        _notify([other], "licensing.sign_request",
                {"org": by.organization.name, "deal": deal.number},
                _link("licensing.deal", deal_id=deal.id))
    return signature


def revert_deal(deal: Deal, *, by: User, on: date | None, reason: str) -> None:
    """The producer takes the rights back (an unpaid instalment past its grace period):
    the deal's cells are free from ``on``."""
    side = _party_side(deal, by)
    if side != Side.PRODUCER and not by.is_admin:
        raise LicensingError("organization", _("Only the producer reverts a deal."),
                             status=403)
    if deal.status not in (DealStatus.SIGNED, DealStatus.ACTIVE):
        raise LicensingError("status", _("Only a signed deal can revert."), status=409)
    if on is None:
        raise LicensingError("reverted_on", _("Give the date the rights revert."))
    reason = (reason or "").strip()
    if not reason:
        raise LicensingError("reason", _("Say why the rights revert."))
    deal.status = DealStatus.REVERTED
    deal.grant.status = domain.GrantStatus.REVERTED
    deal.grant.reverted_on = on
    db.session.flush()
    audit.record("deal.reverted", "deal", deal.id, parties=_parties(deal), actor=by,
                 changes={"reverted_on": on.isoformat(), "reason": reason[:1000]})
    _notify([deal.buyer_org_id], "licensing.reverted",
            {"deal": deal.number, "date": on.isoformat()},
            _link("licensing.deal", deal_id=deal.id))


def deal_access(user, title: Title) -> bool:
    """Catalog hook: buyers with a signed deal on the title see its chain of title."""
    if not user or not user.is_authenticated:
        return False
    return db.session.scalar(select(Deal.id).where(
        Deal.title_id == title.id, Deal.buyer_org_id == user.organization_id,
        Deal.status.in_((DealStatus.SIGNED, DealStatus.ACTIVE))).limit(1)) is not None

