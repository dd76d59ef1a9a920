"""The readiness page is reached from the dashboard, and each fix link leads to where the gap
is fixed, clicked in the browser."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import Page, expect

from config import roles
from config.readiness.selectors import ON_CALL_ROLES
from customers.models import Customer
from incidents.models import Regime
from notifications.models import Communication
from tests.browser.conftest import log_in, screenshot
from tests.config.readiness_world import CUSTOMERS, UNREACHABLE, company_build, regimes_ensure
from tests.customers.factories import CustomerFactory
from tests.notifications.factories import window

PASSWORD = "a-long-test-password"


@pytest.fixture
def company(transactional_db, settings):
    settings.DEFAULT_FROM_EMAIL = "Breachdesk Corp <notices@breachdesk-corp.com>"
    company = company_build()
    # Break-glass admin who also holds the CMO's role: every fix link is theirs to open.
    admin = get_user_model().objects.create_superuser("ready-admin", password=PASSWORD)
    admin.groups.add(Group.objects.get(name=roles.CMO))
    # Signed off, and no call-centre pack written from its words yet.
    Communication.objects.create(
        incident=company.drill,
        name="Breach notice",
        status=Communication.Status.SIGNED_OFF,
        **window(),
    )
    return company


# Where each fix link leads, and what that page shows.
FIXES = {
    "Import a fresh CRM export": (r"/customers/customer/import/$", "Import"),
    "Write the missing words": (r"/notifications/messagetemplate/add/$", "Add message template"),
    "Add a person": (r"/auth/user/add/$", "Add user"),
    "Open a drill": (r"/incidents/incident/add/$", "Add incident"),
    "Import codes": (r"/notifications/remediationcode/import/\d+/$", "Import"),
    "Company profile": (r"/config/companyprofile/$", "company profile"),
    "Put someone on call": (r"/readiness/oncallshift/add/$", "Add on-call shift"),
    "Make the call-centre pack": (r"/callcentrepack/make/\d+/$", "Call-centre pack for"),
}
# Fixes of gaps the company above does not have.
OTHER_FIXES = {
    "Change their roles": (r"/auth/user/$", "Select user to change"),
    "Add a regime": (r"/incidents/regime/add/$", "Add regime"),
    "Open a drill to hold codes": (r"/incidents/incident/add/$", "Add incident"),
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


def test_the_cmo_puts_the_dpo_on_call_and_recounts_the_customers(page: Page, company):
    rota = len(ON_CALL_ROLES)
    log_in(page, "ready-admin", PASSWORD)
    page.click("#readiness-link a")
    on_call = page.locator("#check-people-on_call")
    expect(on_call.locator(".figure")).to_have_text(f"{rota} of {rota}")

    on_call.locator("a.fix").click()
    expect(page.locator("#content h1")).to_contain_text("Add on-call shift")
    page.select_option("#id_role", label=roles.DPO)
    page.select_option("#id_person", label="dpo-0")
    now = timezone.localtime()
    for field, moment in (
        ("starts_at", now - timedelta(hours=1)),
        ("ends_at", now + timedelta(hours=8)),
    ):
        page.fill(f"#id_{field}_0", f"{moment:%Y-%m-%d}")
        page.fill(f"#id_{field}_1", f"{moment:%H:%M:%S}")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.click("#site-name a")
    page.click("#readiness-link a")
    expect(on_call.locator(".figure")).to_have_text(f"{rota - 1} of {rota}")
    expect(on_call.locator(".help")).not_to_contain_text(roles.DPO)
    expect(page.locator("#dimension-people table.detail")).to_contain_text("dpo-0 until")

    # A customer no channel reaches arrives behind the page's back: the page keeps its
    # count, says when it was taken, and counts again when asked.
    CustomerFactory.create(email="", email_status=Customer.EmailStatus.MISSING, street="")
    unreachable = page.locator("#check-reachable-unreachable .figure")
    page.reload()
    expect(unreachable).to_have_text(f"10.0% ({UNREACHABLE} of {CUSTOMERS})")
    page.click("#recount")
    expect(page.locator(".messagelist")).to_contain_text("Customer figures recounted as of")
    expect(unreachable).to_have_text(f"10.9% ({UNREACHABLE + 1} of {CUSTOMERS + 1})")


@pytest.fixture
def bare_company(transactional_db, settings):
    """A company that has never opened an incident, whose CISO is also CMO, and whose
    Californian customers live under no regime in force."""
    settings.DEFAULT_FROM_EMAIL = "Breachdesk Corp <notices@breachdesk-corp.com>"
    roles.roles_sync()
    regimes_ensure()
    for regime in Regime.objects.all():
        if "US" in regime.countries and "CA" in {r.upper() for r in regime.regions}:
            Regime.objects.filter(pk=regime.pk).update(active=False)
    CustomerFactory.create_batch(3, country="US", region="CA", street="1 Main St", city="LA")
    both = get_user_model().objects.create(username="ciso-and-cmo", is_staff=True)
    both.groups.set(Group.objects.filter(name__in=[roles.CISO, roles.CMO]))
    admin = get_user_model().objects.create_superuser("ready-admin", password=PASSWORD)
    admin.groups.add(Group.objects.get(name=roles.CMO))


def test_the_other_gaps_lead_to_where_they_are_fixed(page: Page, bare_company):
    log_in(page, "ready-admin", PASSWORD)
    page.click("#readiness-link a")
    expect(page.locator("#check-people-cmo_ciso .figure")).to_have_text("1")
    expect(page.locator("#check-rules-jurisdictions .help")).to_have_text("US-CA")
    for label, (path, heading) in OTHER_FIXES.items():
        page.locator("a.fix", has_text=label).first.click()
        expect(page).to_have_url(re.compile(path))
        expect(page.locator("#content h1, #content h2").first).to_contain_text(heading)
        page.go_back()
        expect(page.locator("h1")).to_contain_text("Readiness")
