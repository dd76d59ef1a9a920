"""The incident record: opening it, editing what it says, moving it, and its decisions."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from config import roles
from config.services import ServiceError
from incidents import events
from incidents.models import (
    ENISA_CATEGORY,
    Assessment,
    DataCategory,
    EnisaCategory,
    Incident,
    Obligation,
    Regime,
)
from incidents.rules import RuleError, enisa_severity
from incidents.signals import incident_closed_send, incident_updated_send

from .obligations import obligations_apply_decision, obligations_sync
from .timeline import timeline_append

FUTURE_TOLERANCE = timedelta(minutes=5)
DECIDING_ROLES = (roles.DPO, roles.CISO)

# What the record says, as opposed to where it stands: editable in the admin form.
DESCRIPTIVE_FIELDS = (
    "title",
    "nature",
    "is_drill",
    "awareness_at",
    "occurred_at",
    "data_categories",
    "credentials_open",
    "systems",
    "approximate_records",
    "contact_point",
    "likely_consequences",
    "measures_taken",
    "measures_proposed",
    "facts_translations",
    "encryption",
    "processor_involvement",
    "measures_for_authority",
)


class IncidentError(ServiceError, ValueError):
    """The incident cannot change as asked; the message says why."""


DECISION_KINDS = {"art33": events.INCIDENT_ART33_DECISION, "art34": events.INCIDENT_ART34_DECISION}


def _user(actor: User | AnonymousUser | None) -> User | None:
    return actor if isinstance(actor, User) and actor.is_authenticated else None


def _check_time(name: str, value: datetime | None) -> None:
    if value is None:
        return
    if timezone.is_naive(value):
        raise IncidentError(f"{name}: give the time with its time zone.")
    if value > timezone.now() + FUTURE_TOLERANCE:
        raise IncidentError(f"{name}: {value.isoformat()} is in the future.")


def _check_categories(categories: Sequence[str]) -> list[str]:
    unknown = sorted(set(categories) - set(DataCategory.values))
    if unknown:
        raise IncidentError(f"data categories: unknown {', '.join(unknown)}.")
    return [c for c in DataCategory.values if c in set(categories)]


def _payload(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in (None, "", [], ())}


@transaction.atomic
def incident_open(
    *,
    actor: User | AnonymousUser | None,
    title: str,
    nature: str,
    awareness_at: datetime,
    data_categories: Sequence[str] = (),
    systems: Sequence[str] = (),
    **details: Any,
) -> Incident:
    """Open an incident: the awareness time starts the GDPR clock and the obligations owed
    by the company profile are created with it."""
    unknown = set(details) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise IncidentError(f"Unknown incident fields: {', '.join(sorted(unknown))}.")
    if not title.strip() or not nature.strip():
        raise IncidentError("An incident needs a title and the nature of the breach.")
    _check_time("became aware at", awareness_at)
    _check_time("occurred at", details.get("occurred_at"))
    if details.get("occurred_at") and details["occurred_at"] > awareness_at:
        raise IncidentError("occurred at: the breach cannot occur after the company knew of it.")
    incident = Incident.objects.create(
        title=title.strip(),
        nature=nature.strip(),
        awareness_at=awareness_at,
        data_categories=_check_categories(data_categories),
        systems=[s.strip() for s in systems if s.strip()],
        created_by=_user(actor),
        **details,
    )
    timeline_append(
        incident_id=incident.pk,
        kind="incident.opened",
        actor=actor,
        payload=_payload(
            {
                "title": incident.title,
                "nature": incident.nature,
                "awareness_at": incident.awareness_at,
                "data_categories": incident.data_categories,
                "systems": incident.systems,
                **details,
            }
        ),
    )
    obligations_sync(incident_id=incident.pk, actor=actor)
    return incident


@transaction.atomic
def incident_update(
    *,
    incident_id: int,
    actor: User | AnonymousUser | None,
    clock_change_reason: str = "",
    **changes: Any,
) -> Incident:
    """Change what the record says (not its status or decisions); the timeline keeps both
    the old and the new value of every field changed.

    Moving the awareness time moves the clocks of the obligations: that is the DPO's or
    the CISO's decision, with its reason, and an obligation already overdue stays overdue.
    """
    unknown = set(changes) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise IncidentError(f"These fields change through their own action: {sorted(unknown)}.")
    if "is_drill" in changes:
        raise IncidentError(
            "The drill status is set when the incident is opened; changing it later is a "
            "decision of the CISO and the CMO together (Change drill status)."
        )
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if incident.status == Incident.Status.CLOSED:
        raise IncidentError(f"{incident} is closed; its record no longer changes.")
    if "data_categories" in changes:
        changes["data_categories"] = _check_categories(changes["data_categories"])
    for name in ("awareness_at", "occurred_at"):
        if name in changes:
            _check_time(name.replace("_", " "), changes[name])
    diff = {
        name: [getattr(incident, name), value]
        for name, value in changes.items()
        if getattr(incident, name) != value
    }
    if not diff:
        return incident
    reason = clock_change_reason.strip()
    if "awareness_at" in diff and incident.obligations.exists():
        _require_decider(actor, "A change of the awareness time (it moves the deadlines)")
        if not reason:
            raise IncidentError(
                "became aware at: moving it moves the deadlines; give the reason for the change."
            )
    for name, (_, value) in diff.items():
        setattr(incident, name, value)
    incident.save(update_fields=[*diff, "updated_at"])
    timeline_append(
        incident_id=incident.pk,
        kind="incident.updated",
        actor=actor,
        payload={"changes": diff, **({"reason": reason} if reason else {})},
    )
    if "awareness_at" in diff:
        obligations_sync(incident_id=incident.pk, actor=actor)
    incident_updated_send(incident_id=incident.pk, changed=sorted(diff), actor=_user(actor))
    return incident


def _transition(
    *,
    incident_id: int,
    actor: User | AnonymousUser | None,
    sources: Sequence[str],
    target: str,
    kind: str,
    verb: str,
    **updates: Any,
) -> Incident:
    updated = Incident.objects.filter(pk=incident_id, status__in=sources).update(
        status=target, updated_at=timezone.now(), **updates
    )
    if updated != 1:
        current = Incident.objects.filter(pk=incident_id).values_list("status", flat=True).first()
        if current is None:
            raise IncidentError(f"Incident {incident_id} does not exist.")
        allowed = [Incident.Status(s).label.lower() for s in sources]
        raise IncidentError(
            f"Incident {incident_id} is {Incident.Status(current).label.lower()}; "
            f"only an incident that is {' or '.join(allowed)} can be {verb}."
        )
    timeline_append(
        incident_id=incident_id,
        kind=kind,
        actor=actor,
        payload={"status": target, "from": list(sources), **updates},
    )
    return Incident.objects.get(pk=incident_id)


@transaction.atomic
def incident_start_assessing(*, incident_id: int, actor: User | AnonymousUser | None) -> Incident:
    return _transition(
        incident_id=incident_id,
        actor=actor,
        sources=[Incident.Status.OPEN],
        target=Incident.Status.ASSESSING,
        kind=events.INCIDENT_ASSESSING,
        verb="put under assessment",
    )


@transaction.atomic
def incident_start_notifying(*, incident_id: int, actor: User | AnonymousUser | None) -> Incident:
    return _transition(
        incident_id=incident_id,
        actor=actor,
        sources=[Incident.Status.OPEN, Incident.Status.ASSESSING],
        target=Incident.Status.NOTIFYING,
        kind=events.INCIDENT_NOTIFYING,
        verb="moved to notifying",
    )


@transaction.atomic
def incident_mark_contained(
    *, incident_id: int, actor: User | AnonymousUser | None, contained_at: datetime | None = None
) -> Incident:
    contained_at = contained_at or timezone.now()
    _check_time("contained at", contained_at)
    incident = _transition(
        incident_id=incident_id,
        actor=actor,
        sources=[Incident.Status.OPEN, Incident.Status.ASSESSING, Incident.Status.NOTIFYING],
        target=Incident.Status.CONTAINED,
        kind=events.INCIDENT_CONTAINED,
        verb="marked contained",
        contained_at=contained_at,
    )
    # Containment starts the clocks of final reports ("after the incident is handled").
    if Obligation.objects.filter(
        incident_id=incident_id, terms__clock_start=Regime.ClockStart.CONTAINMENT
    ).exists():
        obligations_sync(incident_id=incident_id, actor=actor)
    return incident


@transaction.atomic
def incident_close(*, incident_id: int, actor: User | AnonymousUser | None) -> Incident:
    """Close a contained incident once nothing is owed any more; tells the other apps."""
    Incident.objects.select_for_update().filter(pk=incident_id).first()
    still_open = list(
        Obligation.objects.filter(incident_id=incident_id, status=Obligation.Status.OPEN)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if still_open:
        raise IncidentError(
            f"Incident {incident_id} still owes: {'; '.join(still_open)}. "
            "Record them as met or not required first."
        )
    incident = _transition(
        incident_id=incident_id,
        actor=actor,
        sources=[Incident.Status.CONTAINED],
        target=Incident.Status.CLOSED,
        kind=events.INCIDENT_CLOSED,
        verb="closed",
    )
    incident_closed_send(incident_id=incident_id, actor=_user(actor))
    return incident


def _require_decider(actor: User | AnonymousUser | None, what: str) -> User:
    user = _user(actor)
    if user is None or not user.groups.filter(name__in=DECIDING_ROLES).exists():
        raise IncidentError(f"{what} is recorded by the DPO or the CISO.")
    return user


def _decision_record(
    *, incident_id: int, user: User, article: str, decision: str, reason: str
) -> Incident:
    """Store an Art. 33 or 34 decision and its reason on the incident and its timeline,
    then waive or reopen the obligations that decision governs."""
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if incident.status == Incident.Status.CLOSED:
        raise IncidentError(f"{incident} is closed.")
    fields = {f"{article}_decision": decision, f"{article}_reason": reason}
    Incident.objects.filter(pk=incident_id).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(incident, name, value)
    timeline_append(
        incident_id=incident_id,
        kind=DECISION_KINDS[article],
        actor=user,
        payload={"decision": decision, "reason": reason},
    )
    obligations_apply_decision(incident=incident, actor=user, waived_by=article)
    return incident


@transaction.atomic
def incident_decide_art33(
    *, incident_id: int, actor: User | AnonymousUser | None, decision: str, reason: str
) -> Incident:
    """Record whether the authority is notified; "not required" is the Art. 33(5) register
    entry and needs its reason."""
    user = _require_decider(actor, "The Art. 33 decision")
    if decision not in (Incident.Art33Decision.NOTIFY, Incident.Art33Decision.NOT_REQUIRED):
        raise IncidentError(f"Art. 33 decision: choose notify or not required, not {decision!r}.")
    reason = reason.strip()
    if decision == Incident.Art33Decision.NOT_REQUIRED and not reason:
        raise IncidentError("Art. 33 decision: say why notifying the authority is not required.")
    return _decision_record(
        incident_id=incident_id, user=user, article="art33", decision=decision, reason=reason
    )


@transaction.atomic
def incident_decide_art34(
    *, incident_id: int, actor: User | AnonymousUser | None, decision: str, reason: str
) -> Incident:
    """Record whether the people are told; an Art. 34(3) exemption needs its reason."""
    user = _require_decider(actor, "The Art. 34 decision")
    allowed = set(Incident.Art34Decision.values) - {Incident.Art34Decision.UNDECIDED}
    if decision not in allowed:
        raise IncidentError(f"Art. 34 decision: {decision!r} is not a decision.")
    reason = reason.strip()
    if decision != Incident.Art34Decision.NOTIFY and not reason:
        raise IncidentError("Art. 34 decision: an exemption needs its reason.")
    return _decision_record(
        incident_id=incident_id, user=user, article="art34", decision=decision, reason=reason
    )


@transaction.atomic
def incident_record_materiality(
    *, incident_id: int, actor: User | AnonymousUser | None, determined_at: datetime
) -> Incident:
    """When a listed company determined the incident material: the SEC's clock start."""
    user = _require_decider(actor, "The materiality determination")
    _check_time("materiality determined at", determined_at)
    updated = Incident.objects.filter(
        pk=incident_id, materiality_determined_at__isnull=True
    ).update(materiality_determined_at=determined_at, updated_at=timezone.now())
    if updated != 1:
        raise IncidentError(
            f"Incident {incident_id} already has its materiality determination recorded."
        )
    timeline_append(
        incident_id=incident_id,
        kind="incident.materiality",
        actor=user,
        payload={"determined_at": determined_at},
    )
    obligations_sync(incident_id=incident_id, actor=user)
    return Incident.objects.get(pk=incident_id)


@transaction.atomic
def incident_record_people_notified(
    *, incident_id: int, actor: User | AnonymousUser | None, notified_at: datetime
) -> bool:
    """Record when the breach notice first went out to the people affected.

    Idempotent: a task running twice finds the time already set and changes nothing
    (returns False), so the timeline holds the first notice only.
    """
    _check_time("people notified at", notified_at)
    updated = Incident.objects.filter(pk=incident_id, people_notified_at__isnull=True).update(
        people_notified_at=notified_at, updated_at=timezone.now()
    )
    if updated:
        timeline_append(
            incident_id=incident_id,
            kind="incident.people_notified",
            actor=actor,
            payload={"notified_at": notified_at},
        )
        # The consumer notice starts the clocks of filings ordered after it.
        if Obligation.objects.filter(
            incident_id=incident_id, terms__clock_start=Regime.ClockStart.CONSUMER_NOTICE
        ).exists():
            obligations_sync(incident_id=incident_id, actor=actor)
    elif not Incident.objects.filter(pk=incident_id).exists():
        raise IncidentError(f"Incident {incident_id} does not exist.")
    return bool(updated)


CLOCK_FACTS = {
    "breach_determined_at": "The determination that a breach occurred",
    "scope_identified_at": "The identification of the people affected",
}


@transaction.atomic
def incident_record_clock_start(
    *, incident_id: int, actor: User | AnonymousUser | None, fact: str, at: datetime
) -> Incident:
    """Record a fact a state law starts its clock at (the determination of the breach, the
    scope identified). Clocks already running move with it; met obligations keep theirs."""
    if fact not in CLOCK_FACTS:
        raise IncidentError(f"{fact!r} is no clock start; use one of {', '.join(CLOCK_FACTS)}.")
    user = _require_decider(actor, CLOCK_FACTS[fact])
    _check_time(fact.replace("_", " "), at)
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if at < incident.awareness_at:
        raise IncidentError(
            f"{CLOCK_FACTS[fact]} cannot come before awareness "
            f"({incident.awareness_at.isoformat()})."
        )
    Incident.objects.filter(pk=incident_id).update(**{fact: at, "updated_at": timezone.now()})
    timeline_append(
        incident_id=incident_id,
        kind="incident.clock_start",
        actor=user,
        payload={"fact": fact, "at": at},
    )
    obligations_sync(incident_id=incident_id, actor=user)
    return Incident.objects.get(pk=incident_id)


@transaction.atomic
def assessment_record(
    *,
    incident_id: int,
    actor: User | AnonymousUser | None,
    ei: Decimal,
    cb_confidentiality: Decimal = Decimal("0"),
    cb_integrity: Decimal = Decimal("0"),
    cb_availability: Decimal = Decimal("0"),
    malicious: bool = False,
    dpc_adjustments: Sequence[tuple[int, str]] = (),
    note: str = "",
) -> Assessment:
    """Record a new version of the ENISA severity assessment from the incident's categories.

    The base DPC is the ENISA category of the most critical data involved; credentials
    count as what they open. Each contextual adjustment carries its reason.
    """
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    categories = list(incident.data_categories)
    if not categories:
        raise IncidentError("Name the incident's data categories before assessing it.")
    scores: list[EnisaCategory] = []
    for category in categories:
        if category == DataCategory.CREDENTIALS:
            if not incident.credentials_open:
                raise IncidentError(
                    "Credentials take the category of what they open: say what they open."
                )
            scores.append(ENISA_CATEGORY[DataCategory(incident.credentials_open)])
        else:
            scores.append(ENISA_CATEGORY[DataCategory(category)])
    basic = max(scores)
    adjustments: list[dict[str, Any]] = []
    for number, (delta, reason) in enumerate(dpc_adjustments, start=1):
        if not isinstance(delta, int) or delta == 0 or abs(delta) > 3:
            raise IncidentError(
                f"DPC adjustment {number}: a whole step from -3 to +3, not {delta}."
            )
        if not reason.strip():
            raise IncidentError(f"DPC adjustment {number}: give its reason.")
        adjustments.append({"delta": delta, "reason": reason.strip()})
    try:
        severity = enisa_severity(
            dpc_base=int(basic),
            adjustments=[a["delta"] for a in adjustments],
            ei=Decimal(ei),
            cb_confidentiality=Decimal(cb_confidentiality),
            cb_integrity=Decimal(cb_integrity),
            cb_availability=Decimal(cb_availability),
            malicious=malicious,
        )
    except RuleError as error:
        raise IncidentError(str(error)) from error
    last = incident.assessments.order_by("-version").values_list("version", flat=True).first()
    assessment = Assessment.objects.create(
        incident=incident,
        version=(last or 0) + 1,
        basic_category=basic,
        data_categories=categories,
        dpc_base=int(basic),
        dpc_adjustments=adjustments,
        dpc=severity.dpc,
        ei=ei,
        cb_confidentiality=cb_confidentiality,
        cb_integrity=cb_integrity,
        cb_availability=cb_availability,
        cb_malicious=Decimal("0.5") if malicious else Decimal("0"),
        score=severity.score,
        level=severity.level,
        note=note.strip(),
        assessed_by=_user(actor),
    )
    assessment.refresh_from_db()
    timeline_append(
        incident_id=incident_id,
        kind="assessment.recorded",
        actor=actor,
        payload={
            "version": assessment.version,
            "score": assessment.score,
            "level": assessment.level,
            "arithmetic": assessment.arithmetic,
        },
    )
    return assessment
