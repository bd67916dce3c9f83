"""The licensing pages as buyers and producers use them: the issue's "done when" story,
bad input, and who may see what."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from licensing import ema, services
from licensing.grid import COLOURS
from licensing.models import Deal, Offer, RightsGrant
from marketplace.extensions import db
from tests.fixtures.licensing import day

SVOD_COLUMN = 2  # FREE_TV, PAY_TV, SVOD, … (reference.MEDIA_LEAVES)


def _form(**changes) -> dict:
    data = {
        "media": ["SVOD"], "territories": ["BR"], "languages": "pt:subtitle",
        "term.start": day(30).isoformat(), "term.end": day(30 + 3 * 365).isoformat(),
        "exclusive": "1", "fee.model": "flat", "fee.currency": "USD",
        "fee.flat_fee": "50000", "instalments[0].percent": "30",
        "instalments[0].trigger": "on_signature", "instalments[1].percent": "70",
        "instalments[1].trigger": "on_delivery_acceptance", "expires_on": day(14).isoformat(),
        "message": "For our Brazilian SVOD launch",
    }
    data.update(changes)
    return data


def _sign_in(login, csrf_token, user) -> str:
    login(user)
    return csrf_token("/dashboard")


def _cell_colour(svg: str, country: str, column: int) -> str:
    row = re.search(rf'<g class="row row-country" data-code="{country}">(.*?)</g>\s*</g>\s*'
                    rf'(?:<g|<text|<line)', svg, re.S)
    assert row, f"no row for {country}"
    cells = re.findall(r'<g class="cell">(.*?)</g>', row.group(0), re.S)
    fills = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="14" '
                       r'fill="(#[0-9a-f]+)"', cells[column])
    assert len(fills) == 1, cells[column]
    return fills[0]


def _grid(client, title_id: int) -> str:
    page = client.get(f"/avails/titles/{title_id}?expand=005&from={day(30).isoformat()}"
                      f"&to={day(400).isoformat()}&exclusive=1")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_done_when_story_in_the_browser(client, login, csrf_token, world):
    title = world.title
    # A buyer finds what is free for its territory.
    token = _sign_in(login, csrf_token, world.buyer_a)
    search = client.get(f"/avails?territory=BR&media=SVOD&from={day(30).isoformat()}"
                        f"&to={day(1000).isoformat()}&exclusive=1&rights_language=pt:subtitle")
    html = search.get_data(as_text=True)
    assert search.status_code == 200
    assert f'data-testid="result-{title.id}"' in html
    assert 'data-status="free"' in html
    assert _cell_colour(_grid(client, title.id), "BR", SVOD_COLUMN) == COLOURS["free"]

    # It asks the producer a question, then offers.
    asked = client.post(f"/inquiries/new?title={title.id}", data={
        "csrf_token": token, "subject": "Brazil", "body": "Is Portuguese ready?"})
    assert asked.status_code == 303
    inquiry_url = asked.headers["Location"]
    sent = client.post(f"/offers/new?title={title.id}", data={**_form(), "csrf_token": token})
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    offer_url = sent.headers["Location"]
    offer = db.session.get(Offer, int(offer_url.rsplit("/", 1)[1]))
    assert offer.round.flat_fee_minor == 5_000_000

    # The producer sees both, answers and counters.
    token = _sign_in(login, csrf_token, world.producer)
    assert "Is Portuguese ready?" in client.get(inquiry_url).get_data(as_text=True)
    assert client.post(f"{inquiry_url}/messages", data={
        "csrf_token": token, "body": "Yes, subtitles are done."}).status_code == 303
    notes = client.get("/notifications").get_data(as_text=True)
    assert offer.number in notes
    form = client.get(f"{offer_url}/counter").get_data(as_text=True)
    assert 'value="50000.00"' in form  # prefilled with the round on the table
    countered = client.post(f"{offer_url}/counter", data={
        **_form(**{"fee.flat_fee": "65000"}), "csrf_token": token})
    assert countered.status_code == 303

    # The buyer accepts; both sign.
    token = _sign_in(login, csrf_token, world.buyer_a)
    page = client.get(offer_url).get_data(as_text=True)
    assert 'data-testid="round-1"' in page
    assert 'data-testid="round-2"' in page
    accepted = client.post(f"{offer_url}/accept", data={"csrf_token": token})
    assert accepted.status_code == 303
    deal_url = accepted.headers["Location"]
    deal = db.session.get(Deal, int(deal_url.rsplit("/", 1)[1]))
    assert deal.flat_fee_minor == 6_500_000
    assert client.post(f"{deal_url}/sign", data={"csrf_token": token,
                                                 "name": "Lucas Oliveira"}).status_code == 303
    token = _sign_in(login, csrf_token, world.producer)
    assert client.post(f"{deal_url}/sign", data={"csrf_token": token,
                                                 "name": "Zhang Min"}).status_code == 303
    assert db.session.get(Deal, deal.id).status == "signed"
    memo = client.get(f"{deal_url}/memo").get_data(as_text=True)
    for text in ("Lucas Oliveira", "Zhang Min", "$65,000.00", "$19,500.00",
                 "$45,500.00", "Brazil", "Portuguese (subtitles)", deal.number):
        assert text in memo, text

    # The grid shows the new block at once.
    assert _cell_colour(_grid(client, title.id), "BR", SVOD_COLUMN) == COLOURS["blocked"]
    assert _cell_colour(_grid(client, title.id), "AR", SVOD_COLUMN) == COLOURS["free"]

    # A second buyer's overlapping exclusive offer is refused with the free alternative.
    token = _sign_in(login, csrf_token, world.buyer_b)
    refused = client.post(f"/offers/new?title={title.id}", data={
        **_form(territories=["BR", "AR"]), "csrf_token": token})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert 'data-testid="free-instead"' in html
    assert "Free instead: Argentina." in html
    assert deal.number not in html  # another buyer's deal is never named
    assert db.session.scalar(select(func.count()).select_from(Offer)) == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"term.end": day(10).isoformat()}, "term.end"),
    ({"territories": ["BR", "XX"]}, "territories"),
    ({"languages": "pt:karaoke"}, "languages"),
    ({"fee.currency": "ZZZ"}, "fee.currency"),
    ({"instalments[1].percent": "60"}, "instalments"),
    ({"expires_on": day(0).isoformat()}, "expires_on"),
])
def test_bad_offer_forms_name_the_field_and_save_nothing(client, login, csrf_token, world,
                                                          changes, field):
    token = _sign_in(login, csrf_token, world.buyer_a)
    resp = client.post(f"/offers/new?title={world.title.id}",
                       data={**_form(**changes), "csrf_token": token})
    assert resp.status_code == 400
    assert f'data-field="{field}"' in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Offer)) == 0


def test_who_may_offer_in_the_browser(client, login, csrf_token, world, create_title):
    token = _sign_in(login, csrf_token, world.unverified)
    assert client.get(f"/offers/new?title={world.title.id}").status_code == 403
    assert client.post(f"/offers/new?title={world.title.id}",
                       data={**_form(), "csrf_token": token}).status_code == 403
    draft = create_title(world.producer_org, status="draft")
    _sign_in(login, csrf_token, world.buyer_a)
    assert client.get(f"/offers/new?title={draft.id}").status_code == 404
    assert client.get(f"/avails/titles/{draft.id}").status_code == 404
    _sign_in(login, csrf_token, world.producer)
    assert client.get(f"/offers/new?title={world.title.id}").status_code == 403


def test_accepting_an_expired_offer_is_refused(client, login, csrf_token, world, make_offer,
                                               monkeypatch):
    offer = make_offer(world.buyer_a, world.title, expires_on=day(3).isoformat())
    later = day(3)
    monkeypatch.setattr(services, "today", lambda: later)
    token = _sign_in(login, csrf_token, world.producer)
    resp = client.post(f"/offers/{offer.id}/accept", data={"csrf_token": token},
                       follow_redirects=True)
    assert "expired on" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Deal)) == 0


def test_every_page_is_scoped_to_the_parties(client, login, csrf_token, world, make_offer,
                                             create_org, licensing_user):
    offer = make_offer(world.buyer_a, world.title)
    inquiry = services.open_inquiry(world.title.id, by=world.buyer_a, subject="Q", body="?")
    deal = services.accept_offer(offer.id, by=world.producer)
    db.session.commit()
    other_producer = licensing_user(create_org(kind="producer"))
    for outsider in (world.buyer_b, other_producer):
        token = _sign_in(login, csrf_token, outsider)
        for path in (f"/offers/{offer.id}", f"/offers/{offer.id}/counter", f"/deals/{deal.id}",
                     f"/deals/{deal.id}/memo", f"/inquiries/{inquiry.id}"):
            assert client.get(path).status_code == 404, path
        for path in (f"/offers/{offer.id}/accept", f"/offers/{offer.id}/decline",
                     f"/offers/{offer.id}/withdraw", f"/deals/{deal.id}/sign",
                     f"/inquiries/{inquiry.id}/messages"):
            assert client.post(path, data={"csrf_token": token, "name": "X",
                                           "body": "X"}).status_code in (403, 404), path
        for path in ("/offers", "/deals", "/inquiries"):
            assert offer.number not in client.get(path).get_data(as_text=True)
            assert deal.number not in client.get(path).get_data(as_text=True)
    # The title's avails never expose another buyer's deal or terms.
    _sign_in(login, csrf_token, world.buyer_b)
    page = client.get(f"/avails/titles/{world.title.id}?territory=BR&media=SVOD"
                      f"&exclusive=1&from={day(30).isoformat()}").get_data(as_text=True)
    assert deal.number not in page
    assert world.buyer_a.organization.name not in page
    assert "another buyer" in page
    catalog = client.get(f"/catalog/titles/{world.title.id}").get_data(as_text=True)
    assert deal.number not in catalog
    # The parties see their own.
    _sign_in(login, csrf_token, world.buyer_a)
    assert deal.number in client.get("/deals").get_data(as_text=True)
    _sign_in(login, csrf_token, world.producer)
    assert offer.number in client.get("/offers").get_data(as_text=True)


def test_catalog_filter_and_its_bad_parameters(client, login, csrf_token, world, create_title,
                                               grant_rights_in):
    unheld = create_title(world.producer_org)
    _sign_in(login, csrf_token, world.buyer_a)
    query = (f"/catalog/?territory=419&media=SVOD&from={day(30).isoformat()}"
             f"&to={day(700).isoformat()}&exclusive=1")
    html = client.get(query).get_data(as_text=True)
    assert f"/catalog/titles/{world.title.id}" in html
    assert f"/catalog/titles/{unheld.id}" not in html
    bad = client.get("/catalog/?territory=XX&media=SVOD")
    assert bad.status_code == 400
    assert "territory" in bad.get_data(as_text=True)


def test_rights_in_pages_and_ema_upload(client, login, csrf_token, world, create_title):
    token = _sign_in(login, csrf_token, world.producer)
    other = create_title(world.producer_org, title="外滩测试")
    assert world.rights.label in client.get("/rights").get_data(as_text=True)
    saved = client.post("/rights/new", data={
        "csrf_token": token, "title_id": other.id, "media": ["SVOD", "AVOD"],
        "territories": ["150"], "term.start": "2026-01-01", "term.end": "2030-01-01",
        "exclusive": "1", "status": "active"})
    assert saved.status_code == 303
    bad = client.post("/rights/new", data={
        "csrf_token": token, "title_id": other.id, "media": ["SVOD"], "territories": ["150"],
        "term.start": "2030-01-01", "term.end": "2026-01-01", "status": "active"})
    assert bad.status_code == 400
    assert 'data-field="term.end"' in bad.get_data(as_text=True)

    export = client.get("/rights/export.xlsx")
    assert export.status_code == 200
    assert export.data[:2] == b"PK"
    rows = db.session.scalars(select(RightsGrant).where(RightsGrant.kind == "rights_in")).all()
    before = len(rows)
    imported = client.post("/rights/import", data={
        "csrf_token": token, "file": (io.BytesIO(export.data), "avails.xlsx")},
        content_type="multipart/form-data")
    assert imported.status_code == 200, imported.get_data(as_text=True)[:2000]
    assert 'data-testid="import-report"' in imported.get_data(as_text=True)
    assert len(db.session.scalars(select(RightsGrant).where(
        RightsGrant.kind == "rights_in")).all()) > before


def test_malformed_ema_upload_reports_and_imports_nothing(client, login, csrf_token, world,
                                                          ema_samples):
    token = _sign_in(login, csrf_token, world.producer)
    count = db.session.scalar(select(func.count()).select_from(RightsGrant))
    sample = (ema_samples / "TV_v1.8.xlsx").read_bytes()
    resp = client.post("/rights/import", data={
        "csrf_token": token, "file": (io.BytesIO(sample), "TV_v1.8.xlsx")},
        content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "nothing was imported" in html
    assert "no title matches" in html  # the sample's titles are not this producer's
    not_excel = client.post("/rights/import", data={
        "csrf_token": token, "file": (io.BytesIO(b"PK\x03\x04junk"), "x.xlsx")},
        content_type="multipart/form-data")
    assert not_excel.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(RightsGrant)) == count
    assert ema  # the codec the pages use


def test_pages_render_in_chinese(client, login, csrf_token, world, make_offer):
    offer = make_offer(world.buyer_a, world.title)
    world.producer.locale = "zh_Hans"
    db.session.commit()
    _sign_in(login, csrf_token, world.producer)
    page = client.get(f"/offers/{offer.id}").get_data(as_text=True)
    assert "巴西" in page  # Brazil, named by Babel in the reader's language
    grid = client.get(f"/avails/titles/{world.title.id}").get_data(as_text=True)
    assert "南美洲" in grid

