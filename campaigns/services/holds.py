"""Breach holds: what a scope pauses, when the notice and its quiet period let it go."""

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.services import Actor
from incidents.models import AffectedCustomer, Incident
from incidents.services import timeline_append

from .. import events
from ..models import Campaign, CampaignExclusion, CampaignHold
from ..selectors import (
    RUNNING_STATUSES,
    campaign_overlap_counts,
    quiet_period_end,
)
from .common import (
    EXEMPT_FROM_NOTICE,
    CampaignError,
    _is_cmo,
    _require_perm,
    _transition,
)
from .lifecycle import _audience_materialise, _batches_enqueue, campaign_pause


@transaction.atomic
def campaigns_pause_for_incident(
    *, incident_id: int, campaign_ids: Iterable[int], actor: Actor
) -> list[int]:
    """Pause the chosen campaigns together because of the incident; all or none."""
    _require_perm(actor, "campaigns.pause_campaign", "pause campaigns")
    ids = sorted(set(campaign_ids))
    if not ids:
        raise CampaignError("Choose at least one campaign to pause.")
    incident = Incident.objects.get(pk=incident_id)
    if incident.is_drill:
        raise CampaignError(
            f"'{incident}' is a drill: its hold shows what it would pause and pauses nothing."
        )
    # The ids come from a form: one naming a campaign that reaches nobody in this
    # incident's scope (another incident's, or a forged id) pauses nothing.
    stray = sorted(set(ids) - set(campaign_overlap_counts(incident_id=incident_id)))
    if stray:
        raise CampaignError(
            f"Campaign(s) {', '.join(map(str, stray))} reach nobody affected by incident "
            f"{incident_id}; nothing was paused."
        )
    for campaign_id in ids:
        campaign_pause(campaign_id=campaign_id, actor=actor, incident_id=incident_id)
    return ids


def notice_guard_refusal(incident: Incident, *, what: str) -> str:
    """Why the notice or its quiet period still blocks `what`; empty when nothing does.

    Without a notice (Art. 34(3) exemption) there is no quiet period to wait for.
    """
    if incident.people_notified_at is None:
        if incident.art34_decision not in EXEMPT_FROM_NOTICE:
            return f"Cannot {what}: the breach notice for incident '{incident}' has not gone out."
        return ""
    quiet_until = quiet_period_end(incident=incident)
    if quiet_until is not None and timezone.now() < quiet_until:
        return (
            f"Cannot {what}: the quiet period after the notice of incident '{incident}' "
            f"runs until {quiet_until:%Y-%m-%d %H:%M} UTC."
        )
    return ""


def _hold_release(incident: Incident, actor: Actor) -> bool:
    released = CampaignHold.objects.filter(
        incident_id=incident.pk, released_at__isnull=True
    ).update(
        released_at=timezone.now(),
        released_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if released:
        timeline_append(incident_id=incident.pk, kind="campaign.hold_released", actor=actor)
    return bool(released)


def hold_note_at_close(*, incident_id: int, actor: Actor) -> None:
    """Closing an incident leaves its hold in place (only the CMO lifts it, once the notice
    and its quiet period allow): the timeline records that it is still active, so the
    closing shows what still waits on the CMO."""
    hold = CampaignHold.objects.filter(incident_id=incident_id, released_at__isnull=True).first()
    if hold is None:
        return
    timeline_append(
        incident_id=incident_id,
        kind=events.CAMPAIGN_HOLD_KEPT_AT_CLOSE,
        actor=actor,
        payload={"hold_placed_at": hold.placed_at.isoformat()},
    )


def hold_release_refusal(*, incident: Incident, actor: Actor) -> str:
    """Why releasing the incident's hold would be refused now; empty when it would go.

    The confirmation page asks this before it offers the button; `hold_release` raises it.
    """
    if not _is_cmo(actor):
        return f"Only the CMO may release the hold of incident '{incident}'."
    refusal = notice_guard_refusal(incident, what="release the hold")
    if refusal:
        return refusal
    if not CampaignHold.objects.filter(incident_id=incident.pk, released_at__isnull=True).exists():
        return f"Incident '{incident}' has no active campaign hold."
    return ""


@transaction.atomic
def hold_release(*, incident_id: int, actor: Actor) -> None:
    """The CMO lets promotions reach the incident's affected customers again."""
    incident = Incident.objects.get(pk=incident_id)
    refusal = hold_release_refusal(incident=incident, actor=actor)
    if refusal:
        raise CampaignError(refusal)
    if not _hold_release(incident, actor):
        raise CampaignError(f"Incident '{incident}' has no active campaign hold.")


@transaction.atomic
def hold_follow_drill_status(*, incident_id: int, is_drill: bool, cmo: Actor) -> None:
    """An incident became real (its hold is placed again, campaigns paused as for any
    scope) or became a drill (its hold lifts only as the CMO could lift it by hand)."""
    if not is_drill:
        if AffectedCustomer.objects.filter(incident_id=incident_id).exists():
            hold_place(incident_id=incident_id, actor=cmo, added=1)
        return
    if CampaignHold.objects.filter(incident_id=incident_id, released_at__isnull=True).exists():
        hold_release(incident_id=incident_id, actor=cmo)


def campaign_resume_refusal(*, campaign: Campaign, actor: Actor, exclude_affected: bool) -> str:
    """Why resuming this campaign now would be refused; empty when it would resume."""
    if not _is_cmo(actor):
        return f"Only the CMO may resume campaign '{campaign}'."
    if campaign.status != Campaign.Status.PAUSED:
        return f"Campaign '{campaign}' is {campaign.status}, not paused."
    incident = campaign.paused_by_incident
    if exclude_affected:
        if incident is None:
            return f"Campaign '{campaign}' was not paused by an incident; resume it normally."
        return ""
    if incident is not None:
        return notice_guard_refusal(incident, what=f"resume campaign '{campaign}'")
    return ""


@transaction.atomic
def campaign_resume(*, campaign_id: int, actor: Actor, exclude_affected: bool = False) -> None:
    """Paused -> sending (or scheduled if its time has not come). The CMO's alone.

    A campaign paused by an incident resumes normally only once the notice is out and the
    quiet period has passed; that also releases the incident's hold. "Excluding affected"
    needs neither: the incident's scope is excluded from this campaign for good, so it
    reaches nobody the breach touched.
    """
    campaign = Campaign.objects.select_related("paused_by_incident").get(pk=campaign_id)
    refusal = campaign_resume_refusal(
        campaign=campaign, actor=actor, exclude_affected=exclude_affected
    )
    if refusal:
        raise CampaignError(refusal)
    incident = campaign.paused_by_incident
    if exclude_affected and incident is not None:
        CampaignExclusion.objects.get_or_create(
            campaign_id=campaign_id, incident=incident, defaults={"created_by": actor}
        )
    elif incident is not None:
        _hold_release(incident, actor)
    now = timezone.now()
    not_started = campaign.started_at is None
    to = (
        Campaign.Status.SCHEDULED
        if not_started and campaign.scheduled_at is not None and campaign.scheduled_at > now
        else Campaign.Status.SENDING
    )
    _transition(
        campaign_id,
        from_=[Campaign.Status.PAUSED],
        to=to,
        paused_at=None,
        paused_by_incident=None,
        **({"started_at": now} if to == Campaign.Status.SENDING and not_started else {}),
    )
    if to == Campaign.Status.SENDING:
        _audience_materialise(campaign)
        _batches_enqueue(campaign_id)
    if incident is not None:
        timeline_append(
            incident_id=incident.pk,
            kind="campaign.resumed",
            actor=actor,
            payload={
                "campaign": campaign_id,
                "name": campaign.name,
                "exclude_affected": exclude_affected,
            },
        )


@transaction.atomic
def hold_place(*, incident_id: int, actor: Actor, added: int = 0) -> list[int]:
    """Hold promotions to the incident's scope; runs inside the scope's own transaction.

    From the commit on, every batch claim sees the hold. A released hold comes back when
    people are added to the scope: they have not been told anything yet.
    Returns the campaigns paused automatically.
    """
    now = timezone.now()
    hold, created = CampaignHold.objects.get_or_create(
        incident_id=incident_id, defaults={"placed_at": now}
    )
    placed = created
    if not created and hold.released_at is not None and added:
        placed = bool(
            CampaignHold.objects.filter(pk=hold.pk, released_at__isnull=False).update(
                released_at=None, released_by=None, placed_at=now
            )
        )
    if placed:
        timeline_append(incident_id=incident_id, kind="campaign.hold_placed", actor=actor)
    paused: list[int] = []
    is_drill = Incident.objects.filter(pk=incident_id, is_drill=True).exists()
    if settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE and not is_drill:
        overlapping = campaign_overlap_counts(incident_id=incident_id, statuses=RUNNING_STATUSES)
        for campaign_id in sorted(overlapping):
            # The system pauses, not the person who set the scope: they may lack the right.
            campaign_pause(campaign_id=campaign_id, actor=None, incident_id=incident_id)
            paused.append(campaign_id)
    return paused
