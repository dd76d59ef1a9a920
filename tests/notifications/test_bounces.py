"""Bounces from a provider's CSV export and from RFC 3464 delivery status notifications."""

import pytest
from django.core.exceptions import ValidationError

from customers.models import Customer
from incidents.models import TimelineEvent
from notifications.models import Notification
from notifications.services.bounces import (
    Bounce,
    bounces_from_csv,
    bounces_from_dsn,
    bounces_record,
    dsn_messages,
)
from notifications.services.delivery import communication_send, delivery_send_batch
from notifications.services.letters import letters_due

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


def dsn(recipient: str, message_id: str, *, action="failed", status="5.1.1") -> str:
    return f"""From MAILER-DAEMON Fri Nov 27 10:00:00 2026
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: breachdesk@localhost
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B
Content-Type: text/rfc822-headers

Message-ID: {message_id}
Subject: About your data

--B--

"""


@pytest.fixture
def sent(smtp_server, marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    customers = [affected(incident, "en", ["credentials"]) for _ in range(4)]
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    delivery_send_batch(delivery_id=delivery.pk)
    return communication, customers


def bounced_ids(communication):
    return set(
        Notification.objects.filter(communication=communication, status="bounced").values_list(
            "customer_id", flat=True
        )
    )


def test_a_provider_export_marks_hard_bounces_and_they_get_a_letter(sent, marketing):
    communication, customers = sent
    export = (
        "Email,Bounce Type,Reason\n"
        f"{customers[0].email.upper()},hard,mailbox does not exist\n"
        f"{customers[1].email},soft,mailbox full\n"
    )
    marked = bounces_record(
        bounces=bounces_from_csv(csv_text=export), source="export.csv", actor=marketing
    )
    assert marked == 1
    assert bounced_ids(communication) == {customers[0].pk}
    assert Customer.objects.get(pk=customers[0].pk).email_status == "bounced"
    assert Customer.objects.get(pk=customers[1].pk).email_status == "valid"
    assert list(
        letters_due(communication_id=communication.pk).values_list("customer_id", flat=True)
    ) == [customers[0].pk]
    event = TimelineEvent.objects.get(kind="delivery.bounces_recorded")
    assert event.payload["bounced"] == 1


def test_a_bad_export_names_the_line(sent, marketing):
    with pytest.raises(ValidationError, match="line 3: 'nobody' is not an email address"):
        bounces_from_csv(csv_text="email\na@example.com\nnobody\n")
    with pytest.raises(ValidationError, match="no email"):
        bounces_from_csv(csv_text="who\nx\n")


def test_an_mbox_of_delivery_status_notifications_marks_the_failed_recipients(
    sent, marketing, tmp_path
):
    communication, customers = sent
    first = Notification.objects.get(customer=customers[0]).message_id
    second = Notification.objects.get(customer=customers[1]).message_id
    mbox = tmp_path / "bounces.mbox"
    mbox.write_text(
        dsn(customers[0].email, first)
        + dsn(customers[1].email, second, action="delayed", status="4.2.2")
    )
    bounces = [b for m in dsn_messages(path=mbox) for b in bounces_from_dsn(m)]
    assert [(b.email, b.message_id) for b in bounces] == [(customers[0].email, first)]
    bounces_record(bounces=bounces, source="bounces.mbox", actor=marketing)
    assert bounced_ids(communication) == {customers[0].pk}


def test_a_directory_of_eml_files_and_an_uploaded_eml_are_read(sent, marketing, tmp_path):
    communication, customers = sent
    for i, customer in enumerate(customers[:2]):
        body = dsn(customer.email, Notification.objects.get(customer=customer).message_id)
        (tmp_path / f"{i}.eml").write_text(body.split("\n", 1)[1])
    from_dir = [b for m in dsn_messages(path=tmp_path) for b in bounces_from_dsn(m)]
    assert {b.email for b in from_dir} == {customers[0].email, customers[1].email}
    upload = dsn(customers[2].email, "<not-ours@example.com>").split("\n", 1)[1].encode()
    uploaded = [b for m in dsn_messages(data=upload) for b in bounces_from_dsn(m)]
    bounces_record(bounces=from_dir + uploaded, source="upload", actor=marketing)
    assert bounced_ids(communication) == {c.pk for c in customers[:3]}


def test_recording_bounces_needs_the_permission(sent, legal):
    _, customers = sent
    with pytest.raises(ValidationError, match="may not record bounces"):
        bounces_record(
            bounces=bounces_from_csv(csv_text=f"email\n{customers[0].email}\n"),
            source="x",
            actor=legal,
        )


def test_a_report_naming_thousands_of_messages_is_matched_whole(sent, marketing):
    """A mailbox of bounces from a large wave: every Message-ID in one OR of the query was
    more than SQLite takes (expression tree too deep), and grew the query without end."""
    communication, customers = sent
    ours = [
        Bounce(
            email=c.email,
            message_id=f"<breach-{communication.pk}.{c.pk}@breachdesk.invalid>",
            reason="550 no such user",
        )
        for c in customers
    ]
    others = [
        Bounce(
            email=f"gone{n}@example.org",
            message_id=f"<breach-{communication.pk}.{10_000_000 + n}@breachdesk.invalid>",
            reason="550 no such user",
        )
        for n in range(3_000)
    ]

    marked = bounces_record(bounces=others + ours, source="big.mbox", actor=marketing)

    assert marked == 4
    assert bounced_ids(communication) == {c.pk for c in customers}
    event = TimelineEvent.objects.get(kind="delivery.bounces_recorded")
    assert event.payload["bounced"] == 4
