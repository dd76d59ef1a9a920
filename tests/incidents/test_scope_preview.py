"""Scope changes add by default and show what they would do before anything changes."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from config import roles
from incidents.models import AffectedCustomer, TimelineEvent
from incidents.services import incident_open, scope_add_forensic_list

from .factories import CustomerFactory

pytestmark = pytest.mark.django_db
AWARE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def analyst(client, make_user):
    client.force_login(make_user("analyst", roles.SECURITY_ANALYST))
    return client


@pytest.fixture
def incident(settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    incident = incident_open(
        actor=None,
        title="Portal breach",
        nature="Stuffing",
        awareness_at=AWARE,
        data_categories=["contact"],
    )
    for n in range(4):
        CustomerFactory.create(email=f"de{n}@example.com", email_normalized=f"de{n}@example.com")
    CustomerFactory.create(
        email="tex@example.com", email_normalized="tex@example.com", country="US", region="TX"
    )
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=None,
        content=b"email\n" + b"".join(f"de{n}@example.com\n".encode() for n in range(4)),
        filename="first.csv",
    )
    return incident


def _upload(analyst, incident, content: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return analyst.post(
        reverse("admin:incidents_incident_scope", args=[incident.pk]),
        {"forensic_list": SimpleUploadedFile("forensic.csv", content), **fields},
    )


def test_the_scope_form_adds_by_default(analyst, incident):
    page = analyst.get(reverse("admin:incidents_incident_scope", args=[incident.pk]))
    assert page.context["form"]["mode"].value() == "add"
    assert re.search(r'value="add"[^>]*checked', page.content.decode())
    assert not re.search(r'value="replace"[^>]*checked', page.content.decode())


def test_adding_a_list_previews_nobody_removed_and_changes_nothing_until_confirmed(
    analyst, incident
):
    events = TimelineEvent.objects.filter(incident=incident).count()
    preview = _upload(analyst, incident, b"email\ntex@example.com\nde0@example.com\n", mode="add")

    html = preview.content.decode()
    assert 'id="preview-added">1<' in html and 'id="preview-removed">0<' in html
    assert "4 &rarr; 5" in html and "US (1)" in html
    assert AffectedCustomer.objects.filter(incident=incident).count() == 4
    assert TimelineEvent.objects.filter(incident=incident).count() == events

    analyst.post(
        reverse("admin:incidents_incident_scope", args=[incident.pk]),
        {"change": preview.context["signed"]},
    )
    assert AffectedCustomer.objects.filter(incident=incident).count() == 5


def test_a_replace_previews_exact_counts_and_changes_nothing_until_confirmed(analyst, incident):
    preview = _upload(
        analyst, incident, b"email\ntex@example.com\nde0@example.com\n", mode="replace"
    )

    assert (preview.context["preview"].added, preview.context["preview"].removed) == (1, 3)
    assert 'id="preview-removed" class="bd-warn">3<' in preview.content.decode()
    assert AffectedCustomer.objects.filter(incident=incident).count() == 4

    analyst.post(
        reverse("admin:incidents_incident_scope", args=[incident.pk]),
        {"change": preview.context["signed"]},
    )
    assert AffectedCustomer.objects.filter(incident=incident).count() == 2


def test_an_altered_preview_changes_nothing(analyst, incident):
    preview = _upload(analyst, incident, b"email\ntex@example.com\n", mode="replace")

    response = analyst.post(
        reverse("admin:incidents_incident_scope", args=[incident.pk]),
        {"change": preview.context["signed"][:-3] + "xyz"},
        follow=True,
    )
    assert "older than an hour or was altered" in response.content.decode()
    assert AffectedCustomer.objects.filter(incident=incident).count() == 4
