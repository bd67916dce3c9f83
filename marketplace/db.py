"""The declarative base every context's models share, and the column types they agree on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.orm import DeclarativeBase, Session, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values) -> str:
    """The SQL of a check constraint keeping ``column`` within ``values`` (an enum's)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


#: ``session.info`` key: the session's transaction has flushed changes
WROTE = "pdx_wrote"


def begin_write(session) -> None:
    """Start, in ``session``, a transaction that reads and then writes: call it before
    the reads. On SQLite it begins holding the write lock (BEGIN IMMEDIATE). Begun as a
    plain read, its first write would fail at once ("database is locked"; no busy
    timeout helps) whenever another process wrote after it read: a worker's progress
    beat, the other worker, another request. The transaction so far, which must only
    have read, ends, so everything is read afresh; one that has already written holds
    the lock since its first write and goes on. PostgreSQL needs nothing: its row
    locks and ``with_for_update`` do this work."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("take the write lock before changing anything")
    if session.info.get(WROTE):
        return
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@event.listens_for(Session, "after_flush")
def _wrote(session: Session, _context) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(WROTE, None)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones and hands back naive values; we store UTC and
    attach the zone again on the way out, so comparisons never mix the two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # Every ``Mapped[datetime]`` is a UTCDateTime; constraints get predictable names.
    registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                        type_annotation_map={datetime: UTCDateTime()})
