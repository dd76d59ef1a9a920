"""The providers' tracking webhooks: real-shaped payloads (as anymail documents and parses
them), posted twice and out of order, then applied by the task's service."""

import base64
import hashlib
import hmac
import json
import logging

import pytest

from customers.models import Customer, Touchpoint
from incidents.models import TimelineEvent
from notifications.models import (
    DeliveryEvent,
    DeliveryState,
    Notification,
    PendingDeliveryEvent,
)
from notifications.services.letters import letters_due
from notifications.services.provider_events import delivery_events_apply_all

pytestmark = pytest.mark.django_db

SECRET = "hook:s3cret"
SIGNING_KEY = "key-signing-test"


@pytest.fixture
def hooks(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [SECRET], "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def auth() -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


def post(client, provider, payload, **headers):
    if provider == "mailgun" and not headers:
        headers = auth()
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(
        f"/webhooks/{provider}/tracking/", data=body, content_type="application/json", **headers
    )


def postmark(kind, row, when, **extra):
    """Postmark's documented webhook shapes (Delivery, Bounce, SpamComplaint, Open)."""
    base = {
        "MessageStream": "outbound",
        "ServerID": 23,
        "MessageID": row.provider_message_id,
        "Tag": "breach-notice",
        "Metadata": {},
    }
    if kind == "Delivery":
        return {
            **base,
            "RecordType": "Delivery",
            "Recipient": row.email,
            "DeliveredAt": when,
            "Details": "smtp;250 2.0.0 OK",
        }
    if kind == "Open":
        return {
            **base,
            "RecordType": "Open",
            "FirstOpen": True,
            "Recipient": row.email,
            "ReceivedAt": when,
            "Platform": "WebMail",
            "UserAgent": "Mozilla/5.0",
        }
    return {
        **base,
        "RecordType": "Bounce" if kind != "SpamComplaint" else "SpamComplaint",
        "ID": extra.get("id", 4323372036854775807),
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Description": "The server was unable to deliver your message (unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
        "Email": row.email,
        "From": "breachdesk@example.com",
        "BouncedAt": when,
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "About your account",
    }


def responses_recorded(*, opened, bounced, complained) -> list[TimelineEvent]:
    """Each response is a touchpoint of its own kind (the recovery cohorts count them);
    returns the timeline's provider-event entries, oldest first."""
    responses = Touchpoint.objects.exclude(
        kind__in=[Touchpoint.Kind.BREACH_NOTICE, Touchpoint.Kind.FOLLOW_UP]
    )
    assert sorted(responses.values_list("customer_id", "kind")) == sorted(
        [
            (opened.customer_id, Touchpoint.Kind.OPENED),
            (bounced.customer_id, Touchpoint.Kind.BOUNCED),
            (complained.customer_id, Touchpoint.Kind.COMPLAINED),
        ]
    )
    return list(TimelineEvent.objects.filter(kind="delivery.provider_events").order_by("seq"))


def test_postmark_events_twice_and_out_of_order_end_in_the_right_states(client, hooks, wave):
    communication, rows = wave
    opened, bounced, complained = rows[0], rows[1], rows[2]
    posts = [
        postmark("Open", opened, "2026-11-30T10:05:00Z"),
        postmark("Delivery", opened, "2026-11-30T10:00:00Z"),
        postmark("HardBounce", bounced, "2026-11-30T10:01:00Z", id=1),
        # The late "delivered" (sent before the bounce, received after) and repeats.
        postmark("Delivery", bounced, "2026-11-30T10:00:30Z"),
        postmark("HardBounce", bounced, "2026-11-30T10:01:00Z", id=1),
        postmark("Delivery", opened, "2026-11-30T10:00:00Z"),
        postmark("Delivery", complained, "2026-11-30T10:00:00Z"),
        postmark("SpamComplaint", complained, "2026-11-30T11:00:00Z", id=2),
    ]
    for payload in posts[:4]:
        assert post(client, "postmark", payload, **auth()).status_code == 200
    delivery_events_apply_all()
    for payload in posts[4:]:
        assert post(client, "postmark", payload, **auth()).status_code == 200
    delivery_events_apply_all()

    assert DeliveryEvent.objects.count() == 6  # the two repeats are the same rows
    state = dict(
        Notification.objects.filter(communication=communication).values_list(
            "customer_id", "delivery_state"
        )
    )
    assert state[opened.customer_id] == DeliveryState.OPENED
    assert state[bounced.customer_id] == DeliveryState.HARD_BOUNCE
    assert state[complained.customer_id] == DeliveryState.COMPLAINED
    assert state[rows[3].customer_id] == DeliveryState.NONE
    assert list(letters_due(communication_id=communication.pk).values_list("customer_id")) == [
        (bounced.customer_id,)
    ]
    assert Customer.objects.get(pk=bounced.customer_id).email_status == "bounced"
    assert Customer.objects.get(pk=complained.customer_id).marketing_consent == "withdrawn"
    assert Customer.objects.get(pk=opened.customer_id).marketing_consent != "withdrawn"
    heard = responses_recorded(opened=opened, bounced=bounced, complained=complained)
    assert [e.payload.get("hard_bounce", 0) for e in heard] == [1, 0]


def mailgun(event, row, *, severity=None, token="t0k3n", key=SIGNING_KEY, metadata=None):  # noqa: S107
    """Mailgun's signed JSON webhook (event-data with a signature block)."""
    timestamp = "1764496800"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    data = {
        "event": event,
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1764496800.375624,
        "log-level": "error" if event == "failed" else "info",
        "recipient": row.email,
        "recipient-domain": row.email.split("@")[1],
        "message": {
            "headers": {
                "message-id": "20261130.18666.16540@mg.example.com",
                "to": row.email,
                "from": "breachdesk@example.com",
                "subject": "About your account",
            },
            "attachments": [],
            "size": 4111,
        },
        "user-variables": metadata if metadata is not None else {"breachdesk": row.message_id},
        "tags": [],
        "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
    }
    if event == "failed":
        data.update(
            severity=severity,
            reason="bounce" if severity == "permanent" else "generic",
            **{
                "delivery-status": {
                    "code": 550 if severity == "permanent" else 452,
                    "message": "mailbox unavailable",
                    "description": "",
                    "attempt-no": 1,
                }
            },
        )
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": data,
    }


def test_mailgun_signed_events_find_the_message_by_our_reference(client, hooks, wave):
    communication, rows = wave
    hard, soft = rows[0], rows[1]
    assert post(client, "mailgun", mailgun("failed", soft, severity="temporary")).status_code == 200
    assert (
        post(
            client, "mailgun", mailgun("failed", hard, severity="permanent", token="b")
        ).status_code
        == 200
    )
    assert post(client, "mailgun", mailgun("delivered", hard, token="c")).status_code == 200
    delivery_events_apply_all()
    state = dict(
        Notification.objects.filter(communication=communication).values_list(
            "customer_id", "status"
        )
    )
    assert state[hard.customer_id] == Notification.Status.BOUNCED
    assert state[soft.customer_id] == Notification.Status.SENT
    assert (
        Notification.objects.get(pk=soft.pk).delivery_state,
        Notification.objects.get(pk=hard.pk).delivery_state,
    ) == (DeliveryState.SOFT_BOUNCE, DeliveryState.HARD_BOUNCE)


def test_a_wrong_signature_or_no_auth_is_refused_logged_without_body_and_nothing_kept(
    client, hooks, wave, caplog
):
    _communication, rows = wave
    caplog.set_level(logging.WARNING, logger="notifications.webhooks")
    forged = mailgun("failed", rows[0], severity="permanent", key="not-the-key")
    assert post(client, "mailgun", forged).status_code == 403
    unsigned = post(client, "postmark", postmark("Delivery", rows[0], "2026-11-30T10:00:00Z"))
    assert unsigned.status_code == 403
    wrong = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:guess").decode()}
    assert (
        post(client, "brevo", {"event": "delivered", "email": rows[0].email}, **wrong).status_code
        == 403
    )
    assert DeliveryEvent.objects.count() == 0
    assert "Refused a mailgun webhook" in caplog.text
    assert rows[0].email not in caplog.text


def test_a_malformed_payload_gets_400_and_nothing_is_written(client, hooks, wave, caplog):
    assert post(client, "postmark", "{not json", **auth()).status_code == 400
    assert post(client, "postmark", ["a", "list"], **auth()).status_code == 400
    assert post(client, "brevo", "[1, 2]", **auth()).status_code == 400
    assert post(client, "mailgun", {"signature": {}}).status_code in (400, 403)
    assert DeliveryEvent.objects.count() == 0


def test_brevo_unsubscribe_from_a_campaign_is_an_opt_out_and_an_unknown_message_is_kept(
    client, hooks, wave
):
    _communication, rows = wave
    person = Customer.objects.get(pk=rows[3].customer_id)
    campaign_ref = f"<campaign-77.customer-{person.pk}@breachdesk.invalid>"
    brevo = {
        "event": "unsubscribe",
        "email": person.email,
        "id": 1,
        "date": "2026-11-30 11:00:00",
        "ts": 1764500400,
        "message-id": "<202611301100.1234567890@smtp-relay.mailin.fr>",
        "ts_event": 1764500400,
        "ts_epoch": 1764500400000,
        "subject": "Winter sale",
        "tags": ["promo"],
        "X-Mailin-custom": json.dumps({"breachdesk": campaign_ref}),
    }
    stranger = {
        **brevo,
        "event": "hard_bounce",
        "email": "someone.else@example.org",
        "message-id": "<unknown@smtp-relay.mailin.fr>",
        "X-Mailin-custom": None,
    }
    for payload in (brevo, stranger, brevo):
        assert post(client, "brevo", payload, **auth()).status_code == 200
    delivery_events_apply_all()
    person.refresh_from_db()
    assert person.marketing_consent == Customer.Consent.WITHDRAWN
    assert person.consent_source.startswith("email provider")
    outcomes = dict(DeliveryEvent.objects.values_list("kind", "outcome"))
    assert outcomes == {"unsubscribed": "", "hard_bounce": "unknown"}
    assert not PendingDeliveryEvent.objects.exists()
    assert not Customer.objects.filter(email_status="bounced").exists()
    assert not Notification.objects.filter(status=Notification.Status.BOUNCED).exists()


def test_no_crm_import_undoes_a_complaint_or_a_hard_bounce(client, hooks, wave):
    from tests.customers.conftest import run_import

    _communication, rows = wave
    bounced, complained = rows[0], rows[1]
    post(client, "postmark", postmark("HardBounce", bounced, "2026-11-30T10:01:00Z"), **auth())
    post(
        client,
        "postmark",
        postmark("SpamComplaint", complained, "2026-11-30T10:02:00Z", id=9),
        **auth(),
    )
    delivery_events_apply_all()
    csv = "external_id,first_name,email,marketing_consent\n" + "".join(
        f"crm-{r.customer_id},Again,{r.email},granted\n" for r in (bounced, complained)
    )
    job = run_import(
        csv.encode(),
        source="crm",
        mapping_columns={
            "external_id": "external_id",
            "first_name": "first_name",
            "email": "email",
            "marketing_consent": "marketing_consent",
        },
    )
    assert job.status == "succeeded", job.error
    assert Customer.objects.get(pk=bounced.customer_id).email_status == "bounced"
    assert Customer.objects.get(pk=complained.customer_id).marketing_consent == "withdrawn"
