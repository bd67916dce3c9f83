"""Titles (series), their localizations, genres, episodes, media assets, copyright records
and review history.

Full-text search: ``title.search_text`` holds every title and synopsis in every
language (the services keep it current). SQLite indexes it with an FTS5 table using
the trigram tokenizer (so Chinese substrings match), kept in step by triggers;
PostgreSQL indexes it with a pg_trgm GIN index. Both are created by the migration and,
for ``db.create_all()``, by the DDL listeners at the end of this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog import domain
from marketplace.accounts.models import Organization, User
from marketplace.db import one_of, utcnow
from marketplace.extensions import db


class Title(db.Model):
    """A micro-drama series listed by a producer."""

    __tablename__ = "title"
    __table_args__ = (
        CheckConstraint(one_of("status", domain.STATUSES), name="status"),
        CheckConstraint(one_of("ai_involvement", domain.INVOLVEMENT), name="ai_involvement"),
        CheckConstraint(one_of("aspect_ratio", domain.ASPECT_RATIOS), name="aspect_ratio"),
        CheckConstraint("year IS NULL OR (year >= 1950 AND year <= 2100)", name="year"),
        CheckConstraint("episode_count IS NULL OR episode_count >= 1", name="episode_count"),
        CheckConstraint("typical_episode_seconds IS NULL OR typical_episode_seconds > 0",
                        name="typical_episode_seconds"),
        Index("ix_title_status_published_at", "status", "published_at"),
        Index("ix_title_status_ai_involvement", "status", "ai_involvement"),
        Index("ix_title_status_year", "status", "year"),
        Index("ix_title_status_episode_count", "status", "episode_count"),
        # PostgreSQL's trigram index for search. SQLite searches through title_fts instead
        # and gets an always-empty partial index of the same name, so that the schema
        # and the migrations agree on both backends (``pdx db check``).
        Index("ix_title_search_text_trgm", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}, sqlite_where=text("0")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    original_title: Mapped[str] = mapped_column(String(300))
    original_language: Mapped[str] = mapped_column(String(16), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    year: Mapped[int | None]
    episode_count: Mapped[int | None]
    typical_episode_seconds: Mapped[int | None]
    aspect_ratio: Mapped[str] = mapped_column(String(8), default="9:16")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    ai_involvement: Mapped[str] = mapped_column(String(20), default="none")
    #: The AI-provenance record (:class:`catalog.domain.Provenance` as a dict).
    provenance: Mapped[dict] = mapped_column(JSON, default=dict)
    search_text: Mapped[str] = mapped_column(Text, default="")
    review_comment: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()
    localizations: Mapped[list[TitleLocalization]] = relationship(
        back_populates="parent", cascade="all, delete-orphan",
        order_by="TitleLocalization.language")
    genre_rows: Mapped[list[TitleGenre]] = relationship(
        cascade="all, delete-orphan", order_by="TitleGenre.genre")
    episodes: Mapped[list[Episode]] = relationship(
        back_populates="series", cascade="all, delete-orphan", order_by="Episode.number")
    assets: Mapped[list[MediaAsset]] = relationship(
        back_populates="title", cascade="all, delete-orphan", order_by="MediaAsset.id")
    copyright: Mapped[TitleCopyright | None] = relationship(
        back_populates="title", cascade="all, delete-orphan", uselist=False)
    reviews: Mapped[list[TitleReview]] = relationship(
        cascade="all, delete-orphan", order_by="TitleReview.id")

    @property
    def genres(self) -> list[str]:
        return [g.genre for g in self.genre_rows]

    @property
    def is_editable(self) -> bool:
        return self.status in domain.EDITABLE_STATUSES

    def localization(self, language: str | None) -> TitleLocalization | None:
        """The localization for ``language`` (``zh`` matches ``zh-Hans``), else None."""
        if not language:
            return None
        base = language.replace("_", "-").split("-")[0].lower()
        exact = [loc for loc in self.localizations if loc.language.lower() == language.lower()]
        if exact:
            return exact[0]
        return next((loc for loc in self.localizations
                     if loc.language.split("-")[0].lower() == base), None)

    def display_title(self, language: str | None = None) -> str:
        loc = self.localization(language)
        return loc.title if loc else self.original_title

    def synopsis(self, language: str | None = None) -> str:
        loc = self.localization(language) or self.localization(self.original_language)
        if loc and loc.synopsis:
            return loc.synopsis
        return next((x.synopsis for x in self.localizations if x.synopsis), "")

    def assets_of(self, kind: str, episode_id: int | None = None) -> list[MediaAsset]:
        return [a for a in self.assets if a.kind == kind and a.episode_id == episode_id]

    @property
    def poster(self) -> MediaAsset | None:
        found = self.assets_of("poster") or self.assets_of("key_art")
        return found[-1] if found else None

    @property
    def trailer(self) -> MediaAsset | None:
        found = self.assets_of("trailer")
        return found[-1] if found else None

    @property
    def languages(self) -> list[str]:
        """Every language the title is available in: original, localized, subtitled, dubbed."""
        langs = [self.original_language]
        langs += [loc.language for loc in self.localizations]
        langs += [a.language for a in self.assets
                  if a.kind in ("subtitle", "dub_audio") and a.language]
        return list(dict.fromkeys(langs))

    def __repr__(self) -> str:
        return f"<Title {self.id} {self.original_title!r} {self.status}>"


class TitleLocalization(db.Model):
    __tablename__ = "title_localization"
    __table_args__ = (UniqueConstraint("title_id", "language"),
                      Index("ix_title_localization_language_title", "language", "title_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    synopsis: Mapped[str] = mapped_column(Text, default="")

    parent: Mapped[Title] = relationship(back_populates="localizations")


class TitleGenre(db.Model):
    __tablename__ = "title_genre"
    __table_args__ = (CheckConstraint(one_of("genre", domain.GENRES), name="genre"),
                      Index("ix_title_genre_genre_title", "genre", "title_id"))

    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"),
                                          primary_key=True)
    genre: Mapped[str] = mapped_column(String(30), primary_key=True)


class Episode(db.Model):
    __tablename__ = "episode"
    __table_args__ = (UniqueConstraint("title_id", "number"),
                      CheckConstraint("number >= 1", name="number"),
                      CheckConstraint("duration_seconds IS NULL OR duration_seconds > 0",
                                      name="duration_seconds"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(300))
    duration_seconds: Mapped[int | None]
    #: Keys of the provenance record that differ from the title's (None: inherits all).
    provenance_override: Mapped[dict | None] = mapped_column(JSON)

    series: Mapped[Title] = relationship(back_populates="episodes")


class MediaAsset(db.Model):
    """A stored file: an episode master, trailer, poster, subtitle, dub or document."""

    __tablename__ = "media_asset"
    __table_args__ = (CheckConstraint(one_of("kind", domain.ASSET_KINDS), name="kind"),
                      CheckConstraint("size > 0", name="size"),
                      Index("ix_media_asset_title_kind", "title_id", "kind"),
                      Index("ix_media_asset_language_title", "language", "title_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"))
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("episode.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    #: ffprobe's findings for audio/video (container, codec, duration, size, audio).
    probe: Mapped[dict | None] = mapped_column(JSON)
    #: The C2PA manifest state (:class:`catalog.domain.C2PAState` as a dict).
    c2pa: Mapped[dict | None] = mapped_column(JSON)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    title: Mapped[Title] = relationship(back_populates="assets")
    episode: Mapped[Episode | None] = relationship()

    @property
    def c2pa_state(self) -> str:
        return (self.c2pa or {}).get("state", "absent")

    @property
    def is_video(self) -> bool:
        return self.kind in domain.VIDEO_KINDS


class TitleCopyright(db.Model):
    __tablename__ = "title_copyright"
    __table_args__ = (CheckConstraint(f"nrta_tier IS NULL OR {one_of('nrta_tier', domain.NRTA_TIERS)}",
                                      name="nrta_tier"),)

    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"),
                                          primary_key=True)
    rights_holder: Mapped[str | None] = mapped_column(String(300))
    registration_number: Mapped[str | None] = mapped_column(String(100))
    nrta_number: Mapped[str | None] = mapped_column(String(100))
    nrta_tier: Mapped[str | None] = mapped_column(String(20))
    underlying_work: Mapped[str | None] = mapped_column(String(500))
    #: ``[{"track", "rights_holder", "reference"}]``
    music_clearances: Mapped[list[dict]] = mapped_column(JSON, default=list)

    title: Mapped[Title] = relationship(back_populates="copyright")


class TitleReview(db.Model):
    """One step of the listing workflow, with the reviewer's or producer's comment."""

    __tablename__ = "title_review"
    __table_args__ = (CheckConstraint(
        one_of("action", ("submitted", "published", "returned", "withdrawn")), name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("title.id", ondelete="CASCADE"),
                                          index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()


# --------------------------------------------------------------------------- search DDL
# The same statements the migration runs, so ``db.create_all()`` (tests, bench) builds
# identical search structures.

SQLITE_FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS title_fts USING fts5("
    "search_text, content='title', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS title_fts_ai AFTER INSERT ON title BEGIN "
    "INSERT INTO title_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS title_fts_ad AFTER DELETE ON title BEGIN "
    "INSERT INTO title_fts(title_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS title_fts_au AFTER UPDATE OF search_text ON title BEGIN "
    "INSERT INTO title_fts(title_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO title_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
)
POSTGRES_TRGM_DDL = ("CREATE EXTENSION IF NOT EXISTS pg_trgm",)

for _statement in SQLITE_FTS_DDL:
    event.listen(Title.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_TRGM_DDL:  # before the table: its GIN index needs the operators
    event.listen(Title.__table__, "before_create",
                 DDL(_statement).execute_if(dialect="postgresql"))
event.listen(Title.__table__, "before_drop",
             DDL("DROP TABLE IF EXISTS title_fts").execute_if(dialect="sqlite"))
