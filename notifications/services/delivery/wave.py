"""A wave's life: what blocks a send, the send itself, pause, resume, the breaker,
completion and stalls."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from config.drills import DrillWithoutRecipientsError, drill_recipients
from config.models import company_profile
from config.services import enqueue_on_commit
from incidents.services import (
    incident_record_people_notified,
    obligations_meet_by_notices,
    timeline_append,
)

from ...events import DELIVERY_STALL_RESUMED
from ...models import (
    Channel,
    Communication,
    Delivery,
    Notification,
)
from ...selectors import (
    communication_content_hash,
    communication_sign_offs_match,
)
from ..codes import codes_assign, codes_shortfall
from ..common import Actor, acting_user, holds_role
from .audience import (
    _audience_skip,
    _follow_ups_skip,
    communication_audience_size,
    communication_needs_codes,
    notifications_fan_out,
)
from .common import (
    OPEN_STATUSES,
    DeliveryError,
)


@transaction.atomic
def deliveries_resume_stalled(*, quiet_since: datetime) -> list[int]:
    """Hand the batches of every wave that is sending, has notices due, holds no live
    claim and has sent nothing since `quiet_since` to the task cluster again; each on its
    incident's timeline. Return the waves resumed.

    Its chains died (every attempt failed, a cluster was lost): nothing else would send
    the rest. Batches claim with leases and each message is sent once, so a chain too many
    finds nothing to do and stops.
    """
    now = timezone.now()
    due = Q(status=Notification.Status.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=Notification.Status.CLAIMED, lease_expires_at__lte=now)
    live = Q(status=Notification.Status.CLAIMED, lease_expires_at__gt=now)
    recent = Q(sent_at__gte=quiet_since) | Q(failed_at__gte=quiet_since)
    resumed = []
    waves = Delivery.objects.select_for_update(skip_locked=True).filter(
        status=Delivery.Status.SENDING, started_at__lt=quiet_since
    )
    for delivery in waves.select_related("communication"):
        rows = Notification.objects.filter(communication_id=delivery.communication_id)
        if not rows.filter(due).exists() or rows.filter(live | recent).exists():
            continue
        timeline_append(
            incident_id=delivery.communication.incident_id,
            kind=DELIVERY_STALL_RESUMED,
            actor=None,
            payload={"delivery": delivery.pk, "quiet_since": quiet_since},
        )
        _chains_enqueue(delivery.pk)
        resumed.append(delivery.pk)
    return resumed


def _chains_enqueue(delivery_id: int) -> None:
    enqueue_on_commit(
        "notifications.tasks.delivery_send_batch_task",
        delivery_id,
        times=settings.DELIVERY_PARALLEL_BATCHES,
    )


@dataclass(frozen=True)
class SendBlocker:
    """Why a communication cannot be sent now, and what is missing (a key for the page to
    link to where it is made: "art34", "codes", "sign_off", "drill_recipients")."""

    reason: str
    missing: str = ""


def communication_send_blockers(*, communication: Communication) -> list[SendBlocker]:
    """Every reason the send would be refused, known before anyone presses Send.

    The send page lists them and shows no Send button; `communication_send` raises the
    first, so the page and the service cannot disagree.
    """
    blockers: list[SendBlocker] = []
    refusal = company_profile().send_refusal()
    if refusal:
        blockers.append(SendBlocker(f"Nothing is sent: {refusal}", "company"))
    incident = communication.incident
    if incident.art34_decision == incident.Art34Decision.UNDECIDED:
        blockers.append(
            SendBlocker(
                f"'{communication}' is not sent: the Art. 34 decision of incident "
                f"'{incident}' (are the people at high risk, must they be told?) is not "
                "decided yet. The DPO or the CISO records it first.",
                "art34",
            )
        )
    if communication.status != Communication.Status.SIGNED_OFF or not (
        communication_sign_offs_match(communication_id=communication.pk)
    ):
        blockers.append(
            SendBlocker(
                f"'{communication}' is not sent: its content is not what the CMO and the CISO "
                "signed off (or it is not signed off by both). Review and sign it again.",
                "sign_off",
            )
        )
    if incident.is_drill:
        try:
            drill_recipients()
        except DrillWithoutRecipientsError as error:
            blockers.append(
                SendBlocker(f"'{communication}' is not sent: {error}", "drill_recipients")
            )
    if communication_needs_codes(communication=communication):
        shortfall = codes_shortfall(
            communication=communication,
            audience_size=communication_audience_size(communication=communication),
        )
        if shortfall:
            blockers.append(
                SendBlocker(
                    f"'{communication}' is not sent: the remediation code pool of incident "
                    f"'{incident}' is short by {shortfall} "
                    f"code{'s' if shortfall != 1 else ''}. Import more codes first.",
                    "codes",
                )
            )
    return blockers


@transaction.atomic
def communication_send(
    *,
    communication_id: int,
    actor: Actor,
    kind: str = Delivery.Kind.BREACH_NOTICE,
    skips: Mapping[str, QuerySet[Any]] | None = None,
) -> Delivery:
    """Send a signed-off communication to everyone in its audience.

    Refused for any of `communication_send_blockers`: unless the Art. 34 decision is
    recorded, the CMO and the CISO signed exactly the current content (the hash is
    recomputed here), a drill has its recipients, and the code pool covers everyone when
    the message prints a code. Clicking again adds nobody: the fan-out is idempotent.
    """
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.send_communication"):
        raise DeliveryError(f"{actor} may not send communications.")
    if kind not in Delivery.Kind.values:
        raise DeliveryError(f"{kind!r} is not a kind of delivery")
    communication = (
        Communication.objects.select_for_update()
        .select_related("incident")
        .get(pk=communication_id)
    )
    blockers = communication_send_blockers(communication=communication)
    if blockers:
        raise DeliveryError(blockers[0].reason)
    content_hash = communication_content_hash(communication=communication)
    now = timezone.now()
    delivery, created = Delivery.objects.get_or_create(
        communication=communication,
        defaults={
            "kind": kind,
            "content_hash": content_hash,
            "started_by": user,
            "started_at": now,
        },
    )
    if delivery.status == Delivery.Status.COMPLETED:
        raise DeliveryError(f"'{communication}' was sent already ({delivery.completed_at}).")
    added = notifications_fan_out(communication=communication)
    if communication_needs_codes(communication=communication):
        codes_assign(communication=communication)
    skipped = _follow_ups_skip(communication) if delivery.kind == Delivery.Kind.FOLLOW_UP else 0
    if skips and created:
        # Before commit, so no batch claims a row the caller's condition rules out.
        skipped += _audience_skip(communication, skips)
    if created:
        counts = dict(
            Notification.objects.filter(communication=communication)
            .exclude(status=Notification.Status.SKIPPED)
            .values_list("channel")
            .annotate(n=Count("pk"))
            .order_by()
        )
        timeline_append(
            incident_id=communication.incident_id,
            kind="delivery.started",
            actor=user,
            payload={
                "communication": communication.pk,
                "kind": delivery.kind,
                "content_hash": content_hash,
                "people": added,
                "by_email": counts.get(Channel.EMAIL, 0),
                "by_letter": counts.get(Channel.LETTER, 0),
                "skipped": skipped,
            },
        )
    if delivery.status == Delivery.Status.SENDING:
        _chains_enqueue(delivery.pk)
    return delivery


def _pause(delivery: Delivery, *, reason: str, actor: Actor) -> bool:
    now = timezone.now()
    paused = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.PAUSED, paused_at=now, pause_reason=reason
    )
    if paused:
        timeline_append(
            incident_id=delivery.communication.incident_id,
            kind="delivery.paused",
            actor=acting_user(actor),
            payload={"communication": delivery.communication_id, "reason": reason},
        )
    return bool(paused)


@transaction.atomic
def delivery_pause(*, delivery_id: int, actor: Actor, reason: str) -> None:
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.resume_delivery"):
        raise DeliveryError(f"{actor} may not pause deliveries.")
    delivery = Delivery.objects.select_related("communication").get(pk=delivery_id)
    if not _pause(delivery, reason=reason or f"Paused by {user}.", actor=user):
        raise DeliveryError(f"{delivery} is {delivery.status}, not sending.")


@transaction.atomic
def delivery_resume(*, delivery_id: int, actor: Actor) -> None:
    """A CISO or a CMO sends on after a pause (the circuit breaker's or a person's)."""
    user = acting_user(actor)
    if (
        user is None
        or not user.has_perm("notifications.resume_delivery")
        or not (holds_role(user, "CMO") or holds_role(user, "CISO"))
    ):
        raise DeliveryError(f"Only the CISO or the CMO may resume a delivery; {actor} may not.")
    delivery = Delivery.objects.select_related("communication").get(pk=delivery_id)
    if not communication_sign_offs_match(communication_id=delivery.communication_id):
        raise DeliveryError(
            f"'{delivery.communication}' changed since its sign-off; it cannot be resumed."
        )
    resumed = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PAUSED).update(
        status=Delivery.Status.SENDING, resumed_by=user, paused_at=None
    )
    if not resumed:
        raise DeliveryError(f"{delivery} is {delivery.status}, not paused.")
    timeline_append(
        incident_id=delivery.communication.incident_id,
        kind="delivery.resumed",
        actor=user,
        payload={"communication": delivery.communication_id, "after": delivery.pause_reason},
    )
    _chains_enqueue(delivery_id)


def delivery_breaker_check(*, delivery: Delivery) -> bool:
    """Pause the wave when failures and bounces over the rolling window pass the threshold."""
    since = timezone.now() - timedelta(minutes=settings.DELIVERY_BREAKER_WINDOW_MINUTES)
    counts = Notification.objects.filter(communication_id=delivery.communication_id).aggregate(
        sent=Count("pk", filter=Q(sent_at__gte=since)),
        failed=Count("pk", filter=Q(failed_at__gte=since)),
        bounced=Count("pk", filter=Q(bounced_at__gte=since)),
    )
    attempted = counts["sent"] + counts["failed"]
    bad = counts["failed"] + counts["bounced"]
    if attempted < settings.DELIVERY_BREAKER_MIN_SAMPLE:
        return False
    rate = bad / attempted
    if rate <= settings.DELIVERY_BREAKER_RATE:
        return False
    return _pause(
        delivery,
        reason=(
            f"Circuit breaker: {bad} of {attempted} messages failed or bounced in the last "
            f"{settings.DELIVERY_BREAKER_WINDOW_MINUTES} minutes ({rate:.0%}, limit "
            f"{settings.DELIVERY_BREAKER_RATE:.0%}). A CISO or the CMO resumes it."
        ),
        actor=None,
    )


def delivery_progress_counts(*, communication_id: int) -> dict[str, int]:
    counts = dict(
        Notification.objects.filter(communication_id=communication_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {status: counts.get(status, 0) for status in Notification.Status.values}


@transaction.atomic
def delivery_complete(*, delivery_id: int) -> bool:
    """Sending -> completed once no row is open; the incident learns its people were told."""
    delivery = Delivery.objects.select_related("communication").get(pk=delivery_id)
    if Notification.objects.filter(
        communication_id=delivery.communication_id, status__in=OPEN_STATUSES
    ).exists():
        return False
    now = timezone.now()
    done = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.COMPLETED, completed_at=now
    )
    if not done:
        return False
    counts = delivery_progress_counts(communication_id=delivery.communication_id)
    incident_id = delivery.communication.incident_id
    timeline_append(
        incident_id=incident_id,
        kind="delivery.completed",
        actor=None,
        payload={"communication": delivery.communication_id, **counts},
    )
    if delivery.kind == Delivery.Kind.BREACH_NOTICE:
        first: datetime | None = Notification.objects.filter(
            communication_id=delivery.communication_id
        ).aggregate(first=Min("sent_at"))["first"]
        incident_record_people_notified(
            incident_id=incident_id, actor=None, notified_at=first or now
        )
        obligations_meet_by_notices(
            incident_id=incident_id,
            sent=Notification.objects.filter(
                communication_id=delivery.communication_id, status=Notification.Status.SENT
            ),
        )
    return True
