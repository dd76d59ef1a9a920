"""The timeline event kinds the incidents app writes, in the words a regulator reads."""

from config.events import event_kind_declare as declare

INCIDENT_OPENED = declare(
    "incident.opened", "Incident opened", "The incident was recorded and its clock started."
)
INCIDENT_UPDATED = declare(
    "incident.updated", "Incident facts changed", "Facts of the incident were corrected."
)
INCIDENT_ASSESSING = declare(
    "incident.assessing", "Assessment started", "The incident moved to assessment."
)
INCIDENT_NOTIFYING = declare(
    "incident.notifying", "Notification started", "The incident moved to notifying people."
)
INCIDENT_CONTAINED = declare(
    "incident.contained", "Breach contained", "The breach was recorded as contained."
)
INCIDENT_CLOSED = declare("incident.closed", "Incident closed", "The incident was closed.")
INCIDENT_ART33_DECISION = declare(
    "incident.art33_decision",
    "Art. 33 decision recorded",
    "Whether the supervisory authority must be notified, with the reason.",
)
INCIDENT_ART34_DECISION = declare(
    "incident.art34_decision",
    "Art. 34 decision recorded",
    "Whether the people affected must be told, with the reason.",
)
INCIDENT_MATERIALITY = declare(
    "incident.materiality",
    "Materiality determined",
    "The materiality decision that starts the SEC clock.",
)
INCIDENT_PEOPLE_NOTIFIED = declare(
    "incident.people_notified",
    "People notified",
    "The time the people affected were told was recorded.",
)
ASSESSMENT_RECORDED = declare(
    "assessment.recorded",
    "Severity assessed",
    "An ENISA severity assessment (SE = DPC x EI + CB) was recorded.",
)
SCOPE_SET = declare(
    "scope.set", "Scope changed", "The set of affected people was written or changed."
)
SCOPE_MERGED = declare(
    "scope.merged",
    "Affected person's records merged",
    "A person confirmed two customer records are one person: the scope now holds the "
    "surviving record in place of the merged one.",
)
SCOPE_UNMERGED = declare(
    "scope.unmerged",
    "Merge of an affected person undone",
    "A merge was undone: the record split off is in the scope again, as it was.",
)
OBLIGATION_CREATED = declare(
    "obligation.created", "Obligation found", "A regulatory obligation applies, with its deadline."
)
OBLIGATION_CLOCK = declare(
    "obligation.clock", "Deadline moved", "An obligation's clock start or deadline changed."
)
OBLIGATION_DECISION = declare(
    "obligation.decision", "Obligation decided", "A decision on whether an obligation applies."
)
OBLIGATION_NOT_REQUIRED = declare(
    "obligation.not_required",
    "Obligation waived",
    "An obligation was recorded as not required, with the reason.",
)
OBLIGATION_MET = declare(
    "obligation.met", "Obligation met", "An obligation was met, on time or late with a reason."
)
NOTICE_DRAFTED = declare(
    "notice.drafted", "Regulator notice drafted", "A notice to an authority was drafted."
)
NOTICE_FILED = declare(
    "notice.filed", "Regulator notice filed", "A notice was filed, frozen and hashed."
)
EVIDENCE_REQUESTED = declare(
    "evidence.requested", "Evidence pack requested", "An evidence pack build was requested."
)
EVIDENCE_BUILT = declare(
    "evidence.built", "Evidence pack built", "An evidence pack was built, with its hash."
)
EVIDENCE_FAILED = declare(
    "evidence.failed", "Evidence pack failed", "An evidence pack build failed."
)
EVIDENCE_STALLED = declare(
    "evidence.stalled",
    "Evidence pack build stalled",
    "An evidence pack build made no progress through every attempt and was marked failed.",
)
EVIDENCE_DOWNLOADED = declare(
    "evidence.downloaded", "Evidence pack downloaded", "Someone downloaded an evidence pack."
)
INCIDENT_CLOCK_START = declare(
    "incident.clock_start",
    "Clock start recorded",
    "A fact a law starts its clock at (determination, scope identified) was recorded.",
)
OBLIGATION_PAUSED = declare(
    "obligation.paused",
    "Deadline paused",
    "A documented law-enforcement delay paused an obligation's clock.",
)
INCIDENT_DRILL_CHANGE_REQUESTED = declare(
    "incident.drill_change_requested",
    "Drill status change proposed",
    "The CISO or the CMO proposed to change whether the incident is a drill.",
)
INCIDENT_DRILL_CHANGE_WITHDRAWN = declare(
    "incident.drill_change_withdrawn",
    "Drill status change withdrawn",
    "A proposed change of the drill status was withdrawn.",
)
INCIDENT_DRILL_CHANGED = declare(
    "incident.drill_changed",
    "Drill status changed",
    "The CISO and the CMO together changed whether the incident is a drill; sign-offs voided.",
)
COMPANY_PROFILE_CHANGED = declare(
    "company_profile.changed",
    "Company profile changed",
    "The company identity every message and notice carries was changed.",
)
NOTICE_EDITED = declare(
    "notice.edited",
    "Regulator notice draft edited",
    "The DPO edited a notice's draft before it was filed.",
)
OBLIGATION_NOTICES_SENT_LATE = declare(
    "obligation.notices_sent_late",
    "Notices sent after the deadline",
    "The last notice of a wave left after its obligation's deadline; a reason is owed.",
)
