"""In-app notifications for organizations: "Tropico Media countered your offer", etc.

A notification stores a *kind* and plain parameters, not text, so it is rendered in
the reader's language: each context registers a renderer per kind with
``register_kind(app, kind, render)``, where ``render(params) -> str`` uses ``_()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.policy import login_required

bp = Blueprint("notifications", __name__, template_folder="templates")
Renderer = Callable[[dict], str]


class Notification(db.Model):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


def register_kind(app: Flask, kind: str, render: Renderer) -> None:
    app.extensions.setdefault("pdx_notification_kinds", {})[kind] = render


def notify(org_ids: Iterable[int], kind: str, params: dict | None = None,
           link: str | None = None) -> None:
    """Tell these organizations something; committed with the caller's transaction."""
    for org_id in sorted({int(o) for o in org_ids if o is not None}):
        db.session.add(Notification(organization_id=org_id, kind=kind, params=params or {},
                                    link=link))


def render(note: Notification) -> str:
    renderer = current_app.extensions.get("pdx_notification_kinds", {}).get(note.kind)
    if renderer is None:
        return note.kind
    try:
        return renderer(note.params or {})
    except (KeyError, TypeError, ValueError):
        return note.kind  # an old notification whose parameters changed shape


def unread_count(org_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.organization_id == org_id, Notification.read_at.is_(None))) or 0


@bp.get("/notifications")
@login_required
def index():
    notes = db.session.scalars(
        select(Notification).where(Notification.organization_id == current_user.organization_id)
        .order_by(Notification.id.desc()).limit(100)).all()
    return render_template("notifications.html", notes=notes, render=render)


@bp.post("/notifications/<int:note_id>/open")
@login_required
def open_note(note_id: int):
    note = db.session.get(Notification, note_id)
    if note is None or note.organization_id != current_user.organization_id:
        abort(404)
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    target = note.link or "/notifications"
    return redirect(target if target.startswith("/") and not target.startswith("//")
                    else "/notifications", 303)


@bp.post("/notifications/read-all")
@login_required
def read_all():
    db.session.execute(update(Notification).where(
        Notification.organization_id == current_user.organization_id,
        Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    return redirect(request.referrer or "/notifications", 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def inject_unread():
        if current_user and current_user.is_authenticated:
            return {"unread_notifications": unread_count(current_user.organization_id)}
        return {"unread_notifications": 0}
