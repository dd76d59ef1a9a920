"""The incident room: summary first, status changes confirmed with their real time, the
timeline in sentences, times in the company's zone with UTC beside them."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import roles
from incidents.models import Incident
from incidents.services import incident_open, scope_add_forensic_list

from .factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    settings.COMPANY_TIME_ZONE = "Europe/Berlin"
    incident = incident_open(
        actor=None,
        title="Portal breach",
        nature="Stuffing",
        awareness_at=datetime(2026, 3, 27, 9, 0, tzinfo=UTC),
        data_categories=["contact"],
    )
    CustomerFactory.create(email="a@example.com", email_normalized="a@example.com")
    scope_add_forensic_list(
        incident_id=incident.pk, actor=None, content=b"email\na@example.com\n", filename="l.csv"
    )
    return incident


@pytest.fixture
def ciso(client, make_user):
    client.force_login(make_user("ciso", roles.CISO))
    return client


def test_the_room_reads_summary_first_and_the_timeline_in_sentences(ciso, incident):
    html = ciso.get(reverse("admin:incidents_incident_change", args=[incident.pk])).content
    page = html.decode()

    assert page.index('id="incident-summary"') < page.index('id="edit-facts"')
    assert "2026-03-27 10:00 CET (09:00 UTC)" in page
    assert "Scope changed</strong>: 1 added, 0 removed, 1 affected (list l.csv)" in page
    assert "Incident opened" in page and "<summary>Raw record</summary>" in page
    assert "Mark contained…" in page and "Close…" not in page


def test_containment_is_confirmed_first_and_takes_the_real_time(ciso, incident):
    url = reverse("admin:incidents_incident_transition", args=[incident.pk, "mark_contained"])
    page = ciso.get(url).content.decode()
    assert "records when the breach was stopped" in page
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.OPEN

    when = timezone.now() - timedelta(hours=5)
    ciso.post(url, {"contained_at_0": f"{when:%Y-%m-%d}", "contained_at_1": f"{when:%H:%M:%S}"})

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CONTAINED
    assert abs((incident.contained_at - when).total_seconds()) < 1


def test_a_refused_status_change_says_why_once_and_changes_nothing(ciso, incident):
    url = reverse("admin:incidents_incident_transition", args=[incident.pk, "close"])
    page = ciso.post(url, {}).content.decode()
    assert page.count("still owes") == 1
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.OPEN


def test_an_unknown_status_change_is_not_found(ciso, incident):
    url = reverse("admin:incidents_incident_transition", args=[incident.pk, "explode"])
    assert ciso.get(url).status_code == 404
