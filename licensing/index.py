"""The catalog-wide avails index, cached per process and kept current by versions.

Titles are grouped into buckets of consecutive ids. Every flush that adds, changes or
removes a grant gives its bucket a new version (a ``licensing_counter`` row, in the same
transaction as the change), and every search reads the versions first: one small query.
A process rebuilds only the buckets whose version moved, so a signed deal costs one
bucket's rebuild, not the catalog's. Versions are read before the grants, so a cached
bucket may be newer than its recorded version but never older.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from licensing.domain import Answer, AvailsIndex, AvailsRequest
from licensing.models import LicensingCounter, RightsGrant, to_domain

BUCKET_SIZE = 256
PREFIX = "avails:"


def bucket_of(title_id: int) -> int:
    return title_id // BUCKET_SIZE


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    versions: dict[int, int] = field(default_factory=dict)
    indexes: dict[int, AvailsIndex] = field(default_factory=dict)
    rebuilds: int = 0  # buckets compiled since start (tests and the benchmark read it)


def _cache() -> _Cache:
    return current_app.extensions.setdefault("licensing_avails_cache", _Cache())


def current_indexes(session: Session) -> dict[int, AvailsIndex]:
    """Every bucket's index, rebuilding those whose version changed since last time."""
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
            low = bucket * BUCKET_SIZE
            grants = session.scalars(select(RightsGrant).where(
                RightsGrant.title_id >= low, RightsGrant.title_id < low + BUCKET_SIZE)).all()
            # Not strict: one inconsistent grant must not take the catalog search down.
            cache.indexes[bucket] = AvailsIndex.build((to_domain(g) for g in grants),
                                                      strict=False)
            cache.versions[bucket] = versions[bucket]
            cache.rebuilds += 1
        return dict(cache.indexes)


def free_title_ids(session: Session, request: AvailsRequest, as_of: date, *,
                   allow_contested: bool = False) -> list[int]:
    """Titles (any status) on which the whole request is free, sorted by id."""
    out: list[int] = []
    for _bucket, index in sorted(current_indexes(session).items()):
        out.extend(int(t) for t in index.free_titles(request, as_of,
                                                     allow_contested=allow_contested))
    return out


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
