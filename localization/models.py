"""Subtitle tracks and their revisions, translation jobs, glossaries, translation memory
and season exports.

A track is one (episode, language, kind); its text lives in append-only revisions
(upload, autofix, translation, edit), so the original upload is always kept. The track
carries the latest QC summary in plain columns, so a season matrix of 80 episodes ×
several languages is one query without reading any cue.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from catalog.models import Episode, Title
from marketplace.accounts.models import User
from marketplace.db import one_of, utcnow
from marketplace.extensions import db


class TrackKind(enum.StrEnum):
    SUBTITLE = "subtitle"
    SDH = "sdh"
    FORCED = "forced"


class TrackOrigin(enum.StrEnum):
    SOURCE = "source"
    MACHINE = "machine"
    HUMAN = "human"
    POST_EDITED = "post_edited"


class TrackStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"


class RevisionReason(enum.StrEnum):
    UPLOAD = "upload"
    AUTOFIX = "autofix"
    TRANSLATION = "translation"
    EDIT = "edit"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)



class SubtitleTrack(db.Model):
    """One episode's subtitles in one language and kind."""

    __tablename__ = "subtitle_track"
    __table_args__ = (
        UniqueConstraint("episode_id", "language", "kind", name="uq_subtitle_track_episode"),
        CheckConstraint(one_of("kind", TrackKind), name="kind"),
        CheckConstraint(one_of("origin", TrackOrigin), name="origin"),
        CheckConstraint(one_of("status", TrackStatus), name="status"),
        CheckConstraint("current_revision >= 1", name="current_revision"),
        CheckConstraint("event_count >= 0", name="event_count"),
        CheckConstraint("qc_errors >= 0 AND qc_warnings >= 0", name="qc_counts"),
        Index("ix_subtitle_track_title_language", "title_id", "language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Denormalized from the episode so a season's tracks are one indexed query.
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"),
                                            index=True)
    language: Mapped[str] = mapped_column(String(35))
    kind: Mapped[str] = mapped_column(String(10), default=TrackKind.SUBTITLE)
    origin: Mapped[str] = mapped_column(String(12), default=TrackOrigin.SOURCE)
    status: Mapped[str] = mapped_column(String(10), default=TrackStatus.DRAFT)
    #: The number of the revision in force (the newest one).
    current_revision: Mapped[int] = mapped_column(default=1)
    event_count: Mapped[int] = mapped_column(default=0)
    #: Latest QC: None until checked; the profile name and counts for the season view.
    qc_passed: Mapped[bool | None]
    qc_errors: Mapped[int] = mapped_column(default=0)
    qc_warnings: Mapped[int] = mapped_column(default=0)
    qc_profile: Mapped[str | None] = mapped_column(String(120))
    qc_counts: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The latest full report (``QCReport.to_dict()``), which may use a buyer's profile.
    qc_report: Mapped[dict | None] = mapped_column(JSON)
    qc_checked_at: Mapped[datetime | None]
    #: For a translation: the source track it was made from.
    source_track_id: Mapped[int | None] = mapped_column(
        ForeignKey("subtitle_track.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))

    title: Mapped[Title] = relationship()
    episode: Mapped[Episode] = relationship()
    source_track: Mapped[SubtitleTrack | None] = relationship(remote_side="SubtitleTrack.id")
    revisions: Mapped[list[SubtitleRevision]] = relationship(
        back_populates="track", order_by="SubtitleRevision.number",
        cascade="all, delete-orphan", passive_deletes=True)

    @validates("language")
    def _check_language(self, _key: str, value: str) -> str:
        from localization.services import parse_language

        return parse_language(value)

    @property
    def owner_org_id(self) -> int:
        """The producer organization owning the title (for ``policy.owned_or_404``)."""
        return self.title.organization_id

    @property
    def revision(self) -> SubtitleRevision:
        """The revision in force."""
        return next(r for r in reversed(self.revisions) if r.number == self.current_revision)

    @property
    def qc_state(self) -> str:
        """``passed``, ``failed`` or ``not_checked`` (the manifest and badge vocabulary)."""
        if self.qc_passed is None:
            return "not_checked"
        return "passed" if self.qc_passed else "failed"

    def __repr__(self) -> str:
        return f"<SubtitleTrack {self.id} ep={self.episode_id} {self.language} {self.kind}>"


class SubtitleRevision(db.Model):
    """One version of a track's text. Append-only: a change is a new revision."""

    __tablename__ = "subtitle_revision"
    __table_args__ = (
        UniqueConstraint("track_id", "number", name="uq_subtitle_revision_track_number"),
        CheckConstraint("number >= 1", name="number"),
        CheckConstraint(one_of("reason", RevisionReason), name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("subtitle_track.id", ondelete="CASCADE"))
    number: Mapped[int]
    #: The normalized document: ``[{"start_ms", "end_ms", "text", ...}]`` in time order.
    cues: Mapped[list[dict]] = mapped_column(JSON, default=list)
    #: Uploads: the file's format, detected encoding and name.
    source_format: Mapped[str | None] = mapped_column(String(10))
    encoding: Mapped[str | None] = mapped_column(String(40))
    filename: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(12))
    #: What happened: autofix ``{"fixes": [...]}``, translation ``{"job_id", "glossary_misses",
    #: "memory_hits", ...}``, edit ``{"changed": [event indexes]}``, upload ``{"warnings"}``.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    #: QC of this revision when it was made (the track holds the latest).
    qc_report: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    track: Mapped[SubtitleTrack] = relationship(back_populates="revisions")
    created_by: Mapped[User | None] = relationship()


@event.listens_for(SubtitleRevision, "before_update")
def _revision_append_only(mapper, connection, target):
    raise RuntimeError("subtitle revisions are append-only: add a new revision instead")


class TranslationJob(db.Model):
    """Machine translation of a title's approved source tracks into one target language.

    All or nothing: the job creates (or revises) the target track of every episode in one
    transaction at the end, or none if anything fails.
    """

    __tablename__ = "translation_job"
    __table_args__ = (
        CheckConstraint(one_of("status", JobStatus), name="status"),
        CheckConstraint(one_of("kind", TrackKind), name="kind"),
        CheckConstraint("progress_done >= 0 AND progress_total >= 0", name="progress"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("source_language <> target_language", name="languages_differ"),
        Index("ix_translation_job_title_created", "title_id", "created_at"),
        # At most one queued or running job per title, target language and kind.
        Index("uq_translation_job_active", "title_id", "target_language", "kind", unique=True,
              sqlite_where=text("status IN ('queued', 'running')"),
              postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    source_language: Mapped[str] = mapped_column(String(35))
    target_language: Mapped[str] = mapped_column(String(35))
    kind: Mapped[str] = mapped_column(String(10), default=TrackKind.SUBTITLE)
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.QUEUED)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(default=0)
    episodes: Mapped[int] = mapped_column(default=0)
    memory_hits: Mapped[int] = mapped_column(default=0)
    sent_to_provider: Mapped[int] = mapped_column(default=0)
    glossary_misses: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    title: Mapped[Title] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def owner_org_id(self) -> int:
        return self.title.organization_id

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


class GlossaryEntry(db.Model):
    """How a title's character names, places and honorifics are rendered per language."""

    __tablename__ = "glossary_entry"
    __table_args__ = (
        UniqueConstraint("title_id", "source_term", "target_language",
                         name="uq_glossary_entry_term"),
        CheckConstraint("length(source_term) > 0 AND length(target_term) > 0", name="terms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    source_term: Mapped[str] = mapped_column(String(200))
    target_language: Mapped[str] = mapped_column(String(35))
    target_term: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    title: Mapped[Title] = relationship()

    @property
    def owner_org_id(self) -> int:
        return self.title.organization_id


class TranslationMemoryEntry(db.Model):
    """A translated line, reused for identical lines in later episodes and jobs.

    Kept per producer organization: one studio's dialogue never surfaces in another's.
    """

    __tablename__ = "translation_memory_entry"
    __table_args__ = (
        UniqueConstraint("organization_id", "source_language", "target_language", "source_hash",
                         name="uq_translation_memory_entry_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"))
    source_language: Mapped[str] = mapped_column(String(35))
    target_language: Mapped[str] = mapped_column(String(35))
    #: SHA-256 of the normalized source text (the text itself may be long).
    source_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    target_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubtitleExport(db.Model):
    """A season ZIP written to storage, offered through a signed link."""

    __tablename__ = "subtitle_export"
    __table_args__ = (CheckConstraint("size > 0", name="size"),
                      Index("ix_subtitle_export_title_created", "title_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    formats: Mapped[list[str]] = mapped_column(JSON, default=list)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    file_count: Mapped[int] = mapped_column(default=0)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    title: Mapped[Title] = relationship()

    @property
    def owner_org_id(self) -> int:
        return self.title.organization_id

    @property
    def filename(self) -> str:
        return self.storage_key.rsplit("/", 1)[-1]
