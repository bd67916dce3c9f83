"""The API's result list, built for throughput: the search's own select narrowed to the
columns a list shows, run as Core statements (no ORM objects), three batched look-ups
for the page, and a short-lived per-process cache of finished responses.

The cache holds the published catalog only (the same for every signed-in caller) for
``PDX_CATALOG_LIST_CACHE_SECONDS`` (2 s by default, 0 under tests): a title published
or withdrawn shows in lists that much later; detail pages are never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from flask import current_app
from sqlalchemy import select

from catalog import domain
from catalog.models import MediaAsset, Title, TitleGenre, TitleLocalization
from catalog.search import CatalogQuery, Page, statements
from marketplace.extensions import db

LIST_COLUMNS = (Title.id, Title.original_title, Title.original_language, Title.country,
                Title.year, Title.episode_count, Title.typical_episode_seconds,
                Title.aspect_ratio, Title.ai_involvement, Title.provenance, Title.published_at)

_cache: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
_lock = threading.Lock()
MAX_ENTRIES = 512


def cache_seconds() -> float:
    default = 0 if current_app.testing else 2
    return float(current_app.config.get("PDX_CATALOG_LIST_CACHE_SECONDS", default))


def cached(key: tuple, build):
    """``build()`` once per key per cache period (per process)."""
    ttl = cache_seconds()
    if ttl <= 0:
        return build()
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
    value = build()
    with _lock:
        _cache[key] = (now + ttl, value)
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def search_rows(q: CatalogQuery) -> tuple[list, Page]:
    """The page's rows (``LIST_COLUMNS``) and the page numbers, as ``search_titles`` would
    find them, through the same select."""
    connection = db.session.connection()
    page_stmt, count_stmt = statements(q, connection.dialect.name)
    rows = connection.execute(page_stmt.with_only_columns(*LIST_COLUMNS)).all()
    per_page = max(1, min(q.per_page, 100))
    page = max(1, q.page)
    if page == 1 and len(rows) < per_page:
        total = len(rows)
    else:
        total = connection.execute(count_stmt).scalar() or 0
    return rows, Page(items=[], total=total, page=page, per_page=per_page)


def cards_from_rows(rows, language: str | None) -> list[dict[str, Any]]:
    """What each list entry needs besides the title row: names, genres, artwork, badge."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    connection = db.session.connection()
    locs: dict[int, dict[str, str]] = {}
    for tid, lang, name in connection.execute(select(
            TitleLocalization.title_id, TitleLocalization.language, TitleLocalization.title)
            .where(TitleLocalization.title_id.in_(ids)).order_by(TitleLocalization.language)):
        locs.setdefault(tid, {})[lang] = name
    genres: dict[int, list[str]] = {}
    for tid, genre in connection.execute(select(TitleGenre.title_id, TitleGenre.genre).where(
            TitleGenre.title_id.in_(ids)).order_by(TitleGenre.genre)):
        genres.setdefault(tid, []).append(genre)
    art: dict[int, dict[str, tuple[int, str]]] = {}
    c2pa: dict[int, list[str]] = {}
    for aid, tid, kind, state in connection.execute(select(
            MediaAsset.id, MediaAsset.title_id, MediaAsset.kind, MediaAsset.c2pa)
            .where(MediaAsset.title_id.in_(ids), MediaAsset.episode_id.is_(None),
                   MediaAsset.kind.in_(("poster", "key_art", "trailer")))
            .order_by(MediaAsset.id)):
        slot = "trailer" if kind == "trailer" else "poster"
        current = art.get(tid, {}).get(slot)
        if not (current is not None and current[1] == "poster" and kind == "key_art"):
            art.setdefault(tid, {})[slot] = (aid, kind)
        c2pa.setdefault(tid, []).append((state or {}).get("state", "absent"))
    base = (language or "").split("-")[0].lower()
    out = []
    for r in rows:
        names = locs.get(r.id, {})
        chosen = next((n for lang, n in names.items() if lang.split("-")[0].lower() == base),
                      None)
        badge = domain.provenance_badge(domain.Provenance.from_dict(r.provenance),
                                        c2pa.get(r.id, []))
        out.append({"row": r, "name": chosen or r.original_title, "localizations": names,
                    "languages": list(dict.fromkeys([r.original_language, *names])),
                    "genres": genres.get(r.id, []), "badge": badge,
                    "poster_id": art.get(r.id, {}).get("poster", (None,))[0],
                    "trailer_id": art.get(r.id, {}).get("trailer", (None,))[0]})
    return out
