"""JSON API for deliveries: transcode jobs (ad hoc, status, cancel), delivery profiles
(list, create), screeners (request, status, watch) and delivery packages (create for a
deal, status, files with expiring links, send again).

Errors are RFC 9457 problem details; 400 names the field (a profile error names its
path, ``video.width``), 409 a state that forbids the action. Another organization's
job, screener, package or deal answers 404.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from catalog.access import visible_title_or_404
from catalog.models import Title
from licensing.models import Deal
from marketplace.api import problem
from marketplace.extensions import db
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
    JobPurpose,
    JobStatus,
    Screener,
    SubtitleDelivery,
    TranscodeJob,
)
from transcode.services import DeliveryError

blp = Blueprint("transcode_api", __name__, url_prefix="/api/v1",
                description="Transcode jobs, delivery profiles, screeners and delivery "
                            "packages.")

JOB_PARTIES = ("organization_id", "recipient_org_id")
PACKAGE_PARTIES = ("buyer_org_id", "producer_org_id")


@blp.errorhandler(DeliveryError)
def _delivery_error(exc: DeliveryError):
    db.session.rollback()
    titles = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    return problem(exc.status, titles.get(exc.status, "Bad Request"), str(exc.message),
                   errors=[{"field": exc.field, "message": str(exc.message)}])


# --------------------------------------------------------------------------- schemas


class JobOutputSchema(Schema):
    id = fields.Int()
    role = fields.Str(metadata={"description": "main, rung:<name>, segment:<name>, master, "
                                               "poster, thumbnail, aigc, subtitles:<lang>"})
    path = fields.Str()
    size = fields.Int()
    sha256 = fields.Str()
    md5 = fields.Str()


class TranscodeJobSchema(Schema):
    id = fields.Int()
    title_id = fields.Int()
    episode_id = fields.Int(allow_none=True)
    asset_id = fields.Int(allow_none=True)
    package_id = fields.Int(allow_none=True)
    purpose = fields.Str(metadata={"enum": [p.value for p in JobPurpose]})
    label = fields.Str()
    profile = fields.Str(attribute="profile_name")
    status = fields.Str(metadata={"enum": [s.value for s in JobStatus]})
    progress = fields.Float(metadata={"description": "0 to 1"})
    speed = fields.Float(allow_none=True, metadata={"description": "media seconds per second"})
    worker = fields.Str(allow_none=True)
    attempts = fields.Int()
    error = fields.Str(allow_none=True)
    log_tail = fields.Str(allow_none=True)
    retryable = fields.Bool()
    result = fields.Dict(allow_none=True, metadata={
        "description": "adaptation notes, AI label and loudness checks, speed"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    outputs = fields.List(fields.Nested(JobOutputSchema))


class TranscodeJobQuerySchema(Schema):
    status = fields.Str(validate=validate.OneOf([s.value for s in JobStatus]))
    purpose = fields.Str(validate=validate.OneOf([p.value for p in JobPurpose]))


class TranscodeJobCreateSchema(Schema):
    asset_id = fields.Int(required=True, metadata={"description": "an episode master or trailer "
                                                                  "of your own title"})
    profile = fields.Str(required=True, metadata={"example": "upload_mp4"})


class DeliveryProfileSchema(Schema):
    name = fields.Str()
    builtin = fields.Bool()
    owner_org_id = fields.Int(attribute="owner_id", allow_none=True,
                              metadata={"description": "None: built-in or platform-wide"})
    description = fields.Str()
    summary = fields.Function(lambda e: e.profile.summary())
    definition = fields.Function(lambda e: e.profile.to_dict(), metadata={"type": "object"})


class DeliveryProfileCreateSchema(Schema):
    definition = fields.Dict(required=True, metadata={
        "description": "A profile as GET /transcode/profiles/{name} shows it; errors name the "
                       "field path (video.width)."})
    description = fields.Str(load_default=None)
    everyone = fields.Bool(load_default=False, metadata={
        "description": "Admins: a profile for every organization"})


class ScreenerSchema(Schema):
    id = fields.Int()
    title_id = fields.Int()
    episode_id = fields.Int(allow_none=True)
    buyer_org_id = fields.Int()
    watermark_text = fields.Str()
    code = fields.Str()
    ready = fields.Bool()
    status = fields.Function(lambda s: "ready" if s.ready else (s.job.status if s.job else "failed"))
    progress = fields.Function(lambda s: 1.0 if s.ready else (s.job.progress if s.job else 0.0),
                               metadata={"type": "number"})
    job_id = fields.Int(allow_none=True)
    error = fields.Function(lambda s: s.job.error if s.job and not s.ready else None)
    views = fields.Function(lambda s: len(s.views), metadata={"type": "integer"})
    created_at = fields.DateTime()
    ready_at = fields.DateTime(allow_none=True)


class ScreenerRequestSchema(Schema):
    episode_id = fields.Int(load_default=None, metadata={
        "description": "default: the first episode with a master, else the trailer"})


class ScreenerWatchSchema(Schema):
    url = fields.Str(metadata={"description": "signed, expiring link to the marked video"})
    expires_in = fields.Int()


class ScreenerViewerSchema(Schema):
    screener_id = fields.Function(lambda r: r.screener.id)
    buyer = fields.Function(lambda r: r.screener.buyer.name)
    buyer_org_id = fields.Function(lambda r: r.screener.buyer_org_id)
    episode = fields.Function(lambda r: r.screener.episode.number if r.screener.episode else None)
    code = fields.Function(lambda r: r.screener.code)
    views = fields.Int()
    viewers = fields.List(fields.Str())
    last_viewed_at = fields.DateTime(allow_none=True)


class PackagePartSchema(Schema):
    job_id = fields.Int(attribute="id")
    label = fields.Str()
    status = fields.Str()
    progress = fields.Float()
    worker = fields.Str(allow_none=True)
    error = fields.Str(allow_none=True)


class PackageSchema(Schema):
    id = fields.Int()
    deal_id = fields.Int()
    deal = fields.Function(lambda p: p.deal.number)
    title_id = fields.Int()
    buyer_org_id = fields.Int()
    producer_org_id = fields.Int()
    profile = fields.Str(attribute="profile_name")
    languages = fields.List(fields.Str())
    subtitles = fields.Str(metadata={"enum": [m.value for m in SubtitleDelivery]})
    episodes = fields.List(fields.Int())
    missing_episodes = fields.List(fields.Int(), metadata={
        "description": "episodes the deal covers that have no master yet"})
    status = fields.Str(metadata={"enum": ["assembling", "ready", "failed"]})
    progress = fields.Float()
    error = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    ready_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    resent_count = fields.Int()
    parts = fields.List(fields.Nested(PackagePartSchema), attribute="jobs")


class PackageCreateSchema(Schema):
    profile = fields.Str(load_default=None, metadata={"example": "upload_mp4"})
    languages = fields.List(fields.Str(), load_default=None, metadata={
        "description": "default: the deal's subtitle languages"})
    subtitles = fields.Str(load_default=None,
                           validate=validate.OneOf([m.value for m in SubtitleDelivery]))


class PackageFileSchema(Schema):
    path = fields.Str()
    kind = fields.Str(metadata={"enum": ["video", "subtitles", "metadata", "artwork",
                                         "manifest"]})
    size = fields.Int()
    sha256 = fields.Str()
    md5 = fields.Str()
    url = fields.Function(lambda f: services.file_url(f.storage_key, f.path.rsplit("/", 1)[-1]),
                          metadata={"description": "signed, expiring link"})


# --------------------------------------------------------------------------- jobs


@blp.route("/transcode/jobs")
class Jobs(MethodView):
    @login_required
    @blp.arguments(TranscodeJobQuerySchema, location="query")
    @blp.response(200, TranscodeJobSchema(many=True))
    def get(self, args):
        """Jobs on your organization's sources or made for it, newest first (200 at most)."""
        stmt = scoped(select(TranscodeJob), TranscodeJob, *JOB_PARTIES)
        if args.get("status"):
            stmt = stmt.where(TranscodeJob.status == args["status"])
        if args.get("purpose"):
            stmt = stmt.where(TranscodeJob.purpose == args["purpose"])
        return db.session.scalars(stmt.order_by(TranscodeJob.id.desc()).limit(200)).all()

    @org_kind_required("producer")
    @blp.arguments(TranscodeJobCreateSchema)
    @blp.response(201, TranscodeJobSchema)
    def post(self, data):
        """Run a profile on one of your videos; poll the job for progress."""
        job = services.create_adhoc_job(data["asset_id"], data["profile"], by=current_user)
        db.session.commit()
        return job


@blp.route("/transcode/jobs/<int:job_id>")
class JobResource(MethodView):
    @login_required
    @blp.response(200, TranscodeJobSchema)
    def get(self, job_id: int):
        """A job: status, progress, worker, error and log tail, outputs."""
        return owned_or_404(TranscodeJob, job_id, *JOB_PARTIES)


@blp.route("/transcode/jobs/<int:job_id>/cancel")
class JobCancel(MethodView):
    @login_required
    @blp.response(200, TranscodeJobSchema)
    def post(self, job_id: int):
        """Cancel a queued or running job (its worker stops within a second)."""
        job = owned_or_404(TranscodeJob, job_id, "organization_id")
        services.cancel_job(job, by=current_user)
        db.session.commit()
        return job


@blp.route("/transcode/jobs/<int:job_id>/retry")
class JobRetry(MethodView):
    @login_required
    @blp.response(200, TranscodeJobSchema)
    def post(self, job_id: int):
        """Queue a failed or cancelled job again."""
        job = owned_or_404(TranscodeJob, job_id, "organization_id")
        services.retry_job(job, by=current_user)
        db.session.commit()
        return job


# --------------------------------------------------------------------------- profiles


def _org_ids():
    return None if current_user.is_admin else [current_user.organization_id]


@blp.route("/transcode/profiles")
class Profiles(MethodView):
    @login_required
    @blp.response(200, DeliveryProfileSchema(many=True))
    def get(self):
        """Built-in profiles, platform-wide ones and your organization's own."""
        return services.visible_profiles(_org_ids())

    @org_kind_required("distributor")
    @blp.arguments(DeliveryProfileCreateSchema)
    @blp.response(201, DeliveryProfileSchema)
    def post(self, data):
        """Define your organization's own profile (validated; errors name the field)."""
        org_id = None if (current_user.is_admin and data["everyone"]) \
            else current_user.organization_id
        row = services.create_profile(data["definition"], by=current_user,
                                      organization_id=org_id, description=data["description"])
        db.session.commit()
        return services.ProfileEntry(row.name, services.parse_definition(row.definition), row)


@blp.route("/transcode/profiles/<name>")
class ProfileResource(MethodView):
    @login_required
    @blp.response(200, DeliveryProfileSchema)
    def get(self, name: str):
        """One profile with its full definition."""
        try:
            return services.resolve_profile(name, _org_ids())
        except DeliveryError as exc:
            exc.status = 404
            raise


# --------------------------------------------------------------------------- screeners


@blp.route("/titles/<int:title_id>/screener")
class TitleScreener(MethodView):
    @verified_required
    @org_kind_required("distributor")
    @blp.arguments(ScreenerRequestSchema)
    @blp.response(202, ScreenerSchema)
    def post(self, data, title_id: int):
        """Ask for a screener of a published title, marked for your organization (made
        once, then reused); poll it until ``ready``."""
        visible_title_or_404(title_id)
        screener = services.request_screener(title_id, by=current_user,
                                             episode_id=data["episode_id"])
        db.session.commit()
        return screener


@blp.route("/titles/<int:title_id>/screener-views")
class TitleScreenerViews(MethodView):
    @login_required
    @blp.response(200, ScreenerViewerSchema(many=True))
    def get(self, title_id: int):
        """Producers: who watched the title's screeners, how often and when."""
        title = owned_or_404(Title, title_id)
        return services.screener_activity(title_id=title.id)


@blp.route("/screeners/<int:screener_id>")
class ScreenerResource(MethodView):
    @login_required
    @blp.response(200, ScreenerSchema)
    def get(self, screener_id: int):
        """A screener's state (the buyer it is for, and the title's producer)."""
        return owned_or_404(Screener, screener_id, "buyer_org_id", "producer_org_id")


@blp.route("/screeners/<int:screener_id>/views")
class ScreenerWatch(MethodView):
    @login_required
    @blp.response(201, ScreenerWatchSchema)
    def post(self, screener_id: int):
        """Watch: an expiring link to the marked video; counts a view."""
        screener = owned_or_404(Screener, screener_id, "buyer_org_id")
        url = services.watch_screener(screener, by=current_user)
        db.session.commit()
        return {"url": url, "expires_in": services.presigned_seconds()}


# --------------------------------------------------------------------------- packages


@blp.route("/deals/<int:deal_id>/packages")
class DealPackages(MethodView):
    @login_required
    @blp.response(200, PackageSchema(many=True))
    def get(self, deal_id: int):
        """A deal's delivery packages (its two parties)."""
        deal = owned_or_404(Deal, deal_id, *PACKAGE_PARTIES)
        return db.session.scalars(select(DeliveryPackage).where(
            DeliveryPackage.deal_id == deal.id).order_by(DeliveryPackage.id.desc())).all()

    @login_required
    @blp.arguments(PackageCreateSchema)
    @blp.response(202, PackageSchema)
    def post(self, data, deal_id: int):
        """Prepare a signed deal's delivery in a profile; poll the package until ready."""
        deal = owned_or_404(Deal, deal_id, *PACKAGE_PARTIES)
        package = services.package_for_deal(deal.id, data["profile"], by=current_user,
                                            languages=data["languages"],
                                            subtitles=data["subtitles"])
        db.session.commit()
        return package


@blp.route("/packages")
class Packages(MethodView):
    @login_required
    @blp.response(200, PackageSchema(many=True))
    def get(self):
        """Delivery packages your organization sends or receives, newest first."""
        return db.session.scalars(scoped(select(DeliveryPackage), DeliveryPackage,
                                         *PACKAGE_PARTIES)
                                  .order_by(DeliveryPackage.id.desc()).limit(200)).all()


@blp.route("/packages/<int:package_id>")
class PackageResource(MethodView):
    @login_required
    @blp.response(200, PackageSchema)
    def get(self, package_id: int):
        """A package's state and its parts' progress."""
        return owned_or_404(DeliveryPackage, package_id, *PACKAGE_PARTIES)


@blp.route("/packages/<int:package_id>/files")
class PackageFiles(MethodView):
    @login_required
    @blp.response(200, PackageFileSchema(many=True))
    def get(self, package_id: int):
        """Every file of a ready package with size, SHA-256, MD5 and an expiring link
        (409 while it is not ready)."""
        package = owned_or_404(DeliveryPackage, package_id, *PACKAGE_PARTIES)
        if package.status != "ready":
            raise DeliveryError("status", "The package is not ready.", status=409)
        return package.files


@blp.route("/packages/<int:package_id>/resend")
class PackageResend(MethodView):
    @login_required
    @blp.response(200, PackageSchema)
    def post(self, package_id: int):
        """Producers: send the package to the buyer again (fresh links, a notification)."""
        package = owned_or_404(DeliveryPackage, package_id, "producer_org_id")
        services.resend_package(package, by=current_user)
        db.session.commit()
        return package


@blp.route("/packages/<int:package_id>/retry")
class PackageRetry(MethodView):
    @login_required
    @blp.response(202, PackageSchema)
    def post(self, package_id: int):
        """Producers: run a failed package's failed parts again."""
        package = owned_or_404(DeliveryPackage, package_id, "producer_org_id")
        services.retry_package(package, by=current_user)
        db.session.commit()
        return package
