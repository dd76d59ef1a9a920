"""Practised: when the company last ran a drill, and how fast each drill got through the
steps that count, read from the drills' timelines (one GROUP BY over their events)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, TimelineEvent

from .charts import drills_chart
from .checks import Check, Dimension, Link, State

# Step name -> the timeline event that marks it (its first occurrence counts).
STEPS = {
    "scope": "scope.set",
    "sign-off": "communication.approved",
    "first notice": "delivery.started",
    "regulator notice": "notice.filed",
}
# Drills compared on the page and the chart: the most recent ones.
DRILLS_SHOWN = 8


@dataclass(frozen=True)
class DrillTimes:
    incident_id: int
    title: str
    awareness_at: datetime
    # Step name -> time from awareness to the step, or None when the drill never got there.
    steps: dict[str, timedelta | None]


def hours(delta: timedelta | None) -> str:
    if delta is None:
        return "not reached"
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def drill_times() -> list[DrillTimes]:
    drills = list(
        Incident.objects.filter(is_drill=True)
        .order_by("-awareness_at", "-pk")
        .values_list("pk", "title", "awareness_at")[:DRILLS_SHOWN]
    )
    firsts = (
        TimelineEvent.objects.filter(
            incident_id__in=[pk for pk, _, _ in drills], kind__in=STEPS.values()
        )
        .values("incident_id", "kind")
        .annotate(first=Min("occurred_at"))
        .values_list("incident_id", "kind", "first")
        .order_by()
    )
    at = {(pk, kind): first for pk, kind, first in firsts}
    return [
        DrillTimes(
            pk,
            title,
            awareness,
            {
                step: (at[pk, kind] - awareness) if (pk, kind) in at else None
                for step, kind in STEPS.items()
            },
        )
        for pk, title, awareness in reversed(drills)
    ]


def practised() -> Dimension:
    drills = drill_times()
    max_age = timedelta(days=settings.READINESS_DRILL_MAX_AGE_DAYS)
    last = drills[-1] if drills else None
    age = (timezone.now() - last.awareness_at).days if last else None
    incidents = reverse("admin:incidents_incident_changelist")
    fix = Link(reverse("admin:incidents_incident_add"), "Open a drill", "incidents.add_incident")
    drill_list = Link(f"{incidents}?is_drill__exact=1", "The drills", "incidents.view_incident")
    late = last is None or timezone.now() - last.awareness_at > max_age
    checks = [
        Check(
            "last_drill",
            "Last drill",
            "never" if last is None else f"{age} days ago ({last.title})",
            State.GAP if late else State.OK,
            detail=f"one at least every {settings.READINESS_DRILL_MAX_AGE_DAYS} days",
            drill=drill_list,
            fix=fix,
            value=age,
        )
    ]
    rows = [[d.title, *(hours(d.steps[step]) for step in STEPS)] for d in drills]
    tables = (
        [("Time from awareness, per drill", ["Drill", *(f"to {s}" for s in STEPS)], rows)]
        if drills
        else []
    )
    reached = any(delta is not None for d in drills for delta in d.steps.values())
    chart = drills_chart(drills=drills, steps=list(STEPS)) if reached else ""
    return Dimension(
        "practised", "Practised", "Have we rehearsed it lately?", checks, tables, chart
    )
