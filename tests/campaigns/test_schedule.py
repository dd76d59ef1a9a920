from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from campaigns.models import Campaign
from campaigns.services import CampaignError, campaign_pause, campaign_schedule, campaign_start
from campaigns.tasks import campaign_send_batch_task, campaign_start_task
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with

pytestmark = pytest.mark.django_db


def test_schedule_registers_a_start_at_the_campaign_time(django_capture_on_commit_callbacks):
    at = timezone.now() + timedelta(days=1)
    campaign = CampaignFactory.create(
        scheduled_at=at, segments=[segment_with(CustomerFactory.create_batch(2))]
    )

    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign_id=campaign.pk, actor=None)

    assert Campaign.objects.get(pk=campaign.pk).status == "scheduled"
    start = Schedule.objects.get(func="campaigns.tasks.campaign_start_task")
    assert (start.args, start.next_run, start.schedule_type) == (
        f"({campaign.pk},)",
        at,
        Schedule.ONCE,
    )


def test_schedule_needs_a_time():
    campaign = CampaignFactory.create(segments=[segment_with(CustomerFactory.create_batch(1))])
    with pytest.raises(CampaignError, match="has no schedule"):
        campaign_schedule(campaign_id=campaign.pk, actor=None)


def test_start_task_starts_a_scheduled_campaign_and_queues_its_batches(
    django_capture_on_commit_callbacks, settings
):
    settings.CAMPAIGNS_PARALLEL_BATCHES = 2
    campaign = CampaignFactory.create(
        status=Campaign.Status.SCHEDULED,
        segments=[segment_with(CustomerFactory.create_batch(3))],
    )

    with django_capture_on_commit_callbacks(execute=True):
        campaign_start_task(campaign.pk)

    assert Campaign.objects.get(pk=campaign.pk).status == "sending"
    assert campaign.sends.count() == 3
    assert OrmQ.objects.count() == 2


def test_start_task_leaves_a_campaign_paused_meanwhile_alone():
    campaign = CampaignFactory.create(
        status=Campaign.Status.SCHEDULED,
        segments=[segment_with(CustomerFactory.create_batch(1))],
    )
    campaign_pause(campaign_id=campaign.pk, actor=None)

    campaign_start_task(campaign.pk)

    assert Campaign.objects.get(pk=campaign.pk).status == "paused"
    assert campaign.sends.count() == 0


def test_batch_task_hands_on_to_the_next_batch_until_done(mailoutbox, settings):
    settings.CAMPAIGNS_BATCH_SIZE = 2
    campaign = CampaignFactory.create(segments=[segment_with(CustomerFactory.create_batch(3))])
    campaign_start(campaign_id=campaign.pk, actor=None)
    OrmQ.objects.all().delete()

    assert campaign_send_batch_task(campaign.pk)["more"] is True
    assert OrmQ.objects.count() == 1
    assert campaign_send_batch_task(campaign.pk)["more"] is False
    assert OrmQ.objects.count() == 1
    assert len(mailoutbox) == 3
