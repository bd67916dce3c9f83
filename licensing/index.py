"""The catalog-wide avails index, cached per process and kept current by versions.

Titles are grouped into buckets of consecutive ids. Every flush that adds, changes or
removes a grant gives its bucket a new version (a ``licensing_counter`` row, in the same
transaction as the change), and every search reads the versions first: one small query.
A process rebuilds only the buckets whose version moved, so a signed deal costs one
bucket's rebuild, not the catalog's. Versions are read before the grants, so a cached
bucket may be newer than its recorded version but never older.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import String, event, select, type_coerce
from sqlalchemy.orm import Session

from licensing.domain import Answer, AvailsIndex, AvailsRequest
from licensing.models import LicensingCounter, RightsGrant, to_domain

BUCKET_SIZE = 256
ANSWERS_KEPT = 256
PREFIX = "avails:"


def bucket_of(title_id: int) -> int:
    return title_id // BUCKET_SIZE


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    versions: dict[int, int] = field(default_factory=dict)
    indexes: dict[int, AvailsIndex] = field(default_factory=dict)
    rebuilds: int = 0  # buckets compiled since start (tests and the benchmark read it)
    answers: OrderedDict = field(default_factory=OrderedDict)  # free_title_ids, LRU


def _cache() -> _Cache:
    return current_app.extensions.setdefault("licensing_avails_cache", _Cache())


def current_indexes(session: Session) -> dict[int, AvailsIndex]:
    """Every bucket's index, rebuilding those whose version changed since last time."""
    return _snapshot(session)[0]


def _snapshot(session: Session) -> tuple[dict[int, AvailsIndex], tuple]:
    """The current indexes and the versions they were built at."""
    cache = _cache()
    rows = session.execute(select(LicensingCounter.name, LicensingCounter.value)
                           .where(LicensingCounter.name.like(f"{PREFIX}%"))).all()
    versions = {int(name[len(PREFIX):]): value for name, value in rows}
    with cache.lock:
        stale = [b for b, v in versions.items() if cache.versions.get(b) != v]
        for bucket in list(cache.indexes):
            if bucket not in versions:
                del cache.indexes[bucket]
                cache.versions.pop(bucket, None)
        for bucket in stale:
            # Not strict: one inconsistent grant must not take the catalog search down.
            cache.indexes[bucket] = AvailsIndex.build(
                (to_domain(g) for g in _bucket_rows(session, bucket)), strict=False)
            cache.versions[bucket] = versions[bucket]
            cache.rebuilds += 1
        return dict(cache.indexes), tuple(sorted(cache.versions.items()))


_JSON_COLUMNS = ("media", "territories", "territories_excluded", "languages", "holdbacks")


@lru_cache(maxsize=65536)
def _json(text: str):
    # Grants repeat the same few values (["SVOD"], ["001"], []): decode each once.
    return json.loads(text)


def _bucket_rows(session: Session, bucket: int) -> list[SimpleNamespace]:
    """A bucket's grants as plain rows (thousands of ORM objects would cost more)."""
    table = RightsGrant.__table__
    columns = [type_coerce(c, String).label(c.name) if c.name in _JSON_COLUMNS else c
               for c in table.c]
    low = bucket * BUCKET_SIZE
    rows = session.execute(select(*columns).where(
        table.c.title_id >= low, table.c.title_id < low + BUCKET_SIZE))
    out = []
    for row in rows:
        values = row._asdict()
        for name in _JSON_COLUMNS:
            value = values[name]
            values[name] = _json(value) if isinstance(value, str) else value
        out.append(SimpleNamespace(**values))
    return out


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
    for _bucket, index in sorted(indexes.items()):
        out.extend(int(t) for t in index.free_titles(request, as_of,
                                                     allow_contested=allow_contested))
    with cache.lock:
        cache.answers[key] = tuple(out)
        while len(cache.answers) > ANSWERS_KEPT:
            cache.answers.popitem(last=False)
    return out


def id_filter(session: Session, column, ids: Iterable[int]):
    """``column IN ids`` for thousands of ids: one bound parameter (a JSON array on
    SQLite, an array on PostgreSQL) instead of one per id."""
    ids = [int(i) for i in ids]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY
        from sqlalchemy.types import Integer

        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    from sqlalchemy import func

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


FLUSHED = "licensing_flushed"


def install_session_hooks() -> None:
    """After each flush that touched grants: bump their buckets' versions and drop the
    request's per-title grant cache. Also remember whether the transaction has written
    anything yet (see ``services._lock_title``)."""

    @event.listens_for(Session, "after_transaction_end")
    def _forget_writes(session: Session, transaction) -> None:
        if transaction.parent is None:
            session.info.pop(FLUSHED, None)

    @event.listens_for(Session, "after_flush")
    def _grants_changed(session: Session, _context) -> None:
        session.info[FLUSHED] = True
        buckets = {bucket_of(obj.title_id)
                   for obj in (*session.new, *session.dirty, *session.deleted)
                   if isinstance(obj, RightsGrant) and obj.title_id is not None}
        if not buckets:
            return
        bump_versions(session, buckets)
        from licensing.services import forget_cached_grants

        forget_cached_grants()
