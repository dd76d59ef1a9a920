"""What the incidents app does when the kernel tells it something."""

from typing import Any

from django.contrib.auth.models import User

from incidents import events
from incidents.models import Incident
from incidents.services.timeline import timeline_append

COMPANY_PROFILE_CHANGED = events.COMPANY_PROFILE_CHANGED


def company_profile_log(*, changes: dict[str, list[Any]], actor: User | None, **_: Any) -> None:
    """Runs inside the profile change's transaction: every open incident's chain records
    that the identity its messages and notices carry has changed, or none does."""
    open_ids = Incident.objects.exclude(status=Incident.Status.CLOSED).values_list("pk", flat=True)
    for incident_id in open_ids:
        timeline_append(
            incident_id=incident_id,
            kind=COMPANY_PROFILE_CHANGED,
            actor=actor,
            payload={"changes": changes},
        )


def customer_merged_rescope(
    *, merge_id: int, survivor_id: int, merged_id: int, actor: User | None, **_: Any
) -> None:
    # Runs inside the merge's transaction: the survivor is in scope from the merge's
    # commit, or the merge is not committed.
    from incidents.services.scope import scope_customer_merged

    scope_customer_merged(
        merge_id=merge_id, survivor_id=survivor_id, merged_id=merged_id, actor=actor
    )


def customer_unmerged_rescope(
    *, merge_id: int, survivor_id: int, merged_id: int, actor: User | None, **_: Any
) -> None:
    # Runs inside the undo's transaction, for the same reason.
    from incidents.services.scope import scope_customer_unmerged

    scope_customer_unmerged(
        merge_id=merge_id, survivor_id=survivor_id, merged_id=merged_id, actor=actor
    )
