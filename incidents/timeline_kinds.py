"""Each timeline event kind with the sentence a regulator reads (Zulip's AuditLogEventType).

The kinds are written by services across the apps; this table only names them. A kind not
listed reads as its code, so a new one is never hidden, only less friendly.
"""

LABELS: dict[str, str] = {
    "incident.opened": "Incident opened",
    "incident.updated": "Incident facts changed",
    "incident.assessing": "Assessment started",
    "incident.notifying": "Notification started",
    "incident.contained": "Breach contained",
    "incident.closed": "Incident closed",
    "incident.art33_decision": "Art. 33 decision recorded (authority)",
    "incident.art34_decision": "Art. 34 decision recorded (people)",
    "incident.materiality": "Materiality determined (SEC clock)",
    "incident.people_notified": "People notified",
    "assessment.recorded": "Severity assessed (ENISA)",
    "scope.set": "Scope changed",
    "obligation.created": "Obligation applies",
    "obligation.clock": "Obligation clock set",
    "obligation.decision": "Obligation decision recorded",
    "obligation.met": "Obligation met",
    "obligation.not_required": "Obligation marked not required",
    "campaign.hold_placed": "Marketing hold placed",
    "campaign.hold_released": "Marketing hold released",
    "campaign.paused": "Campaign paused",
    "campaign.resumed": "Campaign resumed",
    "message_template.created": "Message template created",
    "template_version.created": "Message version written",
    "template_version.submitted": "Message version sent to legal review",
    "template_version.approved": "Message version approved by legal",
    "template_version.rejected": "Message version rejected by legal",
    "communication.created": "Communication drafted",
    "communication.changed": "Communication changed",
    "communication.signed_off": "Communication signed off",
    "communication.sign_offs_voided": "Sign-offs voided by a change",
    "communication.approved": "Communication approved for sending",
    "delivery.started": "Sending started",
    "delivery.paused": "Sending paused",
    "delivery.resumed": "Sending resumed",
    "delivery.completed": "Sending completed",
    "delivery.bounces_recorded": "Bounces recorded",
    "delivery.codes_imported": "Remediation codes imported",
    "delivery.letters_built": "Letters built for the print house",
    "delivery.letters_posted": "Letters posted",
    "notice.drafted": "Regulator notice drafted",
    "notice.filed": "Regulator notice filed",
    "evidence.requested": "Evidence pack requested",
    "evidence.built": "Evidence pack built",
    "evidence.failed": "Evidence pack failed",
    "evidence.downloaded": "Evidence pack downloaded",
}


def timeline_label(kind: str) -> str:
    return LABELS.get(kind, kind)


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
