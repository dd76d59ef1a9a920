import pytest

from config.demo import DEMO_USERS, demo_users_seed
from tests.browser.conftest import log_in


@pytest.fixture
def demo(transactional_db):
    # Signing in needs the users only; the journeys load the whole demo.
    demo_users_seed()


def test_login_page_tells_which_instance(page, settings):
    settings.INSTANCE_NAME = "staging-eu"
    page.goto("/")
    assert page.url.endswith("/login/?next=/")
    assert "staging-eu" in page.locator(".bd-login-instance").inner_text()


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda d: d.username)
def test_each_demo_user_signs_in_and_reaches_the_dashboard(page, demo, user):
    log_in(page, user.username, user.password)
    assert page.locator("#site-name").inner_text().startswith("Breachdesk")
    assert page.locator("#user-tools").is_visible()
    page.click("#logout-form button")
    page.wait_for_load_state()
    assert "Logged out" in page.content()


def test_wrong_password_is_refused_where_the_user_is(page, demo):
    log_in(page, "cmo", "not-the-password")
    assert page.url.endswith("/login/")
    assert "Please enter the correct username and password" in page.content()
