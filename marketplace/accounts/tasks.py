"""Account mail, written to the outbox. Thin: reload by id, do nothing if it is gone."""

from __future__ import annotations

from celery import shared_task
from flask import current_app
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import Invitation, OutboxEmail, User
from marketplace.extensions import db
from marketplace.i18n import _


def _messages(kind: str, user: User) -> tuple[str, str] | None:
    org = user.organization.name
    base = current_app.config["PDX_BASE_URL"]
    return {
        "signup_received": (
            _("Welcome to the Pudong Drama Exchange"),
            _("%(org)s is registered and waits for verification by the platform team. "
              "You can browse the catalog meanwhile.", org=org)),
        "org_verified": (
            _("%(org)s is verified", org=org),
            _("Your organization is verified. You can now use every part of the exchange: "
              "%(url)s", url=base)),
        "org_suspended": (
            _("%(org)s is suspended", org=org),
            _("Your organization was suspended by the platform team. Reply to this message "
              "to ask why.")),
        "org_pending": (
            _("%(org)s is under review again", org=org),
            _("Your organization's verification is under review again.")),
    }.get(kind)


def _write(to: str, subject: str, body: str, kind: str, dedupe_key: str) -> bool:
    try:
        with db.session.begin_nested():
            db.session.add(OutboxEmail(to=to, subject=subject, body=body, kind=kind,
                                       dedupe_key=dedupe_key))
    except IntegrityError:
        return False  # already written by an earlier delivery of this task
    db.session.commit()
    return True


@shared_task(name="accounts.send_account_email")
def send_account_email(kind: str, user_id: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None:
        return False
    with force_locale(user.locale or "en"):
        message = _messages(kind, user)
    if message is None:
        return False
    subject, body = message
    stamp = user.organization.verified_at.isoformat() if kind == "org_verified" and \
        user.organization.verified_at else ""
    return _write(user.email, subject, body, kind, f"{kind}:{user_id}:{stamp}"[:120])


@shared_task(name="accounts.send_invitation_email")
def send_invitation_email(invitation_id: int, raw_token: str) -> bool:
    inv = db.session.get(Invitation, invitation_id)
    if inv is None:
        return False
    link = f"{current_app.config['PDX_BASE_URL']}/invite/{raw_token}"
    subject = _("You are invited to join %(org)s", org=inv.organization.name)
    body = _("Accept the invitation within 7 days: %(link)s", link=link)
    return _write(inv.email, subject, body, "invitation", f"invitation:{invitation_id}")
