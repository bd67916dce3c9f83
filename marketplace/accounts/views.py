from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from marketplace.accounts import services
from marketplace.accounts.forms import (
    AcceptInviteForm,
    EmptyForm,
    InviteForm,
    LoginForm,
    PreferencesForm,
    SignupForm,
    TokenForm,
)
from marketplace.accounts.models import ApiToken, Organization, OrgStatus, OutboxEmail
from marketplace.audit import AuditEvent
from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.policy import admin_required, login_required, owned_or_404, owner_required

bp = Blueprint("accounts", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("marketplace.dashboard")


def _form_error(form, exc: services.AccountError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    else:
        flash(str(exc), "error")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data,
                                         request.remote_addr)
        except services.AccountError as exc:
            db.session.commit()  # the failed attempt counts towards throttling
            _form_error(form, exc)
            return render_template("accounts/login.html", form=form), 401
        session.permanent = True
        if user.locale:
            session["locale"] = user.locale
        login_user(user)
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    session.pop("locale", None)
    flash(_("You are signed out."), "info")
    return redirect(url_for("marketplace.index"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.sign_up(org_name=form.org_name.data, kind=form.kind.data,
                                    country=form.country.data, name=form.name.data,
                                    email=form.email.data, password=form.password.data)
        except services.AccountError as exc:
            db.session.rollback()
            _form_error(form, exc)
            return render_template("accounts/signup.html", form=form), 422
        db.session.commit()
        login_user(user)
        flash(_("Welcome! Your organization waits for verification; you can browse meanwhile."),
              "success")
        return redirect(url_for("marketplace.dashboard"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/signup.html", form=form), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    inv = services.find_invitation(token)
    if inv is None:
        abort(404, description=_("This invitation is invalid or has expired. Ask for a new one."))
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(token, name=form.name.data,
                                              password=form.password.data)
        except services.AccountError as exc:
            db.session.rollback()
            _form_error(form, exc)
            return render_template("accounts/accept_invite.html", form=form, inv=inv), 422
        db.session.commit()
        login_user(user)
        return redirect(url_for("marketplace.dashboard"))
    return render_template("accounts/accept_invite.html", form=form, inv=inv)


@bp.get("/organization")
@login_required
def organization():
    org = current_user.organization
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.organization_id == org.id)
                                .order_by(ApiToken.created_at.desc())).all()
    return render_template("accounts/organization.html", org=org, tokens=tokens,
                           invite_form=InviteForm(), token_form=TokenForm(),
                           empty_form=EmptyForm(), new_token=session.pop("new_token", None),
                           invite_link=session.pop("invite_link", None))


@bp.post("/organization/invite")
@owner_required
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        flash(_("Enter a valid e-mail address."), "error")
        return redirect(url_for(".organization"))
    try:
        _inv, raw = services.invite(current_user.organization, form.email.data, current_user)
    except services.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".organization"))
    db.session.commit()
    session["invite_link"] = url_for(".accept_invite", token=raw, _external=True)
    flash(_("Invitation sent."), "success")
    return redirect(url_for(".organization"))


@bp.post("/organization/tokens")
@owner_required
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("Give the token a name."), "error")
        return redirect(url_for(".organization"))
    _token, raw = services.create_api_token(current_user, form.name.data)
    db.session.commit()
    session["new_token"] = raw  # shown once on the next page, never stored in clear
    return redirect(url_for(".organization"))


@bp.post("/organization/tokens/<int:token_id>/revoke")
@owner_required
def revoke_token(token_id: int):
    token = owned_or_404(ApiToken, token_id)
    services.revoke_api_token(token, current_user)
    db.session.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for(".organization"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm(obj=current_user)
    if form.validate_on_submit():
        try:
            services.update_preferences(current_user, locale=form.locale.data,
                                        timezone=form.timezone.data)
        except services.AccountError as exc:
            db.session.rollback()
            _form_error(form, exc)
            return render_template("accounts/preferences.html", form=form), 422
        session["locale"] = form.locale.data
        db.session.commit()
        flash(_("Preferences saved."), "success")
        return redirect(url_for(".preferences"))
    return render_template("accounts/preferences.html", form=form)


@bp.get("/admin/organizations")
@admin_required
def admin_orgs():
    status = request.args.get("status")
    stmt = select(Organization).order_by(Organization.created_at.desc())
    if status in OrgStatus.__members__.values():
        stmt = stmt.where(Organization.status == status)
    orgs = db.session.scalars(stmt).all()
    return render_template("accounts/admin_orgs.html", orgs=orgs, status=status,
                           form=EmptyForm())


@bp.post("/admin/organizations/<int:org_id>/status")
@admin_required
def admin_set_status(org_id: int):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    org = db.session.get(Organization, org_id) or abort(404)
    try:
        services.set_org_status(org, request.form.get("status", ""), current_user,
                                request.form.get("note") or None)
    except services.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".admin_orgs"))
    db.session.commit()
    flash(_("%(org)s is now %(status)s.", org=org.name, status=org.status), "success")
    return redirect(url_for(".admin_orgs"))


@bp.get("/admin/audit")
@admin_required
def admin_audit():
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200))
    return render_template("accounts/admin_audit.html", events=events)


@bp.get("/admin/outbox")
@admin_required
def admin_outbox():
    mails = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(100))
    return render_template("accounts/admin_outbox.html", mails=mails)
