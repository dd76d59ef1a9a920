import os
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignSend
from campaigns.services import campaign_send_batch, campaign_start
from customers.models import Customer, Touchpoint
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with
from tests.conftest import wait_until


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_at_once_never_mail_anyone_twice(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    customers = CustomerFactory.create_batch(60)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(100):
                if not campaign_send_batch(campaign_id=campaign.pk).more:
                    break
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    counts = Counter(m.to[0] for m in mail.outbox)
    assert set(counts.values()) == {1}
    assert set(counts) == {c.email for c in customers}
    assert CampaignSend.objects.filter(campaign=campaign, status="sent").count() == 60
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED


def _one_promotion_short_of_the_cap(count: int) -> list[Customer]:
    """People who got CAP - 1 promotions this week (the cap is 3 in these tests)."""
    customers = CustomerFactory.create_batch(count)
    Touchpoint.objects.bulk_create(
        Touchpoint(
            customer=customer,
            channel=Touchpoint.Channel.EMAIL,
            kind=Touchpoint.Kind.PROMOTIONAL,
            occurred_at=timezone.now() - timedelta(days=1),
            reference="earlier",
        )
        for customer in customers
        for _ in range(2)
    )
    return customers


def _two_campaigns_to(customers: list[Customer]) -> tuple[Campaign, Campaign]:
    first, second = (CampaignFactory.create(segments=[segment_with(customers)]) for _ in "ab")
    for campaign in (first, second):
        campaign_start(campaign_id=campaign.pk, actor=None)
    return first, second


def _capped(campaign: Campaign) -> int:
    return CampaignSend.objects.filter(
        campaign=campaign, status="skipped", skip_reason="frequency_cap"
    ).count()


@pytest.mark.django_db(transaction=True)
def test_the_cap_counts_what_another_campaign_is_mailing_right_now(holding_smtp):
    customers = _one_promotion_short_of_the_cap(5)
    first, second = _two_campaigns_to(customers)
    errors: list[BaseException] = []

    def send_first() -> None:
        try:
            campaign_send_batch(campaign_id=first.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    sending = threading.Thread(target=send_first)
    sending.start()
    # The first campaign's batch is claimed and on the wire, not yet recorded as sent.
    wait_until(holding_smtp.holding.is_set, timeout=30, message="no message reached SMTP")
    campaign_send_batch(campaign_id=second.pk)
    holding_smtp.release.set()
    sending.join(timeout=30)

    assert errors == []
    counts = Counter(m["To"] for m in holding_smtp.messages)
    assert counts == {c.email: 1 for c in customers}
    assert _capped(second) == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="SQLite lets one writer in at a time: two claims never overlap there",
)
def test_two_campaigns_claiming_the_same_people_at_once_take_turns(mailoutbox):
    customers = _one_promotion_short_of_the_cap(5)
    first, second = _two_campaigns_to(customers)
    errors: list[BaseException] = []

    def send_second() -> None:
        try:
            campaign_send_batch(campaign_id=second.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # The first batch's claim is still open (not committed) when the second claims.
    with transaction.atomic():
        campaign_send_batch(campaign_id=first.pk)
        racing = threading.Thread(target=send_second)
        racing.start()
        racing.join(timeout=1)
    racing.join(timeout=30)

    assert errors == []
    assert Counter(m.to[0] for m in mailoutbox) == {c.email: 1 for c in customers}
    assert _capped(second) == 5
