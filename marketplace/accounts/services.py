"""Account operations. Services flush; the caller commits once."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
import unicodedata
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from marketplace import audit
from marketplace.accounts.models import (
    ApiToken,
    Invitation,
    LoginAttempt,
    Organization,
    OrgKind,
    OrgRole,
    OrgStatus,
    User,
)
from marketplace.db import begin_write, utcnow
from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.jobs import enqueue

log = logging.getLogger(__name__)

_hasher = PasswordHasher()  # Argon2id with the library's current parameters
TOKEN_PREFIX = "pdx_"
SIGNUP_KINDS = (OrgKind.PRODUCER, OrgKind.DISTRIBUTOR, OrgKind.FESTIVAL)
COMMON_PASSWORDS = {"password", "password1", "password123", "12345678", "123456789",
                    "1234567890", "qwertyuiop", "iloveyou", "admin12345", "letmein123"}


class AccountError(ValueError):
    """A request the caller can fix; ``field`` names what to fix."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class LoginThrottled(AccountError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str, email: str = "") -> None:
    if len(password) < 10:
        raise AccountError(_("Use at least 10 characters for the password."), "password")
    if password.lower() in COMMON_PASSWORDS or (email and password.lower() == email.lower()):
        raise AccountError(_("This password is too common; choose another."), "password")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"[^A-Za-z]", password)):
        raise AccountError(_("Mix letters with digits or symbols in the password."), "password")


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(_("This is not a valid e-mail address: %(reason)s", reason=str(exc)),
                           "email") from exc


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
    return slug or "org"


def _unique_slug(name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while db.session.scalar(select(Organization.id).where(Organization.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _ensure_email_free(email: str) -> None:
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError(_("An account with this e-mail address already exists."), "email")


def sign_up(*, org_name: str, kind: str, country: str | None, name: str, email: str,
            password: str) -> User:
    """A new organization (pending verification) with its first user as owner."""
    if kind not in SIGNUP_KINDS:
        raise AccountError(_("Choose producer, distributor or festival organizer."), "kind")
    if not org_name.strip():
        raise AccountError(_("Enter the organization's name."), "org_name")
    email = normalize_email(email)
    _ensure_email_free(email)
    check_password_strength(password, email)
    org = Organization(name=org_name.strip(), slug=_unique_slug(org_name), kind=kind,
                       country=(country or "").upper() or None, status=OrgStatus.PENDING)
    user = User(email=email, name=name.strip() or email, password_hash=hash_password(password),
                organization=org, org_role=OrgRole.OWNER)
    db.session.add_all([org, user])
    db.session.flush()
    audit.record("organization.signed_up", "organization", org.id, parties=[org.id],
                 actor=user, changes={"kind": kind})
    from marketplace.accounts.tasks import send_account_email

    enqueue(send_account_email, "signup_received", user.id)
    return user


def create_user(org: Organization, *, email: str, name: str, password: str,
                role: str = OrgRole.MEMBER, is_admin: bool = False) -> User:
    email = normalize_email(email)
    _ensure_email_free(email)
    check_password_strength(password, email)
    user = User(email=email, name=name, password_hash=hash_password(password),
                organization=org, org_role=role, is_admin=is_admin)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str, ip: str | None) -> User:
    """The user for these credentials, or an error; failures are counted and throttled."""
    email = (email or "").strip().lower()
    cfg = current_app.config
    window = utcnow() - timedelta(minutes=cfg["PDX_LOGIN_LOCK_MINUTES"])
    failures = db.session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.email == email, LoginAttempt.success.is_(False),
            LoginAttempt.at >= window))
    if failures >= cfg["PDX_LOGIN_MAX_FAILURES"]:
        raise LoginThrottled(_("Too many failed sign-ins. Try again in %(minutes)d minutes.",
                               minutes=cfg["PDX_LOGIN_LOCK_MINUTES"]))
    user = db.session.scalar(select(User).where(User.email == email))
    ok = False
    if user is not None:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # spend the same time whether or not the account exists
    db.session.add(LoginAttempt(email=email, ip=ip, success=ok))
    if not ok:
        raise AccountError(_("Wrong e-mail address or password."), "password")
    if not user.is_active:
        raise AccountError(_("This account or its organization is suspended."), "email")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def _token_hash(raw: str) -> str:
    # Tokens are 32 random bytes: a fast hash is enough, no KDF needed.
    return hashlib.sha256(raw.encode()).hexdigest()


def invite(org: Organization, email: str, by: User) -> tuple[Invitation, str]:
    email = normalize_email(email)
    _ensure_email_free(email)
    raw = secrets.token_urlsafe(24)
    inv = Invitation(organization=org, email=email, token_hash=_token_hash(raw),
                     invited_by_id=by.id, expires_at=utcnow() + timedelta(days=7))
    db.session.add(inv)
    db.session.flush()
    audit.record("organization.invited", "organization", org.id, parties=[org.id],
                 changes={"email": email})
    from marketplace.accounts.tasks import send_invitation_email

    enqueue(send_invitation_email, inv.id, raw)
    return inv, raw


def find_invitation(raw: str) -> Invitation | None:
    inv = db.session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(raw)))
    if inv is None or inv.accepted_at is not None or inv.expires_at < utcnow():
        return None
    return inv


def accept_invitation(raw: str, *, name: str, password: str) -> User:
    inv = find_invitation(raw)
    if inv is None:
        raise AccountError(_("This invitation is invalid or has expired. Ask for a new one."))
    user = create_user(inv.organization, email=inv.email, name=name, password=password)
    inv.accepted_at = utcnow()
    return user


def set_org_status(org: Organization, status: str, by: User, note: str | None = None) -> None:
    if status not in OrgStatus.__members__.values():
        raise AccountError(_("Unknown status."), "status")
    previous = org.status
    if previous == status:
        return
    org.status = status
    org.status_note = note
    token_cache.forget(org_id=org.id)
    if status == OrgStatus.VERIFIED:
        org.verified_at = utcnow()
    audit.record(f"organization.{status}", "organization", org.id, parties=[org.id], actor=by,
                 changes={"status": [previous, status], "note": note})
    from marketplace.accounts.tasks import send_account_email

    owner = next((u for u in org.users if u.org_role == OrgRole.OWNER), None)
    if owner is not None:
        enqueue(send_account_email, f"org_{status}", owner.id)


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and only its hash is kept."""
    if not name.strip():
        raise AccountError(_("Give the token a name."), "name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(organization_id=user.organization_id, user_id=user.id, name=name.strip(),
                     prefix=raw[:10], token_hash=_token_hash(raw))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.created", "organization", user.organization_id,
                 parties=[user.organization_id], actor=user, changes={"name": name})
    return token, raw


def revoke_api_token(token: ApiToken, by: User) -> None:
    token_cache.forget(token_id=token.id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token.revoked", "organization", token.organization_id,
                     parties=[token.organization_id], actor=by, changes={"name": token.name})


class _TokenCache:
    """Recently verified tokens, per process, so API reads skip the token query.

    Entries are detached users (with their organization loaded) that each request merges
    into its own session without a query. They live ``PDX_TOKEN_CACHE_SECONDS`` (10 by
    default): a revoked token or a suspended organization is refused at once by the
    process that made the change, and by the others within that time.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, User, int]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> User | None:
        with self._lock:
            hit = self._entries.get(digest)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, digest: str, user: User, token_id: int, ttl: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + ttl, user, token_id)

    def forget(self, *, token_id: int | None = None, org_id: int | None = None) -> None:
        with self._lock:
            for digest, (_exp, user, tid) in list(self._entries.items()):
                if tid == token_id or user.organization_id == org_id:
                    del self._entries[digest]


token_cache = _TokenCache()


def user_for_token(raw: str) -> User | None:
    """The active user behind a bearer token; None for anything else."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    digest = _token_hash(raw)
    cached = token_cache.get(digest)
    if cached is not None:
        return db.session.merge(cached, load=False)
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest)
        .options(joinedload(ApiToken.user).joinedload(User.organization)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    now = utcnow()
    # A minute is precise enough for "last used", and it keeps API reads from writing.
    # When we do write, it is a transaction of its own, committed at once: this runs
    # before the view does anything, and a stamp left pending would hold SQLite's write
    # lock for the whole request (and be rolled back with a read-only request anyway).
    # The stamp is bookkeeping: if SQLite's write lock stays taken it is skipped, and the
    # next call a minute on stamps again; the call itself must not fail for it.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        try:
            begin_write(db.session())
            db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
            db.session.commit()
        except OperationalError:
            db.session.rollback()
            token = db.session.get(ApiToken, token.id)  # read again for the request
            log.info("API token %s: last-used stamp skipped, the database was busy", token.id)
    ttl = current_app.config["PDX_TOKEN_CACHE_SECONDS"]
    if ttl > 0:
        user = token.user
        _ = user.organization.status  # loaded now, so the cached copy needs no session
        token_cache.put(digest, _detached_copy(user), token.id, ttl)
    return token.user


def _detached_copy(user: User) -> User:
    """A clean copy of the user and its organization that belongs to no session."""
    from sqlalchemy.orm import make_transient_to_detached
    from sqlalchemy.orm.attributes import set_committed_value

    def copy(obj, cls):
        clone = cls()
        for column in cls.__table__.c:
            set_committed_value(clone, column.key, getattr(obj, column.key))
        make_transient_to_detached(clone)
        return clone

    user_copy = copy(user, User)
    set_committed_value(user_copy, "organization", copy(user.organization, Organization))
    return user_copy


def update_preferences(user: User, *, locale: str | None, timezone: str | None) -> None:
    from babel.dates import get_timezone

    from marketplace.i18n import LOCALES

    if locale and locale not in LOCALES:
        raise AccountError(_("Unknown language."), "locale")
    if timezone:
        try:
            get_timezone(timezone)
        except LookupError as exc:
            raise AccountError(_("Unknown time zone."), "timezone") from exc
    user.locale = locale or None
    user.timezone = timezone or None
