"""The readiness report as a whole: computed once for the page, the board PDF and the daily
snapshot, so the three always show the same figures."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.evidence.render import pdf_render

from .charts import trend_chart
from .checks import Dimension, State
from .models import CustomerFigures, ReadinessSnapshot
from .practice import practised
from .selectors import (
    ReachRow,
    largest_segment,
    people_ready,
    reach_rows,
    reachable,
    rules_ready,
    stale_count,
    supplies,
    words_ready,
)

logger = logging.getLogger(__name__)

# Days of snapshots the trend shows.
TREND_DAYS = 90


@dataclass(frozen=True)
class Report:
    taken_at: datetime
    dimensions: list[Dimension]
    # When the figures over the whole customer table were counted (the rest is read live).
    customers_as_of: datetime

    @property
    def checks_total(self) -> int:
        return sum(len(d.checks) for d in self.dimensions)

    @property
    def checks_green(self) -> int:
        return sum(1 for d in self.dimensions for c in d.checks if c.state == State.OK)

    @property
    def gaps(self) -> int:
        return sum(d.gaps for d in self.dimensions)


def customer_figures_refresh() -> CustomerFigures:
    """Recount the figures over the whole customer table: the reachability GROUP BY, the
    stale anti-join and the largest segment, seconds with a million customers.

    The counting runs outside any transaction (it only reads); the one row is then written
    only over an older count, so two clusters recounting at once both succeed and the count
    that began last stands. Run by the task cluster every few minutes
    (CUSTOMER_FIGURES_REFRESH) and after each import, merge or bounce (customers_changed),
    by the daily snapshot, by the page's "Recount now" and by the page itself when no
    count exists.
    """
    computed_at = timezone.now()
    rows = reach_rows()
    stale = stale_count()
    largest = largest_segment()
    values = {
        "computed_at": computed_at,
        "stale_months": settings.READINESS_CONTACT_STALE_MONTHS,
        "stale": stale,
        "largest_segment": largest[0] if largest else "",
        "largest_segment_size": largest[1] if largest else None,
        "reach": [
            [r.country, r.state, r.language, r.total, r.email, r.postal, r.neither] for r in rows
        ],
    }
    # Only over an older count: a slow recount that began first must not finish last and
    # put its older figures back over a newer one's.
    newer_than = CustomerFigures.objects.filter(pk=1, computed_at__lt=computed_at)
    if not newer_than.update(**values):
        try:
            with transaction.atomic():
                CustomerFigures.objects.create(pk=1, **values)
        except IntegrityError:
            # Another recount wrote the row meanwhile: ours stands only if it is newer.
            newer_than.update(**values)
    logger.info("readiness customer figures recounted: %s groups", len(rows))
    return CustomerFigures.objects.get(pk=1)


def customer_figures_current() -> CustomerFigures:
    """The last recount, or a recount now when there is none (or it was taken with another
    stale-contact setting, which would make its stale figure wrong, not just old)."""
    figures = CustomerFigures.objects.filter(
        pk=1, stale_months=settings.READINESS_CONTACT_STALE_MONTHS
    ).first()
    return figures or customer_figures_refresh()


def readiness_report(*, figures: CustomerFigures | None = None) -> Report:
    """Every dimension: the customer-wide counts from the last recount, everything else
    (people, words, rules, drills, codes) read live with a few small queries."""
    figures = figures or customer_figures_current()
    rows = [ReachRow(*entry) for entry in figures.reach]
    total = sum(r.total for r in rows)
    largest = (
        (figures.largest_segment, figures.largest_segment_size)
        if figures.largest_segment_size is not None
        else None
    )
    return Report(
        taken_at=timezone.now(),
        customers_as_of=figures.computed_at,
        dimensions=[
            reachable(rows, figures.stale),
            words_ready(rows),
            people_ready(),
            rules_ready(rows),
            practised(),
            supplies(total, largest),
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


def readiness_snapshot_take(*, day: date | None = None) -> ReadinessSnapshot:
    """Keep today's figures (idempotent: a second run the same day replaces the first)."""
    # The day's record counts afresh: a snapshot must not carry a recount hours old.
    report = readiness_report(figures=customer_figures_refresh())
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
