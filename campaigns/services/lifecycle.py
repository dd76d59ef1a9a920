"""A campaign's life: scheduled, started, paused, cancelled; its batches handed to the cluster."""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.models import company_profile
from config.services import Actor, enqueue_on_commit
from incidents.services import timeline_append

from ..models import Campaign, CampaignSend
from ..selectors import (
    RUNNING_STATUSES,
    campaign_audience,
)
from .common import (
    CampaignError,
    _require_perm,
    _transition,
    logger,
)


@transaction.atomic
def campaign_schedule(*, campaign_id: int, actor: Actor) -> None:
    """Draft -> scheduled; the task queue starts it at `scheduled_at`."""
    _require_perm(actor, "campaigns.send_campaign", "schedule campaigns")
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.scheduled_at is None:
        raise CampaignError(f"Campaign {campaign} has no schedule; set 'scheduled at' first.")
    if not campaign.segments.exists():
        raise CampaignError(f"Campaign {campaign} has no segment; its audience would be empty.")
    _transition(campaign_id, from_=[Campaign.Status.DRAFT], to=Campaign.Status.SCHEDULED)
    run_at = campaign.scheduled_at

    def enqueue() -> None:
        from django_q.models import Schedule
        from django_q.tasks import schedule

        schedule(
            "campaigns.tasks.campaign_start_task",
            campaign_id,
            schedule_type=Schedule.ONCE,
            next_run=run_at,
            name=f"campaign-{campaign_id}-start-{uuid.uuid4().hex[:8]}",
        )

    transaction.on_commit(enqueue)


def _audience_materialise(campaign: Campaign) -> int:
    """One send row per audience member, in one INSERT ... SELECT; idempotent."""
    audience_sql, params = (
        campaign_audience(campaign=campaign).order_by().values("id").query.sql_with_params()
    )
    table = CampaignSend._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, customer_id, status, skip_reason, attempts, "  # noqa: S608
            f"message_id) SELECT %s, audience.id, %s, '', 0, '' FROM ({audience_sql}) audience "
            # WHERE 1=1 keeps SQLite from reading ON CONFLICT as a join condition.
            "WHERE 1=1 ON CONFLICT (campaign_id, customer_id) DO NOTHING",
            [campaign.pk, CampaignSend.Status.PENDING, *params],
        )
        created = cursor.rowcount
    Campaign.objects.filter(pk=campaign.pk).update(
        audience_size=CampaignSend.objects.filter(campaign_id=campaign.pk).count()
    )
    return created


@transaction.atomic
def campaigns_resume_stalled(*, quiet_since: datetime) -> list[int]:
    """Hand the batches of every campaign that is sending, has messages waiting, holds no
    live claim and has sent nothing since `quiet_since` to the task cluster again; return
    the campaigns resumed.

    Its chains died (every attempt failed, a cluster was lost): nothing else would send
    the rest. Batches claim with leases, so a chain too many finds nothing and stops.
    """
    now = timezone.now()
    waiting = Q(status=CampaignSend.Status.PENDING) | Q(
        status=CampaignSend.Status.CLAIMED, lease_expires_at__lte=now
    )
    busy = Q(status=CampaignSend.Status.CLAIMED, lease_expires_at__gt=now) | Q(
        sent_at__gte=quiet_since
    )
    resumed = []
    campaigns = Campaign.objects.select_for_update(skip_locked=True).filter(
        status=Campaign.Status.SENDING, started_at__lt=quiet_since
    )
    for campaign_id in campaigns.values_list("pk", flat=True):
        sends = CampaignSend.objects.filter(campaign_id=campaign_id)
        if not sends.filter(waiting).exists() or sends.filter(busy).exists():
            continue
        logger.warning("Campaign %s stalled: its batches are handed out again", campaign_id)
        _batches_enqueue(campaign_id)
        resumed.append(campaign_id)
    return resumed


def _batches_enqueue(campaign_id: int) -> None:
    enqueue_on_commit(
        "campaigns.tasks.campaign_send_batch_task",
        campaign_id,
        times=settings.CAMPAIGNS_PARALLEL_BATCHES,
    )


def campaign_start_refusal(*, campaign: Campaign) -> str:
    """Why starting this campaign now would be refused; empty when it would start."""
    refusal = company_profile().send_refusal()
    if refusal:
        return f"Nothing is sent: {refusal}"
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        return f"Campaign {campaign} is {campaign.status}, not draft or scheduled."
    if not campaign.segments.exists():
        return f"Campaign {campaign} has no segment; its audience would be empty."
    return ""


@transaction.atomic
def campaign_start(*, campaign_id: int, actor: Actor) -> int:
    """Draft or scheduled -> sending: write the send rows and start the batch workers."""
    _require_perm(actor, "campaigns.send_campaign", "start campaigns")
    refusal = company_profile().send_refusal()
    if refusal:
        raise CampaignError(f"Nothing is sent: {refusal}")
    campaign = Campaign.objects.get(pk=campaign_id)
    if not campaign.segments.exists():
        raise CampaignError(f"Campaign {campaign} has no segment; its audience would be empty.")
    _transition(
        campaign_id,
        from_=[Campaign.Status.DRAFT, Campaign.Status.SCHEDULED],
        to=Campaign.Status.SENDING,
        started_at=timezone.now(),
    )
    created = _audience_materialise(campaign)
    _batches_enqueue(campaign_id)
    return created


@transaction.atomic
def campaign_cancel(*, campaign_id: int, actor: Actor) -> None:
    """Stop for good: open sends stay unsent, since no batch claims for a cancelled campaign."""
    _require_perm(actor, "campaigns.send_campaign", "cancel campaigns")
    _transition(
        campaign_id,
        from_=[
            Campaign.Status.DRAFT,
            Campaign.Status.SCHEDULED,
            Campaign.Status.SENDING,
            Campaign.Status.PAUSED,
        ],
        to=Campaign.Status.CANCELLED,
    )


@transaction.atomic
def campaign_pause(*, campaign_id: int, actor: Actor, incident_id: int | None = None) -> None:
    """Scheduled or sending -> paused, naming the incident when one is the reason."""
    _require_perm(actor, "campaigns.pause_campaign", "pause campaigns")
    now = timezone.now()
    _transition(
        campaign_id,
        from_=RUNNING_STATUSES,
        to=Campaign.Status.PAUSED,
        paused_at=now,
        paused_by_incident_id=incident_id,
    )
    if incident_id is not None:
        name = Campaign.objects.values_list("name", flat=True).get(pk=campaign_id)
        timeline_append(
            incident_id=incident_id,
            kind="campaign.paused",
            actor=actor,
            payload={"campaign": campaign_id, "name": name},
        )
