"""A marketing operator reaches a sent wave's page by clicks, reads what became of it, and
records a provider's bounce file from there, landing back on the wave with the bounce
counted and the person owed a letter."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from config import roles
from config.demo import DEMO_USERS, demo_users_seed
from notifications.models import Notification
from tests.browser.conftest import log_in, screenshot
from tests.notifications.test_wave_outcomes import sent_wave as send_wave


def demo_user(role: str):
    return next(u for u in DEMO_USERS if u.role == role)


@pytest.fixture
def sent_wave(transactional_db, settings):
    demo_users_seed()
    users = get_user_model().objects
    marketing, cmo, ciso = (
        users.get(username=demo_user(role).username)
        for role in (roles.MARKETING_OPERATOR, roles.CMO, roles.CISO)
    )
    return send_wave(settings, marketing, cmo, ciso, 3)


def test_the_bounce_upload_is_reached_by_clicks_from_the_wave_and_returns_to_it(
    page: Page, sent_wave, tmp_path
):
    operator = demo_user(roles.MARKETING_OPERATOR)
    log_in(page, operator.username, operator.password)
    page.locator("a", has_text="Communications").first.click()
    page.locator("#result_list a", has_text=sent_wave.name).first.click()
    outcomes = page.locator(".bd-outcomes")
    expect(outcomes).to_contain_text("Sent: 3")
    expect(outcomes).to_contain_text("Bounced: 0 hard, 0 soft")

    page.click("text=Upload a bounce file…")
    email = Notification.objects.filter(communication=sent_wave).order_by("pk")[0].email
    report = tmp_path / "bounces.csv"
    report.write_text(f"email,type\n{email},hard\n")
    page.set_input_files("input[type=file]", str(report))
    page.locator("form input[type=submit], form button[type=submit]").last.click()
    page.wait_for_load_state()

    expect(page.locator(".bd-outcomes")).to_contain_text("Bounced: 1 hard, 0 soft")
    expect(page.locator(".bd-outcomes")).to_contain_text("Letters owed: 1; posted: 0")
    assert f"/communication/{sent_wave.pk}/change/" in page.url
    screenshot(page, "wave-outcomes-after-bounce-upload")
