import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connection

from campaigns.models import Campaign, CampaignSend
from campaigns.services import campaign_send_batch, campaign_start
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with


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
