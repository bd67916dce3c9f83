"""The catalog-wide avails index, cached per process and kept current by versions.

Titles are grouped into buckets of consecutive ids. Every flush that adds, changes or
removes a grant gives its bucket a new version (a ``licensing_counter`` row, in the same
transaction as the change), and every search reads the versions first: one small query.
A process rebuilds only the buckets whose version moved, so a signed deal costs one
bucket's rebuild, not the catalog's. Versions are read before the grants, so a cached
bucket may be newer than its recorded version but never older.

A cold start compiles every bucket: grants are read as plain tuples (no ORM objects, no
per-row type processing) and each distinct stored list (media, territories, languages,
holdbacks) is normalized once, not once per grant.
"""

from __future__ import annotations

import gc
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import compress
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import Integer, LargeBinary, Text, bindparam, cast, event, func, select
from sqlalchemy.orm import Session

from licensing.domain import (
    HARD_STATUSES,
    SOFT_STATUSES,
    Answer,
    AvailsIndex,
    AvailsRequest,
    EpisodeRange,
    Grant,
    GrantKind,
    GrantStatus,
    canonical_codes,
    canonical_languages,
)
from licensing.models import LicensingCounter, RightsGrant, holdback_to_domain, to_domain

BUCKET_SIZE = 256
ANSWERS_KEPT = 256
PREFIX = "avails:"
ID_BYTES_MAX = 1 << 24  # id_filter's byte string on SQLite: at most 16 MB
LONG_LIVED_BUCKETS = 4  # rebuilt at once, and their objects go straight to the oldest GC generation


def bucket_of(title_id: int) -> int:
    return title_id // BUCKET_SIZE


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    versions: dict[int, int] = field(default_factory=dict)
    indexes: dict[int, AvailsIndex] = field(default_factory=dict)
    ids: dict[int, list[int]] = field(default_factory=dict)  # each index's titles as ints
    rebuilds: int = 0  # buckets compiled since start (tests and the benchmark read it)
    answers: OrderedDict = field(default_factory=OrderedDict)  # free_title_ids, LRU


def _cache() -> _Cache:
    return current_app.extensions.setdefault("licensing_avails_cache", _Cache())


def current_indexes(session: Session) -> dict[int, AvailsIndex]:
    """Every bucket's index, rebuilding those whose version changed since last time."""
    return {bucket: built for bucket, (built, _ids) in _snapshot(session)[0].items()}


def _snapshot(session: Session) -> tuple[dict[int, tuple[AvailsIndex, list[int]]], tuple]:
    """The current indexes (each with its titles' ids) and the versions they were
    built at."""
    cache = _cache()
    rows = session.execute(select(LicensingCounter.name, LicensingCounter.value)
                           .where(LicensingCounter.name.like(f"{PREFIX}%"))).all()
    versions = {int(name[len(PREFIX):]): value for name, value in rows}
    with cache.lock:
        stale = [b for b, v in versions.items() if cache.versions.get(b) != v]
        for bucket in list(cache.indexes):
            if bucket not in versions:
                del cache.indexes[bucket]
                cache.ids.pop(bucket, None)
                cache.versions.pop(bucket, None)
        # Compiling allocates hundreds of thousands of objects that all stay: without
        # the cyclic collector, which would walk them again and again meanwhile, a cold
        # start takes less than half the time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for bucket in stale:
                # Not strict: one inconsistent grant must not take the catalog search down.
                built = AvailsIndex.build(bucket_grants(session, bucket), strict=False)
                built.prepare_search()
                cache.indexes[bucket] = built
                cache.ids[bucket] = [int(t) for t in built.titles]
                cache.versions[bucket] = versions[bucket]
                cache.rebuilds += 1
        finally:
            if collecting:
                if len(stale) > LONG_LIVED_BUCKETS:
                    # Hand them to the oldest generation at once (freeze, then unfreeze,
                    # moves every tracked object there) instead of letting the next
                    # requests' young collections walk them all, a pause of about half
                    # a second each for a large catalog.
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()
        return ({bucket: (built, cache.ids[bucket]) for bucket, built in cache.indexes.items()},
                tuple(sorted(cache.versions.items())))


_JSON_COLUMNS = ("media", "territories", "territories_excluded", "languages", "holdbacks")
_COLUMNS = ("id", "kind", "label", "title_id", "licensee_org_id", "media", "territories",
            "territories_excluded", "languages", "episode_first", "episode_last", "starts_on",
            "ends_on", "exclusive", "holdbacks", "may_sublicense", "parent_id", "status",
            "expires_on", "reverted_on")
_KINDS = {kind.value: kind for kind in GrantKind}
_WEIGHING = sorted(status.value for status in HARD_STATUSES | SOFT_STATUSES)
_STATUSES = {status.value: status for status in GrantStatus}


def bucket_grants(session: Session, bucket: int) -> list[Grant]:
    """A bucket's grants that weigh for the engine, equal to ``to_domain`` of each row.

    Grants whose status weighs nothing (drafts, inquiries, expired, terminated) are left
    out unless a sublicence hangs from them: the engine would drop them anyway, and a
    long-lived catalog holds many. Rows are read through the driver's own cursor, in
    the session's transaction: tens of thousands of rows through result objects (let
    alone ORM objects) would cost more than the rest of a cold start together.
    """
    table = RightsGrant.__table__
    low = bucket * BUCKET_SIZE
    in_bucket = (table.c.title_id >= low, table.c.title_id < low + BUCKET_SIZE)
    parents = select(table.c.parent_id).where(*in_bucket, table.c.parent_id.is_not(None))
    stmt = select(*(cast(table.c[name], Text).label(name) if name in _JSON_COLUMNS
                    else table.c[name] for name in _COLUMNS)).where(
        *in_bucket, table.c.status.in_(_WEIGHING) | table.c.id.in_(parents))
    connection = session.connection()
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [_grant(row) for row in rows]


def _grant(row: tuple) -> Grant:
    (grant_id, kind, label, title_id, licensee_id, media, territories, excluded, languages,
     episode_first, episode_last, starts_on, ends_on, exclusive, holdbacks, may_sublicense,
     parent_id, status, expires_on, reverted_on) = row
    try:
        return Grant.from_canonical(
            id=str(grant_id), label=label, kind=_KINDS[kind], title_id=str(title_id),
            media=_codes(media, "media"), territories=_codes(territories, "territories"),
            territories_excluded=_codes(excluded, "territories_excluded"),
            languages=_languages(languages),
            episodes=(_episodes(episode_first, episode_last)
                      if episode_first is not None else None),
            start=_day(starts_on), end=_day(ends_on), exclusive=bool(exclusive),
            holdbacks=_holdbacks(holdbacks), may_sublicense=bool(may_sublicense),
            parent_id=str(parent_id) if parent_id else None, status=_STATUSES[status],
            expires_on=_day(expires_on), reverted_on=_day(reverted_on),
            licensee_id=str(licensee_id) if licensee_id else None)
    except (KeyError, TypeError, ValueError):
        # Something the stored grant should never hold: the long way names the problem.
        return to_domain(_row_namespace(row))


def _row_namespace(row: tuple) -> SimpleNamespace:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        if isinstance(values[name], str):
            values[name] = json.loads(values[name])
    for name in ("starts_on", "ends_on", "expires_on", "reverted_on"):
        values[name] = _day(values[name])
    values["exclusive"] = bool(values["exclusive"])
    values["may_sublicense"] = bool(values["may_sublicense"])
    return SimpleNamespace(**values)


def _day(value) -> date | None:
    # SQLite hands dates over as ISO text, PostgreSQL as dates.
    return date.fromisoformat(value) if isinstance(value, str) else value


# Caches hold what recurs (["SVOD"], ["001"], []); the one-offs pass through.
@lru_cache(maxsize=1 << 15)
def _codes(text: str | None, dimension: str) -> tuple[str, ...]:
    return canonical_codes(tuple(json.loads(text) or ()) if text else (), dimension)


@lru_cache(maxsize=1 << 12)
def _languages(text: str | None):
    tags = json.loads(text) if text else None
    return canonical_languages(tuple(tags)) if tags else None


@lru_cache(maxsize=1 << 12)
def _holdbacks(text: str | None) -> tuple:
    return tuple(holdback_to_domain(h) for h in json.loads(text) or ()) if text else ()


@lru_cache(maxsize=4096)
def _episodes(first: int, last: int | None) -> EpisodeRange:
    return EpisodeRange(first, last)


def free_title_ids(session: Session, request: AvailsRequest, as_of: date, *,
                   allow_contested: bool = False) -> list[int]:
    """Titles (any status) on which the whole request is free, sorted by id.

    Answers are remembered per process for the grants' current versions: the same
    question asked again (the next page, another buyer, the catalog's facet counts)
    costs one small query until a grant of the catalog changes.
    """
    indexes, versions = _snapshot(session)
    cache = _cache()
    key = (request, as_of, allow_contested, versions)
    with cache.lock:
        found = cache.answers.get(key)
        if found is not None:
            cache.answers.move_to_end(key)
            return list(found)
    out: list[int] = []
    for _bucket, (built, ids) in sorted(indexes.items()):
        out.extend(compress(ids, built.free_selectors(
            request, as_of, allow_contested=allow_contested)))
    out.sort()  # buckets come in order, but an index orders its titles as text
    with cache.lock:
        cache.answers[key] = tuple(out)
        while len(cache.answers) > ANSWERS_KEPT:
            cache.answers.popitem(last=False)
    return out


def id_filter(session: Session, column, ids: Iterable[int]):
    """``column IN ids`` for thousands of ids, as one bound parameter instead of one
    per id: an array on PostgreSQL. On SQLite, a byte per id up to the largest (1 for
    the ids wanted), read at the row's id: cheaper per row than probing a list built
    from a JSON array (which remains for ids a byte string cannot hold)."""
    ids = list(map(int, ids))
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    if ids and 0 <= min(ids) and max(ids) <= ID_BYTES_MAX:
        wanted = bytearray(max(ids) + 1)
        for i in ids:
            wanted[i] = 1
        return func.substr(bindparam(None, bytes(wanted), type_=LargeBinary), column + 1,
                           1) == bindparam(None, b"\x01", type_=LargeBinary)
    values = func.json_each(json.dumps(ids)).table_valued("value")
    return column.in_(select(values.c.value))


def check_titles(session: Session, request: AvailsRequest, title_ids: Iterable[int],
                 as_of: date) -> dict[int, Answer]:
    """The engine's answer for each title, from the cached index."""
    indexes = current_indexes(session)
    empty = AvailsIndex({})
    return {tid: indexes.get(bucket_of(tid), empty).check(request.for_title(str(tid)), as_of)
            for tid in title_ids}


def bump_versions(session: Session, buckets: Iterable[int]) -> None:
    """Mark buckets stale for every process, inside the caller's transaction.

    A version is a fresh random number, not a count: a transaction that rolls back
    (after a search in it cached its own uncommitted grants) must not leave a version
    number that the next change would reuse for different grants.
    """
    conn = session.connection()
    table = LicensingCounter.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for bucket in sorted(set(buckets)):
        version = secrets.randbelow(2**31 - 1) + 1
        stmt = insert(table).values(name=f"{PREFIX}{bucket}", value=version)
        conn.execute(stmt.on_conflict_do_update(index_elements=[table.c.name],
                                                set_={"value": version}))


def install_session_hooks() -> None:
    """After each flush that touched grants: bump their buckets' versions and drop the
    request's per-title grant cache."""

    @event.listens_for(Session, "after_flush")
    def _grants_changed(session: Session, _context) -> None:
        buckets = {bucket_of(obj.title_id)
                   for obj in (*session.new, *session.dirty, *session.deleted)
                   if isinstance(obj, RightsGrant) and obj.title_id is not None}
        if not buckets:
            return
        bump_versions(session, buckets)
        from licensing.services import forget_cached_grants

        forget_cached_grants()
