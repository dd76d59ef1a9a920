"""A call-centre agent signs in and finds a caller by the reference on their letter."""

from datetime import UTC, datetime

import pytest

from config.demo import DEMO_USERS, demo_users_seed
from config.roles import CALL_CENTRE_AGENT
from notifications.models import Notification, RemediationCode, reference_display
from tests.browser.conftest import log_in, screenshot
from tests.notifications.delivery_helpers import drafted
from tests.notifications.factories import AffectedCustomerFactory, CustomerFactory, approved


@pytest.fixture
def letter(transactional_db):
    demo_users_seed()
    customer = CustomerFactory.create(email="", street="1 Main St", city="Springfield")
    affected = AffectedCustomerFactory.create(customer=customer)
    version = approved(affected.incident, "en", ["credentials"], channel="letter")
    communication = drafted(affected.incident, [version], channels=("letter",))
    notification = Notification.objects.create(
        communication=communication,
        customer=customer,
        channel="letter",
        status=Notification.Status.LETTER,
        sent_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
    )
    RemediationCode.objects.create(
        incident=affected.incident,
        code="MON-7781",
        vendor="Monitor Inc",
        expires_on=datetime(2027, 12, 31).date(),
        notification=notification,
        assigned_at=datetime(2026, 11, 28, tzinfo=UTC),
    )
    notification.refresh_from_db()
    return notification


def test_an_agent_finds_a_caller_by_reference_from_the_dashboard(page, letter):
    agent = next(u for u in DEMO_USERS if u.role == CALL_CENTRE_AGENT)
    log_in(page, agent.username, agent.password)

    page.click("text=Look a caller up by the reference on their letter or email")
    page.fill("#id_reference", reference_display(letter.reference).lower())
    page.click("input[type=submit][value='Look up']")
    page.wait_for_load_state()

    result = page.locator("#lookup-result").inner_text()
    assert reference_display(letter.reference) in result
    assert "Affected: yes" in result
    assert letter.communication.name in result
    assert "MON-7781 (Monitor Inc, until 2027-12-31)" in result
    assert "2026-11-28 09:30" in result
    assert "Main St" not in page.content()
    screenshot(page, "call-centre-lookup")
