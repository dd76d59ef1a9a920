"""The webhook only stores; a real task cluster (two workers) applies what it stored, with
repeats and a late "delivered" among the posts."""

import pytest

from customers.models import Customer
from notifications.models import DeliveryEvent, DeliveryState, Notification, PendingDeliveryEvent
from notifications.services.letters import letters_due
from tests.conftest import wait_until

from .test_webhooks import auth, post, postmark


@pytest.fixture
def hooks(settings, monkeypatch):
    from notifications import webhooks

    settings.ANYMAIL = {"WEBHOOK_SECRET": ["hook:s3cret"]}
    # The request asks for the apply task at most once a second per process: this test's
    # first request must ask, whatever an earlier test in this process posted.
    monkeypatch.setattr(webhooks, "_last_enqueue", 0.0)


def test_the_cluster_applies_what_the_webhook_stored(client, hooks, task_cluster, wave):
    communication, rows = wave
    bounced, opened = rows[0], rows[1]
    posts = [
        postmark("HardBounce", bounced, "2026-11-30T10:01:00Z", id=1),
        postmark("Open", opened, "2026-11-30T10:05:00Z"),
        postmark("Delivery", bounced, "2026-11-30T10:00:30Z"),
        postmark("HardBounce", bounced, "2026-11-30T10:01:00Z", id=1),
        postmark("Delivery", opened, "2026-11-30T10:00:00Z"),
    ]
    task_cluster.start(workers=2)
    for payload in posts:
        assert post(client, "postmark", payload, **auth()).status_code == 200

    def states():
        return dict(
            Notification.objects.filter(communication=communication).values_list(
                "customer_id", "delivery_state"
            )
        )

    wait_until(
        lambda: (
            not PendingDeliveryEvent.objects.exists()
            and states()[bounced.customer_id] == DeliveryState.HARD_BOUNCE
        ),
        timeout=90,
        message="the cluster did not apply the stored events",
    )
    assert DeliveryEvent.objects.count() == 4
    assert states() == {
        bounced.customer_id: DeliveryState.HARD_BOUNCE,
        opened.customer_id: DeliveryState.OPENED,
        **{row.customer_id: DeliveryState.NONE for row in rows[2:]},
    }
    assert list(letters_due(communication_id=communication.pk).values_list("customer_id")) == [
        (bounced.customer_id,)
    ]
    assert Customer.objects.get(pk=bounced.customer_id).email_status == "bounced"
