from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.utils import timezone

from incidents.models import Regime
from incidents.timeline_kinds import timeline_label, timeline_sentence

register = template.Library()


@register.filter
def countdown(remaining: timedelta | None) -> str:
    """'2 d 03 h left' before the deadline, '5 h 10 min late' after it."""
    if remaining is None:
        return "no clock running"
    seconds = int(abs(remaining.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{days} d {hours:02d} h" if days else f"{hours} h {rest // 60:02d} min"
    return f"{text} late" if remaining.total_seconds() < 0 else f"{text} left"


@register.filter
def clock_start_label(value: str) -> str:
    """'Determination that a breach occurred' for a copied regime's clock start."""
    return dict(Regime.ClockStart.choices).get(value, value)


@register.filter
def relation_label(value: str) -> str:
    return dict(Regime.Relation.choices).get(value, value).lower()


@register.filter
def unit_label(value: str) -> str:
    return dict(Regime.Unit.choices).get(value, value).lower()


@register.filter
def event_label(kind: str) -> str:
    return timeline_label(kind)


@register.filter
def event_sentence(event: Any) -> str:
    return timeline_sentence(event.kind, event.payload or {})


@register.filter
def zoned(value: datetime | None) -> str:
    """'2026-03-27 10:00 CET (09:00 UTC)': the company's zone first, UTC beside it."""
    if value is None:
        return "—"
    zone = ZoneInfo(settings.COMPANY_TIME_ZONE)
    local = value.astimezone(zone)
    utc = value.astimezone(UTC)
    if zone.key == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({utc:%H:%M} UTC)"


@register.filter
def due_countdown(due: datetime | None) -> str:
    """The countdown to a deadline from now: '2 d 03 h left' or '5 h 10 min late'."""
    return countdown(due - timezone.now()) if due is not None else countdown(None)
