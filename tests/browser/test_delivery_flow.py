"""Issue 6's "done when" in a browser, with a real job worker: a verified buyer asks for
a title's screener, watches the job's progress bar move, and plays the marked copy; then,
from the signed deal, prepares the delivery, follows it, and downloads a file of the
package whose SHA-256 is the one the page lists.

Everything runs: the pages queue the jobs, ``pdx worker`` (Celery on the SQLite broker)
encodes them with ffmpeg. The media are tiny (180x320, 3 s) and the buyer's profile is
its own 180x320 one, so both viewports take a few seconds each.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from tests.browser.test_catalog_flow import sign_in
from tests.fixtures.catalog import PROVENANCE_AI
from tests.fixtures.licensing import day, offer_body
from tests.fixtures.localization import srt_of
from tests.fixtures.transcode import EN_CUES, TINY_PROFILE, ZH_CUES
from transcode.views import filesize

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PRODUCER, BUYER, STAFF = "producer@huangpu.example", "buyer@northstar.example", "admin@pdx.example"
WAIT_MS = 90_000  # for a job the worker runs; a limit, never a measure

#: Reports every progress bar's value to the test, across the page's own reloads: the
#: value a page is served with ("initial") and each one the live poll sets ("shown").
RECORD_PROGRESS = """
(() => {
  const key = (bar) => { const part = bar.closest("[data-part]");
    return part ? "part-" + part.dataset.part : (bar.getAttribute("aria-label") || "bar"); };
  const report = (bar, how) => window.pdxProgress(location.pathname, key(bar), how,
                                                  Number(bar.getAttribute("aria-valuenow")));
  new MutationObserver((changes) => changes.forEach((c) => report(c.target, "shown")))
    .observe(document, {subtree: true, attributes: true, attributeFilter: ["aria-valuenow"]});
  document.addEventListener("DOMContentLoaded", () =>
    document.querySelectorAll("[role=progressbar]").forEach((bar) => report(bar, "initial")));
})();
"""


@dataclass
class Seen:
    path: str
    bar: str
    how: str
    value: int


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> list[Path]:
    """Two 3 s 180x320 episode masters, each with its own tone."""
    base = tmp_path_factory.mktemp("delivery-media")
    paths = [base / f"ep{n:03d}.mp4" for n in (1, 2)]
    for path, tone in zip(paths, (330, 440), strict=True):
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
                        "testsrc2=s=180x320:d=3:r=24", "-f", "lavfi", "-i", f"sine=f={tone}:d=3",
                        "-ac", "2", "-shortest", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return paths


def _user(email: str):
    from marketplace.accounts.models import User

    return db.session.scalar(select(User).where(User.email == email))


def seed_signed_deal(app, masters, poster, name: str) -> tuple[int, int]:
    """Huangpu Pictures' published title ``name`` with two episode masters and approved
    English and Chinese subtitles, licensed to NorthStar (SVOD in the US, both subtitle
    languages) in a deal both sides signed; NorthStar's own tiny profile. Returns the
    title's and the deal's ids."""
    from catalog import domain
    from catalog import services as catalog
    from licensing import services as licensing
    from licensing.terms import parse_fee, parse_terms
    from localization import services as localization
    from transcode import services as transcode
    from transcode.models import DeliveryProfile

    with app.app_context():
        producer, buyer, staff = _user(PRODUCER), _user(BUYER), _user(STAFF)
        title = catalog.create_title(producer.organization, domain.TitleInput(
            original_title=name, original_language="zh", country="CN", year=2026,
            episode_count=2, typical_episode_seconds=90, genres=["romance"], tags=[],
            localizations={"zh": (name, "外滩的契约。"), "en": (name, "A contract on the Bund.")}),
            by=producer)
        catalog.set_provenance(title, PROVENANCE_AI, by=producer)
        catalog.set_copyright(title, rights_holder="黄浦影业", registration_number="国作登字-2026-I-1",
                              nrta_number="(沪)网微剧备字(2026)第001号", nrta_tier="ordinary",
                              underlying_work=None, music_clearances=[], by=producer)
        catalog.add_episode_range(title, 2, 90)
        with poster.open("rb") as fh:
            catalog.store_asset(title, kind="poster", stream=fh, filename="poster.png")
        for episode, master in zip(title.episodes, masters, strict=True):
            with master.open("rb") as fh:
                catalog.store_asset(title, kind="master", stream=fh, episode=episode,
                                    filename=f"ep{episode.number:03d}.mp4")
            for language, cues in (("en", EN_CUES), ("zh-Hans", ZH_CUES)):
                track = localization.upload_track(
                    episode, language=language, data=srt_of(cues), kind="subtitle",
                    origin="source", filename=f"E{episode.number:03d}.{language}.srt").track
                localization.approve_track(track, override_reason="browser test")
        catalog.submit(title, by=producer)
        catalog.publish(title, by=staff)
        licensing.create_rights_in(title, parse_terms(
            {"media": ["ALL"], "territories": ["001"], "exclusive": True, "may_sublicense": True,
             "term": {"start": day(-365).isoformat(), "end": day(3650).isoformat()}}),
            by=producer)
        db.session.commit()
        body = offer_body(territories=["US"], languages=["en:subtitle", "zh-Hans:subtitle"])
        offer, _verdict = licensing.make_offer(
            title.id, parse_terms(body), parse_fee(body["fee"], body["instalments"]), by=buyer,
            expires_on=date.fromisoformat(body["expires_on"]))
        db.session.commit()
        deal = licensing.accept_offer(offer.id, by=producer)
        db.session.commit()
        for user in (producer, buyer):
            licensing.sign_deal(deal.id, by=user, name=user.name, ip="127.0.0.1")
            db.session.commit()
        if db.session.scalar(select(DeliveryProfile.id).where(
                DeliveryProfile.organization_id == buyer.organization_id,
                DeliveryProfile.name == TINY_PROFILE["name"])) is None:
            transcode.create_profile(TINY_PROFILE, by=buyer, organization_id=buyer.organization_id)
            db.session.commit()
        return title.id, deal.id


def screener_of(app, title_id: int) -> dict:
    """The buyer's screener of the title, as the database has it."""
    from transcode.models import Screener

    with app.app_context():
        screener = db.session.scalar(select(Screener).where(Screener.title_id == title_id))
        return {"key": screener.storage_key, "mark": screener.watermark_text,
                "notes": screener.job.result["notes"],
                "viewers": [v.user.email for v in screener.views]}


def package_files(app, deal_id: int) -> dict[str, tuple[int, str, str]]:
    """path -> (size, SHA-256, MD5) of the deal's newest package, as stored."""
    from transcode.models import DeliveryPackage

    with app.app_context():
        package = db.session.scalars(select(DeliveryPackage).where(
            DeliveryPackage.deal_id == deal_id).order_by(DeliveryPackage.id.desc())).first()
        assert package.status == "ready", package.error
        return {f.path: (f.size, f.sha256, f.md5) for f in package.files}


def wait_for_job(page, selector: str, served):
    """What the page shows once the worker has done its part (the page reloads itself)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_selector(selector, timeout=WAIT_MS)
    except PlaywrightTimeout:
        pytest.fail(f"{selector} never showed on {page.url}; the worker's log ends:\n"
                    f"{served.worker_tail()}")


def assert_moved_to_done(seen: list[Seen], path: str, bar: str) -> None:
    """The bar was served below 100 %, the live poll moved it without going back, and
    the last value it showed was 100 %."""
    values = [s for s in seen if s.path == path and s.bar == bar]
    assert [s.how for s in values[:1]] == ["initial"], values
    assert values[0].value < 100, values
    shown = [s.value for s in values if s.how == "shown"]
    assert shown[-1:] == [100], values
    assert shown == sorted(shown), values


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_screener_then_delivery(served_with_worker, browser, masters, media, artifacts_dir,
                                viewport):
    served, name = served_with_worker, "desktop" if viewport["width"] > 860 else "phone"
    url = served.url
    title_id, deal_id = seed_signed_deal(served.app, masters, media["poster"],
                                         f"外滩契约·{name}")
    buyer = sign_in(browser, url, BUYER, viewport=viewport)
    seen: list[Seen] = []
    buyer.expose_function("pdxProgress", lambda path, bar, how, value: seen.append(
        Seen(path, bar, how, value)))
    buyer.add_init_script(RECORD_PROGRESS)  # on every page from here on

    # The buyer asks to watch the screener from the catalog's title page.
    buyer.goto(f"{url}/catalog/titles/{title_id}")
    buyer.click("[data-testid=screener-link]")
    buyer.click("[data-testid=request-screener]")
    buyer.wait_for_selector("[data-testid=rendering] [role=progressbar]")
    screener_path = f"/screeners/titles/{title_id}"
    # The page follows the job by itself and turns into the player when it is done.
    video = wait_for_job(buyer, "[data-testid=screener-video]", served)
    assert_moved_to_done(seen, screener_path, "Rendering")
    # It plays the copy marked for NorthStar (the worker checked the mark), through the
    # storage's signed link; opening it counted a view.
    screener = screener_of(served.app, title_id)
    assert video.get_attribute("src").startswith("/files?" + urlencode({"key": screener["key"]}))
    assert screener["mark"].startswith("NorthStar Streaming · ")
    assert any(note.startswith("mark checked") for note in screener["notes"])
    assert screener["viewers"] == [BUYER]
    video.evaluate("v => { v.muted = true; return v.play(); }")
    buyer.wait_for_function("() => { const v = document.querySelector('video');"
                            " return v.readyState >= 2 && v.currentTime > 0.5; }")
    assert buyer.evaluate("document.querySelector('video').videoHeight") == 1280
    buyer.screenshot(path=str(artifacts_dir / f"delivery-screener-{name}.png"), full_page=True)

    # From the signed deal, the buyer prepares the delivery in its own profile, with the
    # deal's two subtitle languages as separate files.
    buyer.goto(f"{url}/deals/{deal_id}")
    buyer.click("[data-testid=delivery]")
    form = buyer.locator("[data-testid=prepare-form]")
    form.locator("select[name=profile]").select_option(TINY_PROFILE["name"])
    form.locator("select[name=subtitles]").select_option("sidecar")
    form.locator("[data-testid=prepare]").click()
    buyer.wait_for_url(re.compile(r".*/deliveries/\d+$"))
    package_path = buyer.url.split(url, 1)[1]
    wait_for_job(buyer, "[data-testid=files]", served)
    assert_moved_to_done(seen, package_path, "Progress")
    parts = {s.bar for s in seen if s.path == package_path and s.bar.startswith("part-")}
    assert len(parts) == 3  # two episodes and the stills
    for part in parts:
        assert_moved_to_done(seen, package_path, part)

    # Every file of the package, with its size and both checksums, in sight.
    stored = package_files(served.app, deal_id)
    assert {"video/E001.tiny_mp4.mp4", "video/E002.tiny_mp4.mp4", "subtitles/E001.en.srt",
            "subtitles/E002.zh-Hans.vtt", "manifest.json", "checksums.sha256"} <= set(stored)
    rows = buyer.locator("[data-testid=files] tbody tr")
    assert rows.count() == len(stored)
    listed = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        path = row.locator("[data-testid=file-link]").inner_text()
        size, sha256, md5 = stored[path]
        for text in (filesize(size), f"SHA-256 {sha256}", f"MD5 {md5}"):
            assert row.get_by_text(text, exact=True).is_visible(), (path, text)
        listed[path] = row
    assert sorted(listed) == sorted(stored)
    buyer.screenshot(path=str(artifacts_dir / f"delivery-package-{name}.png"), full_page=True)

    # One file through its expiring link: what arrives hashes as the page says.
    row = listed["video/E001.tiny_mp4.mp4"]
    shown_sha256 = re.search(r"SHA-256 ([0-9a-f]{64})", row.inner_text()).group(1)
    with buyer.expect_download() as download:
        row.locator("[data-testid=file-link]").click()
    data = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == shown_sha256
    assert download.value.suggested_filename.endswith(".mp4")
    buyer.close()
