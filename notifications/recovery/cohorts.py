"""Cohort figures: the people an incident touched against the untouched people of the same
segments, week by week after the notice.

Computed set-based (the cohorts' sizes, then one INSERT ... SELECT of distinct people per
cohort, week and response; no loop per person) into RecoveryFigures, which the page, the
report and the pack read: over a million people and millions of touchpoints the aggregate
takes seconds, too long for a page, and weekly figures change slowly.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from customers.models import SegmentMembership, Touchpoint
from incidents.models import AffectedCustomer, Incident

from ..models import RecoveryFigure, RecoveryFigures

WEEKS = 12

# What the figures count, in the order the page shows them: touchpoint kind -> label.
METRICS: dict[str, str] = {
    Touchpoint.Kind.UNSUBSCRIBED: "Opt-outs",
    Touchpoint.Kind.COMPLAINED: "Complaints",
    Touchpoint.Kind.BOUNCED: "Bounces",
    Touchpoint.Kind.CODE_REDEEMED: "Codes redeemed",
    Touchpoint.Kind.PASSWORD_RESET: "Passwords reset",
    Touchpoint.Kind.OPENED: "Re-engaged (opened or clicked)",
}
AFFECTED, UNAFFECTED = "affected", "unaffected"


@dataclass(frozen=True)
class Cohorts:
    notice_at: datetime
    computed_at: datetime
    weeks: int
    # Weeks begun by the time the figures were read: later ones have no figures yet.
    weeks_begun: int
    size: dict[str, int]
    # counts[cohort][metric][week]: distinct people with that response in that week.
    counts: dict[str, dict[str, list[int]]]

    def rate(self, cohort: str, metric: str, week: int) -> float | None:
        """Share of the cohort, in percent; None for an empty cohort or a week to come."""
        size = self.size[cohort]
        if not size or week >= self.weeks_begun:
            return None
        return round(100.0 * self.counts[cohort][metric][week] / size, 2)

    def rows(self) -> list[dict[str, Any]]:
        """One row per week and metric: counts and rates side by side (the page's table)."""
        return [
            {
                "week": week,
                "metric": label,
                "affected": self.counts[AFFECTED][metric][week],
                "affected_rate": self.rate(AFFECTED, metric, week),
                "unaffected": self.counts[UNAFFECTED][metric][week],
                "unaffected_rate": self.rate(UNAFFECTED, metric, week),
            }
            for metric, label in METRICS.items()
            for week in range(self.weeks_begun)
        ]


def _cohort_sql(incident_id: int) -> tuple[str, list[Any]]:
    """(customer_id, affected) of both cohorts: the affected, then everyone else in a
    segment any affected person belongs to."""
    affected = AffectedCustomer._meta.db_table
    membership = SegmentMembership._meta.db_table
    sql = (
        f"SELECT a.customer_id, 1 AS affected FROM {affected} a WHERE a.incident_id = %s "  # noqa: S608
        f"UNION ALL SELECT DISTINCT m.customer_id, 0 FROM {membership} m "
        f"WHERE m.segment_id IN (SELECT DISTINCT m2.segment_id FROM {membership} m2 "
        f"JOIN {affected} a2 ON a2.customer_id = m2.customer_id WHERE a2.incident_id = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {affected} a3 "
        f"WHERE a3.incident_id = %s AND a3.customer_id = m.customer_id)"
    )
    return sql, [incident_id, incident_id, incident_id]


def _at(value: datetime) -> Any:
    """A time as the column stores it: on SQLite the text form of the UTC time, so that the
    comparison of two texts is the comparison of the two times."""
    return connection.ops.adapt_datetimefield_value(value)


def _week_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM ({column} - %s)) / 604800)"
    # In whole milliseconds: a float of days would put a response at exactly seven days
    # into week 0 or 1 by rounding.
    return f"CAST(ROUND((julianday({column}) - julianday(%s)) * 86400000) AS INTEGER) / 604800000"


@transaction.atomic
def recovery_figures_refresh(*, incident_id: int) -> RecoveryFigures | None:
    """Compute the figures anew from the touchpoints: the cohorts' sizes, then one
    INSERT ... SELECT of distinct people per cohort, week and response. None before the
    notice went out. Two refreshes of one incident are serialised by the incident's row."""
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    notice_at = incident.people_notified_at
    if notice_at is None:
        return None
    cohort_sql, cohort_params = _cohort_sql(incident.pk)
    kinds = list(METRICS)
    size = {1: 0, 0: 0}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT cohort.affected, COUNT(*) FROM ({cohort_sql}) cohort "  # noqa: S608
            "GROUP BY cohort.affected",
            cohort_params,
        )
        for flag, n in cursor.fetchall():
            size[int(flag)] = int(n)
    figures, _ = RecoveryFigures.objects.update_or_create(
        incident=incident,
        defaults={
            "notice_at": notice_at,
            "computed_at": timezone.now(),
            "affected": size[1],
            "unaffected": size[0],
        },
    )
    RecoveryFigure.objects.filter(figures=figures).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RecoveryFigure._meta.db_table} "  # noqa: S608
            "(figures_id, affected, week, kind, people) "
            f"SELECT %s, cohort.affected = 1, {_week_sql('t.occurred_at')}, t.kind, "
            f"COUNT(DISTINCT t.customer_id) FROM {Touchpoint._meta.db_table} t "
            f"JOIN ({cohort_sql}) cohort ON cohort.customer_id = t.customer_id "
            f"WHERE t.kind IN ({', '.join(['%s'] * len(kinds))}) "
            "AND t.occurred_at >= %s AND t.occurred_at < %s "
            "GROUP BY 2, 3, 4",
            [
                figures.pk,
                _at(notice_at),
                *cohort_params,
                *kinds,
                _at(notice_at),
                _at(notice_at + timedelta(weeks=WEEKS)),
            ],
        )
    return figures


def recovery_cohorts(*, incident: Incident, weeks: int = WEEKS) -> Cohorts | None:
    """The figures as last computed (two small queries); None until they first were."""
    figures = RecoveryFigures.objects.filter(incident_id=incident.pk).first()
    if figures is None:
        return None
    counts = {
        cohort: {metric: [0] * weeks for metric in METRICS} for cohort in (AFFECTED, UNAFFECTED)
    }
    for affected, week, kind, people in RecoveryFigure.objects.filter(
        figures=figures, week__lt=weeks
    ).values_list("affected", "week", "kind", "people"):
        if kind in METRICS:
            counts[AFFECTED if affected else UNAFFECTED][kind][week] = people
    begun = math.ceil((timezone.now() - figures.notice_at) / timedelta(weeks=1))
    return Cohorts(
        notice_at=figures.notice_at,
        computed_at=figures.computed_at,
        weeks=weeks,
        weeks_begun=max(0, min(weeks, begun)),
        size={AFFECTED: figures.affected, UNAFFECTED: figures.unaffected},
        counts=counts,
    )


def recovery_figures_enqueue(*, incident_id: int) -> None:
    """Ask the task cluster to compute the figures, once the caller's transaction commits."""

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task("notifications.tasks.recovery_figures_refresh_task", incident_id)

    transaction.on_commit(enqueue)
