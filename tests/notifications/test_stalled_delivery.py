"""A wave of breach notices whose batch chains all died is handed out again, on the record."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.tasks import stalled_work_sweep
from incidents.models import TimelineEvent
from incidents.selectors import timeline_verify
from notifications.models import Delivery, Notification
from notifications.services.delivery import communication_send, delivery_send_batch
from tests.conftest import run_queued_tasks

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


@pytest.fixture
def wave(marketing, cmo, ciso, django_capture_on_commit_callbacks):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    for _ in range(4):
        affected(incident, "en", ["credentials"])
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    # The chains are handed to the queue on commit; here they are lost, as when every
    # attempt of every chain failed.
    with django_capture_on_commit_callbacks(execute=False):
        delivery = communication_send(communication_id=communication.pk, actor=cmo)
    return incident, delivery


def backdate(delivery, hours):
    Delivery.objects.filter(pk=delivery.pk).update(
        started_at=timezone.now() - timedelta(hours=hours)
    )


def test_a_wave_that_sent_nothing_for_an_hour_is_handed_out_again_and_completes(
    wave, smtp_server, django_capture_on_commit_callbacks
):
    incident, delivery = wave
    backdate(delivery, 2)

    with django_capture_on_commit_callbacks(execute=True):
        swept = stalled_work_sweep()
    run_queued_tasks()

    assert swept["deliveries_resumed"] == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.COMPLETED
    assert len(smtp_server.messages) == 4  # each person once
    kinds = list(
        TimelineEvent.objects.filter(incident=incident, kind__startswith="delivery.")
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds == ["delivery.started", "delivery.stall_resumed", "delivery.completed"]
    assert timeline_verify(incident_id=incident.pk).ok


def test_a_wave_still_sending_or_just_started_is_left_alone(wave, smtp_server):
    _incident, delivery = wave
    assert stalled_work_sweep()["deliveries_resumed"] == []  # just started

    backdate(delivery, 2)
    delivery_send_batch(delivery_id=delivery.pk)  # a chain that is alive sends

    assert stalled_work_sweep()["deliveries_resumed"] == []
    assert Notification.objects.filter(status=Notification.Status.SENT).exists()
