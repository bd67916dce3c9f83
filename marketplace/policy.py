"""Who may do what, in one place: sign-in, API tokens, CSRF, roles and organization scope.

Views and API endpoints declare what they need with these decorators and load
organization-owned rows with ``owned_or_404``; nothing else checks access.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from marketplace.api import is_api_request, problem
from marketplace.extensions import csrf, db, login
from marketplace.i18n import _l


def init_app(app: Flask) -> None:
    login.init_app(app)
    csrf.init_app(app)
    login.login_view = "accounts.login"
    login.login_message = _l("Please sign in to see this page.")
    login.session_protection = "basic"

    @login.user_loader
    def load_user(session_id: str):
        from marketplace.accounts.models import User

        user_id, _sep, version = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        # A changed password or "sign out everywhere" bumps the version: old sessions end.
        if user is None or str(user.session_version) != version:
            return None
        return user

    @login.request_loader
    def load_user_from_token(req):
        if not req.path.startswith("/api/"):
            return None
        header = req.headers.get("Authorization", "")
        scheme, _sep, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw:
            return None
        from marketplace.accounts.services import user_for_token

        return user_for_token(raw.strip())

    @login.unauthorized_handler
    def unauthorized():
        if is_api_request():
            return problem(401, "Unauthorized",
                           "Send a valid API token: Authorization: Bearer <token>.")
        flash(login.login_message, "info")
        return redirect(url_for("accounts.login", next=request.full_path))

    @app.before_request
    def check_csrf():
        # Every state-changing request needs the token, except bearer-token API calls:
        # they carry no cookie, so a third-party site cannot forge them.
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return None
        if request.method not in app.config.get("WTF_CSRF_METHODS",
                                                 {"POST", "PUT", "PATCH", "DELETE"}):
            return None
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        if is_api_request():
            return problem(400, "Bad Request", f"CSRF check failed: {error.description}")
        flash(_l("The form had expired or was not sent from this site. "
                 "Nothing was saved; please submit it again."), "error")
        return redirect(request.referrer or url_for("marketplace.index")), 303


def _deny():
    if not current_user.is_authenticated:
        from marketplace.extensions import login as lm

        return lm.unauthorized()
    abort(403)


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _deny()
        return view(*args, **kwargs)

    return wrapper


def org_kind_required(*kinds: str) -> Callable:
    """Only users of organizations of these kinds (admins always pass)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return _deny()
            if not (current_user.is_admin or current_user.organization.kind in kinds):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def verified_required(view: Callable) -> Callable:
    """Acting (offers, screeners, …) needs a verified organization; browsing does not."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _deny()
        if not (current_user.is_admin or current_user.organization.is_verified):
            abort(403, description=str(_l(
                "Your organization must be verified by the platform team first.")))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _deny()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def owner_required(view: Callable) -> Callable:
    """Organization owners manage members and tokens."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _deny()
        if current_user.org_role != "owner" and not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def owned_or_404(model, ident, *org_columns: str):
    """The row if the current organization is one of its parties, else 404.

    Never 403: another organization's row must not even be known to exist.
    ``org_columns`` name the columns holding owner organization ids
    (default ``organization_id``); admins see everything.
    """
    columns = org_columns or ("organization_id",)
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    if current_user.is_authenticated and current_user.is_admin:
        return row
    org_id = current_user.organization_id if current_user.is_authenticated else None
    if org_id is None or all(getattr(row, c) != org_id for c in columns):
        abort(404)
    return row


def scoped(stmt, model, *org_columns: str):
    """Restrict a select to rows the current organization is a party of."""
    if current_user.is_admin:
        return stmt
    from sqlalchemy import or_

    columns = org_columns or ("organization_id",)
    return stmt.where(or_(*(getattr(model, c) == current_user.organization_id
                            for c in columns)))


__all__ = ["admin_required", "login_required", "org_kind_required", "owned_or_404",
           "owner_required", "scoped", "select", "verified_required"]
