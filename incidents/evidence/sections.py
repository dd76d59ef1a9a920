"""The pack's sections that the incidents app itself knows: the record, the assessment,
the decisions, obligations, scope and filings."""

from datetime import UTC, datetime

from incidents.models import (
    Assessment,
    DataCategory,
    Filing,
    Incident,
    Obligation,
    RegulatorNotice,
)
from incidents.selectors import scope_summary
from incidents.services.notice import notice_content

from .registry import SectionContent, Table, evidence_section_register


def when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value else "-"


def _art33_record(incident_id: int) -> SectionContent:
    incident = Incident.objects.get(pk=incident_id)
    content = notice_content(
        incident=incident,
        number=0,
        phase=RegulatorNotice.Phase.INITIAL,
        authority="",
        regime=None,
        earlier=[],
    )
    facts = [
        (label, value) for section in content["sections"][2:9] for label, value in section["fields"]
    ]
    return SectionContent(
        facts=facts,
        notes=["As the record stands when this pack is built; each notice keeps its own copy."],
    )


def _assessment(incident_id: int) -> SectionContent:
    versions = Assessment.objects.filter(incident_id=incident_id).select_related("assessed_by")
    rows = [
        [
            f"v{a.version}",
            when(a.assessed_at),
            a.assessed_by.get_username() if a.assessed_by else "system",
            f"{a.score} ({a.get_level_display()})",
            a.arithmetic,
            a.note or "-",
        ]
        for a in versions.order_by("-version")
    ]
    return SectionContent(
        tables=[
            Table(
                columns=["Version", "Assessed at", "By", "Severity", "Arithmetic", "Note"],
                rows=rows,
                caption="ENISA severity (SE = DPC x EI + CB), every version, newest first",
                empty="No assessment recorded.",
            )
        ]
    )


def _decisions(incident_id: int) -> SectionContent:
    incident = Incident.objects.get(pk=incident_id)
    return SectionContent(
        facts=[
            ("Art. 33 (authority)", incident.get_art33_decision_display()),
            ("Art. 33 reason", incident.art33_reason or "-"),
            ("Art. 34 (people affected)", incident.get_art34_decision_display()),
            ("Art. 34 reason", incident.art34_reason or "-"),
            ("Materiality determined at", when(incident.materiality_determined_at)),
        ]
    )


def _obligations(incident_id: int) -> SectionContent:
    rows = [
        [
            o.name,
            o.recipient,
            when(o.due_at),
            o.get_status_display(),
            when(o.met_at),
            str(o.lateness) if o.lateness else "-",
            o.delay_reason or o.not_required_reason or "-",
        ]
        for o in Obligation.objects.filter(incident_id=incident_id).order_by("due_at", "name")
    ]
    return SectionContent(
        tables=[
            Table(
                columns=["Obligation", "To", "Due", "Status", "Met at", "Late by", "Reason"],
                rows=rows,
                empty="No obligations.",
            )
        ]
    )


def _scope(incident_id: int) -> SectionContent:
    summary = scope_summary(incident_id=incident_id, live=True)
    labels = dict(DataCategory.choices)
    categories = Incident.objects.values_list("data_categories", flat=True).get(pk=incident_id)
    return SectionContent(
        facts=[
            ("People affected", f"{summary.total:,}"),
            ("Data categories of the incident", ", ".join(labels.get(c, c) for c in categories)),
        ],
        tables=[
            Table(
                ["Data category", "People"],
                [[c, f"{n:,}"] for c, n in summary.by_category],
                caption="By data category",
            ),
            Table(
                ["Country", "People"],
                [[c, f"{n:,}"] for c, n in summary.by_country],
                caption="By country",
            ),
            Table(
                ["US state", "People"],
                [[s, f"{n:,}"] for s, n in summary.by_us_state],
                caption="By US state",
                empty="Nobody in the US.",
            ),
        ],
    )


def _filings(incident_id: int) -> SectionContent:
    notices = (
        RegulatorNotice.objects.filter(incident_id=incident_id)
        .select_related("obligation")
        .order_by("number")
    )
    filings = {f.notice_id: f for f in Filing.objects.filter(notice__incident_id=incident_id)}
    rows = []
    for notice in notices:
        filing = filings.get(notice.pk)
        rows.append(
            [
                f"{notice.number} ({notice.get_phase_display()})",
                notice.obligation.name if notice.obligation else "-",
                filing.authority if filing else "not filed",
                when(filing.filed_at) if filing else "-",
                filing.reference if filing else "-",
                filing.delay_reason or "-" if filing else "-",
                filing.file_sha256 if filing else "-",
            ]
        )
    return SectionContent(
        tables=[
            Table(
                columns=[
                    "Notice",
                    "Obligation",
                    "Authority",
                    "Submitted",
                    "Reference",
                    "Delay reason",
                    "SHA-256 of the file sent",
                ],
                rows=rows,
                empty="No regulator notice drafted.",
            )
        ]
    )


def register() -> None:
    evidence_section_register(
        key="art33_record", title="The Art. 33(3) record", order=10, provider=_art33_record
    )
    evidence_section_register(
        key="assessment", title="Severity assessment", order=20, provider=_assessment
    )
    evidence_section_register(
        key="decisions", title="Art. 33 and Art. 34 decisions", order=30, provider=_decisions
    )
    evidence_section_register(
        key="obligations", title="Obligations and deadlines", order=40, provider=_obligations
    )
    evidence_section_register(key="scope", title="Scope", order=50, provider=_scope)
    evidence_section_register(
        key="filings", title="Filings with authorities", order=100, provider=_filings
    )
