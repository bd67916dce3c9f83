"""Sign-up, sign-in, invitations, verification and preferences through the real forms."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.accounts.models import Invitation, Organization, OutboxEmail, User
from marketplace.audit import AuditEvent
from marketplace.extensions import db
from tests.fixtures.accounts import PASSWORD


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_signup_creates_pending_org_with_owner_and_sends_mail(client, csrf_token, jobs):
    resp = client.post("/signup", data={
        "org_name": "Pampas Shorts", "kind": "distributor", "country": "ar",
        "name": "Sofía", "email": "Sofia@Pampas.example", "password": "tango-2026-ok",
        "csrf_token": csrf_token("/signup")})
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "sofia@pampas.example"))
    assert user.org_role == "owner"
    assert user.organization.status == "pending"
    assert user.organization.country == "AR"
    assert jobs.names() == ["accounts.send_account_email"]
    jobs.run_all()
    mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.to == user.email))
    assert "waits for verification" in mail.body
    # signed in straight away, and the dashboard says the org is pending
    page = client.get("/dashboard").get_data(as_text=True)
    assert "waiting for verification" in page


def test_signup_duplicate_email_is_refused_and_nothing_saved(client, csrf_token, create_user):
    existing = create_user()
    orgs_before = _count(Organization)
    resp = client.post("/signup", data={
        "org_name": "Copycat", "kind": "producer", "name": "X", "email": existing.email.upper(),
        "password": "another-pass-99", "csrf_token": csrf_token("/signup")})
    assert resp.status_code == 422
    assert "already exists" in resp.get_data(as_text=True)
    assert _count(Organization) == orgs_before


def test_signup_weak_password_names_the_problem(client, csrf_token):
    for password, message in [("short1", "at least 10"), ("password123", "too common"),
                              ("onlyletterslong", "Mix letters")]:
        resp = client.post("/signup", data={
            "org_name": "Weak Co", "kind": "producer", "name": "W",
            "email": "weak@example.com", "password": password,
            "csrf_token": csrf_token("/signup")})
        assert resp.status_code == 422
        assert message in resp.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "weak@example.com")) is None


def test_missing_csrf_token_is_refused_without_saving(client):
    resp = client.post("/signup", data={"org_name": "NoToken", "kind": "producer", "name": "N",
                                        "email": "nt@example.com", "password": "good-pass-123"})
    assert resp.status_code == 303
    assert db.session.scalar(select(User).where(User.email == "nt@example.com")) is None
    flashed = client.get(resp.location).get_data(as_text=True)
    assert "Nothing was saved" in flashed


def test_login_logout(client, login, create_user, csrf_token):
    user = create_user()
    login(user)
    assert client.get("/dashboard").status_code == 200
    resp = client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})
    assert resp.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_is_throttled_after_repeated_failures(client, csrf_token, create_user):
    user = create_user()
    for _ in range(5):
        resp = client.post("/login", data={"email": user.email, "password": "wrong-wrong-1",
                                           "csrf_token": csrf_token("/login")})
        assert resp.status_code == 401
        assert "Wrong e-mail address or password" in resp.get_data(as_text=True)
    # even the right password is refused while locked
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                       "csrf_token": csrf_token("/login")})
    assert resp.status_code == 401
    assert "Too many failed sign-ins" in resp.get_data(as_text=True)


def test_changed_session_version_ends_old_sessions(client, login, create_user):
    user = create_user()
    login(user)
    user.session_version += 1  # what "sign out everywhere" and password changes do
    db.session.flush()
    assert client.get("/dashboard").status_code == 302


def test_suspended_org_cannot_sign_in(client, csrf_token, create_user):
    user = create_user(status="suspended")
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                       "csrf_token": csrf_token("/login")})
    assert resp.status_code == 401
    assert "suspended" in resp.get_data(as_text=True)


def test_open_redirect_is_refused(client, csrf_token, create_user):
    user = create_user()
    resp = client.post("/login?next=//evil.example/x", data={
        "email": user.email, "password": PASSWORD, "csrf_token": csrf_token("/login")})
    assert resp.location == "/dashboard"


def test_invite_and_accept(client, login, create_user, csrf_token, jobs):
    owner = create_user(kind="producer")
    login(owner)
    resp = client.post("/organization/invite", data={
        "email": "colleague@example.com", "csrf_token": csrf_token("/organization")})
    assert resp.status_code == 302
    page = client.get("/organization").get_data(as_text=True)
    link = page.split("<code>")[1].split("</code>")[0]
    token = link.rsplit("/", 1)[-1]
    jobs.run_all()
    mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.to == "colleague@example.com"))
    assert token in mail.body
    client.post("/logout", data={"csrf_token": csrf_token("/dashboard")})
    resp = client.post(f"/invite/{token}", data={
        "name": "Colleague", "password": "joined-2026-x", "csrf_token": csrf_token(f"/invite/{token}")})
    assert resp.status_code == 302
    colleague = db.session.scalar(select(User).where(User.email == "colleague@example.com"))
    assert colleague.organization_id == owner.organization_id
    assert colleague.org_role == "member"
    # the link works once
    assert client.get(f"/invite/{token}").status_code == 404
    inv = db.session.scalar(select(Invitation).where(Invitation.email == colleague.email))
    assert inv.accepted_at is not None


def test_member_cannot_invite_or_create_tokens(client, login, create_user, csrf_token):
    owner = create_user()
    member = create_user(owner.organization, role="member")
    login(member)
    token = csrf_token("/organization")
    assert client.post("/organization/invite", data={"email": "x@example.com",
                                                     "csrf_token": token}).status_code == 403
    assert client.post("/organization/tokens", data={"name": "t",
                                                     "csrf_token": token}).status_code == 403


def test_admin_verifies_org_and_owner_is_told(client, login, create_user, csrf_token, jobs):
    admin = create_user(kind="platform", is_admin=True)
    buyer = create_user(kind="distributor", status="pending")
    login(admin)
    page = client.get("/admin/organizations?status=pending").get_data(as_text=True)
    assert buyer.organization.name in page
    resp = client.post(f"/admin/organizations/{buyer.organization_id}/status", data={
        "status": "verified", "csrf_token": csrf_token("/admin/organizations")})
    assert resp.status_code == 302
    assert buyer.organization.status == "verified"
    assert buyer.organization.verified_at is not None
    jobs.run_all()
    mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.to == buyer.email))
    assert "verified" in mail.subject
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id == str(buyer.organization_id))).all()
    assert "organization.verified" in actions


def test_non_admin_cannot_reach_admin_pages(client, login, create_user, csrf_token):
    user = create_user()
    login(user)
    assert client.get("/admin/organizations").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    resp = client.post(f"/admin/organizations/{user.organization_id}/status",
                       data={"status": "verified", "csrf_token": csrf_token("/dashboard")})
    assert resp.status_code == 403


def test_token_revocation_of_another_org_is_404(client, login, create_user, api_token,
                                                csrf_token):
    from marketplace.accounts.models import ApiToken

    other = create_user()
    api_token(other)
    other_token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    me = create_user()
    login(me)
    resp = client.post(f"/organization/tokens/{other_token.id}/revoke",
                       data={"csrf_token": csrf_token("/organization")})
    assert resp.status_code == 404
    assert other_token.revoked_at is None


def test_preferences_validate_time_zone(client, login, create_user, csrf_token):
    user = create_user()
    login(user)
    resp = client.post("/account", data={"locale": "en", "timezone": "Mars/Olympus",
                                          "csrf_token": csrf_token("/account")})
    assert resp.status_code == 422
    assert "Unknown time zone" in resp.get_data(as_text=True)
    resp = client.post("/account", data={"locale": "zh_Hans", "timezone": "Europe/Paris",
                                         "csrf_token": csrf_token("/account")})
    assert resp.status_code == 302
    assert (user.locale, user.timezone) == ("zh_Hans", "Europe/Paris")


def test_expired_session_asks_to_sign_in_again(app, client, login, create_user):
    import time
    from datetime import timedelta

    user = create_user()
    login(user)
    assert client.get("/dashboard").status_code == 200
    lifetime = app.permanent_session_lifetime
    app.permanent_session_lifetime = timedelta(seconds=1)
    try:
        time.sleep(2.1)  # the signed cookie's timestamp is now older than its lifetime
        resp = client.get("/dashboard")
    finally:
        app.permanent_session_lifetime = lifetime
    assert resp.status_code == 302
    assert "/login" in resp.location
