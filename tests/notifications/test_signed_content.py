"""What the CMO and the CISO sign covers every incident value a message can render."""

from datetime import timedelta

import pytest

from incidents.models import Incident
from incidents.services import incident_update
from notifications.models import CommunicationSignOff
from notifications.selectors import communication_sign_offs_match

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    affected(incident, "en", ["credentials"])
    return incident, signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)


@pytest.mark.parametrize("field", ["awareness_at", "occurred_at"])
def test_a_changed_incident_date_no_longer_matches_what_was_signed(signed, field):
    incident, communication = signed
    earlier = incident.awareness_at - timedelta(days=3)

    Incident.objects.filter(pk=incident.pk).update(**{field: earlier})

    assert not communication_sign_offs_match(communication_id=communication.pk)


def test_moving_the_awareness_time_voids_the_sign_offs_saying_so(signed, ciso):
    incident, communication = signed

    incident_update(
        incident_id=incident.pk,
        actor=ciso,
        awareness_at=incident.awareness_at - timedelta(days=2),
        clock_change_reason="the SOC ticket shows an earlier alert",
    )

    voided = CommunicationSignOff.objects.filter(communication=communication)
    assert all(s.voided_at is not None for s in voided)
    assert all("awareness time" in s.void_reason for s in voided)
