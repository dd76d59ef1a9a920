"""Every write to an incident and to what hangs on it goes through here.

Other apps import from `incidents.services`; the modules below split it by topic.
"""

from .scope import ScopeChange, ScopeError, scope_add_forensic_list, scope_set
from .timeline import GENESIS_HASH, timeline_append, timeline_canonical

__all__ = [
    "GENESIS_HASH",
    "ScopeChange",
    "ScopeError",
    "scope_add_forensic_list",
    "scope_set",
    "timeline_append",
    "timeline_canonical",
]
