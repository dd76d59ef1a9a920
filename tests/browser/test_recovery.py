"""The way back, clicked: the CMO sets up a recovery plan from the incident room and adds a
step, the CISO consents, and the CMO's recovery page shows the cohorts as charts with their
table beneath (the README's picture)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from config import roles
from customers.models import Touchpoint
from incidents.models import Incident
from notifications.models import RecoveryPlan
from notifications.recovery.cohorts import recovery_figures_refresh
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.factories import segment_with
from tests.notifications.delivery_helpers import signed_off
from tests.notifications.factories import CustomerFactory, IncidentFactory, affected, approved

PASSWORD = "a-long-test-password"
KINDS_AFFECTED = {
    Touchpoint.Kind.UNSUBSCRIBED: 0.05,
    Touchpoint.Kind.COMPLAINED: 0.01,
    Touchpoint.Kind.BOUNCED: 0.02,
    Touchpoint.Kind.CODE_REDEEMED: 0.10,
    Touchpoint.Kind.PASSWORD_RESET: 0.15,
    Touchpoint.Kind.OPENED: 0.20,
}
KINDS_UNAFFECTED = {
    Touchpoint.Kind.UNSUBSCRIBED: 0.01,
    Touchpoint.Kind.COMPLAINED: 0.002,
    Touchpoint.Kind.BOUNCED: 0.02,
    Touchpoint.Kind.OPENED: 0.25,
}


@pytest.fixture
def breach(transactional_db, settings):
    """An incident whose notice went out six weeks ago, 200 affected and 300 unaffected
    people of the same segments, and six weeks of their responses."""
    settings.DEFAULT_FROM_EMAIL = "Breachdesk Corp <notices@breachdesk-corp.com>"
    rng = random.Random(22)  # noqa: S311 (a repeatable picture, not a secret)
    users = {}
    for name, role in (("cmo", roles.CMO), ("ciso", roles.CISO), ("mo", roles.MARKETING_OPERATOR)):
        user = get_user_model().objects.create_user(name, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        users[name] = user
    incident = IncidentFactory.create(title="Shop account breach")
    version = approved(incident, "en", ["credentials"])
    hit = [affected(incident, "en", ["credentials"]) for _ in range(200)]
    spared = [CustomerFactory.create() for _ in range(300)]
    segment_with(hit + spared, name="Newsletter")
    notified = datetime.now(UTC) - timedelta(weeks=6) + timedelta(days=1)  # six weeks begun
    Incident.objects.filter(pk=incident.pk).update(people_notified_at=notified)
    rows = []
    for people, odds in ((hit, KINDS_AFFECTED), (spared, KINDS_UNAFFECTED)):
        for week in range(6):
            fading = 1.0 / (1 + week)
            for person in people:
                for kind, chance in odds.items():
                    weight = fading if kind != Touchpoint.Kind.OPENED else 0.5 + week / 10
                    if rng.random() < chance * weight:
                        rows.append(
                            Touchpoint(
                                customer=person,
                                channel=Touchpoint.Channel.EMAIL,
                                kind=kind,
                                occurred_at=notified + timedelta(days=7 * week + rng.random() * 6),
                            )
                        )
    Touchpoint.objects.bulk_create(rows)
    recovery_figures_refresh(incident_id=incident.pk)  # what the hourly task does
    reminder = signed_off(
        incident,
        [version],
        author=users["mo"],
        cmo=users["cmo"],
        ciso=users["ciso"],
        name="Reset reminder",
    )
    return incident, reminder


def test_the_cmo_sets_up_the_way_back_and_the_ciso_consents(page: Page, breach):
    incident, reminder = breach
    log_in(page, "cmo", PASSWORD)
    # From the dashboard's incident list to the incident room, and its recovery section.
    page.click(f"#incidents-dashboard a:has-text('{incident.title}')")
    page.locator("#incident-recovery").get_by_role("link", name="Set up a recovery plan").click()
    page.fill("#id_marketing_returns_after_days", "60")
    page.get_by_role("button", name="Set up").click()
    expect(page.locator(".messagelist")).to_contain_text("set up; add its steps")

    page.get_by_role("link", name="Add a step").click()
    page.fill("#id_name", "Reminder: reset your password")
    page.select_option("#id_communication", label=reminder.name)
    page.fill("#id_delay_days", "7")
    page.select_option("#id_condition", "not_reset")
    page.get_by_role("button", name="Add the step").click()
    expect(page.locator("#bd-recovery-steps")).to_contain_text("Reminder: reset your password")
    # The charts and, beneath them, the table for those who read rather than look.
    expect(page.locator("#bd-recovery figure svg")).to_have_count(6)
    # Six weeks since the notice: six weeks of figures per response.
    expect(page.locator("#bd-cohort-table tbody tr")).to_have_count(6 * 6)
    expect(page.locator("#bd-recovery")).to_contain_text("Affected: 200 people")
    page.locator("#bd-recovery-figures").evaluate("heading => heading.scrollIntoView()")
    screenshot(page, "recovery", for_readme=True)

    page.click("#logout-form button")
    log_in(page, "ciso", PASSWORD)
    page.click(f"#incidents-dashboard a:has-text('{incident.title}')")
    page.locator("#incident-recovery").get_by_role("link", name="The recovery page").click()
    page.get_by_role("link", name="Consent…").click()
    expect(page.locator("#content-main")).to_contain_text("Steps fingerprint")
    page.get_by_role("button", name="Consent").click()
    expect(page.locator(".messagelist")).to_contain_text("it runs by itself")
    assert RecoveryPlan.objects.get(incident=incident).status == RecoveryPlan.Status.ACTIVE
