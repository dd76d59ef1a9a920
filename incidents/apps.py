from datetime import timedelta
from decimal import Decimal

from django.apps import AppConfig
from django.core.management.base import OutputWrapper
from django.utils import timezone

from config import roles
from config.housekeeping import Housekeeping

TIMELINE_CHECKPOINT = "Checkpoint the timeline heads outside the database"
SCOPE_FIGURES_RECOUNT = "Count large scopes again"


VIEW = {
    f"incidents.view_{model}"
    for model in (
        "incident",
        "affectedcustomer",
        "timelineevent",
        "assessment",
        "regime",
        "obligation",
        "forensiclist",
        "forensiclistrow",
        "regulatornotice",
        "filing",
        "businessdayclosure",
        "regulator",
        "obligationpause",
        "regimechange",
    )
}
RESPOND = {
    "incidents.add_incident",
    "incidents.change_incident",
    "incidents.transition_incident",
    "incidents.scope_incident",
    "incidents.add_assessment",
}
DECIDE = {
    "incidents.decide_incident",
    "incidents.meet_obligation",
    "incidents.file_regulatornotice",
}
# The pack is read by whoever answers for the breach; viewing it is downloading it.
READ_EVIDENCE = {"incidents.view_evidencepack"}
EVIDENCE = READ_EVIDENCE | {"incidents.build_evidencepack"}
# Whether an incident is a drill is the CISO's and the CMO's decision together.
DRILL = {"incidents.decide_drill"}


class IncidentsConfig(AppConfig):
    name = "incidents"
    housekeeping = (
        Housekeeping(TIMELINE_CHECKPOINT, "incidents.tasks.timeline_checkpoint_task", "hourly"),
        # Kept counts of large scopes: pages show them with their time.
        Housekeeping(SCOPE_FIGURES_RECOUNT, "incidents.tasks.scope_figures_recount_task", 10),
    )
    verbose_name = "Incidents"
    # Contact data (config.admin_pii): a forensic list's lines are emails or ids.
    contact_fields = {"ForensicListRow": ("value", "value_normalized")}
    # Analysts open and scope incidents; the DPO (or the CISO) decides and files; the
    # DPO keeps the regimes; everyone else reads.
    role_permissions: dict[str, set[str]] = {
        roles.SECURITY_ANALYST: VIEW | RESPOND,
        roles.CISO: VIEW | RESPOND | DECIDE | EVIDENCE | DRILL,
        roles.DPO: VIEW
        | DECIDE
        | EVIDENCE
        | {
            "incidents.add_regime",
            "incidents.change_regime",
            "incidents.add_businessdayclosure",
            "incidents.add_regulator",
            "incidents.change_regulator",
        },
        roles.CMO: VIEW | EVIDENCE | DRILL,
        roles.LEGAL_REVIEWER: VIEW,
        roles.MARKETING_OPERATOR: VIEW,
        roles.AUDITOR: VIEW | READ_EVIDENCE,
    }

    def ready(self) -> None:
        from config.company import company_profile_changed
        from customers.signals import customer_merged, customer_unmerged
        from incidents.evidence import sections
        from incidents.receivers import (
            company_profile_log,
            customer_merged_rescope,
            customer_unmerged_rescope,
        )

        sections.register()
        company_profile_changed.connect(
            company_profile_log, dispatch_uid="incidents.company_profile_log"
        )
        customer_merged.connect(
            customer_merged_rescope, dispatch_uid="incidents.customer_merged_rescope"
        )
        customer_unmerged.connect(
            customer_unmerged_rescope, dispatch_uid="incidents.customer_unmerged_rescope"
        )

    def seed_demo(self, *, stdout: OutputWrapper) -> None:
        """One open incident, 30 hours into its GDPR clock, assessed once (idempotent)."""
        from incidents.models import Incident
        from incidents.services import assessment_record, incident_open

        title = "Demo: credential stuffing on the customer portal"
        if Incident.objects.filter(title=title).exists():
            return
        incident = incident_open(
            actor=None,
            title=title,
            nature="Automated logins with leaked passwords reached customer accounts.",
            awareness_at=timezone.now() - timedelta(hours=30),
            data_categories=["contact", "credentials"],
            credentials_open="payment_card",
            systems=["customer portal"],
            is_drill=True,
        )
        assessment_record(
            incident_id=incident.pk,
            actor=None,
            ei=Decimal("0.75"),
            cb_confidentiality=Decimal("0.5"),
            malicious=True,
            dpc_adjustments=[(-1, "Only the last four card digits are shown in the portal")],
        )
        stdout.write(f"Demo incident: {incident}")
