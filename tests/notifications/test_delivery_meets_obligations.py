"""A completed wave of breach notices meets the consumer-notice obligations it served."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer
from incidents.models import Incident, Obligation
from incidents.services import obligations_sync
from notifications.models import Notification
from notifications.services.delivery import communication_send

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved
from .test_delivery import send_all

pytestmark = pytest.mark.django_db


def test_the_wave_meets_each_states_notice_at_its_last_message(smtp_server, marketing, cmo, ciso):
    incident = IncidentFactory.create()
    Incident.objects.filter(pk=incident.pk).update(awareness_at=timezone.now() - timedelta(days=2))
    version = approved(incident, "en", ["credentials"])
    texans = [affected(incident, "en", ["credentials"], country="US") for _ in range(2)]
    Customer.objects.filter(pk__in=[c.pk for c in texans]).update(region="Texas")
    ohioan = affected(incident, "en", ["credentials"], country="US")
    Customer.objects.filter(pk=ohioan.pk).update(region="OH")
    obligations_sync(incident_id=incident.pk, actor=None)
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)

    send_all(communication_send(communication_id=communication.pk, actor=cmo))

    texas = Obligation.objects.get(incident=incident, regime__code="us-tx-individuals")
    last_to_texans = max(
        n.sent_at for n in Notification.objects.filter(customer__in=texans) if n.sent_at
    )
    assert (texas.status, texas.met_at) == ("met", last_to_texans)
    ohio = Obligation.objects.get(incident=incident, regime__code="us-oh")
    assert ohio.met_at == Notification.objects.get(customer=ohioan).sent_at
