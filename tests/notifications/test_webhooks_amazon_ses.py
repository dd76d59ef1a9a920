"""Amazon SES's tracking events, as SNS posts them (anymail's amazon_ses tracking webhook):
the documented notification shapes, posted twice and out of order; the SNS basic-auth
handshake; forged, mismatched and malformed posts."""

import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from customers.models import Customer, Touchpoint
from notifications.models import DeliveryEvent, DeliveryState, Notification, PendingDeliveryEvent
from notifications.services.letters import letters_due
from notifications.services.provider_events import delivery_events_apply_all

from .test_webhooks import SECRET, auth, responses_recorded

pytestmark = pytest.mark.django_db

URL = "/webhooks/amazon_ses/tracking/"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:breachdesk-ses-events"


@pytest.fixture
def hooks(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [SECRET]}


def ses(kind, row, sns_id, *, when="2026-11-30T10:00:00.000Z", reference=True, **detail):
    """An SNS notification carrying an SES event (AWS's documented event-publishing shape;
    our reference travels in the X-Metadata header anymail's SES backend adds)."""
    headers = [
        {"name": "From", "value": "Breachdesk <breachdesk@example.com>"},
        {"name": "To", "value": row.email},
        {"name": "Subject", "value": "About your account"},
    ]
    if reference:
        headers.append({"name": "X-Metadata", "value": json.dumps({"breachdesk": row.message_id})})
    event = {
        "eventType": kind,
        "mail": {
            "timestamp": "2026-11-30T09:59:58.237Z",
            "source": "breachdesk@example.com",
            "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
            "sendingAccountId": "123456789012",
            "messageId": row.provider_message_id,
            "destination": [row.email],
            "headersTruncated": False,
            "headers": headers,
            "commonHeaders": {"to": [row.email], "subject": "About your account"},
            "tags": {"ses:configuration-set": ["breachdesk"]},
        },
    }
    if kind == "Bounce":
        event["bounce"] = {
            "bounceType": detail.get("bounce_type", "Permanent"),
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": row.email,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": when,
            "feedbackId": f"fb-{sns_id}",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        }
    elif kind == "Complaint":
        event["complaint"] = {
            "complainedRecipients": [{"emailAddress": row.email}],
            "timestamp": when,
            "feedbackId": f"fb-{sns_id}",
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complaintFeedbackType": "abuse",
        }
    elif kind == "Delivery":
        event["delivery"] = {
            "timestamp": when,
            "processingTimeMillis": 546,
            "recipients": [row.email],
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }
    elif kind == "Open":
        event["open"] = {"ipAddress": "192.0.2.1", "timestamp": when, "userAgent": "Mozilla/5.0"}
    elif kind == "DeliveryDelay":
        event["deliveryDelay"] = {
            "timestamp": when,
            "delayType": "TransientCommunicationFailure",
            "delayedRecipients": [{"emailAddress": row.email, "status": "4.4.1"}],
        }
    return {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(event) + "\n",
        "Timestamp": when,
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
    }


def sns_post(client, message, *, headers=None, body=None, message_id=None):
    """As SNS posts: JSON sent as text/plain, the type and id repeated in headers."""
    extra = auth() if headers is None else headers
    return client.post(
        URL,
        data=json.dumps(message) if body is None else body,
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=message.get("Type", ""),
        HTTP_X_AMZ_SNS_MESSAGE_ID=message_id or message.get("MessageId", ""),
        HTTP_X_AMZ_SNS_TOPIC_ARN=TOPIC,
        **extra,
    )


def test_amazon_ses_events_twice_and_out_of_order_end_in_the_right_states(client, hooks, wave):
    communication, rows = wave
    bounced, soft, complained, opened, silent = rows
    posts = [
        ses("Bounce", bounced, "sns-1", when="2026-11-30T10:01:00.000Z"),
        ses("Open", opened, "sns-2", when="2026-11-30T10:05:00.000Z", reference=False),
        ses("Bounce", soft, "sns-3", bounce_type="Transient"),
        # The late "delivered" (sent before the bounce, published after), and SNS repeating
        # itself (the same SNS MessageId).
        ses("Delivery", bounced, "sns-4", when="2026-11-30T10:00:30.000Z"),
        ses("Bounce", bounced, "sns-1", when="2026-11-30T10:01:00.000Z"),
        ses("Delivery", opened, "sns-5"),
        ses("Delivery", complained, "sns-6"),
        ses("Complaint", complained, "sns-7", when="2026-11-30T11:00:00.000Z"),
        ses("DeliveryDelay", soft, "sns-8"),
        ses("Open", opened, "sns-2", when="2026-11-30T10:05:00.000Z", reference=False),
    ]
    for message in posts[:5]:
        assert sns_post(client, message).status_code == 200
    delivery_events_apply_all()
    for message in posts[5:]:
        assert sns_post(client, message).status_code == 200
    delivery_events_apply_all()

    assert DeliveryEvent.objects.filter(provider="amazon_ses").count() == 8
    assert not PendingDeliveryEvent.objects.exists()
    state = dict(
        Notification.objects.filter(communication=communication).values_list(
            "customer_id", "delivery_state"
        )
    )
    assert state == {
        bounced.customer_id: DeliveryState.HARD_BOUNCE,
        soft.customer_id: DeliveryState.SOFT_BOUNCE,
        complained.customer_id: DeliveryState.COMPLAINED,
        opened.customer_id: DeliveryState.OPENED,
        silent.customer_id: DeliveryState.NONE,
    }
    assert list(letters_due(communication_id=communication.pk).values_list("customer_id")) == [
        (bounced.customer_id,)
    ]
    assert Customer.objects.get(pk=bounced.customer_id).email_status == "bounced"
    assert Customer.objects.get(pk=soft.customer_id).email_status == "valid"
    assert Customer.objects.get(pk=complained.customer_id).marketing_consent == "withdrawn"
    heard = responses_recorded(opened=opened, bounced=bounced, complained=complained)
    assert [e.payload.get("hard_bounce", 0) for e in heard] == [1, 0]
    assert [e.payload.get("complained", 0) for e in heard] == [0, 1]


def test_an_ses_event_for_an_unknown_message_is_kept_and_changes_nothing(client, hooks, wave):
    communication, _rows = wave
    stranger = Notification(
        email="someone.else@example.org", provider_message_id="0000-not-ours-000000"
    )
    stranger.communication_id, stranger.customer_id = communication.pk + 1000, 999999
    before = list(Notification.objects.values_list("pk", "status", "delivery_state"))
    touchpoints = Touchpoint.objects.count()
    assert sns_post(client, ses("Bounce", stranger, "sns-x", reference=False)).status_code == 200
    delivery_events_apply_all()
    kept = DeliveryEvent.objects.get()
    assert (kept.provider, kept.kind, kept.outcome) == ("amazon_ses", "hard_bounce", "unknown")
    assert list(Notification.objects.values_list("pk", "status", "delivery_state")) == before
    assert not Customer.objects.filter(email_status="bounced").exists()
    assert Touchpoint.objects.count() == touchpoints


def test_sns_without_credentials_is_asked_for_them_and_forgeries_are_refused_unlogged(
    client, hooks, wave, caplog, settings
):
    _communication, rows = wave
    caplog.set_level(logging.INFO, logger="notifications.webhooks")
    message = ses("Bounce", rows[0], "sns-1")

    asked = sns_post(client, message, headers={})
    assert asked.status_code == 401
    assert asked["WWW-Authenticate"].startswith("Basic realm=")

    guessed = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:guess").decode()}
    assert sns_post(client, message, headers=guessed).status_code == 403
    # The SNS headers must say what the body says.
    assert sns_post(client, message, message_id="another-id").status_code == 403

    settings.ANYMAIL = {}
    assert sns_post(client, message).status_code == 403

    assert DeliveryEvent.objects.count() == 0
    assert caplog.text.count("Refused a amazon_ses webhook") == 3
    assert rows[0].email not in caplog.text
    assert "user unknown" not in caplog.text and "breachdesk-ses-events" not in caplog.text


def test_a_malformed_ses_post_gets_400_and_nothing_is_written(client, hooks, wave, caplog):
    _communication, rows = wave
    good = ses("Bounce", rows[0], "sns-1")
    not_json = sns_post(client, good, body="{not json " + rows[0].email)
    assert not_json.status_code == 400
    assert sns_post(client, good, body="[1, 2]").status_code == 400
    unreadable = {**good, "Message": "{half an event"}
    assert sns_post(client, unreadable).status_code == 400
    event = json.loads(good["Message"])
    del event["bounce"]["bouncedRecipients"]
    assert sns_post(client, {**good, "Message": json.dumps(event)}).status_code == 400
    unknown_type = {**good, "Type": "Gossip"}
    assert sns_post(client, unknown_type).status_code == 400
    assert DeliveryEvent.objects.count() == 0
    assert not PendingDeliveryEvent.objects.exists()
    assert rows[0].email not in caplog.text


class _SNSStandIn(BaseHTTPRequestHandler):
    """Amazon SNS's query API on loopback: records ConfirmSubscription calls."""

    calls: list[dict[str, list[str]]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.calls.append(parse_qs(self.rfile.read(length).decode()))
        body = (
            b'<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            b"<ConfirmSubscriptionResult><SubscriptionArn>" + TOPIC.encode() + b":sub-1"
            b"</SubscriptionArn></ConfirmSubscriptionResult>"
            b"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
            b"</ConfirmSubscriptionResponse>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def sns_api(settings) -> Iterator[list[dict[str, list[str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SNSStandIn)
    _SNSStandIn.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": [SECRET],
        "AMAZON_SES_SESSION_PARAMS": {
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "example-secret",
        },
        "AMAZON_SES_CLIENT_PARAMS": {"endpoint_url": f"http://127.0.0.1:{server.server_port}"},
    }
    try:
        yield _SNSStandIn.calls
    finally:
        server.shutdown()
        server.server_close()


def test_an_authenticated_subscription_is_confirmed_and_nothing_is_kept(client, sns_api, wave):
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37-token",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2026-11-30T09:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem",
    }
    assert sns_post(client, confirmation).status_code == 200
    assert [(c["Action"], c["TopicArn"], c["Token"]) for c in sns_api] == [
        (["ConfirmSubscription"], [TOPIC], ["2336412f37-token"])
    ]
    guessed = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:guess").decode()}
    assert sns_post(client, confirmation, headers=guessed).status_code == 403
    assert len(sns_api) == 1
    assert DeliveryEvent.objects.count() == 0
