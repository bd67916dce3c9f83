"""The catalog's pages: producers list and manage titles, staff review them, buyers
browse, search and screen trailers. Views parse, call one service, commit once."""

from __future__ import annotations

import csv
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from catalog import access, domain, importer, labels, services
from catalog.domain import ValidationError
from catalog.forms import (
    CopyrightForm,
    EpisodeForm,
    ImportForm,
    ReviewForm,
    TitleForm,
    UploadForm,
    provenance_from_form,
)
from catalog.labels import tr
from catalog.search import (
    EPISODE_BUCKETS,
    CatalogQuery,
    facet_counts,
    provided_filters,
    search_titles,
)
from catalog.tasks import poster_from_trailer
from marketplace.extensions import db
from marketplace.i18n import _, current_locale_name
from marketplace.jobs import enqueue
from marketplace.policy import admin_required, login_required, org_kind_required
from marketplace.storage import get_storage

bp = Blueprint("catalog", __name__, url_prefix="/catalog", template_folder="templates",
               static_folder="static", static_url_path="/static")

producer_required = org_kind_required("producer")


def _ui_language() -> str:
    return "zh" if current_locale_name().startswith("zh") else "en"


def _errors(exc: ValidationError) -> dict[str, str]:
    return {field: tr(message) for field, message in exc.errors.items()}


def _flash_errors(exc: ValidationError) -> None:
    for message in _errors(exc).values():
        flash(message, "error")


# --------------------------------------------------------------------------- buyers


def _browse_query() -> CatalogQuery:
    args = request.args

    def ints(name: str) -> tuple[int, ...]:
        return tuple(int(v) for v in args.getlist(name) if v.isdigit())

    bucket = args.get("episodes", "")
    low, high = EPISODE_BUCKETS.get(bucket, (None, None))
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    return CatalogQuery(
        text=args.get("q", "").strip()[:200],
        genres=tuple(g for g in args.getlist("genre") if g in domain.GENRES),
        languages=tuple(filter(None, (domain.normalize_language(v)
                                      for v in args.getlist("language")))),
        involvement=tuple(v for v in args.getlist("ai") if v in domain.INVOLVEMENT),
        years=ints("year"), episodes_min=low, episodes_max=high,
        sort=args.get("sort") or None, page=page, per_page=24,
        extra_filters=provided_filters(args))


@bp.get("/")
@login_required
def browse():
    q = _browse_query()
    page = search_titles(q)
    facets = facet_counts(q)
    cards = services.cards_for(page.items, _ui_language())
    args = request.args.to_dict(flat=False)
    return render_template("catalog/browse.html", q=q, page=page, cards=cards, facets=facets,
                           args=args, sorts=labels.SORTS)


def page_url(page: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return url_for("catalog.browse", **args)


@bp.get("/titles/<int:title_id>")
@login_required
def title_page(title_id: int):
    title = access.visible_title_or_404(title_id)
    lang = _ui_language()
    prov = services.provenance_of(title)
    documents = [a for a in title.assets if a.kind in domain.DEAL_KINDS]
    return render_template(
        "catalog/title.html", title=title, name=title.display_title(lang),
        synopsis=title.synopsis(lang), prov=prov, badge=services.badge_for(title),
        compliance=services.compliance_for(title), documents=documents,
        can_fetch=access.can_fetch, is_owner=access.is_owner_or_admin(title),
        media_c2pa=[a for a in title.assets if a.c2pa and a.c2pa_state != "absent"],
        overrides=[e for e in title.episodes if e.provenance_override])


@bp.get("/titles/<int:title_id>/mec.json")
@login_required
def title_mec(title_id: int):
    title = access.visible_title_or_404(title_id)
    response = jsonify(services.mec_for(title))
    response.headers["Content-Disposition"] = f'attachment; filename="title-{title.id}-mec.json"'
    return response


@bp.get("/media/<int:asset_id>")
@login_required
def media(asset_id: int):
    """Inline media for the page (posters, the trailer player), with range requests."""
    asset = access.fetchable_asset_or_404(asset_id)
    storage = get_storage()
    path = storage.local_path(asset.storage_key)
    if path is None:
        return redirect(storage.url(asset.storage_key, 600))
    mimetype = asset.content_type or ("video/mp4" if asset.is_video else None)
    response = send_file(path, mimetype=mimetype, conditional=True, etag=asset.sha256,
                         download_name=asset.filename, as_attachment=False, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/media/<int:asset_id>/download")
@login_required
def download(asset_id: int):
    asset = access.fetchable_asset_or_404(asset_id)
    ttl = current_app.config["PDX_PRESIGNED_URL_SECONDS"]
    return redirect(get_storage().url(asset.storage_key, ttl, filename=asset.filename))


# --------------------------------------------------------------------------- producers


@bp.get("/mine")
@producer_required
def mine():
    titles = services.titles_of(current_user.organization_id)
    return render_template("catalog/mine.html", titles=titles,
                           counts=services.status_counts(current_user.organization_id))


def _title_input(form: TitleForm) -> domain.TitleInput:
    locs = {}
    for code, loc_title, synopsis in zip(request.form.getlist("loc_language[]"),
                                         request.form.getlist("loc_title[]"),
                                         request.form.getlist("loc_synopsis[]"), strict=False):
        if code.strip() or loc_title.strip() or synopsis.strip():
            locs[code.strip() or "?"] = (loc_title, synopsis)
    return domain.TitleInput(
        original_title=form.original_title.data or "",
        original_language=form.original_language.data or "",
        country=form.country.data or None, year=form.year.data,
        episode_count=form.episode_count.data,
        typical_episode_seconds=form.typical_episode_seconds.data,
        aspect_ratio=form.aspect_ratio.data or "9:16", genres=form.genres.data or [],
        tags=form.tags.data or "", localizations=locs)


def _apply_errors(form, errors: dict[str, str]) -> dict[str, str]:
    rest = {}
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), message]
        else:
            rest[name] = message
    return rest


def _localization_rows(title=None):
    rows = [{"language": loc.language, "title": loc.title, "synopsis": loc.synopsis}
            for loc in (title.localizations if title else [])]
    if request.method == "POST":
        rows = [{"language": c, "title": t, "synopsis": s} for c, t, s in zip(
            request.form.getlist("loc_language[]"), request.form.getlist("loc_title[]"),
            request.form.getlist("loc_synopsis[]"), strict=False) if c or t or s]
    if not rows:
        rows = [{"language": "zh", "title": "", "synopsis": ""},
                {"language": "en", "title": "", "synopsis": ""}]
    return [*rows, {"language": "", "title": "", "synopsis": ""}]


@bp.route("/titles/new", methods=["GET", "POST"])
@producer_required
def new_title():
    form = TitleForm()
    other_errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            title = services.create_title(current_user.organization, _title_input(form),
                                          by=current_user)
        except ValidationError as exc:
            db.session.rollback()
            other_errors = _apply_errors(form, _errors(exc))
        else:
            db.session.commit()
            flash(_("Draft created. Add episodes, media, provenance and copyright, then submit "
                    "it for review."), "success")
            return redirect(url_for(".manage", title_id=title.id))
    status = 422 if form.is_submitted() else 200
    return render_template("catalog/title_form.html", form=form, title=None,
                           loc_rows=_localization_rows(), other_errors=other_errors), status


@bp.route("/titles/<int:title_id>/edit", methods=["GET", "POST"])
@login_required
def edit_title(title_id: int):
    title = access.own_title_or_404(title_id)
    form = TitleForm(obj=None if request.method == "POST" else title)
    if request.method == "GET":
        form.genres.data = title.genres
        form.tags.data = ", ".join(title.tags or [])
    other_errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.update_title(title, _title_input(form), by=current_user)
        except ValidationError as exc:
            db.session.rollback()
            other_errors = _apply_errors(form, _errors(exc))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".manage", title_id=title.id))
    status = 422 if form.is_submitted() else 200
    return render_template("catalog/title_form.html", form=form, title=title,
                           loc_rows=_localization_rows(title), other_errors=other_errors), status


@bp.get("/titles/<int:title_id>/manage")
@login_required
def manage(title_id: int):
    title = access.own_title_or_404(title_id)
    upload = UploadForm()
    upload.episode_id.choices = [("", "—")] + [(str(e.id), f"{e.number}") for e in title.episodes]
    return render_template(
        "catalog/manage.html", title=title, upload=upload, episode_form=EpisodeForm(),
        review_form=ReviewForm(), compliance=services.compliance_for(title),
        badge=services.badge_for(title), gaps=_submission_gaps(title),
        max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024))


def _submission_gaps(title) -> list[str]:
    gaps = domain.submission_gaps(
        has_synopsis=any(loc.synopsis for loc in title.localizations),
        episode_rows=len(title.episodes),
        rights_holder=title.copyright.rights_holder if title.copyright else None,
        has_poster=title.poster is not None)
    return [tr(message) for _field, message in gaps]


@bp.post("/titles/<int:title_id>/episodes")
@login_required
def add_episodes(title_id: int):
    title = access.own_title_or_404(title_id)
    form = EpisodeForm()
    if not form.validate_on_submit():
        flash(_("Check the episode number and duration."), "error")
        return redirect(url_for(".manage", title_id=title.id) + "#episodes")
    try:
        if form.count.data:
            added = services.add_episode_range(title, form.count.data, form.duration_seconds.data)
            message = _("%(n)d episodes added.", n=added)
        else:
            number = form.number.data or (max((e.number for e in title.episodes), default=0) + 1)
            services.add_episode(title, number=number, name=form.name.data,
                                 duration_seconds=form.duration_seconds.data)
            message = _("Episode %(n)d added.", n=number)
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for(".manage", title_id=title.id) + "#episodes")


@bp.post("/titles/<int:title_id>/episodes/<int:episode_id>")
@login_required
def update_episode(title_id: int, episode_id: int):
    title = access.own_title_or_404(title_id)
    episode = access.own_episode_or_404(title, episode_id)
    form = EpisodeForm()
    form.validate_on_submit()
    try:
        services.update_episode(episode, name=form.name.data,
                                duration_seconds=form.duration_seconds.data)
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
    else:
        db.session.commit()
        flash(_("Episode %(n)d saved.", n=episode.number), "success")
    return redirect(url_for(".manage", title_id=title.id) + "#episodes")


@bp.post("/titles/<int:title_id>/episodes/<int:episode_id>/delete")
@login_required
def delete_episode(title_id: int, episode_id: int):
    title = access.own_title_or_404(title_id)
    episode = access.own_episode_or_404(title, episode_id)
    ReviewForm().validate_on_submit()
    try:
        services.delete_episode(episode)
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
    else:
        db.session.commit()
        flash(_("Episode deleted."), "success")
    return redirect(url_for(".manage", title_id=title.id) + "#episodes")


def _provenance_context(title, prov: domain.Provenance, errors: dict[str, str], episode=None):
    return {"title": title, "prov": prov, "errors": errors, "episode": episode,
            "form": ReviewForm(), "domain": domain, "labels": labels}


@bp.route("/titles/<int:title_id>/provenance", methods=["GET", "POST"])
@login_required
def provenance(title_id: int):
    title = access.own_title_or_404(title_id)
    errors: dict[str, str] = {}
    prov = services.provenance_of(title)
    if request.method == "POST" and ReviewForm().validate_on_submit():
        data = provenance_from_form(request.form)
        try:
            services.set_provenance(title, data, by=current_user)
        except ValidationError as exc:
            db.session.rollback()
            errors = _errors(exc)
            prov = domain.Provenance.from_dict(data)
        else:
            db.session.commit()
            flash(_("AI provenance saved."), "success")
            return redirect(url_for(".manage", title_id=title.id) + "#provenance")
    status = 422 if errors else 200
    return render_template("catalog/provenance_form.html",
                           **_provenance_context(title, prov, errors)), status


@bp.route("/titles/<int:title_id>/episodes/<int:episode_id>/provenance",
          methods=["GET", "POST"])
@login_required
def episode_provenance(title_id: int, episode_id: int):
    title = access.own_title_or_404(title_id)
    episode = access.own_episode_or_404(title, episode_id)
    errors: dict[str, str] = {}
    prov = domain.effective_provenance(title.provenance, episode.provenance_override)
    if request.method == "POST" and ReviewForm().validate_on_submit():
        if request.form.get("inherit"):
            override = None
        else:
            data = provenance_from_form(request.form)
            base = title.provenance or {}
            override = {k: v for k, v in data.items() if base.get(k) != v}
        try:
            services.set_episode_provenance(episode, override, by=current_user)
        except ValidationError as exc:
            db.session.rollback()
            errors = _errors(exc)
        else:
            db.session.commit()
            flash(_("Provenance of episode %(n)d saved.", n=episode.number), "success")
            return redirect(url_for(".manage", title_id=title.id) + "#episodes")
    status = 422 if errors else 200
    return render_template("catalog/provenance_form.html",
                           **_provenance_context(title, prov, errors, episode)), status


@bp.route("/titles/<int:title_id>/copyright", methods=["GET", "POST"])
@login_required
def copyright(title_id: int):  # noqa: A001 - the page's name
    title = access.own_title_or_404(title_id)
    record = title.copyright
    form = CopyrightForm(obj=record if request.method == "GET" else None)
    if request.method == "GET" and record:
        form.music_clearances.data = services.format_music_clearances(record.music_clearances)
    other_errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.set_copyright(
                title, rights_holder=form.rights_holder.data,
                registration_number=form.registration_number.data,
                nrta_number=form.nrta_number.data, nrta_tier=form.nrta_tier.data,
                underlying_work=form.underlying_work.data,
                music_clearances=form.music_clearances.data or "", by=current_user)
        except ValidationError as exc:
            db.session.rollback()
            other_errors = _apply_errors(form, _errors(exc))
        else:
            db.session.commit()
            flash(_("Copyright record saved."), "success")
            return redirect(url_for(".manage", title_id=title.id) + "#copyright")
    status = 422 if form.is_submitted() else 200
    return render_template("catalog/copyright_form.html", form=form, title=title,
                           other_errors=other_errors), status


def _wants_json() -> bool:
    return (request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or request.accept_mimetypes.best == "application/json")


@bp.post("/titles/<int:title_id>/assets")
@login_required
def upload(title_id: int):
    """One file per request. XMLHttpRequest callers (the progress bar) get JSON."""
    title = access.own_title_or_404(title_id)
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    try:
        form = UploadForm()
        file = request.files.get("file")
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        return _upload_failed(title, {"file": _("The file is larger than the limit of "
                                                "%(mb)d MB.", mb=max(1, limit // 1048576))}, 413)
    if not valid:
        return _upload_failed(title, {k: " ".join(v) for k, v in form.errors.items()}, 400)
    if file is None:
        return _upload_failed(title, {"file": _("Choose a file to upload.")}, 400)
    episode = None
    if form.episode_id.data:
        if not form.episode_id.data.isdigit():
            return _upload_failed(title, {"episode": _("Unknown episode.")}, 400)
        episode = access.own_episode_or_404(title, int(form.episode_id.data))
    try:
        asset = services.store_asset(title, kind=form.kind.data, stream=file.stream,
                                     filename=file.filename, language=form.language.data,
                                     episode=episode, content_type=file.mimetype,
                                     by=current_user)
        if asset.kind == "trailer" and title.poster is None:
            enqueue(poster_from_trailer, asset.id)  # sent once the upload commits
        db.session.commit()
    except ValidationError as exc:
        db.session.rollback()
        return _upload_failed(title, _errors(exc), 422)
    except Exception:
        db.session.rollback()  # the session hook deletes what was written
        raise
    message = _("%(kind)s uploaded: %(name)s", kind=labels.label(labels.ASSET_KINDS, asset.kind),
                name=asset.filename)
    if _wants_json():
        return jsonify({"ok": True, "id": asset.id, "message": message,
                        "sha256": asset.sha256}), 201
    flash(message, "success")
    return redirect(url_for(".manage", title_id=title.id) + "#media")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    """Werkzeug refuses a body over MAX_CONTENT_LENGTH before any view runs (the CSRF
    check reads the form): answer like any other refused upload."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    message = _("The file is larger than the limit of %(mb)d MB.", mb=max(1, limit // 1048576))
    if _wants_json():
        return jsonify({"ok": False, "errors": {"file": message}}), 413
    flash(message, "error")
    return redirect(request.referrer or url_for(".mine")), 303


def _upload_failed(title, errors: dict[str, str], status: int):
    if _wants_json():
        return jsonify({"ok": False, "errors": errors}), status
    for field, message in errors.items():
        flash(f"{field}: {message}", "error")
    return redirect(url_for(".manage", title_id=title.id) + "#media"), 303


@bp.post("/titles/<int:title_id>/assets/<int:asset_id>/delete")
@login_required
def delete_asset(title_id: int, asset_id: int):
    title = access.own_title_or_404(title_id)
    asset = next((a for a in title.assets if a.id == asset_id), None)
    if asset is None:
        abort(404)
    ReviewForm().validate_on_submit()
    try:
        services.delete_asset(asset, by=current_user)
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
    else:
        db.session.commit()
        flash(_("File deleted."), "success")
    return redirect(url_for(".manage", title_id=title.id) + "#media")


@bp.post("/titles/<int:title_id>/submit")
@login_required
def submit(title_id: int):
    title = access.own_title_or_404(title_id)
    form = ReviewForm()
    form.validate_on_submit()
    try:
        services.submit(title, by=current_user, comment=form.comment.data)
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
    else:
        db.session.commit()
        flash(_("Submitted for review. The platform team will publish it or send it back "
                "with comments."), "success")
    return redirect(url_for(".manage", title_id=title.id))


@bp.post("/titles/<int:title_id>/withdraw")
@login_required
def withdraw(title_id: int):
    title = access.own_title_or_404(title_id)
    form = ReviewForm()
    form.validate_on_submit()
    try:
        services.withdraw(title, by=current_user, comment=form.comment.data)
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
    else:
        db.session.commit()
        flash(_("Withdrawn: buyers no longer see this title."), "success")
    return redirect(url_for(".manage", title_id=title.id))


# --------------------------------------------------------------------------- staff


@bp.get("/review")
@admin_required
def review_queue():
    return render_template("catalog/review.html", titles=services.review_queue(),
                           form=ReviewForm())


@bp.post("/titles/<int:title_id>/review")
@admin_required
def review(title_id: int):
    title = access.own_title_or_404(title_id)
    form = ReviewForm()
    form.validate_on_submit()
    try:
        if request.form.get("decision") == "publish":
            services.publish(title, by=current_user, comment=form.comment.data)
            message = _("Published: buyers can find “%(title)s” now.", title=title.original_title)
        else:
            services.return_to_producer(title, by=current_user, comment=form.comment.data or "")
            message = _("Returned to the producer with your comments.")
    except ValidationError as exc:
        db.session.rollback()
        _flash_errors(exc)
        return redirect(url_for(".review_queue"))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".review_queue"))


# --------------------------------------------------------------------------- import


@bp.route("/import", methods=["GET", "POST"])
@producer_required
def import_sheet():
    form = ImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        file = request.files.get("file")
        if file is None or not file.filename:
            flash(_("Choose a CSV or XLSX file."), "error")
            status = 400
        else:
            try:
                report = importer.import_sheet(current_user.organization, file.stream,
                                               file.filename, by=current_user)
            except importer.SheetError as exc:
                report = exc.report
            if report.ok:
                db.session.commit()
                flash(_("Imported %(titles)d titles with %(episodes)d episodes as drafts.",
                        titles=report.titles, episodes=report.episodes), "success")
                return redirect(url_for(".mine"))
            db.session.rollback()
            status = 422
    return render_template("catalog/import.html", form=form, report=report,
                           columns=importer.COLUMNS), status


@bp.get("/import/template.csv")
@producer_required
def import_template():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(importer.TEMPLATE_HEADER)
    for row in importer.TEMPLATE_ROWS:
        writer.writerow(row)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="catalog-import.csv"'})
