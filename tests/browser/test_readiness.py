"""The readiness page is reached from the dashboard, and each fix link leads to where the gap
is fixed, clicked in the browser."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from config import roles
from tests.browser.conftest import log_in, screenshot
from tests.config.readiness_world import CUSTOMERS, UNREACHABLE, company_build

PASSWORD = "a-long-test-password"


@pytest.fixture
def company(transactional_db, settings):
    settings.DEFAULT_FROM_EMAIL = "Breachdesk Corp <notices@breachdesk-corp.com>"
    company = company_build()
    # Break-glass admin who also holds the CMO's role: every fix link is theirs to open.
    admin = get_user_model().objects.create_superuser("ready-admin", password=PASSWORD)
    admin.groups.add(Group.objects.get(name=roles.CMO))
    return company


# Where each fix link leads, and what that page shows.
FIXES = {
    "Import a fresh CRM export": (r"/customers/customer/import/$", "Import"),
    "Write the missing words": (r"/notifications/messagetemplate/add/$", "Add message template"),
    "Add a person": (r"/auth/user/add/$", "Add user"),
    "Open a drill": (r"/incidents/incident/add/$", "Add incident"),
    "Import codes": (r"/notifications/remediationcode/import/\d+/$", "Import"),
    "Company profile": (r"/config/companyprofile/$", "company profile"),
}


def test_from_the_dashboard_to_each_gap_and_where_it_is_fixed(page: Page, company):
    log_in(page, "ready-admin", PASSWORD)
    page.click("#readiness-link a")
    expect(page.locator("h1")).to_contain_text("Readiness")
    unreachable = page.locator("#check-reachable-unreachable")
    expect(unreachable.locator(".figure")).to_have_text(f"10.0% ({UNREACHABLE} of {CUSTOMERS})")
    expect(page.locator("#check-words-missing .figure")).to_have_text("9 of 18")
    expect(page.locator("#check-people-roles .figure")).to_have_text(f"1 of {len(roles.ROLES)}")
    expect(page.locator("#check-practised-last_drill .figure")).to_contain_text("400 days ago")
    screenshot(page, "readiness", for_readme=True)

    # The drill-down lists the ten people no channel reaches.
    unreachable.locator("a.drill").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(UNREACHABLE)
    page.go_back()

    labels = page.locator("a.fix").all_inner_texts()
    assert set(labels) == set(FIXES), labels
    for index, label in enumerate(labels):
        page.locator("a.fix").nth(index).click()
        path, heading = FIXES[label]
        expect(page).to_have_url(re.compile(path))
        expect(page.locator("#content h1, #content h2").first).to_contain_text(heading)
        page.go_back()
        expect(page.locator("h1")).to_contain_text("Readiness")
