"""JSON API for subtitles: tracks (list, upload, detail, QC, autofix, edit, approve), QC and
conversion of a file without storing it, translation jobs, glossary and season exports.

Errors are RFC 9457 problem details: 400 names the field, 409 a state that forbids the
action (QC errors on approval, a job already running), 422 a file that cannot be read,
with ``line`` where it broke. Titles of other organizations answer 404.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from catalog.models import Episode, Title
from localization import services
from localization.export import KINDS
from localization.formats import retime, write_subtitles
from localization.models import GlossaryEntry, SubtitleTrack, TrackOrigin, TranslationJob
from localization.services import LocalizationError
from marketplace.api import problem
from marketplace.extensions import db
from marketplace.i18n import _l
from marketplace.policy import login_required, owned_or_404

blp = Blueprint("subtitles_api", __name__, url_prefix="/api/v1",
                description="Subtitle tracks, quality control, machine translation and "
                            "season exports.")


@blp.errorhandler(LocalizationError)
def _localization_error(exc: LocalizationError):
    db.session.rollback()
    titles = {400: "Bad Request", 404: "Not Found", 409: "Conflict",
              422: "Unprocessable Content"}
    return problem(exc.status, titles.get(exc.status, "Bad Request"), str(exc.message),
                   errors=[{"field": exc.field, "message": str(exc.message)}], line=exc.line)


# --------------------------------------------------------------------------- schemas

class QCSummarySchema(Schema):
    passed = fields.Bool(allow_none=True, attribute="qc_passed",
                         metadata={"description": "None until checked"})
    state = fields.Str(attribute="qc_state",
                       metadata={"enum": ["passed", "failed", "not_checked"]})
    errors = fields.Int(attribute="qc_errors")
    warnings = fields.Int(attribute="qc_warnings")
    profile = fields.Str(allow_none=True, attribute="qc_profile")
    counts_by_code = fields.Dict(attribute="qc_counts")
    checked_at = fields.DateTime(allow_none=True, attribute="qc_checked_at")


class TrackSchema(Schema):
    id = fields.Int()
    title_id = fields.Int()
    episode_id = fields.Int()
    episode = fields.Function(lambda t: t.episode.number, metadata={"type": "integer"})
    language = fields.Str(metadata={"example": "zh-Hans"})
    kind = fields.Str(metadata={"enum": list(KINDS)})
    origin = fields.Str(metadata={"enum": [o.value for o in TrackOrigin]})
    status = fields.Str(metadata={"enum": ["draft", "in_review", "approved"]})
    current_revision = fields.Int()
    event_count = fields.Int()
    qc = fields.Function(lambda t: QCSummarySchema().dump(t))
    source_track_id = fields.Int(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    approved_at = fields.DateTime(allow_none=True)


class RevisionSchema(Schema):
    number = fields.Int()
    reason = fields.Str(metadata={"enum": ["upload", "autofix", "translation", "edit"]})
    source_format = fields.Str(allow_none=True)
    encoding = fields.Str(allow_none=True, metadata={"description": "detected on upload"})
    filename = fields.Str(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()


class CueSchema(Schema):
    start_ms = fields.Int()
    end_ms = fields.Int()
    text = fields.Str()


class TrackDetailSchema(TrackSchema):
    qc_report = fields.Dict(allow_none=True, metadata={
        "description": "The latest QC report: issues (code, severity, message, event_index, "
                       "line) and the reading-speed series."})
    revisions = fields.List(fields.Nested(RevisionSchema))
    cues = fields.Function(lambda t: t.revision.cues, metadata={
        "description": "The events of the revision in force."})


class UploadFormSchema(Schema):
    episode = fields.Int(required=True, metadata={"description": "Episode number"})
    language = fields.Str(required=True, metadata={"description": "BCP-47, e.g. zh-Hans"})
    kind = fields.Str(load_default="subtitle", validate=validate.OneOf(KINDS))
    origin = fields.Str(load_default="source",
                        validate=validate.OneOf([o.value for o in TrackOrigin]))


class FileSchema(Schema):
    file = Upload(required=True)


class UploadResultSchema(Schema):
    created = fields.Bool()
    encoding = fields.Str()
    format = fields.Str()
    warnings = fields.List(fields.Str())
    revision = fields.Function(lambda r: r.revision.number, metadata={"type": "integer"})
    track = fields.Function(lambda r: TrackSchema().dump(r.track))
    qc_report = fields.Function(lambda r: r.report.to_dict())


class SeasonFormSchema(Schema):
    language = fields.Str(load_default=None, metadata={
        "description": "Default language for files whose name has none"})


class FileOutcomeSchema(Schema):
    path = fields.Str()
    episode = fields.Int(allow_none=True)
    language = fields.Str(allow_none=True)
    kind = fields.Str()
    format = fields.Str(allow_none=True)
    encoding = fields.Str(allow_none=True)
    ok = fields.Bool()
    error = fields.Str(allow_none=True)
    error_line = fields.Int(allow_none=True)
    track_id = fields.Int(allow_none=True)
    revision = fields.Int(allow_none=True)
    qc_passed = fields.Bool(allow_none=True)
    qc_errors = fields.Int()
    qc_warnings = fields.Int()


class SeasonUploadSchema(Schema):
    stored = fields.Int()
    failed = fields.Int()
    mixed_encodings = fields.Bool()
    encodings = fields.Dict(keys=fields.Str(), values=fields.Int())
    files = fields.List(fields.Nested(FileOutcomeSchema))
    skipped = fields.Function(lambda r: [{"path": p, "reason": why} for p, why in r.skipped])


class QCOptionsSchema(Schema):
    layout = fields.Str(load_default=None, validate=validate.OneOf(["standard", "vertical"]))
    audience = fields.Str(load_default=None, validate=validate.OneOf(["adult", "children"]))
    fps = fields.Float(load_default=None, validate=validate.Range(min=1, max=240))
    overrides = fields.Dict(keys=fields.Str(validate=validate.OneOf(services.OVERRIDE_FIELDS)),
                            values=fields.Float(), load_default=None,
                            metadata={"example": {"reading_speed_adult": 12}})


class FileQCFormSchema(Schema):
    language = fields.Str(required=True, metadata={"example": "zh-Hans"})
    layout = fields.Str(load_default="standard", validate=validate.OneOf(["standard", "vertical"]))
    audience = fields.Str(load_default="adult", validate=validate.OneOf(["adult", "children"]))
    fps = fields.Float(load_default=30.0, validate=validate.Range(min=1, max=240))


class FileQCResultSchema(Schema):
    passed = fields.Bool()
    format = fields.Str()
    encoding = fields.Str()
    warnings = fields.List(fields.Str())
    report = fields.Dict()


class ConvertFormSchema(Schema):
    to = fields.Str(required=True, validate=validate.OneOf(["srt", "vtt", "ttml", "ass"]))
    fps_from = fields.Float(load_default=None, validate=validate.Range(min=1, max=240))
    fps_to = fields.Float(load_default=None, validate=validate.Range(min=1, max=240))
    offset_ms = fields.Int(load_default=0)
    language = fields.Str(load_default=None)
    ttml_fps = fields.Float(load_default=None, validate=validate.Range(min=1, max=240))


class ApproveSchema(Schema):
    override_reason = fields.Str(load_default=None, validate=validate.Length(max=500))


class EditSchema(Schema):
    texts = fields.Dict(keys=fields.Int(), values=fields.Str(), required=True,
                        metadata={"example": {"3": "New text of event 3"}})


class AutofixResultSchema(Schema):
    revision = fields.Int(allow_none=True)
    fixes = fields.List(fields.Dict())
    track = fields.Nested(TrackSchema)


class JobSchema(Schema):
    id = fields.Int()
    title_id = fields.Int()
    source_language = fields.Str()
    target_language = fields.Str()
    kind = fields.Str()
    provider = fields.Str()
    status = fields.Str(metadata={"enum": ["queued", "running", "succeeded", "failed"]})
    progress_done = fields.Int()
    progress_total = fields.Int()
    percent = fields.Int()
    error = fields.Str(allow_none=True)
    attempts = fields.Int()
    episodes = fields.Int()
    memory_hits = fields.Int()
    sent_to_provider = fields.Int()
    glossary_misses = fields.Int()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class JobCreateSchema(Schema):
    source_language = fields.Str(required=True, metadata={"example": "zh-Hans"})
    target_languages = fields.List(fields.Str(), required=True,
                                   validate=validate.Length(min=1, max=30),
                                   metadata={"example": ["es", "en"]})
    kind = fields.Str(load_default="subtitle", validate=validate.OneOf(KINDS))
    provider = fields.Str(load_default=None, validate=validate.OneOf(services.PROVIDERS))


class GlossaryEntrySchema(Schema):
    id = fields.Int(dump_only=True)
    source_term = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    target_language = fields.Str(required=True)
    target_term = fields.Str(required=True, validate=validate.Length(min=1, max=200))
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ExportCreateSchema(Schema):
    languages = fields.List(fields.Str(), load_default=list)
    formats = fields.List(fields.Str(validate=validate.OneOf(services.EXPORT_FORMATS)),
                          load_default=lambda: list(services.EXPORT_FORMATS))
    approved_only = fields.Bool(load_default=True)
    fps_from = fields.Float(load_default=None)
    fps_to = fields.Float(load_default=None)
    offset_ms = fields.Int(load_default=0)


class ExportSchema(Schema):
    id = fields.Int()
    title_id = fields.Int()
    languages = fields.List(fields.Str())
    formats = fields.List(fields.Str())
    file_count = fields.Int()
    size = fields.Int()
    sha256 = fields.Str()
    created_at = fields.DateTime()
    url = fields.Function(services.export_url, metadata={
        "description": "A signed download link, valid for PDX_PRESIGNED_URL_SECONDS"})


# --------------------------------------------------------------------------- helpers

def _title(title_id: int) -> Title:
    return owned_or_404(Title, title_id)


def _track(track_id: int) -> SubtitleTrack:
    return owned_or_404(SubtitleTrack, track_id, "owner_org_id")


def _read_file(files) -> tuple[bytes, str]:
    upload = files["file"]
    return upload.read(services.MAX_ZIP_BYTES + 1), upload.filename or ""


# --------------------------------------------------------------------------- tracks

@blp.route("/titles/<int:title_id>/subtitles")
class TitleTracks(MethodView):
    @login_required
    @blp.arguments(Schema.from_dict({"language": fields.Str(load_default=None)})(),
                   location="query")
    @blp.response(200, TrackSchema(many=True))
    def get(self, query, title_id: int):
        """Every subtitle track of a title (episodes in order)."""
        title = _title(title_id)
        language = services.parse_language(query["language"]) if query["language"] else None
        return services.tracks_of(title, language)

    @login_required
    @blp.arguments(UploadFormSchema, location="form")
    @blp.arguments(FileSchema, location="files")
    @blp.response(201, UploadResultSchema)
    def post(self, form, files, title_id: int):
        """Upload one subtitle file (SRT, WebVTT, ASS/SSA, TTML) for an episode.

        The encoding is detected and reported; an unreadable file answers 422 with the
        line where it broke. An existing (episode, language, kind) track gets a new
        revision."""
        title = _title(title_id)
        episode = db.session.scalar(select(Episode).where(
            Episode.title_id == title.id, Episode.number == form["episode"]))
        if episode is None:
            raise LocalizationError("episode", _l("This title has no such episode."))
        data, name = _read_file(files)
        result = services.upload_track(episode, language=form["language"], kind=form["kind"],
                                       origin=form["origin"], data=data, filename=name,
                                       by=current_user)
        db.session.commit()
        return result


@blp.route("/titles/<int:title_id>/subtitles/season")
class SeasonUpload(MethodView):
    @login_required
    @blp.arguments(SeasonFormSchema, location="form")
    @blp.arguments(FileSchema, location="files")
    @blp.response(200, SeasonUploadSchema)
    def post(self, form, files, title_id: int):
        """Upload a season as a ZIP; each file's episode, language and kind come from its
        name. Per-file results with the detected encoding or the error and its line; an
        archive whose paths escape its folder answers 422 and nothing is stored."""
        title = _title(title_id)
        data, _name = _read_file(files)
        result = services.upload_season_zip(title, data, language=form["language"],
                                            by=current_user)
        db.session.commit()
        return result


@blp.route("/subtitles/tracks/<int:track_id>")
class TrackResource(MethodView):
    @login_required
    @blp.response(200, TrackDetailSchema)
    def get(self, track_id: int):
        """A track with its latest QC report, revisions and current events."""
        return _track(track_id)


@blp.route("/subtitles/tracks/<int:track_id>/qc")
class TrackQC(MethodView):
    @login_required
    @blp.arguments(QCOptionsSchema)
    @blp.response(200, TrackDetailSchema)
    def post(self, data, track_id: int):
        """Check the track again, e.g. with a buyer's profile (layout, audience, frame
        rate, overrides of characters per line and reading speed)."""
        track = _track(track_id)
        options = services.make_options(layout=data["layout"], audience=data["audience"],
                                        fps=data["fps"], overrides=data["overrides"],
                                        base=services.track_options(track))
        services.run_qc(track, options, by=current_user)
        db.session.commit()
        return track


@blp.route("/subtitles/tracks/<int:track_id>/autofix")
class TrackAutofix(MethodView):
    @login_required
    @blp.response(200, AutofixResultSchema)
    def post(self, track_id: int):
        """Apply the fixes with one right answer as a new revision; list each fix."""
        track = _track(track_id)
        revision, fixes = services.autofix_track(track, by=current_user)
        db.session.commit()
        return {"revision": revision.number if revision else None,
                "fixes": [{"code": f.code, "event_index": f.event_index, "message": f.message}
                          for f in fixes], "track": track}


@blp.route("/subtitles/tracks/<int:track_id>/edits")
class TrackEdit(MethodView):
    @login_required
    @blp.arguments(EditSchema)
    @blp.response(200, TrackDetailSchema)
    def post(self, data, track_id: int):
        """New texts by event index, saved as a new revision and checked."""
        track = _track(track_id)
        services.edit_track(track, data["texts"], by=current_user)
        db.session.commit()
        return track


@blp.route("/subtitles/tracks/<int:track_id>/approve")
class TrackApprove(MethodView):
    @login_required
    @blp.arguments(ApproveSchema)
    @blp.response(200, TrackSchema)
    def post(self, data, track_id: int):
        """Approve; a track with QC errors answers 409 unless ``override_reason`` is
        given (recorded in the audit log)."""
        track = _track(track_id)
        services.approve_track(track, by=current_user, override_reason=data["override_reason"])
        db.session.commit()
        return track


# --------------------------------------------------------------------------- files without storing

@blp.route("/subtitles/qc")
class FileQC(MethodView):
    @login_required
    @blp.arguments(FileQCFormSchema, location="form")
    @blp.arguments(FileSchema, location="files")
    @blp.response(200, FileQCResultSchema)
    def post(self, form, files):
        """QC a subtitle file without storing it. 200 with ``passed`` true or false; 422
        when the file cannot be read (with the line)."""
        language = services.parse_language(form["language"])
        data, name = _read_file(files)
        parsed = services.read_upload(data, name)
        options = services.make_options(layout=form["layout"], audience=form["audience"],
                                         fps=form["fps"])
        report = services.check_cues(parsed.cues, language, options)
        return {"passed": report.passed, "format": parsed.format, "encoding": parsed.encoding,
                "warnings": list(parsed.warnings), "report": report.to_dict()}


@blp.route("/subtitles/convert")
class FileConvert(MethodView):
    @login_required
    @blp.arguments(ConvertFormSchema, location="form")
    @blp.arguments(FileSchema, location="files")
    @blp.doc(responses={"200": {"description": "The converted file (UTF-8)"}})
    def post(self, form, files):
        """Convert a subtitle file to SRT, WebVTT, TTML/IMSC 1.1 or ASS, optionally retimed
        between frame rates and shifted by an offset."""
        data, name = _read_file(files)
        parsed = services.read_upload(data, name)
        if (form["fps_from"] is None) != (form["fps_to"] is None):
            raise LocalizationError("fps_to", _l("Give both frame rates (from and to), or neither."))
        language = (services.parse_language(form["language"]) if form["language"]
                    else parsed.language or "und")
        try:
            cues = retime(parsed.cues, fps_from=form["fps_from"], fps_to=form["fps_to"],
                          offset_ms=form["offset_ms"])
        except ValueError as exc:
            raise LocalizationError("offset_ms", str(exc)) from None
        body = write_subtitles(cues, form["to"], language=language, fps=form["ttml_fps"])
        stem = (name.rsplit(".", 1)[0] or "subtitles").replace('"', "")
        mime = {"srt": "application/x-subrip", "vtt": "text/vtt",
                "ttml": "application/ttml+xml", "ass": "text/x-ssa"}[form["to"]]
        return Response(body, mimetype=mime, headers={
            "Content-Disposition": f'attachment; filename="{stem}.{form["to"]}"',
            "X-Source-Format": parsed.format, "X-Source-Encoding": parsed.encoding,
            "X-Events": str(len(cues))})


# --------------------------------------------------------------------------- translation jobs

@blp.route("/titles/<int:title_id>/translation-jobs")
class TitleJobs(MethodView):
    @login_required
    @blp.response(200, JobSchema(many=True))
    def get(self, title_id: int):
        """The title's translation jobs, newest first."""
        return services.jobs_of(_title(title_id))

    @login_required
    @blp.arguments(JobCreateSchema)
    @blp.response(202, JobSchema(many=True))
    def post(self, data, title_id: int):
        """Queue one job per target language (the source tracks must be approved). Poll
        ``GET /translation-jobs/{id}`` for progress."""
        jobs = services.start_translation(_title(title_id), source_language=data["source_language"],
                                          target_languages=data["target_languages"],
                                          kind=data["kind"], provider=data["provider"],
                                          by=current_user)
        db.session.commit()
        return jobs


@blp.route("/translation-jobs/<int:job_id>")
class JobResource(MethodView):
    @login_required
    @blp.response(200, JobSchema)
    def get(self, job_id: int):
        """Status and progress of a translation job."""
        return owned_or_404(TranslationJob, job_id, "owner_org_id")


@blp.route("/translation-jobs/<int:job_id>/retry")
class JobRetry(MethodView):
    @login_required
    @blp.response(202, JobSchema)
    def post(self, job_id: int):
        """Queue a failed job again; other states answer 409."""
        job = owned_or_404(TranslationJob, job_id, "owner_org_id")
        services.retry_job(job, by=current_user)
        db.session.commit()
        return job


# --------------------------------------------------------------------------- glossary

@blp.route("/titles/<int:title_id>/glossary")
class TitleGlossary(MethodView):
    @login_required
    @blp.response(200, GlossaryEntrySchema(many=True))
    def get(self, title_id: int):
        """The title's glossary: character names, places, honorifics per language."""
        return services.glossary_entries(_title(title_id))

    @login_required
    @blp.arguments(GlossaryEntrySchema)
    @blp.response(201, GlossaryEntrySchema)
    def post(self, data, title_id: int):
        """Add a term (or change how an existing term is rendered in that language)."""
        entry = services.add_glossary_entry(_title(title_id), by=current_user, **data)
        db.session.commit()
        return entry


@blp.route("/glossary/<int:entry_id>")
class GlossaryResource(MethodView):
    @login_required
    @blp.response(204)
    def delete(self, entry_id: int):
        """Remove a glossary term."""
        services.delete_glossary_entry(owned_or_404(GlossaryEntry, entry_id, "owner_org_id"),
                                       by=current_user)
        db.session.commit()


# --------------------------------------------------------------------------- export

@blp.route("/titles/<int:title_id>/subtitle-exports")
class TitleExports(MethodView):
    @login_required
    @blp.response(200, ExportSchema(many=True))
    def get(self, title_id: int):
        """Earlier season exports with fresh signed links."""
        return services.exports_of(_title(title_id))

    @login_required
    @blp.arguments(ExportCreateSchema)
    @blp.response(201, ExportSchema)
    def post(self, data, title_id: int):
        """Build a season ZIP (SRT, WebVTT, TTML/IMSC 1.1 and manifest.json) for the
        chosen languages, with optional frame-rate conversion and offset."""
        export = services.export_title(_title(title_id), by=current_user, **data)
        db.session.commit()
        return export
