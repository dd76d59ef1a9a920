"""Receivers for the incidents app's signals: they only hand over to campaign services."""

from typing import Any

from .services import hold_place


def on_scope_changed(
    sender: Any, *, incident_id: int, added: int = 0, actor: Any = None, **kwargs: Any
) -> None:
    # Runs inside the scope's transaction, so the hold commits with the scope or not at all.
    hold_place(incident_id=incident_id, actor=actor, added=added)
