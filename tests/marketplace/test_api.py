"""The JSON API shell: tokens, problem details, OpenAPI, organization scope."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.models import ApiToken
from marketplace.extensions import db


def test_openapi_document_lists_the_api(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/me" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_me_with_token(api, create_user):
    user = create_user(kind="producer")
    resp = api(user).get("/api/v1/me")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["email"] == user.email
    assert body["organization"]["kind"] == "producer"


def test_no_token_is_401_problem(client):
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["title"] == "Unauthorized"


def test_bad_and_revoked_tokens_are_401(client, api, create_user, api_token):
    user = create_user()
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer pdx_nope"}).status_code == 401
    raw = api_token(user)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert client.delete(f"/api/v1/tokens/{token.id}", headers=headers).status_code == 204
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"


def test_token_of_suspended_org_is_401(client, create_user, api_token):
    user = create_user()
    raw = api_token(user)
    user.organization.status = "suspended"
    db.session.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_other_organization_is_404_not_403(api, create_user):
    me, other = create_user(), create_user()
    assert api(me).get(f"/api/v1/organizations/{me.organization_id}").status_code == 200
    resp = api(me).get(f"/api/v1/organizations/{other.organization_id}")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    assert api(me).get("/api/v1/organizations/999999").status_code == 404


def test_token_created_over_api_is_shown_once_and_stored_hashed(api, create_user):
    user = create_user()
    resp = api(user).post("/api/v1/tokens", json={"name": "ingest bot"})
    assert resp.status_code == 201
    raw = resp.get_json()["token"]
    stored = db.session.scalar(select(ApiToken).where(ApiToken.name == "ingest bot"))
    assert raw not in (stored.token_hash, stored.prefix)
    listed = api(user).get("/api/v1/tokens").get_json()
    assert all("token" not in t for t in listed)


def test_malformed_json_is_400(api, create_user):
    user = create_user()
    resp = api(user).post("/api/v1/tokens", data="{name: oops",
                          headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
    assert "not valid JSON" in resp.get_json()["detail"]


def test_missing_field_is_400_naming_the_field(api, create_user):
    user = create_user()
    resp = api(user).post("/api/v1/tokens", json={"nmae": "typo"})
    assert resp.status_code == 400
    body = resp.get_json()
    fields = {e["field"] for e in body["errors"]}
    assert "name" in fields
    assert "name" in body["detail"]
    names = db.session.scalars(select(ApiToken.name).where(ApiToken.user_id == user.id)).all()
    assert names == ["test"]  # only the caller's own token; nothing half-created


def test_member_cannot_manage_tokens_over_api(api, create_user):
    owner = create_user()
    member = create_user(owner.organization, role="member")
    assert api(member).post("/api/v1/tokens", json={"name": "x"}).status_code == 403


def test_unknown_api_path_is_problem_json(client):
    resp = client.get("/api/v1/does-not-exist")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"


def test_session_cookie_api_write_needs_csrf(client, login, create_user):
    user = create_user()
    login(user)
    resp = client.post("/api/v1/tokens", json={"name": "from browser"})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_json()["detail"]


def test_cached_token_is_forgotten_on_suspension(client, create_user, api_token):
    from marketplace.accounts import services

    admin = create_user(kind="platform", is_admin=True)
    user = create_user()
    raw = api_token(user)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # verified, cached
    assert client.get("/api/v1/me", headers=headers).get_json()["email"] == user.email
    services.set_org_status(user.organization, "suspended", admin)
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
