"""Sending through an email provider (django-anymail) keeps what SMTP guarantees: one
message per person, the same Message-ID on a retry, refusals told from busy answers, and
the provider's id kept with each notification and campaign send."""

import uuid

import pytest
import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailRecipientStatus
from django.core import mail

from customers.models import Customer
from notifications.models import Notification
from notifications.services.delivery import communication_send, delivery_send_batch

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


def api_error(status: int, reason: str) -> AnymailAPIError:
    response = requests.Response()
    response.status_code, response.reason = status, reason
    return AnymailAPIError(reason, status_code=status, response=response)


def is_gone(address: str) -> bool:
    return address.startswith("gone")


def is_busy(address: str) -> bool:
    return address.startswith("busy")


class ScriptedProvider(AnymailTestBackend):
    """anymail's test backend, answering as a provider would: gone* is refused for good,
    busy* gets a 503 for its first `busy_for` attempts."""

    attempts: dict[str, int] = {}
    busy_for = 1

    def get_esp_message_id(self, message):
        return f"prov-{uuid.uuid4().hex}"

    def post_to_esp(self, payload, message):
        to = message.to[0]
        self.attempts[to] = self.attempts.get(to, 0) + 1
        if is_gone(to):
            return {"recipient_status": {to: AnymailRecipientStatus(None, "rejected")}}
        if is_busy(to) and self.attempts[to] <= self.busy_for:
            raise api_error(503, "Service Unavailable")
        return super().post_to_esp(payload, message)


@pytest.fixture
def provider(settings):
    settings.EMAIL_BACKEND = f"{__name__}.ScriptedProvider"
    settings.DELIVERY_BACKOFF_SECONDS = 0
    ScriptedProvider.attempts = {}
    mail.outbox = []
    return mail.outbox


def world(marketing, cmo, ciso, tag="a"):
    """Four people who get mail, one refused, one busy once, one malformed, one without."""
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    people = {f"ok{i}": affected(incident, "en", ["credentials"]) for i in range(4)}
    for role in ("gone", "busy"):
        email = f"{role}-{tag}@example.com"
        people[role] = affected(incident, "en", ["credentials"])
        Customer.objects.filter(pk=people[role].pk).update(email=email, email_normalized=email)
    people["malformed"] = affected(incident, "en", ["credentials"])
    Customer.objects.filter(pk=people["malformed"].pk).update(email="not an address")
    people["none"] = affected(incident, "en", ["credentials"])
    Customer.objects.filter(pk=people["none"].pk).update(
        email="", email_normalized="", email_status=Customer.EmailStatus.MISSING
    )
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    return communication, people


def send_all(delivery):
    for _ in range(20):
        if not delivery_send_batch(delivery_id=delivery.pk).more:
            return
    raise AssertionError("the wave never finished")


def outcome_table(communication, people, received: dict[str, list[str]]):
    """Per person: status, channel, attempts, and the Message-IDs they received."""
    rows = {r.customer_id: r for r in Notification.objects.filter(communication=communication)}
    table = {}
    for role, customer in people.items():
        row = rows[customer.pk]
        ids = received.get(row.email, [])
        table[role] = (
            row.status,
            row.channel,
            row.attempts,
            len(ids),
            all(i == row.message_id for i in ids),
        )
    return table


def test_a_provider_and_the_loopback_smtp_server_give_the_same_outcome_table(
    smtp_server, marketing, cmo, ciso, settings
):
    busy_seen: list[str] = []

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if is_gone(address):
            return "550 no such user"
        if is_busy(address) and not busy_seen:
            busy_seen.append(address)
            return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handle_RCPT = handle_RCPT
    settings.DELIVERY_BACKOFF_SECONDS = 0
    over_smtp, smtp_people = world(marketing, cmo, ciso)
    send_all(communication_send(communication_id=over_smtp.pk, actor=cmo))
    smtp_received: dict[str, list[str]] = {}
    for message in smtp_server.messages:
        smtp_received.setdefault(message["X-Envelope-To"], []).append(message["Message-ID"])

    settings.EMAIL_BACKEND = f"{__name__}.ScriptedProvider"
    ScriptedProvider.attempts = {}
    mail.outbox = []
    over_provider, provider_people = world(marketing, cmo, ciso, tag="b")
    send_all(communication_send(communication_id=over_provider.pk, actor=cmo))
    provider_received: dict[str, list[str]] = {}
    for message in mail.outbox:
        provider_received.setdefault(message.to[0], []).append(message.extra_headers["Message-ID"])

    smtp_table = outcome_table(over_smtp, smtp_people, smtp_received)
    provider_table = outcome_table(over_provider, provider_people, provider_received)
    assert provider_table == smtp_table
    assert smtp_table["ok0"] == (Notification.Status.SENT, "email", 1, 1, True)
    assert smtp_table["gone"][0] == Notification.Status.FAILED
    assert smtp_table["busy"] == (Notification.Status.SENT, "email", 2, 1, True)
    assert smtp_table["malformed"][:2] == (Notification.Status.LETTER, "letter")
    assert smtp_table["none"][:2] == (Notification.Status.LETTER, "letter")


def test_the_provider_id_is_kept_and_our_message_id_travels_in_the_metadata(
    provider, marketing, cmo, ciso
):
    communication, people = world(marketing, cmo, ciso)
    send_all(communication_send(communication_id=communication.pk, actor=cmo))
    sent = {m.to[0]: m for m in provider}
    row = Notification.objects.get(communication=communication, customer=people["ok1"])
    message = sent[row.email]
    assert row.provider_message_id == message.anymail_status.message_id
    assert row.provider_message_id.startswith("prov-")
    assert message.anymail_test_params["metadata"] == {"breachdesk": row.message_id}
    refused = Notification.objects.get(communication=communication, customer=people["gone"])
    assert (refused.provider_message_id, refused.last_error[:23]) == (
        "",
        "refused by the provider",
    )


def test_a_busy_provider_is_retried_with_the_same_message_id_and_one_message_left(
    provider, marketing, cmo, ciso
):
    ScriptedProvider.busy_for = 2
    try:
        communication, people = world(marketing, cmo, ciso)
        send_all(communication_send(communication_id=communication.pk, actor=cmo))
    finally:
        ScriptedProvider.busy_for = 1
    busy = Notification.objects.get(communication=communication, customer=people["busy"])
    assert (busy.status, busy.attempts) == (Notification.Status.SENT, 3)
    assert ScriptedProvider.attempts[busy.email] == 3
    delivered = [m for m in provider if m.to[0] == busy.email]
    assert len(delivered) == 1
    assert delivered[0].extra_headers["Message-ID"] == busy.message_id
    assert busy.provider_message_id == delivered[0].anymail_status.message_id


class Unprocessable(ScriptedProvider):
    def post_to_esp(self, payload, message):
        raise api_error(422, "Invalid 'To' address")


def test_a_provider_answering_4xx_fails_the_message_for_good(
    provider, settings, marketing, cmo, ciso
):
    settings.EMAIL_BACKEND = f"{__name__}.Unprocessable"
    communication, _people = world(marketing, cmo, ciso)
    send_all(communication_send(communication_id=communication.pk, actor=cmo))
    statuses = set(
        Notification.objects.filter(communication=communication, channel="email").values_list(
            "status", "attempts"
        )
    )
    assert statuses == {(Notification.Status.FAILED, 1)}
