"""The incidents admin: the incident page and its service-backed views, then the records
that hang on it (obligations, regimes, timeline, scope, assessments, forensic lists)."""

from .evidence import EvidencePackAdmin, FilingAdmin, RegulatorNoticeAdmin
from .incident import IncidentAdmin
from .matrix import BusinessDayClosureAdmin, RegulatorAdmin
from .records import (
    AffectedCustomerAdmin,
    AssessmentAdmin,
    ForensicListAdmin,
    ObligationAdmin,
    RegimeAdmin,
    TimelineEventAdmin,
)

__all__ = [
    "AffectedCustomerAdmin",
    "AssessmentAdmin",
    "BusinessDayClosureAdmin",
    "EvidencePackAdmin",
    "FilingAdmin",
    "ForensicListAdmin",
    "IncidentAdmin",
    "ObligationAdmin",
    "RegimeAdmin",
    "RegulatorAdmin",
    "RegulatorNoticeAdmin",
    "TimelineEventAdmin",
]
