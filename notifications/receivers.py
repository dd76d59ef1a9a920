from typing import Any

from .models import Communication
from .services import (
    communication_sign_offs_void,
    communication_sign_offs_void_for_facts,
    communication_sign_offs_void_for_scope,
)


def scope_changed_void_sign_offs(
    *, incident_id: int, added: int = 0, removed: int = 0, actor: Any = None, **kwargs: Any
) -> None:
    communication_sign_offs_void_for_scope(
        incident_id=incident_id, actor=actor, added=added, removed=removed
    )


def incident_updated_void_sign_offs(
    *, incident_id: int, changed: list[str], actor: Any = None, **kwargs: Any
) -> None:
    communication_sign_offs_void_for_facts(incident_id=incident_id, actor=actor, changed=changed)


def incident_drill_changed_void_sign_offs(
    *, incident_id: int, is_drill: bool, actor: Any = None, **kwargs: Any
) -> None:
    reason = f"The incident became {'a drill' if is_drill else 'a real incident'}."
    for communication_id in Communication.objects.filter(incident_id=incident_id).values_list(
        "pk", flat=True
    ):
        communication_sign_offs_void(communication_id=communication_id, actor=actor, reason=reason)


def customer_merged_skip_notifications(*, merged_id: int, **kwargs: Any) -> None:
    # Runs inside the merge's transaction: the merged record's unsent messages stop with
    # the merge's commit, or the merge is not committed.
    from .services.merges import notifications_skip_merged

    notifications_skip_merged(merged_id=merged_id)
