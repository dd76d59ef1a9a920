"""Regulatory obligations: created from the regimes that apply, met (on time or late), waived."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.services import ServiceError
from incidents.models import BusinessDayClosure, Incident, Obligation, ObligationPause, Regime
from incidents.rules import END_OF_DAY, RuleError, deadline, is_business_day, regime_applies

from .timeline import timeline_append, timeline_append_many

# A submission time a few minutes ahead of the server clock is a clock skew, not a lie.
FUTURE_TOLERANCE = timedelta(minutes=5)


class ObligationError(ServiceError, ValueError):
    """The obligation cannot change as asked; the message says why."""


# Other apps' conditions for meeting an obligation (a substitute notice is not posted
# before its texts are signed off): each returns why not, or "" when it may be met.
MEET_GUARDS: dict[str, Callable[[Obligation], str]] = {}


def obligation_meet_guard_register(key: str, guard: Callable[[Obligation], str]) -> None:
    MEET_GUARDS[key] = guard


def regime_terms(regime: Regime) -> dict[str, Any]:
    """The regime as it stands, to be copied onto an obligation and never read again."""
    return {
        "code": regime.code,
        "name": regime.name,
        "recipient": regime.recipient,
        "waived_by": regime.waived_by,
        "met_by_consumer_notice": regime.met_by_consumer_notice,
        "profile_flag": regime.profile_flag,
        "countries": list(regime.countries),
        "regions": list(regime.regions),
        "min_affected": regime.min_affected,
        "max_affected": regime.max_affected,
        "in_force_from": regime.in_force_from.isoformat() if regime.in_force_from else None,
        "in_force_until": regime.in_force_until.isoformat() if regime.in_force_until else None,
        "threshold_per_subdivision": regime.threshold_per_subdivision,
        "clock_start": regime.clock_start,
        "follows": regime.follows.code if regime.follows else None,
        "relation": regime.relation,
        "relative_to": regime.relative_to.code if regime.relative_to else None,
        "deadline_amount": regime.deadline_amount,
        "deadline_unit": regime.deadline_unit,
        "due_local_time": regime.due_local_time.isoformat() if regime.due_local_time else None,
        "due_timezone": regime.due_timezone,
        "holiday_calendar": regime.holiday_calendar,
        "terms": regime.terms,
        "source": regime.source,
    }


def _clock_start(
    terms: dict[str, Any], incident: Incident, met: dict[str, datetime | None]
) -> datetime | None:
    start = terms["clock_start"]
    facts = {
        Regime.ClockStart.AWARENESS: incident.awareness_at,
        Regime.ClockStart.MATERIALITY: incident.materiality_determined_at,
        # Until a determination is recorded the clock runs from awareness: the earlier,
        # stricter reading, so that no deadline is missed for want of a date.
        Regime.ClockStart.DETERMINATION: incident.breach_determined_at or incident.awareness_at,
        Regime.ClockStart.SCOPE_IDENTIFIED: incident.scope_identified_at,
        Regime.ClockStart.CONTAINMENT: incident.contained_at,
        Regime.ClockStart.CONSUMER_NOTICE: incident.people_notified_at,
    }
    if start in facts:
        return facts[start]
    if start == Regime.ClockStart.YEAR_END:
        # HIPAA's log of small breaches: "within 60 days after the end of each calendar
        # year", counted from the last moment of the year of discovery.
        zone = ZoneInfo(terms.get("due_timezone") or "UTC")
        year = incident.awareness_at.astimezone(zone).year
        return datetime.combine(date(year, 12, 31), END_OF_DAY, tzinfo=zone).astimezone(UTC)
    return met.get(terms["follows"])


def _related_due(relation: str, own: datetime | None, other: datetime | None) -> datetime | None:
    """An obligation ordered against another: at the same time as it, or before / no later
    than it (its own clock may end sooner: "whichever is sooner")."""
    if other is None:
        return own
    if relation == Regime.Relation.SAME_TIME:
        return other
    return other if own is None else min(own, other)


def _in_force(regime: Regime, incident: Incident) -> bool:
    """A breach is judged by the law in force when it was discovered."""
    discovered = incident.awareness_at.astimezone(ZoneInfo(regime.due_timezone or "UTC")).date()
    if regime.in_force_from and discovered < regime.in_force_from:
        return False
    return not (regime.in_force_until and discovered > regime.in_force_until)


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
        total = sum(counts.values())
        for regime in Regime.objects.filter(active=True).select_related("follows", "relative_to"):
            if regime.pk in existing or not _in_force(regime, incident):
                continue
            if regime.max_affected is not None and total >= regime.max_affected:
                continue
            why = regime_applies(
                profile_flag=regime.profile_flag,
                countries=regime.countries,
                regions=regime.regions,
                min_affected=regime.min_affected,
                profile=profile,
                counts=counts,
                per_subdivision=regime.threshold_per_subdivision,
            )
            if why:
                terms = regime_terms(regime)
                waiver = _waiver(terms, incident)
                created.append(
                    Obligation(
                        incident=incident,
                        regime=regime,
                        name=regime.name,
                        recipient=regime.recipient,
                        terms=terms,
                        why=why,
                        status=Obligation.Status.NOT_REQUIRED if waiver else Obligation.Status.OPEN,
                        not_required_reason=waiver,
                    )
                )
        for obligation in created:
            existing[obligation.regime_id] = obligation
    met = {o.terms["code"]: o.met_at for o in existing.values()}
    closures = closures_by_calendar()
    paused = paused_by_obligation(incident_id=incident_id)
    clocks: dict[str, tuple[datetime | None, datetime | None]] = {}
    for obligation in existing.values():
        start = _clock_start(obligation.terms, incident, met)
        clocks[obligation.terms["code"]] = (
            start,
            deadline(
                obligation.terms,
                start,
                closures=closures.get(_calendar_of(obligation.terms), set()),
                paused=paused.get(obligation.pk, timedelta(0)),
            ),
        )
    moved: list[Obligation] = []
    clock_moves: list[tuple[Obligation, int]] = []
    for obligation in existing.values():
        if obligation.status != Obligation.Status.OPEN:
            continue
        start, due = clocks[obligation.terms["code"]]
        relation, other_code = obligation.terms.get("relation"), obligation.terms.get("relative_to")
        if relation and other_code in clocks:
            other_met = met.get(other_code)
            due = _related_due(relation, due, other_met or clocks[other_code][1])
        # Late is late: a clock moved later does not make an overdue obligation on time.
        now = timezone.now()
        if obligation.due_at is not None and obligation.due_at < now and (due is None or due > now):
            start, due = obligation.clock_started_at, obligation.due_at
        if (start, due) != (obligation.clock_started_at, obligation.due_at):
            obligation.clock_started_at, obligation.due_at = start, due
            if obligation.pk is not None:
                moved.append(obligation)
            seconds = int(paused.get(obligation.pk, timedelta(0)).total_seconds())
            clock_moves.append((obligation, seconds))
    # Set-based writes: a first build owes a hundred obligations or more. The new ones are
    # inserted with their clocks already set (one INSERT), the moved clocks of existing
    # ones updated in one UPDATE still guarded on open, and every event appended at once,
    # in the order a person reads them: what was created, then whose clock moved.
    Obligation.objects.bulk_create(created)
    if moved:
        Obligation.objects.filter(status=Obligation.Status.OPEN).bulk_update(
            moved, ["clock_started_at", "due_at"]
        )
    events = [
        (
            "obligation.created",
            {"obligation": o.pk, "regime": o.terms["code"], "why": o.why},
        )
        for o in created
    ]
    events += [
        (
            "obligation.clock",
            {
                "obligation": o.pk,
                "regime": o.terms["code"],
                "clock_started_at": o.clock_started_at,
                "due_at": o.due_at,
                "paused_seconds": seconds,
            },
        )
        for o, seconds in clock_moves
    ]
    timeline_append_many(incident_id=incident_id, events=events, actor=actor)
    return created


def _calendar_of(terms: dict[str, Any]) -> str:
    if terms["deadline_unit"] == Regime.Unit.US_BUSINESS_DAYS:
        return terms.get("holiday_calendar") or "US"
    return terms.get("holiday_calendar") or ""


def closures_by_calendar() -> dict[str, set[date]]:
    closures: dict[str, set[date]] = {}
    for calendar, day in BusinessDayClosure.objects.values_list("calendar", "day"):
        closures.setdefault(calendar.upper(), set()).add(day)
    return closures


@transaction.atomic
def closure_add(
    *, calendar: str, day: date, reason: str, actor: User | AnonymousUser | None
) -> BusinessDayClosure:
    """Record a one-off closure and move the open business-day clocks it falls inside.

    A closure is a fact about the regulator, not an edit of a regime: the law counts
    business days, so an open clock on that calendar moves with it."""
    calendar, reason = calendar.strip().upper(), reason.strip()
    if not calendar:
        raise ObligationError("Name the calendar the closure applies to (for example US).")
    if not reason:
        raise ObligationError("Say why the regulator is closed that day.")
    try:
        is_business_day(day, calendar)
    except RuleError as error:
        raise ObligationError(str(error)) from None
    if BusinessDayClosure.objects.filter(calendar=calendar, day=day).exists():
        raise ObligationError(f"{calendar} is already closed on {day:%Y-%m-%d}.")
    closure = BusinessDayClosure.objects.create(
        calendar=calendar,
        day=day,
        reason=reason,
        created_by=actor if isinstance(actor, User) else None,
    )
    incidents = (
        Obligation.objects.filter(
            status=Obligation.Status.OPEN,
            terms__deadline_unit__in=[Regime.Unit.BUSINESS_DAYS, Regime.Unit.US_BUSINESS_DAYS],
        )
        .values_list("incident_id", flat=True)
        .distinct()
    )
    for incident_id in list(incidents):
        obligations_sync(incident_id=incident_id, actor=actor)
    return closure


def paused_by_obligation(*, incident_id: int) -> dict[int, timedelta]:
    """How long each obligation's clock was paused, summed over its documented pauses."""
    totals: dict[int, timedelta] = {}
    pauses = ObligationPause.objects.filter(obligation__incident_id=incident_id)
    for obligation_id, starts_at, until in pauses.values_list(
        "obligation_id", "starts_at", "until"
    ):
        totals[obligation_id] = totals.get(obligation_id, timedelta(0)) + (until - starts_at)
    return totals


@transaction.atomic
def obligation_pause(
    *,
    obligation_id: int,
    actor: User | AnonymousUser | None,
    requested_by: str,
    reference: str,
    starts_at: datetime,
    until: datetime,
) -> ObligationPause:
    """Record a law-enforcement delay: who asked, on what documented request, from when
    until when. The obligation's due time moves by the pause's length."""
    requested_by, reference = requested_by.strip(), reference.strip()
    if not requested_by:
        raise ObligationError("Name the agency (and officer) who asked for the delay.")
    if not reference:
        raise ObligationError("Give the reference of the written request for the delay.")
    if timezone.is_naive(starts_at) or timezone.is_naive(until):
        raise ObligationError("Give the pause's times with their time zone.")
    if until <= starts_at:
        raise ObligationError(
            f"The delay must end after it starts ({until.isoformat()} is not after "
            f"{starts_at.isoformat()})."
        )
    obligation = _locked_open(obligation_id)
    pause = ObligationPause.objects.create(
        obligation=obligation,
        requested_by=requested_by,
        reference=reference,
        starts_at=starts_at,
        until=until,
        recorded_by=actor if isinstance(actor, User) else None,
    )
    timeline_append(
        incident_id=obligation.incident_id,
        kind="obligation.paused",
        actor=actor,
        payload={
            "obligation": obligation.pk,
            "regime": obligation.terms["code"],
            "requested_by": requested_by,
            "reference": reference,
            "starts_at": starts_at,
            "until": until,
        },
    )
    obligations_sync(incident_id=obligation.incident_id, actor=actor)
    return pause


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
    for guard in MEET_GUARDS.values():
        refusal = guard(obligation)
        if refusal:
            raise ObligationError(refusal)
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


def obligations_meet_by_notices(
    *, incident_id: int, sent: QuerySet[Any], actor: User | AnonymousUser | None = None
) -> list[Obligation]:
    """A wave of notices to the people affected has completed: each open consumer-notice
    obligation is met at the last message sent to its jurisdiction's residents.

    `sent` holds one row per message that left (the notifications app's ledger), with a
    `customer` and a `sent_at`; it is grouped by residence in the database. A notice that
    left after its due time stays open for a person to give the reason for the delay.
    Runs in the caller's transaction.
    """
    from incidents.selectors import residence_last_sent

    last = residence_last_sent(sent=sent)
    if not last:
        return []
    met: list[Obligation] = []
    candidates = Obligation.objects.filter(
        incident_id=incident_id,
        status=Obligation.Status.OPEN,
        terms__met_by_consumer_notice=True,
    )
    for obligation in candidates:
        terms = obligation.terms
        countries = {c.upper() for c in terms.get("countries") or []}
        regions = {r.upper() for r in terms.get("regions") or []}
        times = [
            at
            for (country, region), at in last.items()
            if (not countries or country.upper() in countries)
            and (not regions or region.upper() in regions)
        ]
        if not times:
            continue
        at = max(times)
        if obligation.due_at is not None and at > obligation.due_at:
            timeline_append(
                incident_id=incident_id,
                kind="obligation.notices_sent_late",
                actor=actor,
                payload={
                    "obligation": obligation.pk,
                    "regime": terms["code"],
                    "last_sent_at": at,
                    "due_at": obligation.due_at,
                },
            )
            continue
        met.append(obligation_meet(obligation_id=obligation.pk, actor=actor, met_at=at))
    return met
