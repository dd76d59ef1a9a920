"""The recovery report: the plan, its steps and the cohort charts with their table, as a
PDF/A built on the server (the charts embedded as SVG data, nothing fetched)."""

import base64

from django.template.loader import render_to_string
from django.utils import timezone

from config.models import company_profile
from incidents.evidence.render import pdf_render

from ..models import RecoveryPlan
from .charts import cohort_charts
from .cohorts import Cohorts, recovery_cohorts


def chart_data_uris(*, cohorts: Cohorts | None) -> list[tuple[str, str]]:
    """(label, data: URI) per chart, for documents that embed them as images."""
    if cohorts is None:
        return []
    return [
        (label, "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode())
        for label, svg in cohort_charts(cohorts=cohorts)
    ]


def recovery_report_pdf(*, plan: RecoveryPlan) -> bytes:
    cohorts = recovery_cohorts(incident=plan.incident)
    html = render_to_string(
        "notifications/recovery/report.html",
        {
            "plan": plan,
            "incident": plan.incident,
            "company": company_profile(),
            "steps": plan.steps.select_related("communication"),
            "cohorts": cohorts,
            "charts": chart_data_uris(cohorts=cohorts),
            "rows": cohorts.rows() if cohorts else [],
            "made_at": timezone.now(),
        },
    )
    return pdf_render(html=html)
