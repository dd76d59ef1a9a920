"""Recovery plans: set up by the CMO, consented to by the CISO, run by the task cluster.

Each step is a communication that went through the same review and sign-off as the
notice, sent as a follow-up (so opt-outs and the frequency cap apply) to the people its
condition leaves; a person who complained or unsubscribed since the breach gets nothing
more of the plan.
"""

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from customers.models import Touchpoint
from incidents.models import Incident
from incidents.selectors import quiet_period_end
from incidents.services import timeline_append

from .. import events
from ..models import Communication, Delivery, Notification, RecoveryPlan, RecoveryStep
from ..services.common import Actor, TransitionRefused, acting_user, holds_role
from ..services.delivery import DeliveryError, communication_send

logger = logging.getLogger(__name__)

CMO, CISO = "CMO", "CISO"

# What each condition counts as "already acted" (the reminder is not for them).
ACTED_KINDS = {
    RecoveryStep.Condition.EVERYONE: [],
    RecoveryStep.Condition.NOT_REDEEMED: [Touchpoint.Kind.CODE_REDEEMED],
    RecoveryStep.Condition.NOT_RESET: [Touchpoint.Kind.PASSWORD_RESET],
    RecoveryStep.Condition.NOT_ACTED: [
        Touchpoint.Kind.CODE_REDEEMED,
        Touchpoint.Kind.PASSWORD_RESET,
    ],
}
STOP_KINDS = [Touchpoint.Kind.COMPLAINED, Touchpoint.Kind.UNSUBSCRIBED]


def _cmo(actor: Actor, what: str) -> Any:
    user = acting_user(actor)
    if user is None or not holds_role(user, CMO):
        raise TransitionRefused(f"Only the CMO may {what}; {actor} is not the CMO.")
    return user


def recovery_plan_fingerprint(*, plan: RecoveryPlan) -> str:
    """SHA-256 of the steps as they stand: what the CISO's consent covers."""
    steps = [
        {
            "step": step.pk,
            "communication": step.communication_id,
            "delay_days": step.delay_days,
            "after_quiet_period": step.after_quiet_period,
            "condition": step.condition,
        }
        for step in plan.steps.order_by("pk")
    ]
    document = {"plan": plan.pk, "returns": plan.marketing_returns_after_days, "steps": steps}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@transaction.atomic
def recovery_plan_create(
    *, incident_id: int, actor: Actor, marketing_returns_after_days: int = 90
) -> RecoveryPlan:
    user = _cmo(actor, "set up a recovery plan")
    incident = Incident.objects.get(pk=incident_id)
    if RecoveryPlan.objects.filter(incident=incident).exists():
        raise TransitionRefused(f"Incident '{incident}' has a recovery plan already.")
    plan = RecoveryPlan.objects.create(
        incident=incident,
        created_by=user,
        marketing_returns_after_days=marketing_returns_after_days,
    )
    timeline_append(
        incident_id=incident.pk,
        kind=events.RECOVERY_PLAN_CREATED,
        actor=user,
        payload={"plan": plan.pk, "marketing_returns_after_days": marketing_returns_after_days},
    )
    return plan


@transaction.atomic
def recovery_step_add(
    *,
    plan_id: int,
    actor: Actor,
    name: str,
    communication_id: int,
    delay_days: int,
    condition: str = RecoveryStep.Condition.EVERYONE,
    after_quiet_period: bool = False,
) -> RecoveryStep:
    """Add a step; a plan the CISO consented to waits for the consent again."""
    user = _cmo(actor, "change a recovery plan")
    plan = RecoveryPlan.objects.select_for_update().select_related("incident").get(pk=plan_id)
    if plan.status == RecoveryPlan.Status.STOPPED:
        raise TransitionRefused(f"'{plan}' is stopped; it takes no more steps.")
    if condition not in RecoveryStep.Condition.values:
        raise TransitionRefused(f"{condition!r} is not a condition of a recovery step.")
    communication = Communication.objects.get(pk=communication_id)
    if communication.incident_id != plan.incident_id:
        raise TransitionRefused(
            f"'{communication}' belongs to another incident than '{plan.incident}'."
        )
    if Delivery.objects.filter(communication=communication).exists():
        raise TransitionRefused(f"'{communication}' was sent already; a step needs its own.")
    if RecoveryStep.objects.filter(communication=communication).exists():
        raise TransitionRefused(f"'{communication}' is a step of the plan already.")
    step = RecoveryStep.objects.create(
        plan=plan,
        name=name,
        communication=communication,
        delay_days=delay_days,
        condition=condition,
        after_quiet_period=after_quiet_period,
    )
    voided = plan.status == RecoveryPlan.Status.ACTIVE
    if voided:
        RecoveryPlan.objects.filter(pk=plan.pk).update(
            status=RecoveryPlan.Status.DRAFT, consented_by=None, consented_at=None
        )
    timeline_append(
        incident_id=plan.incident_id,
        kind=events.RECOVERY_STEP_ADDED,
        actor=user,
        payload={
            "plan": plan.pk,
            "step": step.pk,
            "name": name,
            "communication": communication.pk,
            "delay_days": delay_days,
            "condition": condition,
            "after_quiet_period": after_quiet_period,
            "consent_voided": voided,
        },
    )
    return step


@transaction.atomic
def recovery_plan_consent(*, plan_id: int, actor: Actor) -> RecoveryPlan:
    """The CISO's consent to the steps as they stand (their fingerprint is recorded)."""
    user = acting_user(actor)
    if user is None or not holds_role(user, CISO):
        raise TransitionRefused(f"Only the CISO may consent to a recovery plan; {actor} is not.")
    plan = RecoveryPlan.objects.select_for_update().get(pk=plan_id)
    if plan.created_by_id == user.pk:
        raise TransitionRefused("The CISO who consents must be another person than the author.")
    if not plan.steps.exists():
        raise TransitionRefused(f"'{plan}' has no steps to consent to.")
    now = timezone.now()
    updated = RecoveryPlan.objects.filter(pk=plan.pk, status=RecoveryPlan.Status.DRAFT).update(
        status=RecoveryPlan.Status.ACTIVE, consented_by=user, consented_at=now
    )
    if updated != 1:
        raise TransitionRefused(
            f"'{plan}' is {plan.get_status_display().lower()}; only a plan waiting for "
            "consent can be consented to."
        )
    plan.refresh_from_db()
    timeline_append(
        incident_id=plan.incident_id,
        kind=events.RECOVERY_PLAN_CONSENTED,
        actor=user,
        payload={
            "plan": plan.pk,
            "steps": plan.steps.count(),
            "fingerprint": (recovery_plan_fingerprint(plan=plan)),
        },
    )
    return plan


@transaction.atomic
def recovery_plan_stop(*, plan_id: int, actor: Actor) -> RecoveryPlan:
    user = acting_user(actor)
    if user is None or not (holds_role(user, CMO) or holds_role(user, CISO)):
        raise TransitionRefused(
            f"Only the CMO or the CISO may stop a recovery plan; {actor} is not."
        )
    plan = RecoveryPlan.objects.get(pk=plan_id)
    updated = (
        RecoveryPlan.objects.filter(pk=plan.pk)
        .exclude(status=RecoveryPlan.Status.STOPPED)
        .update(status=RecoveryPlan.Status.STOPPED, stopped_at=timezone.now())
    )
    if updated != 1:
        raise TransitionRefused(f"'{plan}' is stopped already.")
    timeline_append(
        incident_id=plan.incident_id,
        kind=events.RECOVERY_PLAN_STOPPED,
        actor=user,
        payload={"plan": plan.pk},
    )
    plan.refresh_from_db()
    return plan


def recovery_step_due_at(*, step: RecoveryStep, incident: Incident) -> datetime | None:
    """When the step goes: its delay after the notice, and for an offer not before the
    quiet period has passed. None until the notice went out."""
    if incident.people_notified_at is None:
        return None
    due = incident.people_notified_at + timedelta(days=step.delay_days)
    quiet = quiet_period_end(incident=incident)
    if step.after_quiet_period and quiet is not None:
        due = max(due, quiet)
    return due


def marketing_returns_at(*, plan: RecoveryPlan) -> datetime | None:
    notified = plan.incident.people_notified_at
    if notified is None:
        return None
    return notified + timedelta(days=plan.marketing_returns_after_days)


def _responded(incident: Incident, kinds: Sequence[str]) -> QuerySet[Any]:
    # Since the breach was known: a reset the day before the notice counts as acting.
    return Touchpoint.objects.filter(kind__in=kinds, occurred_at__gte=incident.awareness_at).values(
        "customer_id"
    )


def recovery_step_skips(*, step: RecoveryStep, incident: Incident) -> dict[str, QuerySet[Any]]:
    """Who the step leaves out, by reason: complained or unsubscribed since the breach
    (the plan stops for them), else already did what the step asks."""
    skips: dict[str, QuerySet[Any]] = {
        Notification.SkipReason.STOPPED: _responded(incident, STOP_KINDS)
    }
    acted = ACTED_KINDS[RecoveryStep.Condition(step.condition)]
    if acted:
        skips[Notification.SkipReason.ACTED] = _responded(incident, acted)
    return skips


def _step_start(step_id: int, now: datetime) -> bool:
    with transaction.atomic():
        step = (
            RecoveryStep.objects.select_for_update()
            .select_related("plan__incident", "plan__created_by")
            .filter(pk=step_id, started_at__isnull=True)
            .first()
        )
        if step is None or step.plan.status != RecoveryPlan.Status.ACTIVE:
            return False  # another run took it, or the plan stopped meanwhile
        incident = step.plan.incident
        due = recovery_step_due_at(step=step, incident=incident)
        if due is None or due > now:
            return False
        try:
            # Its own savepoint: a refusal rolls back only the send, not the lock.
            delivery = communication_send(
                communication_id=step.communication_id,
                actor=step.plan.created_by,
                kind=Delivery.Kind.FOLLOW_UP,
                skips=recovery_step_skips(step=step, incident=incident),
            )
        except DeliveryError as error:
            if step.waiting_reason != str(error):
                RecoveryStep.objects.filter(pk=step.pk).update(waiting_reason=str(error))
            logger.info("recovery step %s waits: %s", step.pk, error)
            return False
        RecoveryStep.objects.filter(pk=step.pk).update(started_at=now, waiting_reason="")
        counts = dict(
            Notification.objects.filter(communication_id=step.communication_id)
            .values_list("skip_reason")
            .annotate(n=Count("pk"))
            .order_by()
        )
        timeline_append(
            incident_id=incident.pk,
            kind=events.RECOVERY_STEP_STARTED,
            actor=None,
            payload={
                "plan": step.plan_id,
                "step": step.pk,
                "name": step.name,
                "communication": step.communication_id,
                "delivery": delivery.pk,
                "sent_to": counts.get("", 0),
                "skipped": {k: v for k, v in sorted(counts.items()) if k},
            },
        )
        return True


def _marketing_return(plan_id: int, now: datetime) -> bool:
    with transaction.atomic():
        plan = RecoveryPlan.objects.select_related("incident").get(pk=plan_id)
        returns = marketing_returns_at(plan=plan)
        if returns is None or returns > now:
            return False
        updated = RecoveryPlan.objects.filter(
            pk=plan.pk, status=RecoveryPlan.Status.ACTIVE, marketing_returned_at__isnull=True
        ).update(marketing_returned_at=now)
        if updated:
            timeline_append(
                incident_id=plan.incident_id,
                kind=events.RECOVERY_MARKETING_RETURNED,
                actor=None,
                payload={"plan": plan.pk, "due": returns.isoformat()},
            )
        return bool(updated)


def recovery_plans_run() -> int:
    """Start every step that is due on a running plan; returns how many went.

    Safe to run in several workers at once: a step is locked and re-read before it goes,
    and a step that went is never started again (its communication is sent once).
    """
    now = timezone.now()
    started = 0
    plans = RecoveryPlan.objects.filter(
        status=RecoveryPlan.Status.ACTIVE, incident__people_notified_at__isnull=False
    ).values_list("pk", flat=True)
    for plan_id in plans:
        for step_id in RecoveryStep.objects.filter(
            plan_id=plan_id, started_at__isnull=True
        ).values_list("pk", flat=True):
            started += _step_start(step_id, now)
        _marketing_return(plan_id, now)
    return started
