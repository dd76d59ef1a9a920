"""The one-line sentence a regulator reads beside each timeline event.

Each kind's label and description are declared by the app that writes it (`<app>/events.py`,
`config/events.py`); this module adds what the payload tells about one event.
"""

from config.events import UndeclaredEventKindError, event_kind


def timeline_label(kind: str) -> str:
    """The declared label; an event written before its kind was declared reads as its code."""
    try:
        return event_kind(kind).label
    except UndeclaredEventKindError:
        return kind


def timeline_sentence(kind: str, payload: dict) -> str:
    """One line saying what the event changed, from the few payload keys that tell it."""
    if kind == "scope.set":
        return (
            f"{payload.get('added', 0)} added, {payload.get('removed', 0)} removed, "
            f"{payload.get('total', 0)} affected"
            + (f" (list {payload['filename']})" if payload.get("filename") else "")
        )
    if kind == "incident.updated":
        return "Changed: " + ", ".join(sorted(payload.get("changes", {})))
    for key in ("name", "decision", "reason", "campaign_name", "title"):
        if isinstance(payload.get(key), str) and payload[key]:
            return str(payload[key])
    return ""
