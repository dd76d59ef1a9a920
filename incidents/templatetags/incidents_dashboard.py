from datetime import timedelta
from typing import Any

from django import template

from incidents.models import Regime
from incidents.selectors import DashboardRow, dashboard_incidents

register = template.Library()


@register.simple_tag(takes_context=True)
def open_incidents(context: dict[str, Any]) -> list[DashboardRow] | None:
    """The dashboard's rows, or None for someone who may not read incidents."""
    request = context.get("request")
    if request is None or not request.user.has_perm("incidents.view_incident"):
        return None
    return dashboard_incidents()


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
