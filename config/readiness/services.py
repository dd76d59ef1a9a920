"""The readiness report as a whole: computed once for the page, the board PDF and the daily
snapshot, so the three always show the same figures."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.evidence.render import pdf_render

from .charts import trend_chart
from .checks import Dimension, State
from .models import ReadinessSnapshot
from .practice import practised
from .selectors import people_ready, reach_rows, reachable, rules_ready, supplies, words_ready

logger = logging.getLogger(__name__)

# Days of snapshots the trend shows.
TREND_DAYS = 90


@dataclass(frozen=True)
class Report:
    taken_at: datetime
    dimensions: list[Dimension]

    @property
    def checks_total(self) -> int:
        return sum(len(d.checks) for d in self.dimensions)

    @property
    def checks_green(self) -> int:
        return sum(1 for d in self.dimensions for c in d.checks if c.state == State.OK)

    @property
    def gaps(self) -> int:
        return sum(d.gaps for d in self.dimensions)


def readiness_report() -> Report:
    """Every dimension, from one pass over the customers (grouped) and a few small reads."""
    rows = reach_rows()
    total = sum(r.total for r in rows)
    return Report(
        taken_at=timezone.now(),
        dimensions=[
            reachable(rows),
            words_ready(rows),
            people_ready(),
            rules_ready(rows),
            practised(),
            supplies(total),
        ],
    )


def report_figures(report: Report) -> dict[str, object]:
    """What a snapshot keeps: per dimension its gaps, and every check's figure and state."""
    return {
        "checks_total": report.checks_total,
        "checks_green": report.checks_green,
        "dimensions": {
            d.key: {
                "gaps": d.gaps,
                "checks": {
                    c.key: {"figure": c.figure, "state": str(c.state), "value": c.value}
                    for c in d.checks
                },
            }
            for d in report.dimensions
        },
    }


@transaction.atomic
def readiness_snapshot_take(*, day: date | None = None) -> ReadinessSnapshot:
    """Keep today's figures (idempotent: a second run the same day replaces the first)."""
    report = readiness_report()
    snapshot, _ = ReadinessSnapshot.objects.update_or_create(
        day=day or timezone.localdate(),
        defaults={"taken_at": report.taken_at, "figures": report_figures(report)},
    )
    logger.info("readiness snapshot for %s: %s gaps", snapshot.day, report.gaps)
    return snapshot


def readiness_trend_svg() -> str:
    """The trend chart: share of checks green, and share of customers some channel reaches."""
    since = timezone.localdate() - timedelta(days=TREND_DAYS)
    snapshots = list(
        ReadinessSnapshot.objects.filter(day__gte=since).order_by("day").values("day", "figures")
    )
    if not snapshots:
        return ""
    green: list[float | None] = []
    reached: list[float | None] = []
    for s in snapshots:
        figures = s["figures"]
        total = figures.get("checks_total") or 0
        green.append(round(100 * figures.get("checks_green", 0) / total, 1) if total else None)
        unreachable = figures["dimensions"].get("reachable", {}).get("checks", {})
        value = unreachable.get("unreachable", {}).get("value")
        reached.append(None if value is None else round(100 - value, 1))
    return trend_chart(
        days=[f"{s['day']:%Y-%m-%d}" for s in snapshots],
        series={"checks green": green, "customers reachable": reached},
    )


def readiness_board_pdf_render(*, report: Report) -> bytes:
    """One page for the board: every dimension's figures, as on the page."""
    html = render_to_string(
        "readiness/board.html", {"report": report, "trend_svg": readiness_trend_svg()}
    )
    return pdf_render(html=html)
