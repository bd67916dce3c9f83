"""The append-only audit log: who did what, when, to which object, seen by which parties."""

from __future__ import annotations

from datetime import datetime

from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, String, event, select
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import utcnow
from marketplace.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(50))
    # The organizations allowed to read this entry (both parties of a deal, say).
    party_org_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError("audit events are append-only")


def record(action: str, obj_type: str, obj_id, *, parties=(), changes=None,
           actor=None) -> AuditEvent:
    """Append an audit event; the caller's transaction commits it with the change itself."""
    user = actor if actor is not None else (
        current_user._get_current_object() if current_user and current_user.is_authenticated
        else None)
    entry = AuditEvent(
        actor_user_id=user.id if user else None,
        actor_org_id=user.organization_id if user else None,
        action=action, object_type=obj_type, object_id=str(obj_id),
        party_org_ids=sorted({int(p) for p in parties if p is not None}),
        changes=changes or {},
    )
    db.session.add(entry)
    return entry


def events_for(obj_type: str, obj_id, org_id: int | None, *, admin: bool = False):
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == obj_type,
                                 AuditEvent.object_id == str(obj_id))
        .order_by(AuditEvent.at, AuditEvent.id)).all()
    return [r for r in rows if admin or (org_id in (r.party_org_ids or []))]
