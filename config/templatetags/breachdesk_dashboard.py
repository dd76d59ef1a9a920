from typing import Any

from django import template

from config.dashboard import (
    IncidentCard,
    Progress,
    Waiting,
    cockpit,
    dashboard_progress,
    dashboard_waiting,
)

register = template.Library()


@register.simple_tag(takes_context=True)
def waiting_for_you(context: dict[str, Any]) -> list[Waiting]:
    request = context.get("request")
    return [] if request is None else dashboard_waiting(user=request.user)


@register.simple_tag(takes_context=True)
def work_in_progress(context: dict[str, Any]) -> list[Progress]:
    request = context.get("request")
    return [] if request is None else dashboard_progress(user=request.user)


@register.simple_tag(takes_context=True)
def incident_cards(context: dict[str, Any]) -> list[IncidentCard] | None:
    """The cockpit's cards, or None for someone who may not read incidents."""
    request = context.get("request")
    return None if request is None else cockpit(user=request.user)
