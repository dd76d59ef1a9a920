"""Receivers for the incidents app's signals: they only hand over to campaign services."""

from typing import Any

from incidents.services import IncidentError

from .services import CampaignError, hold_follow_drill_status, hold_place


def on_scope_changed(
    sender: Any, *, incident_id: int, added: int = 0, actor: Any = None, **kwargs: Any
) -> None:
    # Runs inside the scope's transaction, so the hold commits with the scope or not at all.
    hold_place(incident_id=incident_id, actor=actor, added=added)


def on_drill_changed(
    sender: Any, *, incident_id: int, is_drill: bool, cmo: Any, **kwargs: Any
) -> None:
    # Runs inside the drill change's transaction: a hold the CMO's rules keep refuses the
    # whole change, in the incident's own words.
    try:
        hold_follow_drill_status(incident_id=incident_id, is_drill=is_drill, cmo=cmo)
    except CampaignError as error:
        raise IncidentError(f"The drill status cannot change: {error}") from error
