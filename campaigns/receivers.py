"""Receivers for the incidents app's signals: they only hand over to campaign services."""

from typing import Any

from incidents.services import IncidentError

from .services import CampaignError, hold_follow_drill_status, hold_note_at_close, hold_place


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


def on_drill_changed(
    sender: Any, *, incident_id: int, is_drill: bool, cmo: Any, **kwargs: Any
) -> None:
    # Runs inside the drill change's transaction: a hold the CMO's rules keep refuses the
    # whole change, in the incident's own words.
    try:
        hold_follow_drill_status(incident_id=incident_id, is_drill=is_drill, cmo=cmo)
    except CampaignError as error:
        raise IncidentError(f"The drill status cannot change: {error}") from error


def on_incident_closed(sender: Any, *, incident_id: int, actor: Any = None, **kwargs: Any) -> None:
    # Runs inside the closing's transaction: the note commits with the closing.
    hold_note_at_close(incident_id=incident_id, actor=actor)


def on_customer_merged(sender: Any, *, merged_id: int, **kwargs: Any) -> None:
    # Runs inside the merge's transaction, before the scope stops holding the merged
    # record at commit: no batch can mail it in between.
    from .services import campaign_sends_skip_merged

    campaign_sends_skip_merged(merged_id=merged_id)
