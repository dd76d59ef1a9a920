"""What the incidents app tells the apps that depend on it.

Services send through the typed functions below, inside their transaction, so a sender
cannot forget an argument or misspell one; receivers (connected in the receiving app's
AppConfig.ready to the Signal objects) only dispatch to their own services and take the
same keyword arguments.
"""

from typing import TYPE_CHECKING, cast

from django.dispatch import Signal

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# kwargs: incident_id: int, added: int, removed: int, actor: User | None
scope_changed = Signal()

# kwargs: incident_id: int, changed: list[str] (the fields changed), actor: User | None
incident_updated = Signal()

# kwargs: incident_id: int, actor: User | None
incident_closed = Signal()

# kwargs: incident_id: int. Sent by the scope preview inside its dry run (never by a write).
# Each receiver returns [(campaign name, status, people of its audience in the scope)], the
# people a hold keeps that campaign from mailing.
scope_holds_requested = Signal()

# kwargs: incident_id: int, is_drill: bool (the new status), actor: User (the confirmer),
# cmo: User (the CMO of the two deciders, who acts for the holds)
incident_drill_changed = Signal()


def _sender() -> type:
    from incidents.models import Incident

    return Incident


def scope_changed_send(*, incident_id: int, added: int, removed: int, actor: "User | None") -> None:
    scope_changed.send(
        sender=_sender(), incident_id=incident_id, added=added, removed=removed, actor=actor
    )


def incident_updated_send(*, incident_id: int, changed: list[str], actor: "User | None") -> None:
    incident_updated.send(sender=_sender(), incident_id=incident_id, changed=changed, actor=actor)


def incident_closed_send(*, incident_id: int, actor: "User | None") -> None:
    incident_closed.send(sender=_sender(), incident_id=incident_id, actor=actor)


def incident_drill_changed_send(
    *, incident_id: int, is_drill: bool, actor: "User", cmo: "User"
) -> None:
    incident_drill_changed.send(
        sender=_sender(), incident_id=incident_id, is_drill=is_drill, actor=actor, cmo=cmo
    )


def scope_holds_ask(*, incident_id: int) -> dict[str, tuple[str, int]]:
    """Campaign name -> (status, people of its audience in the scope), from every receiver."""
    found: dict[str, tuple[str, int]] = {}
    for _receiver, answer in scope_holds_requested.send(sender=None, incident_id=incident_id):
        for name, status, people in cast(list[tuple[str, str, int]], answer or []):
            found[name] = (status, people)
    return found
