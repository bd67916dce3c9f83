from __future__ import annotations

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.markets.models import MarketEvent


def _form(csrf, **over):
    data = {"series": "mipcom", "year": "2031", "city": "Cannes", "country": "fr",
            "starts_on": "2031-10-13", "ends_on": "2031-10-16", "csrf_token": csrf}
    data.update(over)
    return data


def test_festival_staff_create_a_market(client, login, create_user, csrf_token):
    staff = create_user(kind="festival")
    login(staff)
    resp = client.post("/markets/new", data=_form(csrf_token("/markets/new")))
    assert resp.status_code == 302
    event = db.session.scalar(select(MarketEvent).where(MarketEvent.code == "MIPCOM-2031"))
    assert (event.country, event.organizer_id) == ("FR", staff.organization_id)
    assert "MIPCOM 2031" in client.get("/markets").get_data(as_text=True)


def test_market_dates_in_order_and_unique(client, login, create_user, csrf_token):
    login(create_user(kind="festival"))
    resp = client.post("/markets/new", data=_form(csrf_token("/markets/new"),
                                                  ends_on="2031-10-01"))
    assert resp.status_code == 422
    assert "cannot end before it starts" in resp.get_data(as_text=True)
    assert client.post("/markets/new", data=_form(csrf_token("/markets/new"))).status_code == 302
    resp = client.post("/markets/new", data=_form(csrf_token("/markets/new")))
    assert resp.status_code == 422
    assert "already exists" in resp.get_data(as_text=True)


def test_buyers_and_producers_cannot_create_markets(client, login, create_user, csrf_token):
    for kind in ("distributor", "producer"):
        c = client
        login(create_user(kind=kind))
        assert c.get("/markets").status_code == 200
        assert c.post("/markets/new", data=_form(csrf_token("/markets"))).status_code == 403


def test_markets_api(api, create_user, app):
    app.test_cli_runner().invoke(args=["demo"])
    body = api(create_user()).get("/api/v1/markets").get_json()
    assert {"MIPCOM-2026", "ATF-2026", "FILMART-2026", "STVF-2026", "MIPTV-2026"} <= {
        e["code"] for e in body}
