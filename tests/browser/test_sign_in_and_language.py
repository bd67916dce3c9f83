"""A person signs in, switches to 简体中文 and sees the dashboard translated."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_sign_in_switch_to_chinese(live_server, browser, artifacts_dir, viewport):
    page = browser.new_page(viewport=viewport, locale="en-US")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "buyer@northstar.example")
    page.fill("input[name=password]", "pudong-demo-2026")
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{live_server}/dashboard")
    assert page.inner_text("[data-testid=dashboard-title]") == "Dashboard"

    if viewport["width"] < 860:  # the menu folds away on a phone
        page.click("label.nav-toggle-label")
    page.click("[data-testid=locale-zh_Hans]")
    page.wait_for_selector("text=工作台")
    assert page.inner_text("[data-testid=dashboard-title]") == "工作台"
    assert "退出登录" in page.text_content("header")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    name = "desktop" if viewport["width"] > 860 else "phone"
    page.screenshot(path=str(artifacts_dir / f"dashboard-zh-{name}.png"), full_page=True)

    # the choice sticks to the user: a fresh page load stays in Chinese
    page.goto(f"{live_server}/dashboard")
    assert page.inner_text("[data-testid=dashboard-title]") == "工作台"
    # and switch back so the other viewport starts in English
    if viewport["width"] < 860:
        page.click("label.nav-toggle-label")
    page.click("[data-testid=locale-en]")
    page.wait_for_selector("text=Dashboard")
    page.close()
