"""Delivery profiles, transcode jobs and their outputs, screeners and their views,
delivery packages and their files.

A job runs one profile on one stored source (an episode master or a trailer) and
records what it produced as :class:`JobOutput` rows under deterministic storage keys,
so a retried job replaces its outputs instead of adding to them. Screeners and delivery
packages are made of jobs; a package is ``ready`` only once every job succeeded and its
metadata, subtitles and checksum manifest are stored.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import Episode, MediaAsset, Title
from licensing.models import Deal
from marketplace.accounts.models import Organization, User
from marketplace.db import one_of, utcnow
from marketplace.extensions import db


def _token() -> str:
    return uuid.uuid4().hex[:12]



class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class JobPurpose(enum.StrEnum):
    SCREENER = "screener"
    DELIVERY = "delivery"
    ADHOC = "adhoc"


class PackageStatus(enum.StrEnum):
    ASSEMBLING = "assembling"
    READY = "ready"
    FAILED = "failed"


class SubtitleDelivery(enum.StrEnum):
    SIDECAR = "sidecar"  # subtitle files beside the videos (and HLS renditions)
    BURN = "burn"  # one video per episode and language, subtitles in the picture
    NONE = "none"


class FileKind(enum.StrEnum):
    VIDEO = "video"
    SUBTITLES = "subtitles"
    METADATA = "metadata"
    ARTWORK = "artwork"
    MANIFEST = "manifest"


class DeliveryProfile(db.Model):
    """A profile a buyer (or, globally, the platform) defined; built-ins live in code."""

    __tablename__ = "delivery_profile"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The buyer organization that owns it; None for a platform-wide profile.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300), default="")
    #: ``transcode.profiles.Profile.to_dict()``: validated with ``Profile.from_dict``.
    definition: Mapped[dict] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization | None] = relationship()


class TranscodeJob(db.Model):
    """One profile run on one stored source, by a Celery worker."""

    __tablename__ = "transcode_job"
    __table_args__ = (
        CheckConstraint(one_of("status", JobStatus), name="status"),
        CheckConstraint(one_of("purpose", JobPurpose), name="purpose"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_transcode_job_status_heartbeat_at", "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The organization owning the source (the producer).
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    #: The organization the result is for (a screener's or a package's buyer).
    recipient_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id", ondelete="SET NULL"))
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_asset.id", ondelete="SET NULL"))
    source_key: Mapped[str] = mapped_column(String(500))
    source_name: Mapped[str] = mapped_column(String(255))
    package_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_package.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(12))
    #: Part of the storage prefix: a job's keys are its own even if ids were ever reused.
    token: Mapped[str] = mapped_column(String(12), default=_token)
    #: A short description of what the job makes ("E001 · en"), shown in lists.
    label: Mapped[str] = mapped_column(String(200), default="")
    profile_name: Mapped[str] = mapped_column(String(40))
    #: The profile as it ran (a snapshot: later edits of a custom profile change nothing).
    profile: Mapped[dict] = mapped_column(JSON)
    #: Per-job build options: file stem, watermark, AI labels, subtitles to burn.
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    speed: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(1000))
    log_tail: Mapped[str | None] = mapped_column(Text)
    #: A failure running again may cure (a lost worker, a storage outage).
    retryable: Mapped[bool] = mapped_column(default=False)
    #: What the runner reported: adaptation notes, label and loudness checks, speed.
    result: Mapped[dict | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    title: Mapped[Title] = relationship()
    episode: Mapped[Episode | None] = relationship()
    asset: Mapped[MediaAsset | None] = relationship()
    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])
    recipient: Mapped[Organization | None] = relationship(foreign_keys=[recipient_org_id])
    package: Mapped[DeliveryPackage | None] = relationship(back_populates="jobs")
    created_by: Mapped[User | None] = relationship()
    outputs: Mapped[list[JobOutput]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobOutput.path")

    @property
    def percent(self) -> int:
        return int(round((self.progress or 0) * 100))

    @property
    def storage_prefix(self) -> str:
        """Where the job's outputs live; the same on every attempt (deterministic keys)."""
        return f"transcode/jobs/{self.id}-{self.token}"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def __repr__(self) -> str:
        return f"<TranscodeJob {self.id} {self.profile_name} {self.status}>"


class JobOutput(db.Model):
    """A file a job produced, stored under the job's ``storage_prefix``."""

    __tablename__ = "job_output"
    __table_args__ = (UniqueConstraint("job_id", "path"),
                      CheckConstraint("size >= 0", name="size"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("transcode_job.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(80))
    path: Mapped[str] = mapped_column(String(500))
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))

    job: Mapped[TranscodeJob] = relationship(back_populates="outputs")


class Screener(db.Model):
    """A watermarked copy of one video for one buyer organization (made once, reused)."""

    __tablename__ = "screener"
    __table_args__ = (UniqueConstraint("buyer_org_id", "asset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id", ondelete="SET NULL"))
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_asset.id", ondelete="SET NULL"))
    producer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    buyer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("transcode_job.id", ondelete="SET NULL"))
    #: The visible mark: "Organization name · CODE".
    watermark_text: Mapped[str] = mapped_column(String(300))
    code: Mapped[str] = mapped_column(String(12), index=True)
    storage_key: Mapped[str | None] = mapped_column(String(500))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]

    title: Mapped[Title] = relationship()
    episode: Mapped[Episode | None] = relationship()
    asset: Mapped[MediaAsset | None] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    producer: Mapped[Organization] = relationship(foreign_keys=[producer_org_id])
    job: Mapped[TranscodeJob | None] = relationship()
    views: Mapped[list[ScreenerView]] = relationship(
        back_populates="screener", cascade="all, delete-orphan", order_by="ScreenerView.viewed_at")

    @property
    def ready(self) -> bool:
        return self.storage_key is not None


class ScreenerView(db.Model):
    """A buyer's user opened a screener (one row per viewing, a few minutes apart)."""

    __tablename__ = "screener_view"
    __table_args__ = (Index("ix_screener_view_screener_id_viewed_at", "screener_id", "viewed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    screener_id: Mapped[int] = mapped_column(ForeignKey("screener.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)

    screener: Mapped[Screener] = relationship(back_populates="views")
    user: Mapped[User | None] = relationship()


class DeliveryPackage(db.Model):
    """Everything a buyer receives for a deal: episodes in its profile, subtitles,
    metadata, artwork and a checksum manifest."""

    __tablename__ = "delivery_package"
    __table_args__ = (
        CheckConstraint(one_of("status", PackageStatus), name="status"),
        CheckConstraint(one_of("subtitles", SubtitleDelivery), name="subtitles"),
        CheckConstraint("resent_count >= 0", name="resent_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"), index=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    buyer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    producer_org_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    profile_name: Mapped[str] = mapped_column(String(40))
    profile: Mapped[dict] = mapped_column(JSON)
    #: Subtitle languages (BCP-47 tags of the tracks delivered).
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    subtitles: Mapped[str] = mapped_column(String(10), default=SubtitleDelivery.SIDECAR)
    #: Episode numbers delivered, and those the deal covers that have no master yet.
    episodes: Mapped[list[int]] = mapped_column(JSON, default=list)
    missing_episodes: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default=PackageStatus.ASSEMBLING)
    error: Mapped[str | None] = mapped_column(String(1000))
    token: Mapped[str] = mapped_column(String(12), default=_token)
    manifest_key: Mapped[str | None] = mapped_column(String(500))
    #: Set while one worker writes the manifest, so two finishing jobs do not both do it.
    finalizing_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    resent_count: Mapped[int] = mapped_column(default=0)

    deal: Mapped[Deal] = relationship()
    title: Mapped[Title] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_org_id])
    producer: Mapped[Organization] = relationship(foreign_keys=[producer_org_id])
    jobs: Mapped[list[TranscodeJob]] = relationship(
        back_populates="package", order_by="TranscodeJob.id")
    files: Mapped[list[PackageFile]] = relationship(
        back_populates="package", cascade="all, delete-orphan", order_by="PackageFile.path")

    @property
    def storage_prefix(self) -> str:
        return f"transcode/packages/{self.id}-{self.token}"

    @property
    def progress(self) -> float:
        """Share of the work done: the jobs, then the manifest (the last step)."""
        if self.status == PackageStatus.READY:
            return 1.0
        if not self.jobs:
            return 0.0
        done = sum(1.0 if j.status == JobStatus.SUCCEEDED else (j.progress or 0.0)
                   for j in self.jobs)
        return min(0.99, done / (len(self.jobs) + 0.2))

    @property
    def percent(self) -> int:
        return int(round(self.progress * 100))

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


class PackageFile(db.Model):
    """One file of a package, at ``path`` inside it; ``storage_key`` may be a job's output."""

    __tablename__ = "package_file"
    __table_args__ = (UniqueConstraint("package_id", "path"),
                      CheckConstraint(one_of("kind", FileKind), name="kind"),
                      CheckConstraint("size >= 0", name="size"))

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_package.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(12))
    storage_key: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("transcode_job.id", ondelete="SET NULL"))

    package: Mapped[DeliveryPackage] = relationship(back_populates="files")
