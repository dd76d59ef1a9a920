"""Timeline event kinds, declared by the apps that write them (Zulip's AuditLogEventType).

An incident's timeline is read by a regulator and an auditor: each kind carries the words
a person reads (`label`, `description`) beside the code the chain hashes. The timeline
refuses a kind nobody declared, so a new event cannot reach the evidence unnamed.
Each app declares its kinds in its `events` module; `config` imports them all when the
app registry is ready.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EventKind:
    code: str
    label: str
    description: str


class UndeclaredEventKindError(LookupError):
    pass


_DECLARED: dict[str, EventKind] = {}


def event_kind_declare(code: str, label: str, description: str) -> str:
    """Declare a kind once; returns its code, for use as the module's constant."""
    kind = EventKind(code=code, label=label, description=description)
    if _DECLARED.get(code, kind) != kind:
        raise ValueError(f"event kind {code!r} is declared twice, differently")
    _DECLARED[code] = kind
    return code


def event_kind(code: str) -> EventKind:
    try:
        return _DECLARED[code]
    except KeyError:
        raise UndeclaredEventKindError(
            f"timeline event kind {code!r} is not declared in any app's events module"
        ) from None


def event_kinds() -> list[EventKind]:
    return sorted(_DECLARED.values(), key=lambda kind: kind.code)
