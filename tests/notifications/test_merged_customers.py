"""A record merged into another gets no breach message of its own: the survivor does."""

import pytest

from customers.models import Customer, DuplicateCandidate
from customers.services import customer_merge
from notifications.models import Notification
from notifications.services.delivery import (
    communication_audience_size,
    communication_send,
    notifications_fan_out,
)
from notifications.services.letters import letters_due

from .delivery_helpers import signed_off
from .factories import CustomerFactory, IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


def merge(survivor, merged, by):
    a, b = sorted([survivor.pk, merged.pk])
    pair = DuplicateCandidate.objects.create(
        customer_a_id=a, customer_b_id=b, reason="name_postal", score=0.9
    )
    return customer_merge(candidate=pair, survivor=survivor, by=by)


def test_the_survivor_is_written_to_in_place_of_the_merged_away_record(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    # Known to the breached system only under an old record with no email: a letter.
    merged = affected(incident, "en", ["credentials"])
    Customer.objects.filter(pk=merged.pk).update(
        email="", email_normalized="", email_status=Customer.EmailStatus.MISSING
    )
    survivor = CustomerFactory.create(language="en", country="DE")
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    communication_send(communication_id=communication.pk, actor=cmo)
    assert letters_due(communication_id=communication.pk).count() == 1

    merge(survivor, merged, marketing)

    # The old record's letter is not printed: it would be a second notice to one person.
    assert not letters_due(communication_id=communication.pk).exists()
    old = Notification.objects.get(communication=communication, customer=merged)
    assert (old.status, old.get_skip_reason_display()) == ("skipped", "Record merged into another")
    # The notice audience is the survivor, who gets their own message by email.
    assert communication_audience_size(communication=communication) == 1
    communication.refresh_from_db()
    assert notifications_fan_out(communication=communication) == 1
    new = Notification.objects.get(communication=communication, customer=survivor)
    assert (new.channel, new.email) == ("email", survivor.email)
