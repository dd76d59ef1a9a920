"""Sending a signed-off communication, batch by batch, to a real SMTP server on loopback."""

import pytest
from django.utils import timezone

from config import roles
from customers.models import Customer, Touchpoint
from incidents.models import Incident, TimelineEvent
from notifications import services
from notifications.models import Delivery, Notification, SendRateWindow
from notifications.services.delivery import (
    DeliveryError,
    communication_send,
    delivery_progress_counts,
    delivery_resume,
    delivery_send_batch,
)

from .delivery_helpers import signed_off
from .factories import CustomerFactory, IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    customers = [affected(incident, "en", ["credentials"]) for _ in range(5)]
    return incident, version, customers


@pytest.fixture
def communication(people, marketing, cmo, ciso):
    incident, version, _ = people
    return signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)


def send_all(delivery):
    for _ in range(50):
        result = delivery_send_batch(delivery_id=delivery.pk)
        if not result.more:
            return
    raise AssertionError("the wave never finished")


def kinds(incident):
    return list(
        TimelineEvent.objects.filter(incident=incident, kind__startswith="delivery.")
        .order_by("seq")
        .values_list("kind", flat=True)
    )


def test_each_person_gets_one_message_with_a_deterministic_message_id(
    smtp_server, people, communication, cmo
):
    incident, _, customers = people
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    send_all(delivery)
    by_recipient = {m["X-Envelope-To"]: m for m in smtp_server.messages}
    assert sorted(by_recipient) == sorted(c.email for c in customers)
    assert len(smtp_server.messages) == len(customers)
    for customer in customers:
        assert by_recipient[customer.email]["Message-ID"] == (
            f"<breach-{communication.pk}.{customer.pk}@breachdesk.invalid>"
        )
        assert customer.first_name in by_recipient[customer.email]["Subject"]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.COMPLETED
    assert Touchpoint.objects.filter(kind=Touchpoint.Kind.BREACH_NOTICE).count() == 5
    # The timeline holds the wave, not one event per message.
    assert kinds(incident) == ["delivery.started", "delivery.completed"]
    assert Incident.objects.get(pk=incident.pk).people_notified_at is not None


def test_a_second_click_adds_nobody(people, communication, cmo, ciso):
    incident, _, customers = people
    first = communication_send(communication_id=communication.pk, actor=cmo)
    second = communication_send(communication_id=communication.pk, actor=ciso)
    assert first.pk == second.pk
    assert Notification.objects.filter(communication=communication).count() == len(customers)
    assert kinds(incident) == ["delivery.started"]


def test_content_changed_after_sign_off_cannot_be_sent(people, communication, cmo):
    incident, _, _ = people
    # The incident facts are part of what was signed: the words people would read changed.
    Incident.objects.filter(pk=incident.pk).update(nature="Something else happened.")
    with pytest.raises(DeliveryError, match="not what the CMO and the CISO signed off"):
        communication_send(communication_id=communication.pk, actor=cmo)
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


def test_an_unsigned_communication_cannot_be_sent(people, communication, cmo, marketing):
    _incident, _version, _ = people
    services.communication_sign_offs_void(
        communication_id=communication.pk, actor=marketing, reason="A change is coming."
    )
    with pytest.raises(DeliveryError, match="not what the CMO and the CISO signed off"):
        communication_send(communication_id=communication.pk, actor=cmo)
    assert not Notification.objects.exists()


def test_a_marketing_operator_cannot_send(communication, marketing):
    with pytest.raises(DeliveryError, match="may not send"):
        communication_send(communication_id=communication.pk, actor=marketing)


def test_a_malformed_address_gets_a_letter_and_the_batch_goes_on(
    smtp_server, people, communication, cmo
):
    incident, _, customers = people
    broken = affected(incident, "en", ["credentials"])
    Customer.objects.filter(pk=broken.pk).update(email="not an address")
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    send_all(delivery)
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in customers)
    row = Notification.objects.get(customer=broken)
    assert (row.channel, row.status) == ("letter", Notification.Status.LETTER)
    assert Customer.objects.get(pk=broken.pk).email_status == Customer.EmailStatus.UNDELIVERABLE


def test_refused_recipients_fail_permanently_and_busy_ones_are_retried_later(
    smtp_server, people, communication, cmo, settings
):
    _incident, _, customers = people
    gone, busy = customers[0].email, customers[1].email

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if address == gone:
            return "550 no such user"
        if address == busy:
            return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_RCPT
    settings.DELIVERY_BACKOFF_SECONDS = 60
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    result = delivery_send_batch(delivery_id=delivery.pk)
    assert (result.sent, result.failed, result.retried) == (3, 1, 1)
    failed = Notification.objects.get(customer=customers[0])
    assert failed.status == Notification.Status.FAILED
    assert failed.last_error.startswith("550")
    retry = Notification.objects.get(customer=customers[1])
    assert retry.status == Notification.Status.PENDING
    assert retry.next_attempt_at is not None
    assert retry.next_attempt_at > timezone.now()
    # Not due yet: the chain waits rather than hammering the server.
    assert result.more and result.wait > 30
    assert delivery_send_batch(delivery_id=delivery.pk).claimed == 0


def test_the_rate_limit_is_shared_through_the_database(
    smtp_server, people, communication, cmo, settings
):
    settings.DELIVERY_RATE_PER_MINUTE = 3
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    first = delivery_send_batch(delivery_id=delivery.pk)
    # Another worker (any process) draws from the same minute's budget.
    second = delivery_send_batch(delivery_id=delivery.pk)
    assert (first.sent, second.sent) == (3, 0)
    assert second.more and 0 < second.wait <= 60
    assert sum(SendRateWindow.objects.values_list("sent", flat=True)) == 3
    assert len(smtp_server.messages) == 3


def test_the_circuit_breaker_pauses_the_wave_and_only_ciso_or_cmo_resume(
    smtp_server, people, communication, cmo, ciso, marketing, settings
):
    incident, _, _customers = people

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        return "550 mailbox unavailable"

    smtp_server.handle_RCPT = handle_RCPT
    settings.DELIVERY_BATCH_SIZE = 4
    settings.DELIVERY_BREAKER_MIN_SAMPLE = 3
    settings.DELIVERY_BREAKER_RATE = 0.5
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    delivery_send_batch(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PAUSED
    assert "Circuit breaker: 4 of 4 messages failed" in delivery.pause_reason
    assert delivery_send_batch(delivery_id=delivery.pk).claimed == 0
    assert delivery_progress_counts(communication_id=communication.pk)["pending"] == 1
    with pytest.raises(DeliveryError, match="Only the CISO or the CMO"):
        delivery_resume(delivery_id=delivery.pk, actor=marketing)
    delivery_resume(delivery_id=delivery.pk, actor=ciso)
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENDING
    assert kinds(incident) == ["delivery.started", "delivery.paused", "delivery.resumed"]


def test_breach_notices_ignore_opt_outs_and_caps_but_follow_ups_respect_them(
    people, marketing, cmo, ciso, settings
):
    incident, version, customers = people
    opted_out, busy = customers[0], customers[1]
    Customer.objects.filter(pk=opted_out.pk).update(marketing_consent=Customer.Consent.WITHDRAWN)
    Touchpoint.objects.bulk_create(
        Touchpoint(
            customer=busy,
            channel="email",
            kind=Touchpoint.Kind.PROMOTIONAL,
            occurred_at=timezone.now(),
        )
        for _ in range(settings.DELIVERY_FOLLOW_UP_CAP_MESSAGES)
    )
    notice = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    communication_send(communication_id=notice.pk, actor=cmo)
    assert set(
        Notification.objects.filter(communication=notice).values_list("status", flat=True)
    ) == {"pending"}
    follow_up = signed_off(
        incident, [version], author=marketing, cmo=cmo, ciso=ciso, name="Reminder"
    )
    communication_send(communication_id=follow_up.pk, actor=cmo, kind="follow_up")
    skipped = dict(
        Notification.objects.filter(communication=follow_up, status="skipped").values_list(
            "customer_id", "skip_reason"
        )
    )
    assert skipped == {opted_out.pk: "opted_out", busy.pk: "frequency_cap"}


def test_people_outside_the_audience_get_nothing(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    inside = affected(incident, "en", ["credentials"], "GB")
    affected(incident, "en", ["credentials"], "FR")
    CustomerFactory.create()
    communication = signed_off(
        incident,
        [version],
        author=marketing,
        cmo=cmo,
        ciso=ciso,
        audience_countries=["GB"],
        audience_data_categories=["credentials"],
    )
    communication_send(communication_id=communication.pk, actor=cmo)
    assert list(
        Notification.objects.filter(communication=communication).values_list(
            "customer_id", flat=True
        )
    ) == [inside.pk]


def test_cmo_group_member_is_needed_not_superuser(communication, make_user):
    boss = make_user("boss")
    boss.is_superuser = True
    boss.save()
    other = make_user("plain", roles.DPO)
    with pytest.raises(DeliveryError):
        communication_send(communication_id=communication.pk, actor=other)


def test_non_ascii_names_arrive_intact(smtp_server, people, communication, cmo):
    from email.header import decode_header, make_header

    _incident, _version, customers = people
    Customer.objects.filter(pk=customers[0].pk).update(first_name="Jürgen Ærø")
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    send_all(delivery)
    message = next(m for m in smtp_server.messages if m["X-Envelope-To"] == customers[0].email)
    assert "Jürgen Ærø" in str(make_header(decode_header(message["Subject"])))
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert "Dear Jürgen Ærø Person," in text
    assert "<p>Dear Jürgen Ærø Person,</p>" in html


def test_a_change_mid_wave_pauses_it_before_another_message_leaves(
    smtp_server, people, communication, cmo, marketing, settings
):
    settings.DELIVERY_BATCH_SIZE = 2
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    delivery_send_batch(delivery_id=delivery.pk)
    services.communication_sign_offs_void(
        communication_id=communication.pk, actor=marketing, reason="Wording changes."
    )
    result = delivery_send_batch(delivery_id=delivery.pk)
    assert (result.claimed, result.more) == (0, False)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PAUSED
    assert "content changed after sign-off" in delivery.pause_reason
    assert len(smtp_server.messages) == 2
