"""Regulatory obligations: created from the regimes that apply, met (on time or late), waived."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Obligation, Regime
from incidents.rules import deadline, regime_applies

from .timeline import timeline_append

# A submission time a few minutes ahead of the server clock is a clock skew, not a lie.
FUTURE_TOLERANCE = timedelta(minutes=5)


class ObligationError(ValueError):
    """The obligation cannot change as asked; the message says why."""


def regime_terms(regime: Regime) -> dict[str, Any]:
    """The regime as it stands, to be copied onto an obligation and never read again."""
    return {
        "code": regime.code,
        "name": regime.name,
        "recipient": regime.recipient,
        "waived_by": regime.waived_by,
        "profile_flag": regime.profile_flag,
        "countries": list(regime.countries),
        "regions": list(regime.regions),
        "min_affected": regime.min_affected,
        "clock_start": regime.clock_start,
        "follows": regime.follows.code if regime.follows else None,
        "deadline_amount": regime.deadline_amount,
        "deadline_unit": regime.deadline_unit,
        "due_local_time": regime.due_local_time.isoformat() if regime.due_local_time else None,
        "due_timezone": regime.due_timezone,
        "terms": regime.terms,
        "source": regime.source,
    }


def _clock_start(
    terms: dict[str, Any], incident: Incident, met: dict[str, datetime | None]
) -> datetime | None:
    start = terms["clock_start"]
    if start == Regime.ClockStart.AWARENESS:
        return incident.awareness_at
    if start == Regime.ClockStart.MATERIALITY:
        return incident.materiality_determined_at
    return met.get(terms["follows"])


def _waiver(terms: dict[str, Any], incident: Incident) -> str:
    """The reason a decision already recorded makes this filing not required, if it does."""
    if (
        terms.get("waived_by") == Regime.WaivedBy.ART33
        and incident.art33_decision == Incident.Art33Decision.NOT_REQUIRED
    ):
        return f"Art. 33 decision: not required. {incident.art33_reason}".strip()
    if terms.get("waived_by") == Regime.WaivedBy.ART34 and incident.art34_decision.startswith(
        "exempt"
    ):
        label = Incident.Art34Decision(incident.art34_decision).label
        return f"Art. 34 decision: {label}. {incident.art34_reason}".strip()
    return ""


@transaction.atomic
def obligations_sync(*, incident_id: int, actor: User | AnonymousUser | None) -> list[Obligation]:
    """Create the obligations the incident now owes and restart the clocks that moved.

    Called whenever a fact a clock or a regime depends on changes: awareness time,
    materiality, scope, a filing met. Obligations are never removed: a regime that stops
    applying (the scope shrank) leaves its obligation for a person to mark not required.
    """
    from incidents.selectors import company_profile, scope_jurisdiction_counts

    incident = Incident.objects.select_for_update().get(pk=incident_id)
    existing = {o.regime_id: o for o in incident.obligations.all()}
    counts = scope_jurisdiction_counts(incident_id=incident_id)
    profile = company_profile()
    created: list[Obligation] = []
    if incident.status != Incident.Status.CLOSED:
        for regime in Regime.objects.filter(active=True).select_related("follows"):
            if regime.pk in existing:
                continue
            why = regime_applies(
                profile_flag=regime.profile_flag,
                countries=regime.countries,
                regions=regime.regions,
                min_affected=regime.min_affected,
                profile=profile,
                counts=counts,
            )
            if why:
                terms = regime_terms(regime)
                waiver = _waiver(terms, incident)
                obligation = Obligation.objects.create(
                    incident=incident,
                    regime=regime,
                    name=regime.name,
                    recipient=regime.recipient,
                    terms=terms,
                    status=Obligation.Status.NOT_REQUIRED if waiver else Obligation.Status.OPEN,
                    not_required_reason=waiver,
                )
                existing[regime.pk] = obligation
                created.append(obligation)
                timeline_append(
                    incident_id=incident_id,
                    kind="obligation.created",
                    actor=actor,
                    payload={"obligation": obligation.pk, "regime": regime.code, "why": why},
                )
    met = {o.terms["code"]: o.met_at for o in existing.values()}
    for obligation in existing.values():
        if obligation.status != Obligation.Status.OPEN:
            continue
        start = _clock_start(obligation.terms, incident, met)
        due = deadline(obligation.terms, start)
        # Late is late: a clock moved later does not make an overdue obligation on time.
        now = timezone.now()
        if obligation.due_at is not None and obligation.due_at < now and (due is None or due > now):
            start, due = obligation.clock_started_at, obligation.due_at
        if (start, due) != (obligation.clock_started_at, obligation.due_at):
            Obligation.objects.filter(pk=obligation.pk, status=Obligation.Status.OPEN).update(
                clock_started_at=start, due_at=due
            )
            obligation.clock_started_at, obligation.due_at = start, due
            timeline_append(
                incident_id=incident_id,
                kind="obligation.clock",
                actor=actor,
                payload={
                    "obligation": obligation.pk,
                    "regime": obligation.terms["code"],
                    "clock_started_at": start,
                    "due_at": due,
                },
            )
    return created


def _locked_open(obligation_id: int) -> Obligation:
    try:
        obligation = Obligation.objects.select_for_update().get(pk=obligation_id)
    except Obligation.DoesNotExist:
        raise ObligationError(f"Obligation {obligation_id} does not exist.") from None
    if obligation.status != Obligation.Status.OPEN:
        raise ObligationError(
            f"{obligation.name} is already {obligation.get_status_display().lower()}."
        )
    return obligation


@transaction.atomic
def obligation_meet(
    *,
    obligation_id: int,
    actor: User | AnonymousUser | None,
    met_at: datetime,
    delay_reason: str = "",
) -> Obligation:
    """Record when the obligation was met. Late is late: it needs the reason for the delay,
    and how late it was is frozen now, whatever the clock says later."""
    if timezone.is_naive(met_at):
        raise ObligationError("Give the time it was met with its time zone.")
    if met_at > timezone.now() + FUTURE_TOLERANCE:
        raise ObligationError(f"{met_at.isoformat()} is in the future.")
    obligation = _locked_open(obligation_id)
    if obligation.clock_started_at and met_at < obligation.clock_started_at:
        raise ObligationError(
            f"{obligation.name} cannot be met before its clock started "
            f"({obligation.clock_started_at.isoformat()})."
        )
    lateness = (
        met_at - obligation.due_at
        if obligation.due_at is not None and met_at > obligation.due_at
        else None
    )
    delay_reason = delay_reason.strip()
    if lateness and not delay_reason:
        raise ObligationError(
            f"{obligation.name} was due at {obligation.due_at:%Y-%m-%d %H:%M} UTC and is met "
            f"{_duration(lateness)} late: give the reason for the delay."
        )
    status = Obligation.Status.LATE if lateness else Obligation.Status.MET
    updated = Obligation.objects.filter(pk=obligation.pk, status=Obligation.Status.OPEN).update(
        status=status,
        met_at=met_at,
        lateness=lateness or timedelta(0),
        delay_reason=delay_reason if lateness else "",
    )
    if updated != 1:
        raise ObligationError(f"{obligation.name} changed while it was being met; try again.")
    timeline_append(
        incident_id=obligation.incident_id,
        kind="obligation.met",
        actor=actor,
        payload={
            "obligation": obligation.pk,
            "regime": obligation.terms["code"],
            "due_at": obligation.due_at,
            "met_at": met_at,
            "status": status,
            "lateness_seconds": int(lateness.total_seconds()) if lateness else 0,
            "delay_reason": delay_reason if lateness else "",
        },
    )
    # A filing met may start the next one's clock (NIS2's final report).
    obligations_sync(incident_id=obligation.incident_id, actor=actor)
    obligation.refresh_from_db()
    return obligation


@transaction.atomic
def obligation_mark_not_required(
    *, obligation_id: int, actor: User | AnonymousUser | None, reason: str
) -> Obligation:
    reason = reason.strip()
    if not reason:
        raise ObligationError("Say why the obligation is not required.")
    obligation = _locked_open(obligation_id)
    Obligation.objects.filter(pk=obligation.pk, status=Obligation.Status.OPEN).update(
        status=Obligation.Status.NOT_REQUIRED, not_required_reason=reason
    )
    timeline_append(
        incident_id=obligation.incident_id,
        kind="obligation.not_required",
        actor=actor,
        payload={"obligation": obligation.pk, "regime": obligation.terms["code"], "reason": reason},
    )
    obligation.refresh_from_db()
    return obligation


def obligations_apply_decision(
    *, incident: Incident, actor: User | AnonymousUser | None, waived_by: str
) -> None:
    """After an Art. 33/34 decision: waive the filings it makes unnecessary, or reopen them
    when the decision turns back to notifying. Runs in the decision's transaction."""
    for obligation in incident.obligations.select_for_update().filter(terms__waived_by=waived_by):
        reason = _waiver(obligation.terms, incident)
        if reason and obligation.status == Obligation.Status.OPEN:
            target, new_reason = Obligation.Status.NOT_REQUIRED, reason
        elif (
            not reason
            and obligation.status == Obligation.Status.NOT_REQUIRED
            and obligation.not_required_reason.startswith("Art. 3")
        ):
            target, new_reason = Obligation.Status.OPEN, ""
        else:
            continue
        Obligation.objects.filter(pk=obligation.pk, status=obligation.status).update(
            status=target, not_required_reason=new_reason
        )
        timeline_append(
            incident_id=incident.pk,
            kind="obligation.decision",
            actor=actor,
            payload={
                "obligation": obligation.pk,
                "regime": obligation.terms["code"],
                "status": target,
                "reason": new_reason,
            },
        )
    obligations_sync(incident_id=incident.pk, actor=actor)


def _duration(delta: timedelta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    return f"{hours} h {rest // 60:02d} min"
