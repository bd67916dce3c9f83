"""The catalog as people use it: a producer lists a title in Chinese, staff publish it,
a buyer finds it by a Chinese substring and a facet and plays its trailer."""

from __future__ import annotations

import re
import subprocess

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "pudong-demo-2026"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e-media")
    poster, trailer = base / "poster.png", base / "trailer.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=crimson:s=360x640",
                    "-frames:v", "1", str(poster)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=180x320:d=2:r=24",
                    "-f", "lavfi", "-i", "sine=d=2", "-shortest", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
                    str(trailer)], check=True)
    return {"poster": str(poster), "trailer": str(trailer)}


def sign_in(browser, live_server, email, viewport=None):
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(re.compile(r".*/dashboard$"))
    return page


def upload(page, kind, path):
    form = page.locator("form[data-upload]")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("input[type=file]").set_input_files(path)
    with page.expect_navigation():  # the upload script reloads the page when it is stored
        form.locator("button[type=submit]").click()


def test_list_review_find_and_watch(live_server, browser, media, artifacts_dir):
    # A Shanghai producer whose interface is in Chinese lists a new series.
    producer = sign_in(browser, live_server, "producer@huangpu.example")
    producer.goto(f"{live_server}/catalog/titles/new")
    assert "保存" in producer.inner_text("[data-testid=title-form]")  # the form is in Chinese
    producer.fill("input[name=original_title]", "霸总的契约新娘·浦东篇")
    producer.check("input[name=genres][value=ceo]")
    producer.check("input[name=genres][value=romance]")
    languages = producer.locator("input[name='loc_language[]']")
    titles = producer.locator("input[name='loc_title[]']")
    synopses = producer.locator("textarea[name='loc_synopsis[]']")
    languages.nth(0).fill("zh")
    titles.nth(0).fill("霸总的契约新娘·浦东篇")
    synopses.nth(0).fill("陆家嘴的霸道总裁与一纸契约。")
    languages.nth(1).fill("en")
    titles.nth(1).fill("The CEO's Contract Bride: Pudong")
    synopses.nth(1).fill("A contract marriage in Lujiazui. <script>window.__xss=1</script>")
    producer.click("[data-testid=title-form] button[type=submit]")
    producer.wait_for_url(re.compile(r".*/catalog/titles/\d+/manage.*"))
    manage_url = producer.url.split("#")[0]
    title_id = int(re.search(r"/titles/(\d+)/", manage_url).group(1))

    producer.fill("input[name=count]", "3")
    producer.locator("form[action$='/episodes'] button[type=submit]").click()
    producer.wait_for_load_state()
    upload(producer, "poster", media["poster"])
    upload(producer, "trailer", media["trailer"])
    producer.goto(f"{live_server}/catalog/titles/{title_id}/copyright")
    producer.fill("input[name=rights_holder]", "黄浦影业 Huangpu Pictures")
    producer.locator("form button[type=submit]").last.click()
    producer.goto(manage_url)
    producer.click("[data-testid=submit]")
    producer.wait_for_load_state()
    producer.screenshot(path=str(artifacts_dir / "catalog-producer-submitted-zh.png"),
                        full_page=True)

    # Platform staff publish it.
    staff = sign_in(browser, live_server, "admin@pdx.example")
    staff.goto(f"{live_server}/catalog/review")
    item = staff.locator("[data-testid=review-item]", has_text="霸总的契约新娘·浦东篇")
    item.locator("[data-testid=publish]").click()
    staff.wait_for_load_state()

    # A buyer on a phone, in English, finds it by a Chinese substring and a facet.
    buyer = sign_in(browser, live_server, "buyer@northstar.example",
                    viewport={"width": 390, "height": 844})
    buyer.goto(f"{live_server}/catalog?q=霸总&genre=ceo")
    results = buyer.inner_text("main")
    assert "The CEO's Contract Bride: Pudong" in results or "霸总的契约新娘·浦东篇" in results
    buyer.goto(f"{live_server}/catalog?q=霸总&genre=family")
    assert "浦东篇" not in buyer.inner_text("main")
    buyer.goto(f"{live_server}/catalog/titles/{title_id}")
    body = buyer.inner_text("main")
    assert "<script>window.__xss=1</script>" in body  # shown as text ...
    assert buyer.evaluate("window.__xss === undefined")  # ... never run
    video = buyer.locator("video").first
    video.evaluate("v => { v.muted = true; return v.play(); }")
    buyer.wait_for_function("document.querySelector('video').currentTime > 0.2")
    buyer.screenshot(path=str(artifacts_dir / "catalog-title-phone.png"), full_page=True)
    for page in (producer, staff, buyer):
        page.close()
