"""Licensing pages: avails search and grid, rights in, inquiries, offers, deals, memos.

Views parse, call one service, commit once, render. Forms post the API's field names
(``term.end``, ``fee.model``, ``instalments[0].percent``), so a service error names the
input it belongs to in both places.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from babel.numbers import get_currency_precision
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import case, func, select

from catalog import access
from catalog.models import Title
from catalog.search import CatalogQuery, build_select
from licensing import domain, ema, grid, index, present, reference, services
from licensing.models import (
    Deal,
    FeeModel,
    Inquiry,
    Offer,
    RightsGrant,
    Trigger,
)
from licensing.terms import (
    FieldErrors,
    LicensingError,
    Terms,
    parse_date,
    parse_offer,
    parse_terms,
)
from marketplace import audit
from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.policy import (
    login_required,
    org_kind_required,
    owned_or_404,
    scoped,
    verified_required,
)

bp = Blueprint("licensing", __name__, template_folder="templates", static_folder="static",
               static_url_path="/licensing/static")

producer_required = org_kind_required("producer")
buyer_required = org_kind_required("distributor")
PARTY_COLUMNS = ("buyer_org_id", "producer_org_id")
CURRENCIES = ("USD", "EUR", "CNY", "GBP", "JPY", "KRW", "SGD", "HKD", "BRL", "MXN", "AED",
              "THB", "IDR", "AUD", "CAD")
HOLDBACK_ROWS, INSTALMENT_ROWS = 2, 4


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"lic": present, "lic_status": present.status_label,
            "territory_options": territory_options(present.locale()),
            "media_options": [(c, present.media_label(c)) for c in reference.MEDIA],
            "fee_labels": present.FEE_LABELS, "trigger_labels": present.TRIGGER_LABELS,
            "currencies": CURRENCIES, "today": services.today(), "lic_terms": Terms.from_json}


@cache
def territory_options(locale: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Regions (in M.49 order) then countries (by name), named in the locale."""
    regions = tuple((code, f"{present.territory_label(code, locale)} ({code})")
                    for code in reference.REGIONS)
    countries = tuple(sorted(((c, present.territory_label(c, locale))
                              for c in reference.COUNTRIES), key=lambda x: x[1]))
    return ((_("Regions"), regions), (_("Countries"), countries))


def _org_id() -> int | None:
    return current_user.organization_id if current_user.is_authenticated else None


def _visible_for(rows_by_id: dict[str, Any]):
    return services.reason_visibility(rows_by_id, current_user)


def _fail(exc: LicensingError) -> None:
    db.session.rollback()
    flash(str(exc), "error")


# --------------------------------------------------------------------------- forms


def _rows(form, prefix: str, count: int, keys: tuple[str, ...], many: tuple[str, ...] = ()
          ) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        row = {k: (form.getlist(f"{prefix}[{i}].{k}") if k in many
                   else form.get(f"{prefix}[{i}].{k}", "")) for k in keys}
        if any(v for k, v in row.items() if k != "trigger"):
            out.append(row)
    return out


def terms_payload(form) -> dict[str, Any]:
    """The API's JSON shape from a posted form."""
    return {
        "media": form.getlist("media"),
        "territories": form.getlist("territories"),
        "territories_excluded": form.getlist("territories_excluded"),
        "languages": form.get("languages", ""),
        "episodes": {"first": form.get("episodes.first", ""),
                     "last": form.get("episodes.last", "")},
        "term": {"start": form.get("term.start", ""), "end": form.get("term.end", "")},
        "exclusive": form.get("exclusive", ""),
        "may_sublicense": form.get("may_sublicense", ""),
        "holdbacks": _rows(form, "holdbacks", HOLDBACK_ROWS,
                           ("media", "territories", "until"), many=("media",)),
    }


def offer_payload(form) -> dict[str, Any]:
    payload = terms_payload(form)
    payload.update(
        fee={"model": form.get("fee.model", ""), "currency": form.get("fee.currency", ""),
             "flat_fee": form.get("fee.flat_fee", ""),
             "minimum_guarantee": form.get("fee.minimum_guarantee", ""),
             "revenue_share": form.get("fee.revenue_share", "")},
        instalments=_rows(form, "instalments", INSTALMENT_ROWS,
                          ("percent", "amount", "trigger", "due_on")),
        expires_on=form.get("expires_on", ""), market_event=form.get("market_event", ""),
        message=form.get("message", ""))
    return payload


def _major(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return ""
    return str(Decimal(amount_minor).scaleb(-get_currency_precision(currency)))


def payload_from_terms(terms: dict[str, Any]) -> dict[str, Any]:
    return {"media": terms["media"], "territories": terms["territories"],
            "territories_excluded": terms.get("territories_excluded") or [],
            "languages": ", ".join(terms.get("languages") or []),
            "episodes": terms.get("episodes") or {"first": "", "last": ""},
            "term": {"start": terms["start"], "end": terms.get("end") or ""},
            "exclusive": terms.get("exclusive"), "may_sublicense": terms.get("may_sublicense"),
            "holdbacks": [{"media": h["media"], "territories": ", ".join(h["territories"]),
                           "until": h.get("until") or ""} for h in terms.get("holdbacks") or []]}


def payload_from_round(rnd) -> dict[str, Any]:
    payload = payload_from_terms(rnd.terms)
    payload.update(
        fee={"model": rnd.fee_model, "currency": rnd.currency,
             "flat_fee": _major(rnd.flat_fee_minor, rnd.currency),
             "minimum_guarantee": _major(rnd.minimum_guarantee_minor, rnd.currency),
             "revenue_share": (str(Decimal(rnd.revenue_share_bp) / 100)
                               if rnd.revenue_share_bp else "")},
        instalments=[{"percent": str(Decimal(i.percent_bp) / 100) if i.percent_bp else "",
                      "amount": _major(i.amount_minor, rnd.currency), "trigger": i.trigger,
                      "due_on": i.due_on.isoformat() if i.due_on else ""}
                     for i in rnd.instalments],
        expires_on=(services.today() + timedelta(days=14)).isoformat(), message="")
    return payload


def default_offer_payload(args) -> dict[str, Any]:
    """A fresh offer form, prefilled from an avails check's parameters when given."""
    start = args.get("from") or date(services.today().year + 1, 1, 1).isoformat()
    end = args.get("to") or (services.add_years(date.fromisoformat(start), 3).isoformat()
                             if _is_date(start) else "")
    return {"media": args.getlist("media") or ["SVOD"],
            "territories": args.getlist("territory"),
            "territories_excluded": args.getlist("exclude"),
            "languages": ", ".join(args.getlist("rights_language")),
            "episodes": {"first": "", "last": ""},
            "term": {"start": start, "end": end},
            "exclusive": args.get("exclusive", "1"), "may_sublicense": "", "holdbacks": [],
            "fee": {"model": "flat", "currency": "USD", "flat_fee": "",
                    "minimum_guarantee": "", "revenue_share": ""},
            "instalments": [{"percent": "30", "amount": "", "trigger": "on_signature",
                             "due_on": ""},
                            {"percent": "70", "amount": "", "trigger": "on_delivery_acceptance",
                             "due_on": ""}],
            "expires_on": (services.today() + timedelta(days=14)).isoformat(),
            "market_event": "", "message": ""}


def _market_events():
    from marketplace.markets.models import MarketEvent

    return db.session.scalars(select(MarketEvent).order_by(MarketEvent.starts_on)).all()


def _parse_offer(payload: dict[str, Any]) -> tuple[Terms, Any, date | None]:
    """Terms, fee and expiry together, so one submission reports every bad field."""
    errors: dict[str, str] = {}
    expiry_errors = FieldErrors()
    expires_on = parse_date(payload.get("expires_on"), "expires_on", expiry_errors,
                            required=True)
    try:
        terms, fee = parse_offer(payload)
    except LicensingError as exc:
        errors.update(exc.errors)
    errors.update(expiry_errors)
    if errors:
        raise LicensingError.collected(errors)
    return terms, fee, expires_on


# --------------------------------------------------------------------------- avails


def _answer_parts(answer: domain.Answer, visible) -> list[present.PartView]:
    return [present.part_view(p, answer.request, visible=visible) for p in answer.parts]


@bp.get("/avails")
@login_required
def search():
    """Buyers ask what is free across the catalog, per title."""
    args = request.args
    page_no = max(1, args.get("page", 1, type=int) or 1)
    context: dict[str, Any] = {"args": args, "results": None, "errors": {}}
    if args.get("territory") or args.get("media"):
        try:
            avails_request, allow_contested = services.request_from_params(args)
        except LicensingError as exc:
            context["errors"] = exc.errors
            return render_template("licensing/search.html", **context), 400
        context.update(_search_results(avails_request, allow_contested, args, page_no))
    return render_template("licensing/search.html", **context)


def _search_results(avails_request: domain.AvailsRequest, allow_contested: bool, args,
                    page_no: int, per_page: int = 20) -> dict[str, Any]:
    free = set(services.free_title_ids(avails_request))
    maybe = set(services.free_title_ids(avails_request, allow_contested=True)) - free
    only_free = args.get("show", "free") == "free"
    dialect = db.session.get_bind().dialect.name
    stmt, _rank = build_select(CatalogQuery(text=args.get("q", "").strip()[:200]), dialect)
    if only_free:
        wanted = free | maybe if allow_contested else free
        stmt = stmt.where(index.id_filter(db.session, Title.id, wanted))
    total = db.session.scalar(select(func.count()).select_from(
        stmt.with_only_columns(Title.id).order_by(None).subquery())) or 0
    order = case((index.id_filter(db.session, Title.id, free), 0),
                 (index.id_filter(db.session, Title.id, maybe), 1), else_=2)
    titles = list(db.session.scalars(
        stmt.order_by(order, Title.published_at.desc(), Title.id.desc())
        .limit(per_page).offset((page_no - 1) * per_page)))
    answers = services.check_titles(avails_request, [t.id for t in titles])
    visible = _visible_for(services.grants_by_id(
        int(r.grant_id) for a in answers.values() for p in a.parts for r in p.reasons
        if r.grant_id))
    lang = "zh" if present.locale().startswith("zh") else "en"
    results = []
    for t in titles:
        answer = answers[t.id]
        v = services.verdict(answer)
        results.append({"title": t, "name": t.display_title(lang), "answer": answer,
                        "status": "free" if t.id in free else
                                  "contested" if t.id in maybe else answer.status.value,
                        "parts": _answer_parts(answer, visible),
                        "free_instead": present.territories_text(v.free_territories)
                        if v.free_territories and not answer.available else None,
                        "free_from": v.free_from})
    return {"results": results, "total": total, "free_count": len(free),
            "contested_count": len(maybe), "page": page_no,
            "pages": max(1, -(-total // per_page)), "request_text":
                present.request_text(avails_request), "only_free": only_free}


def _grid_request(args) -> tuple[domain.AvailsRequest, dict[str, str]]:
    start = args.get("from") or services.today().isoformat()
    end = args.get("to") or ""
    if not end and _is_date(start):  # two years: the usual length of a licence
        end = services.add_years(date.fromisoformat(start), 2).isoformat()
    params = {"from": start, "to": end,
              "exclusive": args.get("exclusive", "1" if "from" not in args else ""),
              "rights_language": args.get("rights_language", "")}
    avails_request, _contested = services.request_from_params(
        {**params, "territory": "001", "media": "ALL"})
    return avails_request, params


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _title_grid(title: Title, args):
    avails = services.title_avails(title)
    avails_request, params = _grid_request(args)
    answer = avails.check(avails_request)
    visible = _visible_for(avails.by_id)
    return grid.build_grid(answer, expand=args.get("expand"), visible=visible), params, avails


def catalog_filter_fields():
    """The availability inputs of the catalog's filter form (read by the filter provider)."""
    return Markup(render_template("licensing/_catalog_filters.html"))


def title_section(title: Title):
    """The avails grid on the catalog's title page: this year's picture at a glance."""
    if title.status != "published":
        return None
    picture, params, _avails = _title_grid(title, {})
    can_deal = (current_user.organization.kind == "distributor"
                and current_user.organization.is_verified)
    return Markup(render_template("licensing/_title_section.html", title=title, grid=picture,
                                  params=params, can_deal=can_deal))


@bp.get("/avails/titles/<int:title_id>")
@login_required
def title_avails(title_id: int):
    """The avails grid of a title, a check of specific terms, and the ways to ask."""
    title = access.visible_title_or_404(title_id)
    errors: dict[str, str] = {}
    try:
        picture, params, avails = _title_grid(title, request.args)
    except LicensingError as exc:
        errors.update(exc.errors)
        picture, params, avails = _title_grid(title, {})
    check = None
    if request.args.get("territory"):
        try:
            check_request, _c = services.request_from_params(request.args)
            answer = avails.check(check_request.for_title(str(title.id)))
            v = services.verdict(answer)
            check = {"answer": answer, "verdict": v,
                     "parts": _answer_parts(answer, _visible_for(avails.by_id)),
                     "text": present.request_text(check_request),
                     "free_instead": present.territories_text(v.free_territories)
                     if v.free_territories and not answer.available else None}
        except LicensingError as exc:
            errors.update(exc.errors)
    is_owner = access.is_owner_or_admin(title)
    # Grants worth listing: rights in and deals, and offers still open; buyers see only
    # their own.
    rows = [r for r in avails.rows
            if (is_owner or r.licensee_org_id == _org_id())
            and not (r.source == "offer" and r.status != domain.GrantStatus.OFFER)]
    lang = "zh" if present.locale().startswith("zh") else "en"
    return render_template(
        "licensing/title.html", title=title, name=title.display_title(lang), grid=picture,
        params=params, check=check, errors=errors, is_owner=is_owner, rows=rows,
        args=request.args,
        can_deal=(current_user.organization.kind == "distributor"
                  and current_user.organization.is_verified
                  and title.status == "published")), 400 if errors else 200


@bp.get("/avails/titles/<int:title_id>/grid.svg")
@login_required
def title_grid_svg(title_id: int):
    title = access.visible_title_or_404(title_id)
    try:
        picture, _params, _avails = _title_grid(title, request.args)
    except LicensingError as exc:
        abort(400, description=str(exc))
    svg = render_template("licensing/_grid.svg", grid=picture, standalone=True, title=title)
    return Response(svg, mimetype="image/svg+xml")


# --------------------------------------------------------------------------- rights in


@bp.get("/rights")
@producer_required
def rights():
    rows = services.rights_in_of(current_user.organization_id)
    titles = db.session.scalars(select(Title).where(
        Title.organization_id == current_user.organization_id)
        .order_by(Title.original_title)).all()
    by_title: dict[int, list[RightsGrant]] = {}
    for row in rows:
        by_title.setdefault(row.title_id, []).append(row)
    return render_template("licensing/rights.html", titles=titles, by_title=by_title)


def _rights_form_values(row: RightsGrant | None, title_id: int | None) -> dict[str, Any]:
    if row is None:
        today = services.today()
        return {"title_id": title_id, "media": ["ALL"], "territories": ["001"],
                "territories_excluded": [], "languages": "",
                "episodes": {"first": "", "last": ""},
                "term": {"start": date(today.year, 1, 1).isoformat(),
                         "end": date(today.year + 7, 1, 1).isoformat()},
                "exclusive": "1", "may_sublicense": "1", "holdbacks": [], "status": "active",
                "reverted_on": "", "note": ""}
    values = payload_from_terms({
        "media": row.media, "territories": row.territories,
        "territories_excluded": row.territories_excluded, "languages": row.languages,
        "episodes": {"first": row.episode_first, "last": row.episode_last}
        if row.episode_first else None,
        "start": row.starts_on.isoformat(),
        "end": row.ends_on.isoformat() if row.ends_on else None, "exclusive": row.exclusive,
        "may_sublicense": row.may_sublicense, "holdbacks": row.holdbacks})
    values.update(title_id=row.title_id, status=row.status,
                  reverted_on=row.reverted_on.isoformat() if row.reverted_on else "",
                  note=row.note or "")
    return values


def _save_rights(row: RightsGrant | None):
    form = request.form
    values = terms_payload(form)
    values.update(title_id=form.get("title_id", type=int), status=form.get("status", "active"),
                  reverted_on=form.get("reverted_on", ""), note=form.get("note", ""))
    titles = db.session.scalars(select(Title).where(
        Title.organization_id == current_user.organization_id)
        .order_by(Title.original_title)).all()
    try:
        terms = parse_terms(values)
        errs = FieldErrors()
        reverted_on = parse_date(values["reverted_on"], "reverted_on", errs)
        errs.raise_any()
        if row is None:
            title = owned_or_404(Title, values["title_id"] or 0)
            row = services.create_rights_in(title, terms, by=current_user,
                                            status=values["status"], reverted_on=reverted_on,
                                            note=values["note"])
            flash(_("Rights in %(label)s recorded.", label=row.label), "success")
        else:
            services.update_rights_in(row, terms, by=current_user, status=values["status"],
                                      reverted_on=reverted_on, note=values["note"])
            flash(_("Rights in %(label)s saved.", label=row.label), "success")
    except LicensingError as exc:
        db.session.rollback()
        return render_template("licensing/rights_form.html", values=values, errors=exc.errors,
                               row=row, titles=titles), exc.status if exc.status != 409 else 400
    db.session.commit()
    return redirect(url_for(".rights") + f"#title-{row.title_id}", 303)


@bp.route("/rights/new", methods=["GET", "POST"])
@producer_required
def new_rights():
    if request.method == "POST":
        return _save_rights(None)
    titles = db.session.scalars(select(Title).where(
        Title.organization_id == current_user.organization_id)
        .order_by(Title.original_title)).all()
    return render_template("licensing/rights_form.html", titles=titles, row=None, errors={},
                           values=_rights_form_values(None, request.args.get("title", type=int)))


@bp.route("/rights/<int:grant_id>/edit", methods=["GET", "POST"])
@producer_required
def edit_rights(grant_id: int):
    row = owned_or_404(RightsGrant, grant_id)
    if row.kind != domain.GrantKind.RIGHTS_IN:
        abort(404)
    if request.method == "POST":
        return _save_rights(row)
    titles = [row.title]
    return render_template("licensing/rights_form.html", titles=titles, row=row, errors={},
                           values=_rights_form_values(row, row.title_id))


@bp.post("/rights/<int:grant_id>/delete")
@producer_required
def delete_rights(grant_id: int):
    row = owned_or_404(RightsGrant, grant_id)
    if row.kind != domain.GrantKind.RIGHTS_IN:
        abort(404)
    label, title_id = row.label, row.title_id
    try:
        services.delete_rights_in(row, by=current_user)
    except LicensingError as exc:
        _fail(exc)
        return redirect(url_for(".rights"), 303)
    db.session.commit()
    flash(_("Rights in %(label)s deleted.", label=label), "success")
    return redirect(url_for(".rights") + f"#title-{title_id}", 303)


@bp.route("/rights/import", methods=["GET", "POST"])
@producer_required
def import_rights():
    if request.method == "GET":
        return render_template("licensing/rights_import.html", report=None, error=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("licensing/rights_import.html", report=None,
                               error=_("Choose an EMA avails file (.xlsx or .xml).")), 400
    try:
        result = services.import_ema(current_user.organization, upload.read(), by=current_user)
    except ema.EmaImportError as exc:
        db.session.rollback()
        return render_template("licensing/rights_import.html", report=exc.report,
                               error=_("The file has rejected rows, so nothing was imported. "
                                       "Fix them and upload it again."),
                               filename=upload.filename), 422
    except ema.EmaFormatError as exc:
        db.session.rollback()
        return render_template("licensing/rights_import.html", report=None,
                               error=_("This is not an EMA avails file we can read: %(why)s",
                                       why=str(exc)), filename=upload.filename), 422
    except LicensingError as exc:
        db.session.rollback()
        return render_template("licensing/rights_import.html", report=None, error=str(exc),
                               filename=upload.filename), exc.status
    db.session.commit()
    flash(_("%(n)d rights-in grants imported.", n=len(result.created)), "success")
    return render_template("licensing/rights_import.html", report=result.report, error=None,
                           created=result.created, filename=upload.filename)


def _export_response(org, fmt: str) -> Response:
    try:
        out = services.export_ema(org, fmt)
    except LicensingError as exc:
        abort(400, description=str(exc))
    mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if fmt == "xlsx" else "application/xml")
    name = f"avails-{org.slug}-{services.today().isoformat()}.{fmt}"
    response = Response(out.data, mimetype=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    if out.warnings:
        response.headers["X-EMA-Warnings"] = str(len(out.warnings))
    return response


@bp.get("/rights/export.<fmt>")
@login_required
def export_rights(fmt: str):
    """A producer's avails or a buyer's licensed rights as an EMA file."""
    if fmt not in ("xlsx", "xml"):
        abort(404)
    return _export_response(current_user.organization, fmt)


# --------------------------------------------------------------------------- inquiries


@bp.get("/inquiries")
@login_required
def inquiries():
    stmt = scoped(select(Inquiry), Inquiry, *PARTY_COLUMNS).order_by(
        Inquiry.last_message_at.desc())
    return render_template("licensing/inquiries.html", inquiries=db.session.scalars(stmt).all())


@bp.route("/inquiries/new", methods=["GET", "POST"])
@buyer_required
@verified_required
def new_inquiry():
    title_id = request.values.get("title", type=int)
    title = access.visible_title_or_404(title_id or 0)
    values = {"subject": request.form.get("subject", ""), "body": request.form.get("body", "")}
    if request.method == "POST":
        try:
            inquiry = services.open_inquiry(title.id, by=current_user, subject=values["subject"],
                                            body=values["body"])
        except LicensingError as exc:
            db.session.rollback()
            return render_template("licensing/inquiry_form.html", title=title, values=values,
                                   errors=exc.errors), exc.status
        db.session.commit()
        flash(_("Your question was sent to %(org)s.", org=title.organization.name), "success")
        return redirect(url_for(".inquiry", inquiry_id=inquiry.id), 303)
    return render_template("licensing/inquiry_form.html", title=title, values=values, errors={})


@bp.get("/inquiries/<int:inquiry_id>")
@login_required
def inquiry(inquiry_id: int):
    item = owned_or_404(Inquiry, inquiry_id, *PARTY_COLUMNS)
    offers = db.session.scalars(select(Offer).where(Offer.inquiry_id == item.id)).all()
    return render_template("licensing/inquiry.html", inquiry=item, offers=offers, errors={})


@bp.post("/inquiries/<int:inquiry_id>/messages")
@login_required
def reply(inquiry_id: int):
    item = owned_or_404(Inquiry, inquiry_id, *PARTY_COLUMNS)
    try:
        services.post_message(item, by=current_user, body=request.form.get("body", ""))
    except LicensingError as exc:
        db.session.rollback()
        return render_template("licensing/inquiry.html", inquiry=item, offers=[],
                               errors=exc.errors), exc.status
    db.session.commit()
    return redirect(url_for(".inquiry", inquiry_id=item.id) + "#latest", 303)


# --------------------------------------------------------------------------- offers


@bp.get("/offers")
@login_required
def offers():
    stmt = scoped(select(Offer), Offer, *PARTY_COLUMNS).order_by(Offer.updated_at.desc())
    return render_template("licensing/offers.html", offers=db.session.scalars(stmt).all())


def _offer_form(title: Title, values, errors, *, offer=None, conflict=None, status=200):
    return render_template("licensing/offer_form.html", title=title, values=values,
                           errors=errors, offer=offer, conflict=_conflict_view(conflict),
                           events=_market_events(), holdback_rows=HOLDBACK_ROWS,
                           instalment_rows=INSTALMENT_ROWS, fee_models=list(FeeModel),
                           triggers=list(Trigger)), status


def _conflict_view(v: services.Verdict | None, rows_by_id=None) -> dict[str, Any] | None:
    if v is None or not (v.refused or v.warnings):
        return None
    visible = _visible_for(rows_by_id or {})
    return {"verdict": v, "parts": [present.part_view(p, v.answer.request, visible=visible)
                                    for p in (*v.refused, *v.warnings)],
            "free_instead": present.territories_text(v.free_territories)
            if v.free_territories else None, "free_from": v.free_from}


@bp.route("/offers/new", methods=["GET", "POST"])
@buyer_required
@verified_required
def new_offer():
    title = access.visible_title_or_404(request.values.get("title", 0, type=int))
    inquiry_id = request.values.get("inquiry", type=int)
    if request.method == "GET":
        return _offer_form(title, default_offer_payload(request.args), {})
    values = offer_payload(request.form)
    try:
        terms, fee, expires_on = _parse_offer(values)
        inquiry_row = owned_or_404(Inquiry, inquiry_id, *PARTY_COLUMNS) if inquiry_id else None
        offer, v = services.make_offer(title.id, terms, fee, by=current_user,
                                       expires_on=expires_on,
                                       market_event=values["market_event"],
                                       inquiry=inquiry_row, message=values["message"])
    except LicensingError as exc:
        db.session.rollback()
        return _offer_form(title, values, exc.errors, conflict=exc.conflict,
                           status=exc.status if exc.status in (400, 403, 409) else 400)
    db.session.commit()
    if v.warnings:
        flash(_("Offer %(number)s sent. Some of these rights are contested by other offers or "
                "options; the producer sees the same warning.", number=offer.number), "info")
    else:
        flash(_("Offer %(number)s sent to %(org)s.", number=offer.number,
                org=offer.producer.name), "success")
    return redirect(url_for(".offer", offer_id=offer.id), 303)


@bp.get("/offers/<int:offer_id>")
@login_required
def offer(offer_id: int):
    item = owned_or_404(Offer, offer_id, *PARTY_COLUMNS)
    today = services.today()
    verdict = conflict = None
    if item.is_live and not item.is_expired(today):
        verdict = services.check_offer_terms(item.title, Terms.from_json(item.round.terms),
                                             item.buyer_org_id,
                                             ignore=[item.grant_id] if item.grant_id else [],
                                             accepting=True)
        conflict = _conflict_view(verdict, services.title_avails(item.title).by_id)
    return render_template("licensing/offer.html", offer=item, verdict=verdict,
                           conflict=conflict, my_side=item.side_of(_org_id()),
                           events=_events("offer", item.id))


def _events(kind: str, ident: int) -> list[dict[str, Any]]:
    """The audit trail both parties (and admins) see, with who acted in words."""
    from marketplace.accounts.models import Organization, User

    events = audit.events_for(kind, ident, _org_id(), admin=current_user.is_admin)
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({e.actor_user_id for e in events if e.actor_user_id})))}
    orgs = {o.id: o for o in db.session.scalars(select(Organization).where(
        Organization.id.in_({e.actor_org_id for e in events if e.actor_org_id})))}
    out = []
    for e in events:
        user, org = users.get(e.actor_user_id), orgs.get(e.actor_org_id)
        actor = " · ".join(x for x in (user.name if user else None, org.name if org else None)
                           if x) or _("the platform")
        out.append({"at": e.at, "action": e.action, "label": present.action_label(e.action),
                    "actor": actor, "changes": e.changes})
    return out


@bp.route("/offers/<int:offer_id>/counter", methods=["GET", "POST"])
@login_required
@verified_required
def counter(offer_id: int):
    item = owned_or_404(Offer, offer_id, *PARTY_COLUMNS)
    if request.method == "GET":
        return _offer_form(item.title, payload_from_round(item.round), {}, offer=item)
    values = offer_payload(request.form)
    try:
        terms, fee, expires_on = _parse_offer(values)
        rnd, v = services.counter_offer(item, terms, fee, by=current_user,
                                        expires_on=expires_on, message=values["message"])
    except LicensingError as exc:
        db.session.rollback()
        return _offer_form(item.title, values, exc.errors, offer=item, conflict=exc.conflict,
                           status=exc.status if exc.status in (400, 403, 409) else 400)
    db.session.commit()
    flash(_("Round %(n)d sent.", n=rnd.number), "success")
    return redirect(url_for(".offer", offer_id=item.id), 303)


@bp.post("/offers/<int:offer_id>/accept")
@login_required
@verified_required
def accept(offer_id: int):
    owned_or_404(Offer, offer_id, *PARTY_COLUMNS)
    try:
        deal = services.accept_offer(offer_id, by=current_user, ip=request.remote_addr)
    except LicensingError as exc:
        _fail(exc)
        return redirect(url_for(".offer", offer_id=offer_id), 303)
    db.session.commit()
    flash(_("Accepted: deal %(number)s is waiting for both signatures.", number=deal.number),
          "success")
    return redirect(url_for(".deal", deal_id=deal.id), 303)


@bp.post("/offers/<int:offer_id>/decline")
@login_required
def decline(offer_id: int):
    item = owned_or_404(Offer, offer_id, *PARTY_COLUMNS)
    try:
        services.decline_offer(item, by=current_user, reason=request.form.get("reason"))
    except LicensingError as exc:
        _fail(exc)
        return redirect(url_for(".offer", offer_id=offer_id), 303)
    db.session.commit()
    flash(_("Offer %(number)s declined.", number=item.number), "success")
    return redirect(url_for(".offer", offer_id=offer_id), 303)


@bp.post("/offers/<int:offer_id>/withdraw")
@login_required
def withdraw(offer_id: int):
    item = owned_or_404(Offer, offer_id, *PARTY_COLUMNS)
    try:
        services.withdraw_offer(item, by=current_user)
    except LicensingError as exc:
        _fail(exc)
        return redirect(url_for(".offer", offer_id=offer_id), 303)
    db.session.commit()
    flash(_("Offer %(number)s withdrawn.", number=item.number), "success")
    return redirect(url_for(".offer", offer_id=offer_id), 303)


# --------------------------------------------------------------------------- deals


@bp.get("/deals")
@login_required
def deals():
    stmt = scoped(select(Deal), Deal, *PARTY_COLUMNS).order_by(Deal.accepted_at.desc())
    items = db.session.scalars(stmt).all()
    waiting = [d for d in items if d.status == "pending_signature"
               and d.side_of(_org_id()) and d.signature(d.side_of(_org_id())) is None]
    return render_template("licensing/deals.html", deals=items, waiting=waiting)


@bp.get("/deals/<int:deal_id>")
@login_required
def deal(deal_id: int):
    item = owned_or_404(Deal, deal_id, *PARTY_COLUMNS)
    return render_template("licensing/deal.html", deal=item, my_side=item.side_of(_org_id()),
                           events=_events("deal", item.id), terms=Terms.from_json(item.terms))


@bp.post("/deals/<int:deal_id>/sign")
@login_required
def sign(deal_id: int):
    owned_or_404(Deal, deal_id, *PARTY_COLUMNS)
    try:
        services.sign_deal(deal_id, by=current_user, name=request.form.get("name", ""),
                           ip=request.remote_addr)
    except LicensingError as exc:
        _fail(exc)
        return redirect(url_for(".deal", deal_id=deal_id), 303)
    db.session.commit()
    item = db.session.get(Deal, deal_id)
    if item.status == "signed":
        flash(_("Deal %(number)s is signed by both sides.", number=item.number), "success")
    else:
        flash(_("Signed. Waiting for the other side."), "success")
    return redirect(url_for(".deal", deal_id=deal_id), 303)


@bp.post("/deals/<int:deal_id>/revert")
@producer_required
def revert(deal_id: int):
    item = owned_or_404(Deal, deal_id, *PARTY_COLUMNS)
    errs = FieldErrors()
    on = parse_date(request.form.get("reverted_on"), "reverted_on", errs, required=True)
    try:
        errs.raise_any()
        services.revert_deal(item, by=current_user, on=on, reason=request.form.get("reason", ""))
    except LicensingError as exc:
        _fail(exc)
        return redirect(url_for(".deal", deal_id=deal_id), 303)
    db.session.commit()
    flash(_("Deal %(number)s reverted from %(date)s.", number=item.number,
            date=present.day(on)), "success")
    return redirect(url_for(".deal", deal_id=deal_id), 303)


@bp.get("/deals/<int:deal_id>/memo")
@login_required
def memo(deal_id: int):
    item = owned_or_404(Deal, deal_id, *PARTY_COLUMNS)
    return render_template("licensing/memo.html", deal=item, terms=Terms.from_json(item.terms))


# --------------------------------------------------------------------------- hooks


def catalog_availability_filter(params):
    """Catalog search provider: ``territory`` (with ``exclude``, ``media``, ``from``,
    ``to``, ``exclusive``, ``rights_language``, ``contested``) keeps the titles on which
    those rights are free. Bad parameters answer 400 naming the parameter."""
    if not params.get("territory"):
        return None
    try:
        avails_request, allow_contested = services.request_from_params(params)
    except LicensingError as exc:
        from werkzeug.exceptions import BadRequest

        bad = BadRequest(description=f"{exc.field}: {exc}")
        bad.data = {"messages": {"query": {k: [v] for k, v in exc.errors.items()}}}
        raise bad from exc
    ids = services.free_title_ids(avails_request, allow_contested=allow_contested)
    free = index.id_filter(db.session, Title.id, ids)
    return lambda stmt: stmt.where(free)


def dashboard_panel(user):
    """Inquiries, offers and signatures waiting for the user's organization."""
    from markupsafe import Markup

    if user.is_admin or user.organization.kind not in ("producer", "distributor"):
        return None
    org_id = user.organization_id
    today = services.today()
    offers_live = db.session.scalars(select(Offer).where(
        (Offer.buyer_org_id == org_id) | (Offer.producer_org_id == org_id),
        Offer.status.in_(("open", "countered")))).all()
    my_turn = [o for o in offers_live if not o.is_expired(today)
               and o.round.proposed_by_org_id != org_id]
    deals_pending = db.session.scalars(select(Deal).where(
        (Deal.buyer_org_id == org_id) | (Deal.producer_org_id == org_id),
        Deal.status == "pending_signature")).all()
    to_sign = [d for d in deals_pending if d.signature(d.side_of(org_id)) is None]
    inquiries_count = db.session.scalar(select(func.count()).select_from(Inquiry).where(
        (Inquiry.buyer_org_id == org_id) | (Inquiry.producer_org_id == org_id),
        Inquiry.status == "open")) or 0
    return Markup(render_template("licensing/_panel.html", my_turn=my_turn, to_sign=to_sign,
                                  inquiries_count=inquiries_count, user=user))
