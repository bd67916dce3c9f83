from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.i18n import _
from marketplace.notifications import Notification, notify, register_kind


def test_notifications_render_per_reader_and_stay_with_their_org(app, client, login,
                                                                  create_user, csrf_token):
    register_kind(app, "test.hello", lambda p: _("Invitation sent.") + f" {p['who']}")
    me, other = create_user(), create_user()
    notify([me.organization_id], "test.hello", {"who": "Tropico"}, link="/dashboard")
    notify([other.organization_id], "test.hello", {"who": "Secret"})
    db.session.commit()
    login(me)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Invitation sent. Tropico" in page
    assert "Secret" not in page
    assert 'class="badge badge-pending">1<' in client.get("/dashboard").get_data(as_text=True)
    mine = db.session.scalars(select(Notification).where(
        Notification.organization_id == me.organization_id)).one()
    theirs = db.session.scalars(select(Notification).where(
        Notification.organization_id == other.organization_id)).one()
    token = csrf_token("/notifications")
    assert client.post(f"/notifications/{theirs.id}/open",
                       data={"csrf_token": token}).status_code == 404
    resp = client.post(f"/notifications/{mine.id}/open", data={"csrf_token": token})
    assert resp.location == "/dashboard"
    assert mine.read_at is not None
    client.post("/locale", data={"locale": "zh_Hans", "csrf_token": token})
    assert "邀请已发送。 Tropico" in client.get("/notifications").get_data(as_text=True)
