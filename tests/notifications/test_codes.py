"""Remediation codes: imported per incident, one per person, never twice."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import TimelineEvent
from notifications.models import Notification, RemediationCode
from notifications.services.codes import codes_import
from notifications.services.delivery import DeliveryError, communication_send

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db
EXPIRY = (timezone.now() + timedelta(days=365)).date().isoformat()


def codes_csv(n, *, start=0, vendor="Experian"):
    rows = [f"CODE-{i:05d},{vendor},{EXPIRY}" for i in range(start, start + n)]
    return "code,vendor,expiry\n" + "\n".join(rows) + "\n"


@pytest.fixture
def card_breach(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["payment_card"])
    customers = [affected(incident, "en", ["payment_card"]) for _ in range(6)]
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    return incident, communication, customers


def test_a_pool_short_by_one_code_blocks_the_send_and_says_so(card_breach, cmo):
    incident, communication, customers = card_breach
    codes_import(incident_id=incident.pk, actor=cmo, csv_text=codes_csv(len(customers) - 1))
    with pytest.raises(DeliveryError, match="short by 1 code\\. Import more codes first"):
        communication_send(communication_id=communication.pk, actor=cmo)
    # Refused before fan-out: nobody is queued and no code is used.
    assert not Notification.objects.exists()
    assert not RemediationCode.objects.filter(notification__isnull=False).exists()


def test_each_person_gets_one_code_and_no_code_goes_twice(card_breach, cmo, ciso):
    incident, communication, customers = card_breach
    codes_import(incident_id=incident.pk, actor=cmo, csv_text=codes_csv(len(customers) + 2))
    communication_send(communication_id=communication.pk, actor=cmo)
    communication_send(communication_id=communication.pk, actor=ciso)
    assigned = RemediationCode.objects.filter(notification__isnull=False)
    assert assigned.count() == len(customers)
    assert set(assigned.values_list("notification__customer_id", flat=True)) == {
        c.pk for c in customers
    }
    assert RemediationCode.objects.filter(notification__isnull=True).count() == 2


def test_expired_codes_do_not_count(card_breach, cmo):
    incident, communication, customers = card_breach
    codes_import(incident_id=incident.pk, actor=cmo, csv_text=codes_csv(len(customers)))
    RemediationCode.objects.filter(pk=RemediationCode.objects.order_by("pk")[0].pk).update(
        expires_on=timezone.now().date() - timedelta(days=1)
    )
    with pytest.raises(DeliveryError, match="short by 1 code"):
        communication_send(communication_id=communication.pk, actor=cmo)


def test_the_code_is_in_the_message(smtp_server, card_breach, cmo):
    from notifications.services.delivery import delivery_send_batch

    incident, communication, customers = card_breach
    codes_import(incident_id=incident.pk, actor=cmo, csv_text=codes_csv(len(customers)))
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    delivery_send_batch(delivery_id=delivery.pk)
    codes = dict(RemediationCode.objects.values_list("notification__customer__email", "code"))
    for message in smtp_server.messages:
        text = message.get_payload()[0].get_payload(decode=True).decode()
        assert codes[message["X-Envelope-To"]] in text


def test_import_names_each_bad_line_and_writes_nothing(card_breach, cmo):
    incident, _, _ = card_breach
    bad = (
        "code,vendor,expiry\n"
        f"A1,Experian,{EXPIRY}\n"
        "A2,,2030-01-01\n"
        "A3,Experian,next year\n"
        "A4,Experian,2001-01-01\n"
        f"A1,Experian,{EXPIRY}\n"
    )
    with pytest.raises(ValidationError) as error:
        codes_import(incident_id=incident.pk, actor=cmo, csv_text=bad)
    assert error.value.messages == [
        "line 3: code and vendor are required",
        "line 4: expiry 'next year' is not a date (YYYY-MM-DD)",
        "line 5: code expired on 2001-01-01",
        "line 6: code repeats line 2",
    ]
    assert not RemediationCode.objects.exists()


def test_import_needs_the_columns_and_the_permission(card_breach, cmo, legal):
    incident, _, _ = card_breach
    with pytest.raises(ValidationError, match="no column expiry"):
        codes_import(incident_id=incident.pk, actor=cmo, csv_text="code,vendor\nA,B\n")
    with pytest.raises(ValidationError, match="may not import"):
        codes_import(incident_id=incident.pk, actor=legal, csv_text=codes_csv(1))


def test_reimporting_a_file_adds_nothing_and_goes_on_the_timeline(card_breach, cmo):
    incident, _, _ = card_breach
    assert codes_import(incident_id=incident.pk, actor=cmo, csv_text=codes_csv(3)) == 3
    assert codes_import(incident_id=incident.pk, actor=cmo, csv_text=codes_csv(3)) == 0
    payloads = list(
        TimelineEvent.objects.filter(kind="delivery.codes_imported").values_list(
            "payload", flat=True
        )
    )
    assert [p["added"] for p in payloads] == [3, 0]
