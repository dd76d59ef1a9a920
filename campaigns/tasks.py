"""Task-queue entry points: each takes ids and calls one service; safe to run twice."""

import time
from dataclasses import asdict

from django.conf import settings
from django_q.tasks import async_task

from .models import Campaign
from .services import CampaignError, campaign_send_batch, campaign_start


def campaign_send_batch_task(campaign_id: int) -> dict[str, int | bool]:
    """Send one batch, then hand the next batch of this chain to the queue."""
    result = campaign_send_batch(campaign_id=campaign_id)
    if result.more:
        if settings.CAMPAIGNS_BATCH_PAUSE_SECONDS:
            time.sleep(settings.CAMPAIGNS_BATCH_PAUSE_SECONDS)
        async_task("campaigns.tasks.campaign_send_batch_task", campaign_id)
    return asdict(result)


def campaign_start_task(campaign_id: int) -> None:
    """Start a scheduled campaign at its time; a campaign paused or cancelled meanwhile stays."""
    if not Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SCHEDULED).exists():
        return
    try:
        campaign_start(campaign_id=campaign_id, actor=None)
    except CampaignError:
        # Paused or cancelled between the check and the start: the transition said no.
        return
