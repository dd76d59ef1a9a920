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
