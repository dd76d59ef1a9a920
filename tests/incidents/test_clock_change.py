"""Moving the awareness time moves the deadlines: the DPO's or the CISO's decision, with a
reason, and an overdue obligation stays overdue."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import roles
from incidents.models import Incident, Obligation
from incidents.services import IncidentError, incident_open, incident_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    incident = incident_open(
        actor=None,
        title="Portal breach",
        nature="Credential stuffing",
        awareness_at=timezone.now() - timedelta(hours=80),
        data_categories=["contact"],
    )
    art33 = Obligation.objects.get(incident=incident, terms__code="gdpr-art33")
    assert art33.due_at is not None and art33.due_at < timezone.now()
    return incident, art33


def test_an_analyst_cannot_move_the_clock_start(overdue, make_user):
    incident, _ = overdue
    analyst = make_user("ana", roles.SECURITY_ANALYST)

    with pytest.raises(IncidentError, match="DPO or the CISO"):
        incident_update(
            incident_id=incident.pk,
            actor=analyst,
            clock_change_reason="typo",
            awareness_at=timezone.now() - timedelta(hours=1),
        )


def test_the_ciso_moves_it_only_with_a_reason(overdue, make_user):
    incident, _ = overdue
    ciso = make_user("sven", roles.CISO)
    with pytest.raises(IncidentError, match="give the reason"):
        incident_update(
            incident_id=incident.pk,
            actor=ciso,
            awareness_at=incident.awareness_at + timedelta(hours=1),
        )

    incident_update(
        incident_id=incident.pk,
        actor=ciso,
        clock_change_reason="the SOC ticket was misread",
        awareness_at=incident.awareness_at + timedelta(hours=1),
    )
    event = incident.timeline.filter(kind="incident.updated").last()
    assert event.payload["reason"] == "the SOC ticket was misread"


def test_moving_the_clock_start_later_never_clears_lateness(overdue, make_user):
    incident, art33 = overdue

    incident_update(
        incident_id=incident.pk,
        actor=make_user("dpo", roles.DPO),
        clock_change_reason="re-assessed",
        awareness_at=timezone.now() - timedelta(hours=1),
    )

    art33.refresh_from_db()
    assert art33.due_at is not None and art33.due_at < timezone.now()


def test_an_analyst_editing_the_awareness_time_in_the_admin_is_told_no(overdue, client, make_user):
    incident, _ = overdue
    client.force_login(make_user("ana", roles.SECURITY_ANALYST))
    later = timezone.now() - timedelta(hours=1)

    page = client.post(
        reverse("admin:incidents_incident_change", args=[incident.pk]),
        {
            "title": incident.title,
            "nature": incident.nature,
            "awareness_at_0": later.strftime("%Y-%m-%d"),
            "awareness_at_1": later.strftime("%H:%M:%S"),
            "data_categories": ["contact"],
            "systems": "",
        },
    )

    assert page.status_code == 200
    assert "Only the DPO or the CISO moves the clock start." in page.content.decode()
    assert Incident.objects.get(pk=incident.pk).awareness_at == incident.awareness_at
