"""Licensing over JSON: avails, inquiries, offers, deals, rights in and EMA files.

Errors are problem details naming the field (``term.end``, ``fee.currency``); a refusal
because rights are taken is a 409 carrying the engine's answer and what is free instead.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Response, jsonify, request, url_for
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from catalog import access
from catalog.models import Title
from licensing import domain, ema, index, present, services
from licensing.models import Deal, FeeModel, Inquiry, Offer, RightsGrant, Trigger
from licensing.terms import LicensingError, Terms, parse_offer, parse_terms
from marketplace.api import problem
from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.policy import (
    login_required,
    org_kind_required,
    owned_or_404,
    scoped,
    verified_required,
)

blp = Blueprint("licensing_api", __name__, url_prefix="/api/v1",
                description="Avails (what is free, where and when), inquiries, offers with "
                            "counter-offers, deals with click-to-sign, rights in and EMA "
                            "Avails files.")

PARTIES = ("buyer_org_id", "producer_org_id")
TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
          422: "Unprocessable Entity"}


# --------------------------------------------------------------------------- schemas


class AvailsQuerySchema(Schema):
    territory = fields.List(fields.Str(), required=True, metadata={
        "description": "ISO 3166-1 countries or UN M.49 regions (repeat): BR, 419, 001."})
    exclude = fields.List(fields.Str(), metadata={"description": "Territories left out."})
    media = fields.List(fields.Str(), metadata={
        "description": "Media codes (repeat): ALL, LINEAR, FREE_TV, PAY_TV, NON_LINEAR, SVOD, "
                       "TVOD, EST, AVOD, FAST, SHORT_DRAMA_APP. Default ALL."})
    from_ = fields.Date(data_key="from", metadata={"description": "Default: today."})
    to = fields.Str(metadata={"description": "Exclusive end date; 'open' for perpetual. "
                                             "Default: a year after from."})
    exclusive = fields.Bool()
    rights_language = fields.List(fields.Str(), metadata={
        "description": "Language rights (repeat): pt, pt:subtitle, es-419:dub."})
    contested = fields.Bool(metadata={"description": "Also titles only contested by offers."})
    q = fields.Str(metadata={"description": "Words in the title or synopsis."})
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=24, validate=validate.Range(min=1, max=100))


class ReasonSchema(Schema):
    cause = fields.Str(metadata={"enum": [c.value for c in domain.Cause]})
    grant = fields.Str(allow_none=True, metadata={
        "description": "The grant's label, shown only to its parties."})
    status = fields.Str(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    text = fields.Str()


class PartSchema(Schema):
    status = fields.Str(metadata={"enum": [s.value for s in domain.Availability]})
    start = fields.Date()
    end = fields.Date(allow_none=True)
    territories = fields.List(fields.Str())
    media = fields.List(fields.Str())
    languages = fields.List(fields.Str(), allow_none=True)
    episodes = fields.Dict(allow_none=True)
    reasons = fields.List(fields.Nested(ReasonSchema))


class AnswerSchema(Schema):
    title_id = fields.Int()
    status = fields.Str(metadata={"enum": [s.value for s in domain.Availability]})
    available = fields.Bool()
    summary = fields.Str()
    free_territories = fields.List(fields.Str())
    parts = fields.List(fields.Nested(PartSchema))


class AvailsItemSchema(AnswerSchema):
    title = fields.Str()
    url = fields.Str()


class AvailsPageSchema(Schema):
    items = fields.List(fields.Nested(AvailsItemSchema))
    total = fields.Int()
    free_count = fields.Int()
    page = fields.Int()
    per_page = fields.Int()


class TermSchema(Schema):
    start = fields.Date(required=True)
    end = fields.Date(allow_none=True, metadata={"description": "Exclusive; null: perpetual."})


class EpisodesSchema(Schema):
    first = fields.Int(load_default=1)
    last = fields.Int(allow_none=True)


class HoldbackSchema(Schema):
    media = fields.List(fields.Str(), required=True)
    territories = fields.List(fields.Str(), required=True)
    territories_excluded = fields.List(fields.Str())
    languages = fields.List(fields.Str(), allow_none=True)
    start = fields.Date(allow_none=True)
    until = fields.Date(allow_none=True)


class TermsSchema(Schema):
    media = fields.List(fields.Str(), required=True, metadata={"example": ["SVOD"]})
    territories = fields.List(fields.Str(), required=True, metadata={"example": ["BR"]})
    territories_excluded = fields.List(fields.Str())
    languages = fields.List(fields.Str(), allow_none=True, metadata={
        "description": "null or absent: all languages", "example": ["pt:subtitle"]})
    episodes = fields.Nested(EpisodesSchema, allow_none=True)
    term = fields.Nested(TermSchema, required=True)
    exclusive = fields.Bool(load_default=False)
    holdbacks = fields.List(fields.Nested(HoldbackSchema))
    may_sublicense = fields.Bool(load_default=False)


class FeeSchema(Schema):
    model = fields.Str(required=True, validate=validate.OneOf([m.value for m in FeeModel]))
    currency = fields.Str(required=True, metadata={"example": "USD"})
    flat_fee_minor = fields.Int(allow_none=True, metadata={
        "description": "Integer minor units (cents)."})
    minimum_guarantee_minor = fields.Int(allow_none=True)
    revenue_share_bp = fields.Int(allow_none=True, metadata={
        "description": "Basis points: 2500 = 25 %."})


class InstalmentSchema(Schema):
    percent = fields.Decimal(allow_none=True, as_string=True, metadata={
        "description": "Percent of the flat fee or minimum guarantee."})
    amount_minor = fields.Int(allow_none=True)
    trigger = fields.Str(required=True, validate=validate.OneOf([t.value for t in Trigger]))
    due_on = fields.Date(allow_none=True)


class CounterSchema(TermsSchema):
    fee = fields.Nested(FeeSchema, required=True)
    instalments = fields.List(fields.Nested(InstalmentSchema), metadata={
        "description": "Default: 100 % on signature. Must add up to the whole fee or MG."})
    expires_on = fields.Date(required=True, metadata={"description": "The offer stands "
                                                                     "until this day."})
    message = fields.Str(allow_none=True)


class OfferCreateSchema(CounterSchema):
    title_id = fields.Int(required=True)
    market_event = fields.Str(allow_none=True, metadata={"example": "MIPCOM-2026"})
    inquiry_id = fields.Int(allow_none=True)


class RightsInSchema(TermsSchema):
    title_id = fields.Int(required=True)
    status = fields.Str(load_default="active",
                        validate=validate.OneOf(services.RIGHTS_IN_STATUSES))
    reverted_on = fields.Date(allow_none=True)
    note = fields.Str(allow_none=True)


class ReasonTextSchema(Schema):
    reason = fields.Str(allow_none=True)


class SignSchema(Schema):
    name = fields.Str(required=True, metadata={"description": "The signer's full name."})


class InquiryCreateSchema(Schema):
    title_id = fields.Int(required=True)
    subject = fields.Str(required=True, validate=validate.Length(max=200))
    body = fields.Str(required=True)


class MessageSchema(Schema):
    body = fields.Str(required=True)


class ExportQuerySchema(Schema):
    format = fields.Str(load_default="xlsx", validate=validate.OneOf(["xlsx", "xml"]))


class InquiryOutSchema(Schema):
    id = fields.Int()
    title_id = fields.Int()
    subject = fields.Str()
    status = fields.Str()
    buyer = fields.Dict()
    producer = fields.Dict()
    messages = fields.List(fields.Dict())


class RightsOutSchema(TermsSchema):
    id = fields.Int()
    label = fields.Str()
    title_id = fields.Int()
    status = fields.Str()
    source = fields.Str()
    reverted_on = fields.Date(allow_none=True)
    note = fields.Str(allow_none=True)


class OfferOutSchema(Schema):
    id = fields.Int()
    number = fields.Str()
    status = fields.Str()
    title_id = fields.Int()
    buyer = fields.Dict()
    producer = fields.Dict()
    current_round = fields.Int()
    rounds = fields.List(fields.Dict())
    deal = fields.Dict(allow_none=True)
    market_event = fields.Str(allow_none=True)
    check = fields.Dict(allow_none=True)


class DealOutSchema(Schema):
    id = fields.Int()
    number = fields.Str()
    status = fields.Str()
    title_id = fields.Int()
    buyer = fields.Dict()
    producer = fields.Dict()
    terms = fields.Dict()
    fee = fields.Dict()
    sign_by = fields.Date()
    signatures = fields.List(fields.Dict())
    market_event = fields.Str(allow_none=True)


class ImportReportSchema(Schema):
    format = fields.Str()
    version = fields.Str(allow_none=True)
    imported = fields.List(fields.Dict())
    rows = fields.List(fields.Dict())


# --------------------------------------------------------------------------- errors


def _problem(exc: LicensingError):
    extra: dict[str, Any] = {"errors": [{"field": k, "message": v} for k, v in exc.errors.items()]}
    v = exc.conflict
    if v is not None:
        visible = services.reason_visibility(
            services.grants_by_id(int(r.grant_id) for p in v.answer.parts for r in p.reasons
                                  if r.grant_id), current_user)
        extra["conflict"] = present.answer_json(v.answer, visible=visible)
        extra["free_instead"] = {"territories": list(v.free_territories),
                                 "from": v.free_from.isoformat() if v.free_from else None}
    return problem(exc.status, TITLES.get(exc.status, "Error"), str(exc), **extra)


def _row_json(r: ema.RowOutcome) -> dict[str, Any]:
    return {"where": r.where, "accepted": r.accepted, "reasons": list(r.reasons),
            "warnings": list(r.warnings), "sheet": r.sheet, "row": r.row, "line": r.line}


def problems(view):
    """Service errors become problem details; nothing of the failed call is kept."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except LicensingError as exc:
            db.session.rollback()
            return _problem(exc)
        except ema.EmaImportError as exc:
            db.session.rollback()
            return problem(422, TITLES[422], str(exc),
                           rows=[_row_json(r) for r in exc.report.rows])
        except ema.EmaFormatError as exc:
            db.session.rollback()
            return problem(422, TITLES[422], str(exc), errors=[
                {"field": "file", "message": str(exc)}])

    return wrapper


# --------------------------------------------------------------------------- shapes


def _org(org) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "slug": org.slug}


def terms_out(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored terms in the shape the API takes them."""
    out = {k: v for k, v in stored.items() if k not in ("start", "end")}
    out["term"] = {"start": stored["start"], "end": stored.get("end")}
    return out


def _round_json(r) -> dict[str, Any]:
    return {"number": r.number, "proposed_by": _org(r.proposed_by_org),
            "created_at": r.created_at.isoformat(), "terms": terms_out(r.terms),
            "fee": services.round_fee_json(r), "expires_on": r.expires_on.isoformat(),
            "message": r.message, "check": r.check_status}


def offer_json(offer: Offer, *, check: services.Verdict | None = None) -> dict[str, Any]:
    body = {"id": offer.id, "number": offer.number,
            "status": offer.display_status(services.today()), "title_id": offer.title_id,
            "buyer": _org(offer.buyer), "producer": _org(offer.producer),
            "current_round": offer.current_round,
            "rounds": [_round_json(r) for r in offer.rounds],
            "market_event": offer.market_event.code if offer.market_event else None,
            "inquiry_id": offer.inquiry_id,
            "deal": {"id": offer.deal.id, "number": offer.deal.number,
                     "url": url_for("licensing_api.DealResource", deal_id=offer.deal.id)}
            if offer.deal else None,
            "url": url_for("licensing_api.OfferResource", offer_id=offer.id)}
    if check is not None:
        body["check"] = {"status": check.status,
                         "summary": present.summary_text(check.answer)}
    return body


def deal_json(deal: Deal) -> dict[str, Any]:
    fee = {"model": deal.fee_model, "currency": deal.currency,
           "flat_fee_minor": deal.flat_fee_minor,
           "minimum_guarantee_minor": deal.minimum_guarantee_minor,
           "revenue_share_bp": deal.revenue_share_bp,
           "instalments": [{"position": i.position, "percent_bp": i.percent_bp,
                            "amount_minor": i.amount_minor, "trigger": i.trigger,
                            "due_on": i.due_on.isoformat() if i.due_on else None,
                            "status": i.status} for i in deal.instalments]}
    return {"id": deal.id, "number": deal.number,
            "status": deal.display_status(services.today()), "title_id": deal.title_id,
            "offer": {"id": deal.offer_id, "number": deal.offer.number,
                      "round": deal.round.number},
            "buyer": _org(deal.buyer), "producer": _org(deal.producer),
            "terms": terms_out(deal.terms), "fee": fee,
            "market_event": deal.market_event.code if deal.market_event else None,
            "accepted_at": deal.accepted_at.isoformat(), "sign_by": deal.sign_by.isoformat(),
            "signed_at": deal.signed_at.isoformat() if deal.signed_at else None,
            "signatures": [{"side": s.side, "name": s.name,
                            "signed_at": s.signed_at.isoformat(), "ip": s.ip}
                           for s in deal.signatures],
            "memo_url": url_for("licensing.memo", deal_id=deal.id)}


def inquiry_json(item: Inquiry) -> dict[str, Any]:
    return {"id": item.id, "title_id": item.title_id, "subject": item.subject,
            "status": item.status, "buyer": _org(item.buyer), "producer": _org(item.producer),
            "created_at": item.created_at.isoformat(),
            "messages": [{"id": m.id, "organization": _org(m.author_org),
                          "author": m.author.name if m.author else None, "body": m.body,
                          "created_at": m.created_at.isoformat()} for m in item.messages]}


def rights_json(r: RightsGrant) -> dict[str, Any]:
    return {"id": r.id, "label": r.label, "title_id": r.title_id, "status": r.status,
            "source": r.source, "media": r.media, "territories": r.territories,
            "territories_excluded": r.territories_excluded, "languages": r.languages,
            "episodes": {"first": r.episode_first, "last": r.episode_last}
            if r.episode_first else None,
            "term": {"start": r.starts_on.isoformat(),
                     "end": r.ends_on.isoformat() if r.ends_on else None},
            "exclusive": r.exclusive, "holdbacks": r.holdbacks,
            "may_sublicense": r.may_sublicense,
            "reverted_on": r.reverted_on.isoformat() if r.reverted_on else None,
            "note": r.note}


def _answer_json(answer: domain.Answer, rows_by_id) -> dict[str, Any]:
    return present.answer_json(answer, visible=services.reason_visibility(rows_by_id,
                                                                           current_user))


# --------------------------------------------------------------------------- avails


@blp.route("/titles/<int:title_id>/avails")
class TitleAvails(MethodView):
    @login_required
    @blp.arguments(AvailsQuerySchema, location="query")
    @blp.response(200, AnswerSchema)
    @problems
    def get(self, _args, title_id: int):
        """Where and when these rights are free on one title, and why not elsewhere."""
        title = access.visible_title_or_404(title_id)
        avails_request, _contested = services.request_from_params(request.args)
        avails = services.title_avails(title)
        return jsonify(_answer_json(avails.check(avails_request), avails.by_id))


@blp.route("/avails")
class CatalogAvails(MethodView):
    @login_required
    @blp.arguments(AvailsQuerySchema, location="query")
    @blp.response(200, AvailsPageSchema)
    @problems
    def get(self, args):
        """The catalog's published titles on which these rights are free, each with its
        answer ("exclusive SVOD in 419 from 2027-01-01 for 3 years")."""
        from catalog.search import CatalogQuery, search_titles

        avails_request, allow_contested = services.request_from_params(request.args)
        ids = services.free_title_ids(avails_request, allow_contested=allow_contested)
        page = search_titles(CatalogQuery(
            text=str(args.get("q") or ""), page=args["page"], per_page=args["per_page"],
            extra_filters=(lambda stmt: stmt.where(index.id_filter(db.session, Title.id, ids)),)))
        answers = services.check_titles(avails_request, [t.id for t in page.items])
        rows = services.grants_by_id(int(r.grant_id) for a in answers.values()
                                     for p in a.parts for r in p.reasons if r.grant_id)
        items = []
        for t in page.items:
            item = _answer_json(answers[t.id], rows)
            item.update(title=t.display_title("en"),
                        url=url_for("licensing_api.TitleAvails", title_id=t.id))
            items.append(item)
        return jsonify({"items": items, "total": page.total, "free_count": len(ids),
                        "page": page.page, "per_page": page.per_page})


# --------------------------------------------------------------------------- inquiries


@blp.route("/inquiries")
class Inquiries(MethodView):
    @login_required
    @blp.response(200, InquiryOutSchema(many=True))
    def get(self):
        """Your organization's inquiry threads, newest activity first."""
        stmt = scoped(select(Inquiry), Inquiry, *PARTIES).order_by(Inquiry.last_message_at.desc())
        return jsonify([inquiry_json(i) for i in db.session.scalars(stmt)])

    @org_kind_required("distributor")
    @verified_required
    @blp.arguments(InquiryCreateSchema)
    @blp.response(201, InquiryOutSchema)
    @problems
    def post(self, data):
        """Ask the producer of a published title a question (verified buyers)."""
        item = services.open_inquiry(data["title_id"], by=current_user,
                                     subject=data["subject"], body=data["body"])
        db.session.commit()
        return jsonify(inquiry_json(item)), 201


@blp.route("/inquiries/<int:inquiry_id>")
class InquiryResource(MethodView):
    @login_required
    @blp.response(200, InquiryOutSchema)
    def get(self, inquiry_id: int):
        """A thread with its messages (404 unless your organization is a party)."""
        return jsonify(inquiry_json(owned_or_404(Inquiry, inquiry_id, *PARTIES)))


@blp.route("/inquiries/<int:inquiry_id>/messages")
class InquiryMessages(MethodView):
    @login_required
    @blp.arguments(MessageSchema)
    @blp.response(201, InquiryOutSchema)
    @problems
    def post(self, data, inquiry_id: int):
        """Reply in a thread; the other organization is notified."""
        item = owned_or_404(Inquiry, inquiry_id, *PARTIES)
        services.post_message(item, by=current_user, body=data["body"])
        db.session.commit()
        return jsonify(inquiry_json(item)), 201


# --------------------------------------------------------------------------- offers


@blp.route("/offers")
class Offers(MethodView):
    @login_required
    @blp.response(200, OfferOutSchema(many=True))
    def get(self):
        """Offers your organization made or received."""
        stmt = scoped(select(Offer), Offer, *PARTIES).order_by(Offer.updated_at.desc())
        return jsonify([offer_json(o) for o in db.session.scalars(stmt)])

    @org_kind_required("distributor")
    @verified_required
    @blp.arguments(OfferCreateSchema)
    @blp.response(201, OfferOutSchema)
    @problems
    def post(self, data):
        """Make an offer (verified buyers, published titles). The engine checks it: 409
        with the conflict and what is free instead when the rights are not available;
        contested rights are accepted with ``check.status = contested``."""
        terms, fee = parse_offer(data)
        inquiry = (owned_or_404(Inquiry, data["inquiry_id"], *PARTIES)
                   if data.get("inquiry_id") else None)
        offer, v = services.make_offer(data["title_id"], terms, fee, by=current_user,
                                       expires_on=data["expires_on"],
                                       market_event=data.get("market_event"),
                                       inquiry=inquiry, message=data.get("message"))
        db.session.commit()
        return jsonify(offer_json(offer, check=v)), 201


@blp.route("/offers/<int:offer_id>")
class OfferResource(MethodView):
    @login_required
    @blp.response(200, OfferOutSchema)
    def get(self, offer_id: int):
        """An offer with every round (404 unless your organization is a party)."""
        offer = owned_or_404(Offer, offer_id, *PARTIES)
        check = None
        if offer.is_live and not offer.is_expired(services.today()):
            check = services.check_offer_terms(
                offer.title, Terms.from_json(offer.round.terms), offer.buyer_org_id,
                ignore=[offer.grant_id] if offer.grant_id else [], accepting=True)
        return jsonify(offer_json(offer, check=check))


@blp.route("/offers/<int:offer_id>/counter")
class OfferCounter(MethodView):
    @login_required
    @verified_required
    @blp.arguments(CounterSchema)
    @blp.response(201, OfferOutSchema)
    @problems
    def post(self, data, offer_id: int):
        """Propose new terms when it is your turn; earlier rounds stay in the history."""
        offer = owned_or_404(Offer, offer_id, *PARTIES)
        terms, fee = parse_offer(data)
        _rnd, v = services.counter_offer(offer, terms, fee, by=current_user,
                                         expires_on=data["expires_on"],
                                         message=data.get("message"))
        db.session.commit()
        return jsonify(offer_json(offer, check=v)), 201


@blp.route("/offers/<int:offer_id>/accept")
class OfferAccept(MethodView):
    @login_required
    @verified_required
    @blp.response(201, DealOutSchema)
    @problems
    def post(self, offer_id: int):
        """Accept the current round when it is your turn: the engine checks it again under
        a lock and a deal is created, waiting for both signatures. 409 when the rights
        were taken meanwhile or the offer expired."""
        owned_or_404(Offer, offer_id, *PARTIES)
        deal = services.accept_offer(offer_id, by=current_user, ip=request.remote_addr)
        db.session.commit()
        return jsonify(deal_json(deal)), 201


@blp.route("/offers/<int:offer_id>/decline")
class OfferDecline(MethodView):
    @login_required
    @blp.arguments(ReasonTextSchema)
    @blp.response(200, OfferOutSchema)
    @problems
    def post(self, data, offer_id: int):
        """Decline the current round when it is your turn; the negotiation ends."""
        offer = owned_or_404(Offer, offer_id, *PARTIES)
        services.decline_offer(offer, by=current_user, reason=data.get("reason"))
        db.session.commit()
        return jsonify(offer_json(offer))


@blp.route("/offers/<int:offer_id>/withdraw")
class OfferWithdraw(MethodView):
    @login_required
    @blp.response(200, OfferOutSchema)
    @problems
    def post(self, offer_id: int):
        """Withdraw the round you proposed; the negotiation ends."""
        offer = owned_or_404(Offer, offer_id, *PARTIES)
        services.withdraw_offer(offer, by=current_user)
        db.session.commit()
        return jsonify(offer_json(offer))


# --------------------------------------------------------------------------- deals


@blp.route("/deals")
class Deals(MethodView):
    @login_required
    @blp.response(200, DealOutSchema(many=True))
    def get(self):
        """Your organization's deals."""
        stmt = scoped(select(Deal), Deal, *PARTIES).order_by(Deal.accepted_at.desc())
        return jsonify([deal_json(d) for d in db.session.scalars(stmt)])


@blp.route("/deals/<int:deal_id>")
class DealResource(MethodView):
    @login_required
    @blp.response(200, DealOutSchema)
    def get(self, deal_id: int):
        """A deal with its terms, instalments and signatures (404 unless a party)."""
        return jsonify(deal_json(owned_or_404(Deal, deal_id, *PARTIES)))


@blp.route("/deals/<int:deal_id>/sign")
class DealSign(MethodView):
    @login_required
    @blp.arguments(SignSchema)
    @blp.response(201, DealOutSchema)
    @problems
    def post(self, data, deal_id: int):
        """Sign for your side (name, time and IP are recorded). When both sides have
        signed the deal is signed and its rights a hard block."""
        owned_or_404(Deal, deal_id, *PARTIES)
        services.sign_deal(deal_id, by=current_user, name=data["name"], ip=request.remote_addr)
        db.session.commit()
        return jsonify(deal_json(db.session.get(Deal, deal_id))), 201


# --------------------------------------------------------------------------- rights in


def _rights_payload(data: dict[str, Any]) -> Terms:
    return parse_terms(data)


@blp.route("/rights")
class Rights(MethodView):
    @org_kind_required("producer")
    @blp.response(200, RightsOutSchema(many=True))
    def get(self):
        """Your rights in (what you hold from your chain of title), per title."""
        return jsonify([rights_json(r) for r in services.rights_in_of(current_user.organization_id)])

    @org_kind_required("producer")
    @blp.arguments(RightsInSchema)
    @blp.response(201, RightsOutSchema)
    @problems
    def post(self, data):
        """Record rights in for one of your titles."""
        title = owned_or_404(Title, data["title_id"])
        row = services.create_rights_in(title, _rights_payload(data), by=current_user,
                                        status=data["status"],
                                        reverted_on=data.get("reverted_on"),
                                        note=data.get("note"))
        db.session.commit()
        return jsonify(rights_json(row)), 201


@blp.route("/rights/<int:grant_id>")
class RightsResource(MethodView):
    def _row(self, grant_id: int) -> RightsGrant:
        row = owned_or_404(RightsGrant, grant_id)
        if row.kind != domain.GrantKind.RIGHTS_IN:
            from flask import abort

            abort(404)
        return row

    @org_kind_required("producer")
    @blp.response(200, RightsOutSchema)
    def get(self, grant_id: int):
        """One grant of rights in."""
        return jsonify(rights_json(self._row(grant_id)))

    @org_kind_required("producer")
    @blp.arguments(RightsInSchema)
    @blp.response(200, RightsOutSchema)
    @problems
    def put(self, data, grant_id: int):
        """Replace a grant's terms and status (the audit log keeps the old ones)."""
        row = self._row(grant_id)
        services.update_rights_in(row, _rights_payload(data), by=current_user,
                                  status=data["status"], reverted_on=data.get("reverted_on"),
                                  note=data.get("note"))
        db.session.commit()
        return jsonify(rights_json(row))

    @org_kind_required("producer")
    @blp.response(204)
    @problems
    def delete(self, grant_id: int):
        """Delete a grant of rights in."""
        services.delete_rights_in(self._row(grant_id), by=current_user)
        db.session.commit()
        return Response(status=204)


@blp.route("/rights/import")
class RightsImport(MethodView):
    @org_kind_required("producer")
    @blp.response(201, ImportReportSchema)
    @blp.alt_response(422, description="The file is not an avails file, or rows were rejected "
                                       "(nothing imported); `rows` is the row-by-row report.")
    @problems
    def post(self):
        """Import an EMA avails spreadsheet (v1.7–v1.9) or XML (v2.x) as rights in: send
        the file as multipart field ``file`` or as the raw request body."""
        upload = request.files.get("file")
        data = upload.read() if upload is not None else request.get_data()
        if not data:
            raise LicensingError("file", _("Choose an EMA avails file (.xlsx or .xml)."))
        result = services.import_ema(current_user.organization, data, by=current_user)
        db.session.commit()
        return jsonify({"format": result.report.format, "version": result.report.version,
                        "imported": [rights_json(r) for r in result.created],
                        "rows": [_row_json(r) for r in result.report.rows]}), 201


@blp.route("/rights/export")
class RightsExport(MethodView):
    @login_required
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, description="The EMA file; `X-EMA-Warnings` counts what the export had "
                                   "to bend (e.g. AVOD and FAST as bilateral licence types).")
    @problems
    def get(self, args):
        """A producer's avails (its rights in) or a buyer's licensed rights (its signed
        deals) as an EMA Avails spreadsheet (v1.9) or XML (v2.4)."""
        out = services.export_ema(current_user.organization, args["format"])
        mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    if args["format"] == "xlsx" else "application/xml")
        name = f"avails-{current_user.organization.slug}.{args['format']}"
        return Response(out.data, mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-EMA-Warnings": str(len(out.warnings))})
