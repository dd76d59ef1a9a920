"""Every write to an incident and to what hangs on it goes through here.

Other apps import from `incidents.services`; the modules below split it by topic.
"""

from .drill import (
    incident_drill_change_confirm,
    incident_drill_change_request,
    incident_drill_change_withdraw,
)
from .incident import (
    IncidentError,
    assessment_record,
    incident_close,
    incident_decide_art33,
    incident_decide_art34,
    incident_mark_contained,
    incident_open,
    incident_record_clock_start,
    incident_record_materiality,
    incident_record_people_notified,
    incident_start_assessing,
    incident_start_notifying,
    incident_update,
)
from .obligations import (
    ObligationError,
    closure_add,
    obligation_mark_not_required,
    obligation_meet,
    obligation_pause,
    obligations_meet_by_notices,
    obligations_sync,
)
from .regimes import regime_save
from .scope import ScopeChange, ScopeError, scope_add_forensic_list, scope_set
from .timeline import GENESIS_HASH, timeline_append, timeline_canonical

__all__ = [
    "GENESIS_HASH",
    "IncidentError",
    "ObligationError",
    "ScopeChange",
    "ScopeError",
    "assessment_record",
    "closure_add",
    "incident_close",
    "incident_decide_art33",
    "incident_decide_art34",
    "incident_drill_change_confirm",
    "incident_drill_change_request",
    "incident_drill_change_withdraw",
    "incident_mark_contained",
    "incident_open",
    "incident_record_clock_start",
    "incident_record_materiality",
    "incident_record_people_notified",
    "incident_start_assessing",
    "incident_start_notifying",
    "incident_update",
    "obligation_mark_not_required",
    "obligation_meet",
    "obligation_pause",
    "obligations_meet_by_notices",
    "obligations_sync",
    "regime_save",
    "scope_add_forensic_list",
    "scope_set",
    "timeline_append",
    "timeline_canonical",
]
