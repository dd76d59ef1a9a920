from typing import Any

from .services import communication_sign_offs_void_for_facts, communication_sign_offs_void_for_scope


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
