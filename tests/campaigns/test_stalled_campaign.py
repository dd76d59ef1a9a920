"""A campaign whose batch chains all died is handed out again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignSend
from campaigns.services import campaign_start
from config.tasks import stalled_work_sweep
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with
from tests.conftest import run_queued_tasks

pytestmark = pytest.mark.django_db


def test_a_campaign_that_sent_nothing_for_an_hour_is_handed_out_again_and_completes(
    mailoutbox, django_capture_on_commit_callbacks
):
    customers = CustomerFactory.create_batch(3)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    with django_capture_on_commit_callbacks(execute=False):  # its chains are lost
        campaign_start(campaign_id=campaign.pk, actor=None)
    assert stalled_work_sweep()["campaigns_resumed"] == []  # just started
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=True):
        swept = stalled_work_sweep()
    run_queued_tasks()

    assert swept["campaigns_resumed"] == [campaign.pk]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.email for c in customers)
    assert not CampaignSend.objects.filter(campaign=campaign, status="pending").exists()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
