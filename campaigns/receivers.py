"""Receivers for the incidents app's signals: they only hand over to campaign services."""

from typing import Any

from .services import hold_place


def on_scope_changed(
    sender: Any, *, incident_id: int, added: int = 0, actor: Any = None, **kwargs: Any
) -> None:
    # Runs inside the scope's transaction, so the hold commits with the scope or not at all.
    hold_place(incident_id=incident_id, actor=actor, added=added)


def on_scope_holds_requested(sender: Any, *, incident_id: int, **kwargs: Any) -> list:
    # Read during a scope preview's dry run: the overlap the hold would withhold.
    from .models import Campaign
    from .selectors import campaign_overlap_counts

    overlap = campaign_overlap_counts(incident_id=incident_id)
    names = Campaign.objects.filter(pk__in=list(overlap)).values_list("pk", "name", "status")
    return [(name, status, overlap[pk]) for pk, name, status in names]
