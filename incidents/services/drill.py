"""Turning a real incident into a drill, or a drill into a real incident, after opening.

The flag decides whether customers are told for real and whether marketing is held, so
one person may not flip it: the CISO proposes and the CMO confirms, or the other way
round, two different people. The change voids every sign-off (the signed content names
the drill status) and the campaigns app re-places or lifts the holds by the CMO's rules.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import roles
from incidents import events
from incidents.models import DrillChange, Incident
from incidents.signals import incident_drill_changed_send

from .incident import IncidentError, _user
from .timeline import timeline_append

DRILL_DECIDERS = (roles.CISO, roles.CMO)

DRILL_CHANGE_REQUESTED = events.INCIDENT_DRILL_CHANGE_REQUESTED
DRILL_CHANGE_WITHDRAWN = events.INCIDENT_DRILL_CHANGE_WITHDRAWN
DRILL_CHANGED = events.INCIDENT_DRILL_CHANGED


def _roles_of(user: User) -> set[str]:
    return set(user.groups.filter(name__in=DRILL_DECIDERS).values_list("name", flat=True))


def _label(to_drill: bool) -> str:
    return "a drill" if to_drill else "a real incident"


@transaction.atomic
def incident_drill_change_request(
    *, incident_id: int, actor: User | AnonymousUser | None, to_drill: bool, reason: str
) -> DrillChange:
    """The CISO or the CMO proposes the change; nothing changes until the other confirms."""
    user = _user(actor)
    held = _roles_of(user) if user else set()
    if user is None or not held:
        raise IncidentError("Only the CISO or the CMO may propose to change the drill status.")
    reason = reason.strip()
    if not reason:
        raise IncidentError("drill status: say why it changes.")
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if incident.status == Incident.Status.CLOSED:
        raise IncidentError(f"{incident} is closed; its record no longer changes.")
    if incident.is_drill == to_drill:
        raise IncidentError(f"{incident} is already {_label(to_drill)}.")
    try:
        with transaction.atomic():
            change = DrillChange.objects.create(
                incident=incident,
                to_drill=to_drill,
                reason=reason,
                requested_by=user,
                requested_as=sorted(held)[0],
                requested_at=timezone.now(),
            )
    except IntegrityError as error:
        raise IncidentError(
            f"{incident} already has a drill status change waiting for its second person."
        ) from error
    timeline_append(
        incident_id=incident_id,
        kind=DRILL_CHANGE_REQUESTED,
        actor=user,
        payload={"to_drill": to_drill, "reason": reason, "as": change.requested_as},
    )
    return change


def _open_change(incident_id: int) -> DrillChange:
    change = (
        DrillChange.objects.select_for_update()
        .filter(incident_id=incident_id, decided_at__isnull=True)
        .first()
    )
    if change is None:
        raise IncidentError(f"Incident {incident_id} has no drill status change to decide.")
    return change


@transaction.atomic
def incident_drill_change_confirm(
    *, incident_id: int, actor: User | AnonymousUser | None
) -> Incident:
    """The second person, in the other role, confirms: the flag changes, every sign-off is
    voided and holds follow, all in this transaction (a refusal by the CMO's rules on holds
    undoes the whole change)."""
    user = _user(actor)
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    change = _open_change(incident_id)
    if user is None:
        raise IncidentError("Only the CISO or the CMO may confirm a drill status change.")
    if user.pk == change.requested_by_id:
        raise IncidentError(
            "A drill status change is decided by two people: someone else must confirm it."
        )
    other_roles = _roles_of(user) - {change.requested_as}
    if not other_roles:
        needed = " or ".join(r for r in DRILL_DECIDERS if r != change.requested_as)
        raise IncidentError(
            f"{change.requested_by.get_username()} proposed it as {change.requested_as}; "
            f"the {needed} confirms it."
        )
    if incident.status == Incident.Status.CLOSED:
        raise IncidentError(f"{incident} is closed; its record no longer changes.")
    now = timezone.now()
    DrillChange.objects.filter(pk=change.pk).update(
        confirmed_by=user, confirmed_as=sorted(other_roles)[0], decided_at=now
    )
    was = incident.is_drill
    Incident.objects.filter(pk=incident_id).update(is_drill=change.to_drill, updated_at=now)
    timeline_append(
        incident_id=incident_id,
        kind=DRILL_CHANGED,
        actor=user,
        payload={
            "is_drill": [was, change.to_drill],
            "reason": change.reason,
            "proposed_by": change.requested_by.get_username(),
            "proposed_as": change.requested_as,
            "confirmed_as": sorted(other_roles)[0],
        },
    )
    cmo = user if roles.CMO in other_roles else change.requested_by
    incident_drill_changed_send(
        incident_id=incident_id,
        is_drill=change.to_drill,
        actor=user,
        cmo=cmo,
    )
    return Incident.objects.get(pk=incident_id)


@transaction.atomic
def incident_drill_change_withdraw(*, incident_id: int, actor: User | AnonymousUser | None) -> None:
    """The proposer, or either decider, drops a proposal nobody confirmed."""
    user = _user(actor)
    change = _open_change(incident_id)
    if user is None or (user.pk != change.requested_by_id and not _roles_of(user)):
        raise IncidentError("Only the CISO or the CMO may withdraw a drill status change.")
    DrillChange.objects.filter(pk=change.pk).update(withdrawn=True, decided_at=timezone.now())
    timeline_append(
        incident_id=incident_id,
        kind=DRILL_CHANGE_WITHDRAWN,
        actor=user,
        payload={"to_drill": change.to_drill},
    )
