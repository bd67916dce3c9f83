"""Pages: transcode jobs with live progress, delivery profiles, screeners (the buyer's
player and the producer's "who watched what"), and delivery packages.

Access goes through ``marketplace.policy``: a job belongs to the organization owning
its source and is visible to the one it is for; a package to the deal's two parties;
custom profiles to their organization. Everyone else gets 404.
"""

from __future__ import annotations

import json
from typing import Any

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
from sqlalchemy import select

from catalog.access import visible_title_or_404
from catalog.models import Title
from licensing.models import Deal
from marketplace.extensions import db
from marketplace.i18n import _, _l
from marketplace.policy import (
    login_required,
    org_kind_required,
    owned_or_404,
    scoped,
    verified_required,
)
from transcode import services
from transcode.models import (
    DeliveryPackage,
    DeliveryProfile,
    JobOutput,
    JobStatus,
    PackageFile,
    Screener,
    SubtitleDelivery,
    TranscodeJob,
)
from transcode.profiles import BUILTIN_PROFILES, LOUDNESS_PRESETS
from transcode.services import DeliveryError

bp = Blueprint("transcode", __name__, template_folder="templates")

JOB_PARTIES = ("organization_id", "recipient_org_id")
PACKAGE_PARTIES = ("buyer_org_id", "producer_org_id")
DEAL_PARTIES = ("buyer_org_id", "producer_org_id")


def labels() -> dict[str, dict[str, str]]:
    return {
        "status": {"queued": _("queued"), "running": _("running"), "succeeded": _("succeeded"),
                   "failed": _("failed"), "cancelled": _("cancelled"),
                   "assembling": _("assembling"), "ready": _("ready")},
        "purpose": {"screener": _("screener"), "delivery": _("delivery"),
                    "adhoc": _("ad hoc")},
        "kind": {"video": _("video"), "subtitles": _("subtitles"), "metadata": _("metadata"),
                 "artwork": _("artwork"), "manifest": _("manifest")},
        "subtitles": {"sidecar": _("separate subtitle files"),
                      "burn": _("burned into the picture"), "none": _("no subtitles")},
    }


@bp.app_context_processor
def helpers() -> dict[str, Any]:
    return {"tc_labels": labels, "filesize": filesize}


def filesize(n: int | None) -> str:
    n = n or 0
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _org_id() -> int | None:
    return None if current_user.is_admin else current_user.organization_id


def _fail(exc: DeliveryError) -> None:
    db.session.rollback()
    flash(str(exc.message), "error")


def _status_code(exc: DeliveryError) -> int:
    return exc.status if exc.status in (400, 403, 404, 409) else 400


# --------------------------------------------------------------------------- jobs


@bp.get("/transcode/jobs")
@login_required
def jobs():
    status = request.args.get("status") or None
    if status and status not in set(JobStatus):
        status = None
    stmt = scoped(select(TranscodeJob), TranscodeJob, *JOB_PARTIES).order_by(
        TranscodeJob.id.desc()).limit(200)
    if status:
        stmt = stmt.where(TranscodeJob.status == status)
    items = db.session.scalars(stmt).all()
    can_create = current_user.is_admin or current_user.organization.kind == "producer"
    assets = services.video_assets(_org_id()) if can_create else []
    profiles = services.visible_profiles(None if current_user.is_admin
                                         else [current_user.organization_id])
    return render_template("transcode/jobs.html", jobs=items, status=status, assets=assets,
                           profiles=profiles, can_create=can_create,
                           counts=services.job_counts(_org_id()))


@bp.post("/transcode/jobs")
@org_kind_required("producer")
def create_job():
    try:
        job = services.create_adhoc_job(int(request.form.get("asset_id") or 0),
                                        request.form.get("profile", ""), by=current_user)
    except (DeliveryError, ValueError) as exc:
        if isinstance(exc, DeliveryError):
            _fail(exc)
        else:
            flash(_("Choose an episode master or a trailer."), "error")
        return redirect(url_for(".jobs"), 303)
    db.session.commit()
    flash(_("Job queued."), "success")
    return redirect(url_for(".job", job_id=job.id), 303)


def job_json(job: TranscodeJob) -> dict[str, Any]:
    return {"id": job.id, "status": job.status, "status_label": labels()["status"][job.status],
            "percent": job.percent, "progress": round(job.progress or 0, 4),
            "speed": job.speed, "worker": job.worker, "attempts": job.attempts,
            "error": job.error, "finished": job.finished}


@bp.get("/transcode/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    item = owned_or_404(TranscodeJob, job_id, *JOB_PARTIES)
    owner = current_user.is_admin or item.organization_id == current_user.organization_id
    return render_template("transcode/job.html", job=item, owner=owner,
                           profile_json=json.dumps(item.profile, ensure_ascii=False, indent=2))


@bp.get("/transcode/jobs/<int:job_id>/status.json")
@login_required
def job_status(job_id: int):
    return jsonify(job_json(owned_or_404(TranscodeJob, job_id, *JOB_PARTIES)))


@bp.post("/transcode/jobs/<int:job_id>/cancel")
@login_required
def cancel_job(job_id: int):
    item = owned_or_404(TranscodeJob, job_id, "organization_id")
    try:
        services.cancel_job(item, by=current_user)
    except DeliveryError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("Job cancelled."), "success")
    return redirect(url_for(".job", job_id=job_id), 303)


@bp.post("/transcode/jobs/<int:job_id>/retry")
@login_required
def retry_job(job_id: int):
    item = owned_or_404(TranscodeJob, job_id, "organization_id")
    try:
        services.retry_job(item, by=current_user)
    except DeliveryError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("Job queued again."), "success")
    return redirect(url_for(".job", job_id=job_id), 303)


@bp.get("/transcode/outputs/<int:output_id>")
@login_required
def output(output_id: int):
    """An output of a job, through an expiring link (the owning organization only)."""
    row = db.session.get(JobOutput, output_id)
    if row is None:
        abort(404)
    owned_or_404(TranscodeJob, row.job_id, "organization_id")
    return redirect(services.file_url(row.storage_key, row.path.rsplit("/", 1)[-1]), 302)


# --------------------------------------------------------------------------- profiles

FORM_FIELDS = {  # form field -> profile path, for building and for naming errors
    "name": "name", "description": "description", "width": "video.width",
    "height": "video.height", "bitrate_kbps": "video.bitrate_kbps", "crf": "video.crf",
    "fps": "video.fps", "preset": "video.preset", "landscape": "video.landscape",
    "loudness": "audio.loudness", "no_audio": "audio.no_audio",
    "subtitles": "subtitles.mode", "explicit_label": "ai_label.explicit",
}


def profile_from_form(form) -> dict[str, Any]:
    """A profile definition from the simple form: a built-in with some values changed."""
    base_name = form.get("base") or "upload_mp4"
    if base_name not in BUILTIN_PROFILES or base_name == "stills":
        raise DeliveryError("base", _l("Start from one of the video profiles."))
    data = BUILTIN_PROFILES[base_name].to_dict()
    data["name"] = (form.get("name") or "").strip()
    data["description"] = (form.get("description") or "").strip()
    video, audio = data["video"], data["audio"]

    def number(key: str, cast=int):
        raw = (form.get(key) or "").strip()
        if not raw:
            return None
        try:
            return cast(raw)
        except ValueError:
            raise DeliveryError(FORM_FIELDS[key], _l("Enter a number.")) from None

    for key in ("width", "height"):
        value = number(key)
        if value is not None:
            video[key] = value
    bitrate, crf = number("bitrate_kbps"), number("crf")
    if bitrate is not None:
        video.update(bitrate_kbps=bitrate, crf=None)
        if video.get("maxrate_kbps"):
            video.update(maxrate_kbps=round(bitrate * 1.25), bufsize_kbps=bitrate * 2)
    elif crf is not None:
        video.update(crf=crf, bitrate_kbps=None)
    fps = (form.get("fps") or "").strip()
    if fps:
        video["fps"] = None if fps == "source" else fps
    for key, target in (("preset", video), ("landscape", video)):
        if form.get(key):
            target[key] = form.get(key)
    if audio is not None:
        loudness = form.get("loudness")
        if loudness == "none":
            audio["loudness"] = None
        elif loudness:
            audio["loudness"] = loudness
        if form.get("no_audio"):
            audio["no_audio"] = form.get("no_audio")
    if form.get("subtitles") and data.get("hls") is None and form.get("subtitles") != "sidecar":
        data["subtitles"] = {"mode": form.get("subtitles"), "language": None}
    data["ai_label"]["explicit"] = bool(form.get("explicit_label"))
    return data


def _form_field(path: str) -> str:
    """The form field a profile error path belongs to ("video.width" -> "width")."""
    for key, target in FORM_FIELDS.items():
        if path == target or path.startswith(target + "."):
            return key
    return "definition"


@bp.route("/transcode/profiles", methods=["GET", "POST"])
@login_required
def profiles():
    error = None
    values: dict[str, Any] = {}
    status = 200
    may_define = current_user.is_admin or current_user.organization.kind == "distributor"
    if request.method == "POST":
        if not may_define:
            abort(403)
        values = request.form.to_dict()
        mode = values.get("mode", "form")
        org_id = None if (current_user.is_admin and values.get("everyone")) \
            else current_user.organization_id
        try:
            definition = (values.get("definition") or "") if mode == "json" \
                else profile_from_form(request.form)
            row = services.create_profile(definition, by=current_user, organization_id=org_id,
                                          description=values.get("description"))
        except DeliveryError as exc:
            db.session.rollback()
            error = {"field": exc.field if mode == "json" else _form_field(exc.field),
                     "path": exc.field, "message": str(exc.message)}
            status = _status_code(exc)
        else:
            db.session.commit()
            flash(_("Profile %(name)s saved.", name=row.name), "success")
            return redirect(url_for(".profiles"), 303)
    entries = services.visible_profiles(None if current_user.is_admin
                                        else [current_user.organization_id])
    example = json.dumps(BUILTIN_PROFILES["upload_mp4"].to_dict(), ensure_ascii=False, indent=2)
    return render_template("transcode/profiles.html", entries=entries, error=error,
                           values=values, may_define=may_define, example=example,
                           bases=[n for n in BUILTIN_PROFILES if n != "stills"],
                           presets=list(LOUDNESS_PRESETS),
                           org_names={e.owner_id: services.organization_name(e.owner_id)
                                      for e in entries if e.owner_id}), status


@bp.get("/transcode/profiles/<name>")
@login_required
def profile(name: str):
    org_ids = None if current_user.is_admin else [current_user.organization_id]
    try:
        entry = services.resolve_profile(name, org_ids)
    except DeliveryError:
        abort(404)
    return render_template("transcode/profile.html", entry=entry,
                           definition=json.dumps(entry.profile.to_dict(), ensure_ascii=False,
                                                 indent=2))


@bp.post("/transcode/profiles/<int:profile_id>/delete")
@login_required
def delete_profile(profile_id: int):
    row = db.session.get(DeliveryProfile, profile_id)
    if row is None or (not current_user.is_admin
                       and row.organization_id != current_user.organization_id):
        abort(404)
    services.delete_profile(row, by=current_user)
    db.session.commit()
    flash(_("Profile %(name)s deleted.", name=row.name), "success")
    return redirect(url_for(".profiles"), 303)


# --------------------------------------------------------------------------- screeners


@bp.get("/screeners")
@login_required
def screeners():
    """Buyers: their screeners and titles to screen. Producers: who watched what."""
    org = current_user.organization
    if current_user.is_admin or org.kind == "producer":
        rows = services.screener_activity(producer_org_id=_org_id())
        return render_template("transcode/viewers.html", rows=rows, title=None)
    mine = db.session.scalars(select(Screener).where(Screener.buyer_org_id == org.id)
                              .order_by(Screener.id.desc()).limit(100)).all()
    return render_template("transcode/screeners.html", screeners=mine,
                           titles=services.screenable_titles() if org.is_verified else [])


def screener_json(screener: Screener | None) -> dict[str, Any]:
    if screener is None:
        return {"status": "none", "ready": False, "finished": True}
    job = screener.job
    data = job_json(job) if job is not None else {"status": "failed", "percent": 0,
                                                  "finished": True}
    data.update({"screener": screener.id, "ready": screener.ready})
    return data


@bp.route("/screeners/titles/<int:title_id>", methods=["GET", "POST"])
@verified_required
@org_kind_required("distributor")
def screener(title_id: int):
    title = visible_title_or_404(title_id)
    episode_id = request.values.get("episode_id", type=int)
    if request.method == "POST":
        try:
            services.request_screener(title.id, by=current_user, episode_id=episode_id)
        except DeliveryError as exc:
            _fail(exc)
        else:
            db.session.commit()
        return redirect(url_for(".screener", title_id=title.id, episode_id=episode_id), 303)
    item = services.screener_for(title.id, current_user.organization_id, episode_id)
    video_url = None
    if item is not None and item.ready:
        video_url = services.watch_screener(item, by=current_user)
        db.session.commit()
    episodes = [e for e in title.episodes if title.assets_of("master", e.id)]
    return render_template("transcode/screener.html", title=title, screener=item,
                           video_url=video_url, episodes=episodes, episode_id=episode_id,
                           has_video=bool(episodes or title.trailer))


@bp.get("/screeners/<int:screener_id>/status.json")
@login_required
def screener_status(screener_id: int):
    item = owned_or_404(Screener, screener_id, "buyer_org_id", "producer_org_id")
    return jsonify(screener_json(item))


@bp.get("/screeners/titles/<int:title_id>/viewers")
@login_required
def title_viewers(title_id: int):
    title = owned_or_404(Title, title_id)
    rows = services.screener_activity(title_id=title.id)
    return render_template("transcode/viewers.html", rows=rows, title=title)


# --------------------------------------------------------------------------- packages


@bp.get("/deliveries")
@login_required
def packages():
    items = db.session.scalars(scoped(select(DeliveryPackage), DeliveryPackage,
                                      *PACKAGE_PARTIES)
                               .order_by(DeliveryPackage.id.desc()).limit(200)).all()
    deals = services.signable_deals(_org_id())
    return render_template("transcode/packages.html", packages=items, deals=deals)


@bp.route("/deliveries/deal/<int:deal_id>", methods=["GET", "POST"])
@login_required
def deal_delivery(deal_id: int):
    deal = owned_or_404(Deal, deal_id, *DEAL_PARTIES)
    error = None
    status = 200
    if request.method == "POST":
        languages = [x.strip() for x in request.form.get("languages", "").replace(
            ";", ",").split(",") if x.strip()]
        try:
            package = services.package_for_deal(
                deal.id, request.form.get("profile") or None, by=current_user,
                languages=languages or None, subtitles=request.form.get("subtitles") or None)
        except DeliveryError as exc:
            db.session.rollback()
            error = {"field": exc.field, "message": str(exc.message)}
            status = _status_code(exc)
        else:
            db.session.commit()
            flash(_("Delivery of %(title)s is being prepared.",
                    title=package.title.original_title), "success")
            return redirect(url_for(".package", package_id=package.id), 303)
    items = db.session.scalars(select(DeliveryPackage).where(DeliveryPackage.deal_id == deal.id)
                               .order_by(DeliveryPackage.id.desc())).all()
    profiles = services.visible_profiles([deal.buyer_org_id, deal.producer_org_id])
    return render_template("transcode/deal_delivery.html", deal=deal, packages=items,
                           profiles=[p for p in profiles if p.name != "stills"], error=error,
                           deal_languages=services._deal_languages(deal),
                           default_profile=services.setting("TRANSCODE_DEFAULT_PROFILE"),
                           modes=list(SubtitleDelivery)), status


def package_json(package: DeliveryPackage) -> dict[str, Any]:
    return {"id": package.id, "status": package.status,
            "status_label": labels()["status"][package.status], "percent": package.percent,
            "error": package.error, "finished": package.status != "assembling",
            "parts": [job_json(j) for j in package.jobs]}


@bp.get("/deliveries/<int:package_id>")
@login_required
def package(package_id: int):
    item = owned_or_404(DeliveryPackage, package_id, *PACKAGE_PARTIES)
    links = {}
    if item.status == "ready":
        links = {f.id: services.file_url(f.storage_key, f.path.rsplit("/", 1)[-1])
                 for f in item.files}
    producer = current_user.is_admin or item.producer_org_id == current_user.organization_id
    order = {k: i for i, k in enumerate(("video", "subtitles", "metadata", "artwork", "manifest"))}
    files = sorted(item.files, key=lambda f: (order.get(f.kind, 9), f.path))
    return render_template("transcode/package.html", package=item, links=links, files=files,
                           producer=producer, missing=services.ranges(item.missing_episodes),
                           expires_minutes=services.presigned_seconds() // 60)


@bp.get("/deliveries/<int:package_id>/status.json")
@login_required
def package_status(package_id: int):
    return jsonify(package_json(owned_or_404(DeliveryPackage, package_id, *PACKAGE_PARTIES)))


@bp.get("/deliveries/<int:package_id>/links.txt")
@login_required
def package_links(package_id: int):
    """Every file's expiring link, one per line (for ``wget -i`` or a download manager)."""
    item = owned_or_404(DeliveryPackage, package_id, *PACKAGE_PARTIES)
    if item.status != "ready":
        abort(409)
    base = request.host_url.rstrip("/")
    lines = []
    for f in item.files:
        url = services.file_url(f.storage_key, f.path.rsplit("/", 1)[-1])
        lines.append(f"{base}{url}" if url.startswith("/") else url)
    return Response("\n".join(lines) + "\n", mimetype="text/plain")


@bp.get("/deliveries/files/<int:file_id>")
@login_required
def package_file(file_id: int):
    row = db.session.get(PackageFile, file_id)
    if row is None:
        abort(404)
    item = owned_or_404(DeliveryPackage, row.package_id, *PACKAGE_PARTIES)
    if item.status != "ready":
        abort(404)
    return redirect(services.file_url(row.storage_key, row.path.rsplit("/", 1)[-1]), 302)


@bp.post("/deliveries/<int:package_id>/resend")
@login_required
def resend(package_id: int):
    item = owned_or_404(DeliveryPackage, package_id, "producer_org_id")
    try:
        services.resend_package(item, by=current_user)
    except DeliveryError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("Sent again to %(buyer)s with fresh links.", buyer=item.buyer.name), "success")
    return redirect(url_for(".package", package_id=package_id), 303)


@bp.post("/deliveries/<int:package_id>/retry")
@login_required
def retry_package(package_id: int):
    item = owned_or_404(DeliveryPackage, package_id, "producer_org_id")
    try:
        services.retry_package(item, by=current_user)
    except DeliveryError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("The failed parts are queued again."), "success")
    return redirect(url_for(".package", package_id=package_id), 303)


# --------------------------------------------------------------------------- hooks


def title_section(title: Title) -> Markup | None:
    """A card on the catalog's title page: verified buyers get to the screener; the
    producer sees how many buyers watched."""
    if not current_user.is_authenticated:
        return None
    org = current_user.organization
    if current_user.is_admin or org.id == title.organization_id:
        rows = services.screener_activity(title_id=title.id)
        return Markup(render_template(
            "transcode/_title_section.html", title=title, mode="producer",
            buyers=len({r.screener.buyer_org_id for r in rows}),
            views=sum(r.views for r in rows)))
    if org.kind != "distributor" or title.status != "published":
        return None
    if not org.is_verified:
        return Markup(render_template("transcode/_title_section.html", title=title,
                                      mode="unverified"))
    return Markup(render_template("transcode/_title_section.html", title=title, mode="buyer",
                                  screener=services.screener_for(title.id, org.id)))


# --------------------------------------------------------------------------- dashboard


def dashboard_panel(user) -> Markup | None:
    """Deliveries in progress, recent screener views, what runs on which worker."""
    if user.is_admin:
        running = db.session.scalars(select(TranscodeJob).where(
            TranscodeJob.status == JobStatus.RUNNING).order_by(TranscodeJob.id).limit(10)).all()
        return Markup(render_template("transcode/_panel.html", user=user,
                                      counts=services.job_counts(None), running=running,
                                      packages=[], views=[]))
    kind = user.organization.kind
    if kind not in ("producer", "distributor"):
        return None
    packages = db.session.scalars(services.packages_query(user.organization_id).limit(5)).all()
    views = (services.screener_activity(producer_org_id=user.organization_id, limit=50)[:5]
             if kind == "producer" else [])
    running = db.session.scalars(services.jobs_query(user.organization_id,
                                                     status=JobStatus.RUNNING).limit(5)).all()
    if not (packages or views or running):
        return None
    return Markup(render_template("transcode/_panel.html", user=user, counts={},
                                  running=running, packages=packages, views=views))
