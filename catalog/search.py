"""The buyers' catalog search: one composable SQLAlchemy select.

``search_titles(CatalogQuery(...))`` returns a :class:`Page` of published titles.
Text: every word must occur in a title or synopsis, in any language. SQLite uses the
FTS5 trigram index (``title_fts``), so Chinese substrings such as 霸总 match; words
shorter than three characters (the trigram minimum) fall back to ``LIKE`` on the same
text. PostgreSQL uses ``ILIKE`` served by the pg_trgm GIN index, ranked by
``word_similarity``.

Composing: other contexts narrow the same query without touching this module. Pass
``extra_filters`` (callables ``Select -> Select``) in the query, or register a
provider once with :func:`register_filter_provider`; a provider receives the request's
raw parameters and returns such a callable or None. Licensing adds its availability
filter (territory × medium × window) that way, e.g.::

    def availability(params):
        if not params.get("territory"):
            return None
        return lambda stmt: stmt.where(Title.id.in_(available_title_ids(params)))

    register_filter_provider(app, availability)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from flask import Flask, current_app
from sqlalchemy import Select, column, exists, func, literal_column, or_, select, table
from sqlalchemy.orm import Session

from catalog import domain
from catalog.models import MediaAsset, Title, TitleGenre, TitleLocalization
from marketplace.extensions import db

SelectFilter = Callable[[Select], Select]
FilterProvider = Callable[[Mapping[str, str]], SelectFilter | None]
SORTS = ("relevance", "newest")
MAX_PER_PAGE = 100
#: Episode-count buckets offered as a facet: key → (min, max).
EPISODE_BUCKETS = {"lt60": (None, 59), "60-99": (60, 99), "100plus": (100, None)}

title_fts = table("title_fts", column("rowid"), column("search_text"), column("rank"))


@dataclass(frozen=True)
class CatalogQuery:
    text: str = ""
    genres: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    involvement: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    episodes_min: int | None = None
    episodes_max: int | None = None
    organization_id: int | None = None
    sort: str | None = None  # default: relevance with text, newest without
    page: int = 1
    per_page: int = 24
    extra_filters: tuple[SelectFilter, ...] = field(default=(), compare=False)

    @property
    def effective_sort(self) -> str:
        if self.sort in SORTS:
            return self.sort if (self.sort != "relevance" or self.words) else "newest"
        return "relevance" if self.words else "newest"

    @property
    def words(self) -> list[str]:
        return [w for w in self.text.split() if w][:8]


@dataclass
class Page:
    items: list[Title]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def register_filter_provider(app: Flask, provider: FilterProvider) -> None:
    app.extensions.setdefault("pdx_catalog_filters", []).append(provider)


def provided_filters(params: Mapping[str, str]) -> tuple[SelectFilter, ...]:
    """The filters registered providers derive from a request's parameters."""
    out = []
    for provider in current_app.extensions.get("pdx_catalog_filters", []):
        narrowed = provider(params)
        if narrowed is not None:
            out.append(narrowed)
    return tuple(out)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _one_of(column, values: Sequence):
    """``column IN values``, as ``=`` for one value: an IN list is expanded into the SQL
    on every execution, an equality is bound once in the cached statement."""
    values = list(values)
    return column == values[0] if len(values) == 1 else column.in_(values)


def build_select(q: CatalogQuery, dialect: str, *, skip: str | None = None) -> tuple[Select, object]:
    """The filtered select of published titles and the rank expression (or None).

    ``skip`` leaves one facet out (for that facet's counts).
    """
    stmt = select(Title).where(Title.status == "published")
    rank = None
    words = q.words
    if words:
        if dialect == "sqlite":
            long_words = [w for w in words if len(w) >= 3]
            short_words = [w for w in words if len(w) < 3]
            if long_words:
                match = " ".join(_fts_phrase(w) for w in long_words)
                fts = (select(title_fts.c.rowid.label("title_id"), title_fts.c.rank.label("rank"))
                       .where(literal_column("title_fts").op("MATCH")(match))
                       .subquery("fts"))
                stmt = stmt.join(fts, fts.c.title_id == Title.id)
                rank = fts.c.rank
            for w in short_words:
                stmt = stmt.where(Title.search_text.like(f"%{_escape_like(w)}%", escape="\\"))
        else:
            for w in words:
                stmt = stmt.where(Title.search_text.ilike(f"%{_escape_like(w)}%", escape="\\"))
            rank = -func.word_similarity(" ".join(words), Title.search_text)
    if q.genres and skip != "genre":
        stmt = stmt.where(exists().where(TitleGenre.title_id == Title.id,
                                         _one_of(TitleGenre.genre, q.genres)))
    if q.languages and skip != "language":
        langs = list(q.languages)
        stmt = stmt.where(or_(
            _one_of(Title.original_language, langs),
            exists().where(TitleLocalization.title_id == Title.id,
                           _one_of(TitleLocalization.language, langs)),
            exists().where(MediaAsset.title_id == Title.id, _one_of(MediaAsset.language, langs),
                           or_(MediaAsset.kind == "subtitle", MediaAsset.kind == "dub_audio")),
        ))
    if q.involvement and skip != "involvement":
        stmt = stmt.where(_one_of(Title.ai_involvement, q.involvement))
    if q.years and skip != "year":
        stmt = stmt.where(_one_of(Title.year, q.years))
    if skip != "episodes":
        if q.episodes_min is not None:
            stmt = stmt.where(Title.episode_count >= q.episodes_min)
        if q.episodes_max is not None:
            stmt = stmt.where(Title.episode_count <= q.episodes_max)
    if q.organization_id is not None:
        stmt = stmt.where(Title.organization_id == q.organization_id)
    for narrow in q.extra_filters:
        stmt = narrow(stmt)
    return stmt, rank


def _ordered(q: CatalogQuery, stmt: Select, rank) -> Select:
    if q.effective_sort == "relevance" and rank is not None:
        return stmt.order_by(rank, Title.published_at.desc(), Title.id.desc())
    return stmt.order_by(Title.published_at.desc(), Title.id.desc())


def statements(q: CatalogQuery, dialect: str) -> tuple[Select, Select]:
    """The two statements a search issues: the page of titles and the total count."""
    if not q.extra_filters:
        try:
            return _cached_statements(q, dialect)
        except TypeError:  # a caller passed a list where a tuple belongs: unhashable
            pass
    return _statements(q, dialect)


@lru_cache(maxsize=512)
def _cached_statements(q: CatalogQuery, dialect: str) -> tuple[Select, Select]:
    # Statements are immutable, and one built once keeps its SQL cache key memoized:
    # building a select and deriving its key cost more than SQLite takes to answer a
    # selective search. Only queries without extra filters are kept (a query's hash
    # leaves its filters out, and they are callables anyway).
    return _statements(q, dialect)


def _statements(q: CatalogQuery, dialect: str) -> tuple[Select, Select]:
    stmt, rank = build_select(q, dialect)
    per_page = max(1, min(q.per_page, MAX_PER_PAGE))
    page = max(1, q.page)
    page_stmt = _ordered(q, stmt, rank).limit(per_page).offset((page - 1) * per_page)
    count_stmt = select(func.count()).select_from(
        stmt.with_only_columns(Title.id).order_by(None).subquery())
    return page_stmt, count_stmt


def search_titles(q: CatalogQuery, session: Session | None = None) -> Page:
    """A page of published titles matching ``q`` and the total number of matches."""
    session = session or db.session
    dialect = session.get_bind().dialect.name
    page_stmt, count_stmt = statements(q, dialect)
    per_page = max(1, min(q.per_page, MAX_PER_PAGE))
    page = max(1, q.page)
    items = list(session.scalars(page_stmt))
    if page == 1 and len(items) < per_page:
        total = len(items)  # the whole result fits on this page: no count needed
    else:
        total = session.scalar(count_stmt) or 0
    return Page(items=items, total=total, page=page, per_page=per_page)


def facet_counts(q: CatalogQuery, session: Session | None = None) -> dict[str, list[tuple]]:
    """For each facet, its values with the number of matches were that value chosen
    (the other facets applied, this one left out)."""
    session = session or db.session
    dialect = session.get_bind().dialect.name
    out: dict[str, list[tuple]] = {}

    def base(skip: str):
        stmt, _rank = build_select(replace(q, sort="newest"), dialect, skip=skip)
        return stmt.with_only_columns(Title.id).order_by(None).subquery()

    ids = base("genre")
    rows = session.execute(select(TitleGenre.genre, func.count()).join(
        ids, ids.c.id == TitleGenre.title_id).group_by(TitleGenre.genre)).all()
    out["genre"] = sorted(rows, key=lambda r: (-r[1], domain.GENRES.index(r[0])
                                               if r[0] in domain.GENRES else 99))
    ids = base("involvement")
    rows = session.execute(select(Title.ai_involvement, func.count()).join(
        ids, ids.c.id == Title.id).group_by(Title.ai_involvement)).all()
    out["involvement"] = sorted(rows, key=lambda r: domain.INVOLVEMENT.index(r[0]))
    ids = base("year")
    rows = session.execute(select(Title.year, func.count()).join(ids, ids.c.id == Title.id)
                           .where(Title.year.is_not(None)).group_by(Title.year)).all()
    out["year"] = sorted(rows, key=lambda r: -r[0])[:12]
    ids = base("language")
    langs: dict[str, int] = {}
    per_title: dict[int, set[str]] = {}
    for tid, lang in session.execute(select(Title.id, Title.original_language)
                                     .join(ids, ids.c.id == Title.id)):
        per_title.setdefault(tid, set()).add(lang)
    for tid, lang in session.execute(select(TitleLocalization.title_id, TitleLocalization.language)
                                     .join(ids, ids.c.id == TitleLocalization.title_id)):
        per_title.setdefault(tid, set()).add(lang)
    for tid, lang in session.execute(
            select(MediaAsset.title_id, MediaAsset.language).join(ids, ids.c.id == MediaAsset.title_id)
            .where(MediaAsset.kind.in_(("subtitle", "dub_audio")), MediaAsset.language.is_not(None))):
        per_title.setdefault(tid, set()).add(lang)
    for found in per_title.values():
        for lang in found:
            langs[lang] = langs.get(lang, 0) + 1
    out["language"] = sorted(langs.items(), key=lambda r: (-r[1], r[0]))
    ids = base("episodes")
    buckets = []
    for key, (low, high) in EPISODE_BUCKETS.items():
        stmt = select(func.count()).select_from(Title).join(ids, ids.c.id == Title.id)
        if low is not None:
            stmt = stmt.where(Title.episode_count >= low)
        if high is not None:
            stmt = stmt.where(Title.episode_count <= high)
        buckets.append((key, session.scalar(stmt) or 0))
    out["episodes"] = buckets
    return out


def query_from_params(params: Mapping[str, object], *, per_page: int = 24) -> CatalogQuery:
    """A query from already validated parameters (the API schema or the browse form)."""
    def many(name: str) -> tuple:
        value = params.get(name) or ()
        return tuple(value) if isinstance(value, list | tuple) else (value,)

    low, high = params.get("episodes_min"), params.get("episodes_max")
    bucket = params.get("episodes")
    if bucket in EPISODE_BUCKETS:
        low, high = EPISODE_BUCKETS[bucket]
    return CatalogQuery(
        text=str(params.get("q") or "").strip()[:200],
        genres=many("genre"), languages=many("language"), involvement=many("ai"),
        years=tuple(int(y) for y in many("year")), episodes_min=low, episodes_max=high,
        sort=params.get("sort") or None, page=int(params.get("page") or 1),
        per_page=int(params.get("per_page") or per_page))


def search_with_providers(q: CatalogQuery, raw_params: Mapping[str, str]) -> Page:
    extra = provided_filters(raw_params)
    if extra:
        q = replace(q, extra_filters=q.extra_filters + extra)
    return search_titles(q)


__all__: Sequence[str] = ("CatalogQuery", "Page", "build_select", "facet_counts",
                          "query_from_params", "register_filter_provider", "search_titles",
                          "statements")
