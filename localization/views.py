"""Subtitle pages: the season matrix, track QC reports, the review editor, translation
jobs with live progress, the glossary and season exports.

Only the producer organization owning the title (and platform admins) may see any of
it; everyone else gets 404 through ``policy.owned_or_404``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup

from catalog.models import Episode, Title
from localization import services
from localization.charts import reading_speed_svg
from localization.formats import write_subtitles
from localization.models import (
    GlossaryEntry,
    SubtitleTrack,
    TrackStatus,
    TranslationJob,
)
from localization.services import LocalizationError
from marketplace.extensions import db
from marketplace.i18n import _, current_locale_name
from marketplace.policy import login_required, owned_or_404

bp = Blueprint("localization", __name__, url_prefix="/subtitles", template_folder="templates")

MIME = {"srt": "application/x-subrip", "vtt": "text/vtt", "ttml": "application/ttml+xml"}


def language_label(tag: str) -> str:
    locale = "zh_Hans" if current_locale_name().startswith("zh") else "en"
    name = services.language_name(tag, locale)
    return f"{name} ({tag})" if name != tag else tag


def _title(title_id: int) -> Title:
    return owned_or_404(Title, title_id)


def _track(track_id: int) -> SubtitleTrack:
    return owned_or_404(SubtitleTrack, track_id, "owner_org_id")


def _error(exc: LocalizationError) -> None:
    flash(str(exc.message), "error")


def _labels() -> dict:
    return {
        "kinds": {"subtitle": _("Subtitles"), "sdh": _("SDH"), "forced": _("Forced narrative")},
        "origins": {"source": _("source"), "machine": _("machine"), "human": _("human"),
                    "post_edited": _("post-edited")},
        "statuses": {"draft": _("draft"), "in_review": _("in review"),
                     "approved": _("approved"), "queued": _("queued"),
                     "running": _("running"), "succeeded": _("succeeded"),
                     "failed": _("failed")},
        "reasons": {"upload": _("upload"), "autofix": _("autofix"),
                    "translation": _("translation"), "edit": _("edit")},
        "qc": {"passed": _("QC passed"), "failed": _("QC failed"),
               "not_checked": _("not checked")},
        "layouts": {"vertical": _("vertical 9:16 (3 short lines)"),
                    "standard": _("standard (2 lines)")},
        "audiences": {"adult": _("adult"), "children": _("children")},
    }


@bp.app_context_processor
def _inject():
    return {"loc_labels": _labels}


@bp.get("/")
@login_required
def index():
    org_id = None if current_user.is_admin else current_user.organization_id
    rows = services.titles_with_subtitles(org_id)
    return render_template("localization/index.html", rows=rows)


def _render_title(title: Title, status: int = 200, **extra):
    view = services.season_view(title)
    return render_template("localization/title.html", title=title, view=view,
                           glossary_count=len(services.glossary_entries(title)),
                           jobs=services.jobs_of(title, limit=5), **extra), status


@bp.get("/titles/<int:title_id>")
@login_required
def title_page(title_id: int):
    return _render_title(_title(title_id))


@bp.post("/titles/<int:title_id>/upload")
@login_required
def upload(title_id: int):
    title = _title(title_id)
    episode = db.session.get(Episode, request.form.get("episode_id", type=int) or 0)
    file = request.files.get("file")
    try:
        if episode is None or episode.title_id != title.id:
            raise LocalizationError("episode_id", _("Choose an episode."))
        if file is None or not file.filename:
            raise LocalizationError("file", _("Choose a subtitle file."))
        result = services.upload_track(episode, language=request.form.get("language", ""),
                                       kind=request.form.get("kind"), data=file.read(),
                                       filename=file.filename, by=current_user)
    except LocalizationError as exc:
        db.session.rollback()
        return _render_title(title, exc.status if exc.status != 409 else 422,
                             upload_error=exc, form=request.form)
    db.session.commit()
    flash(_("Stored %(file)s (%(format)s, %(encoding)s) as revision %(revision)d: "
            "%(errors)d QC errors, %(warnings)d warnings.", file=file.filename,
            format=result.format, encoding=result.encoding, revision=result.revision.number,
            errors=result.report.error_count, warnings=result.report.warning_count),
          "success" if result.report.passed else "info")
    return redirect(url_for(".track_page", track_id=result.track.id), 303)


@bp.post("/titles/<int:title_id>/upload-zip")
@login_required
def upload_zip(title_id: int):
    title = _title(title_id)
    file = request.files.get("file")
    try:
        if file is None or not file.filename:
            raise LocalizationError("file", _("Choose a ZIP file."))
        result = services.upload_season_zip(title, file.read(),
                                            language=request.form.get("language") or None,
                                            by=current_user)
    except LocalizationError as exc:
        db.session.rollback()
        return _render_title(title, exc.status, zip_error=exc)
    db.session.commit()
    return render_template("localization/upload_results.html", title=title, result=result,
                           filename=file.filename)


@bp.post("/titles/<int:title_id>/season")
@login_required
def season_action(title_id: int):
    title = _title(title_id)
    action = request.form.get("action")
    language = request.form.get("language", "")
    try:
        if action == "autofix":
            counts = services.autofix_season(title, language, by=current_user)
            message = _("Autofix: %(fixes)d fixes in %(tracks)d tracks (each a new revision).",
                        **counts)
        elif action == "approve":
            counts = services.approve_season(title, language, by=current_user)
            message = _("Approved %(approved)d tracks; %(skipped)d still fail QC and were "
                        "left for review.", **counts)
        else:
            abort(400)
    except LocalizationError as exc:
        db.session.rollback()
        _error(exc)
        return redirect(url_for(".title_page", title_id=title.id), 303)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".title_page", title_id=title.id), 303)


# --------------------------------------------------------------------------- one track

def _chart(track: SubtitleTrack) -> Markup:
    report = services.track_report(track)
    points = report.reading_speeds if report else ()
    return Markup(reading_speed_svg(points, label=_("Reading speed per event (characters per "
                                                     "second) over the episode"),
                                    limit_label=_("limit")))


@bp.get("/tracks/<int:track_id>")
@login_required
def track_page(track_id: int):
    track = _track(track_id)
    report = services.track_report(track)
    options = services.track_options(track)
    cues = services.current_cues(track)
    return render_template("localization/track.html", track=track, report=report,
                           options=options, cues={c.index: c for c in cues},
                           chart=_chart(track), revisions=list(reversed(track.revisions)),
                           limits_key=services._limits_key(track.language))


@bp.post("/tracks/<int:track_id>/qc")
@login_required
def track_qc(track_id: int):
    track = _track(track_id)
    try:
        options = services.make_options(
            layout=request.form.get("layout"), audience=request.form.get("audience"),
            fps=request.form.get("fps"),
            overrides={k: request.form.get(k) for k in services.OVERRIDE_FIELDS})
        report = services.run_qc(track, options, by=current_user)
    except LocalizationError as exc:
        db.session.rollback()
        _error(exc)
        return redirect(url_for(".track_page", track_id=track.id), 303)
    db.session.commit()
    flash(_("QC done with %(profile)s: %(errors)d errors, %(warnings)d warnings.",
            profile=report.profile, errors=report.error_count, warnings=report.warning_count),
          "success" if report.passed else "info")
    return redirect(url_for(".track_page", track_id=track.id), 303)


@bp.post("/tracks/<int:track_id>/autofix")
@login_required
def track_autofix(track_id: int):
    track = _track(track_id)
    revision, fixes = services.autofix_track(track, by=current_user)
    db.session.commit()
    if revision is None:
        flash(_("Nothing to fix automatically."), "info")
    else:
        flash(_("%(count)d fixes applied as revision %(revision)d; revision %(previous)d is "
                "kept.", count=len(fixes), revision=revision.number,
                previous=revision.number - 1), "success")
    return redirect(url_for(".track_page", track_id=track.id), 303)


def _safe_next(default: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default


@bp.post("/tracks/<int:track_id>/approve")
@login_required
def track_approve(track_id: int):
    track = _track(track_id)
    back = _safe_next(url_for(".track_page", track_id=track.id))
    try:
        services.approve_track(track, by=current_user,
                               override_reason=request.form.get("override_reason"))
    except LocalizationError as exc:
        db.session.rollback()
        _error(exc)
        return redirect(back, 303)
    db.session.commit()
    flash(_("Approved."), "success")
    return redirect(back, 303)


@bp.get("/tracks/<int:track_id>/subtitles.<fmt>")
@login_required
def track_download(track_id: int, fmt: str):
    track = _track(track_id)
    if fmt not in MIME:
        abort(404)
    number = request.args.get("revision", type=int)
    revision = next((r for r in track.revisions if r.number == number), None) \
        if number else track.revision
    if revision is None:
        abort(404)
    cues = services.cues_from_document(revision.cues)
    data = write_subtitles(cues, fmt, language=track.language)
    name = f"E{track.episode.number:03d}.{track.language}.r{revision.number}.{fmt}"
    disposition = "inline" if request.args.get("inline") else "attachment"
    return Response(data, mimetype=MIME[fmt], headers={
        "Content-Disposition": f'{disposition}; filename="{name}"'})


# --------------------------------------------------------------------------- review editor

@bp.route("/tracks/<int:track_id>/review", methods=["GET", "POST"])
@login_required
def review(track_id: int):
    track = _track(track_id)
    if request.method == "POST":
        texts = {}
        for key, value in request.form.items():
            if key.startswith("text-") and key[5:].isdigit():
                texts[int(key[5:])] = value
        focus = request.form.get("focus", type=int)
        try:
            revision = services.edit_track(track, texts, by=current_user)
        except LocalizationError as exc:
            db.session.rollback()
            _error(exc)
            return redirect(url_for(".review", track_id=track.id), 303)
        db.session.commit()
        if revision is None:
            flash(_("No changes to save."), "info")
        else:
            flash(_("Saved as revision %(revision)d: %(errors)d QC errors, %(warnings)d "
                    "warnings.", revision=revision.number, errors=track.qc_errors,
                    warnings=track.qc_warnings), "success")
        anchor = f"#event-{focus}" if focus else ""
        return redirect(url_for(".review", track_id=track.id) + anchor, 303)
    rows = services.editor_rows(track)
    media = services.screener_for(track)
    return render_template("localization/review.html", track=track, rows=rows,
                           media=media, media_url=services.media_url(media) if media else None)


# --------------------------------------------------------------------------- translation jobs

@bp.route("/titles/<int:title_id>/translations", methods=["GET", "POST"])
@login_required
def translations(title_id: int):
    title = _title(title_id)
    error = None
    if request.method == "POST":
        targets = request.form.getlist("target_languages")
        extra = request.form.get("other_targets", "")
        targets += [t.strip() for t in extra.replace(";", ",").split(",") if t.strip()]
        try:
            jobs = services.start_translation(
                title, source_language=request.form.get("source_language", ""),
                target_languages=targets, provider=request.form.get("provider") or None,
                by=current_user)
        except LocalizationError as exc:
            db.session.rollback()
            error = exc
        else:
            db.session.commit()
            flash(_("%(count)d translation jobs queued.", count=len(jobs)), "success")
            return redirect(url_for(".translations", title_id=title.id), 303)
    view = services.season_view(title)
    status = error.status if error else 200
    return render_template("localization/translations.html", title=title,
                           jobs=services.jobs_of(title), view=view, error=error,
                           providers=services.available_providers(),
                           suggested=["en", "es", "pt-BR", "th", "id", "vi", "ar", "ja", "ko",
                                      "fr", "de"]), status


@bp.get("/jobs/<int:job_id>.json")
@login_required
def job_status(job_id: int):
    job = owned_or_404(TranslationJob, job_id, "owner_org_id")
    return jsonify(_job_json(job))


def _job_json(job: TranslationJob) -> dict:
    return {"id": job.id, "status": job.status, "done": job.progress_done,
            "total": job.progress_total, "percent": job.percent, "error": job.error,
            "attempts": job.attempts, "target_language": job.target_language}


@bp.post("/jobs/<int:job_id>/retry")
@login_required
def job_retry(job_id: int):
    job = owned_or_404(TranslationJob, job_id, "owner_org_id")
    try:
        services.retry_job(job, by=current_user)
    except LocalizationError as exc:
        db.session.rollback()
        _error(exc)
    else:
        db.session.commit()
        flash(_("The job is queued again."), "success")
    return redirect(url_for(".translations", title_id=job.title_id), 303)


# --------------------------------------------------------------------------- glossary

@bp.route("/titles/<int:title_id>/glossary", methods=["GET", "POST"])
@login_required
def glossary(title_id: int):
    title = _title(title_id)
    error = None
    if request.method == "POST":
        try:
            services.add_glossary_entry(
                title, source_term=request.form.get("source_term", ""),
                target_language=request.form.get("target_language", ""),
                target_term=request.form.get("target_term", ""),
                note=request.form.get("note"), by=current_user)
        except LocalizationError as exc:
            db.session.rollback()
            error = exc
        else:
            db.session.commit()
            flash(_("Glossary entry saved."), "success")
            return redirect(url_for(".glossary", title_id=title.id), 303)
    return render_template("localization/glossary.html", title=title,
                           entries=services.glossary_entries(title), error=error,
                           form=request.form), 400 if error else 200


@bp.post("/glossary/<int:entry_id>/delete")
@login_required
def glossary_delete(entry_id: int):
    entry = owned_or_404(GlossaryEntry, entry_id, "owner_org_id")
    title_id = entry.title_id
    services.delete_glossary_entry(entry, by=current_user)
    db.session.commit()
    flash(_("Glossary entry deleted."), "success")
    return redirect(url_for(".glossary", title_id=title_id), 303)


# --------------------------------------------------------------------------- export

@bp.route("/titles/<int:title_id>/export", methods=["GET", "POST"])
@login_required
def export(title_id: int):
    title = _title(title_id)
    error = None
    if request.method == "POST":
        try:
            item = services.export_title(
                title, languages=request.form.getlist("languages"),
                formats=request.form.getlist("formats"),
                approved_only=request.form.get("approved_only") == "1",
                fps_from=request.form.get("fps_from"), fps_to=request.form.get("fps_to"),
                offset_ms=request.form.get("offset_ms") or 0, by=current_user)
        except LocalizationError as exc:
            db.session.rollback()
            error = exc
        else:
            db.session.commit()
            flash(_("Export ready: %(files)d files.", files=item.file_count), "success")
            return redirect(url_for(".export", title_id=title.id), 303)
    view = services.season_view(title)
    exports = services.exports_of(title)
    return render_template("localization/export.html", title=title, view=view, error=error,
                           exports=[(e, services.export_url(e)) for e in exports],
                           approved=TrackStatus.APPROVED), (error.status if error else 200)
