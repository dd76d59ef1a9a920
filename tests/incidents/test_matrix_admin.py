"""The matrix in the admin: each obligation's reason on the incident page, the delay form,
closures entered by the DPO, the regulator directory."""

from datetime import timedelta

import pytest
from django.urls import reverse

from config import roles
from incidents.models import BusinessDayClosure

from .test_admin import as_role  # noqa: F401  (fixture)
from .test_jurisdictions import opened, owed, scope

pytestmark = pytest.mark.django_db


def test_the_incident_page_shows_why_each_obligation_applies(as_role, settings):  # noqa: F811
    settings.COMPANY_HIPAA_COVERED = True
    incident = opened()
    scope(incident, [("US", "Texas", "", 260), ("US", "", "10001", 510), ("US", "Narnia", "", 2)])

    page = as_role(roles.DPO).get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    html = page.content.decode()

    assert "260 affected residents of TX (threshold 250)" in html
    assert "510 affected residents of US-NY (threshold 501 in one)" in html
    assert "Tex. Bus. &amp; Com. Code § 521.053" in html
    assert "Awareness (discovery)" in html
    assert "“Narnia”: 2" in html
    media = owed(incident)["hipaa-media"]
    assert reverse("admin:incidents_obligation_pause", args=[media.pk]) in html


def test_a_law_enforcement_delay_is_entered_from_the_incident_page(as_role):  # noqa: F811
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    texas = owed(incident)["us-tx-individuals"]
    url = reverse("admin:incidents_obligation_pause", args=[texas.pk])
    client = as_role(roles.DPO)

    refused = client.post(
        url,
        {
            "requested_by": "FBI",
            "reference": "L-1",
            "starts_at_0": "2026-04-01",
            "starts_at_1": "00:00:00",
            "until_0": "2026-03-31",
            "until_1": "00:00:00",
        },
    )
    assert "must end after it starts" in refused.content.decode()

    client.post(
        url,
        {
            "requested_by": "FBI",
            "reference": "L-1",
            "starts_at_0": "2026-04-01",
            "starts_at_1": "00:00:00",
            "until_0": "2026-04-11",
            "until_1": "00:00:00",
        },
    )
    assert owed(incident)["us-tx-individuals"].due_at == texas.due_at + timedelta(days=10)
    assert as_role(roles.SECURITY_ANALYST).get(url).status_code == 403


def test_the_dpo_enters_a_closure_and_an_analyst_cannot(as_role):  # noqa: F811
    add = reverse("admin:incidents_businessdayclosure_add")
    as_role(roles.DPO).post(add, {"calendar": "US", "day": "2026-06-10", "reason": "EO 14xxx"})
    assert BusinessDayClosure.objects.get().reason == "EO 14xxx"
    assert as_role(roles.SECURITY_ANALYST).get(add).status_code == 403


def test_an_unknown_calendar_is_refused_in_the_closure_form(as_role):  # noqa: F811
    add = reverse("admin:incidents_businessdayclosure_add")
    page = as_role(roles.DPO).post(add, {"calendar": "XX", "day": "2026-06-10", "reason": "r"})
    assert "No holiday calendar is known as" in page.content.decode()
    assert not BusinessDayClosure.objects.exists()


def test_the_dpo_records_the_determination_from_the_incident_page(as_role):  # noqa: F811
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    client = as_role(roles.DPO)
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    url = reverse("admin:incidents_incident_clock", args=[incident.pk])
    assert url in page.content.decode()

    client.post(url, {"fact": "breach_determined_at", "at_0": "2026-04-02", "at_1": "10:00:00"})

    texas = owed(incident)["us-tx-individuals"]
    assert texas.clock_started_at.isoformat() == "2026-04-02T10:00:00+00:00"
    assert as_role(roles.SECURITY_ANALYST).get(url).status_code == 403
