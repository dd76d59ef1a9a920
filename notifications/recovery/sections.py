"""The recovery plan in the incident's record: a short section on the incident page (the
plan, its steps, a link to the recovery page) and an appendix to the evidence pack with
the cohort charts and their table."""

from datetime import UTC, datetime

from django.urls import reverse

from incidents.evidence.registry import SectionContent, Table, evidence_section_register
from incidents.models import Incident

from ..models import RecoveryPlan
from .cohorts import recovery_cohorts, recovery_figures_refresh
from .report import chart_data_uris


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else "-"


def recovery_section(incident_id: int) -> SectionContent:
    """Cheap: the plan and its steps, no figures (the incident page reads it)."""
    plan = (
        RecoveryPlan.objects.select_related("created_by", "consented_by")
        .filter(incident_id=incident_id)
        .first()
    )
    if plan is None:
        return SectionContent(
            notes=["No recovery plan yet."],
            links=[
                (
                    "Set up a recovery plan",
                    reverse("admin:notifications_recoveryplan_setup") + f"?incident={incident_id}",
                )
            ],
        )
    steps = plan.steps.select_related("communication")
    return SectionContent(
        facts=[
            ("Status", plan.get_status_display()),
            ("Set up by", f"{plan.created_by} at {_when(plan.created_at)}"),
            (
                "Consented to by",
                f"{plan.consented_by} at {_when(plan.consented_at)}" if plan.consented_by else "-",
            ),
            ("Marketing returns", f"{plan.marketing_returns_after_days} days after the notice"),
        ],
        tables=[
            Table(
                columns=["Step", "Message", "After the notice", "For", "Sent"],
                rows=[
                    [
                        s.name,
                        s.communication.name,
                        f"{s.delay_days} days"
                        + (", after the quiet period" if s.after_quiet_period else ""),
                        s.get_condition_display(),
                        _when(s.started_at),
                    ]
                    for s in steps
                ],
                empty="No steps.",
            )
        ],
        links=[
            (
                "The recovery page",
                reverse("admin:notifications_recoveryplan_change", args=[plan.pk]),
            )
        ],
    )


def recovery_figures_section(incident_id: int) -> SectionContent:
    """The pack's appendix: affected against unaffected, as charts and as a table, counted
    afresh (the pack is built in the task cluster, and should not be an hour behind)."""
    recovery_figures_refresh(incident_id=incident_id)
    cohorts = recovery_cohorts(incident=Incident.objects.get(pk=incident_id))
    if cohorts is None:
        return SectionContent(notes=["No figures: the notice has not gone out."])
    return SectionContent(
        facts=[
            ("Notice", _when(cohorts.notice_at)),
            ("Counted", _when(cohorts.computed_at)),
            ("Affected", str(cohorts.size["affected"])),
            ("Unaffected people of the same segments", str(cohorts.size["unaffected"])),
        ],
        images=chart_data_uris(cohorts=cohorts),
        tables=[
            Table(
                columns=["Response", "Week", "Affected", "%", "Unaffected", "%"],
                rows=[
                    [
                        row["metric"],
                        str(row["week"]),
                        str(row["affected"]),
                        "-" if row["affected_rate"] is None else f"{row['affected_rate']:.2f}",
                        str(row["unaffected"]),
                        "-" if row["unaffected_rate"] is None else f"{row['unaffected_rate']:.2f}",
                    ]
                    for row in cohorts.rows()
                ],
                caption="People with each response, per week since the notice",
            )
        ],
    )


def register() -> None:
    evidence_section_register(
        key="recovery",
        title="Recovery plan",
        order=97,
        provider=recovery_section,
        on_incident_page=True,
    )
    evidence_section_register(
        key="recovery_figures",
        title="Appendix: recovery figures, affected against unaffected",
        order=200,
        provider=recovery_figures_section,
    )
