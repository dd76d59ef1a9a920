"""A campaign's words: the template check and the rendering for one person."""

from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, TemplateSyntaxError
from django.template.base import VariableNode

from config.template_sandbox import TemplateLimitError, sandbox_render

from ..models import Campaign
from .common import (
    MESSAGE_CONTEXT_NAMES,
    MESSAGE_ENGINE,
    CampaignError,
)


def campaign_template_check(*, subject: str, body: str) -> None:
    """Refuse a subject or body that does not compile or uses names outside the context."""
    errors = {}
    for field, source in (("subject", subject), ("body", body)):
        try:
            template = MESSAGE_ENGINE.from_string(source)
        except TemplateSyntaxError as exc:
            errors[field] = f"Template error: {exc}"
            continue
        nodes: list[Any] = template.nodelist.get_nodes_by_type(VariableNode)
        used = {
            node.filter_expression.var.lookups[0]
            for node in nodes
            if getattr(node.filter_expression.var, "lookups", None)
        }
        unknown = sorted(used - set(MESSAGE_CONTEXT_NAMES))
        if unknown:
            errors[field] = (
                f"Unknown name(s) {', '.join(unknown)}; use {', '.join(MESSAGE_CONTEXT_NAMES)}."
            )
    if errors:
        raise ValidationError(errors)


def campaign_render(*, campaign: Campaign, customer: dict[str, object]) -> tuple[str, str]:
    """Subject and body for one customer, from the explicit context only."""
    context = Context(
        {
            "first_name": customer.get("first_name", ""),
            "last_name": customer.get("last_name", ""),
            "country": customer.get("country", ""),
            "language": customer.get("language", ""),
            "campaign_name": campaign.name,
        }
    )
    try:
        subject = sandbox_render(MESSAGE_ENGINE.from_string(campaign.subject), context)
        body = sandbox_render(MESSAGE_ENGINE.from_string(campaign.body), context)
    except TemplateLimitError as error:
        raise CampaignError(f"Campaign '{campaign}' cannot be rendered: {error}") from error
    # A newline in a subject would be a header injection; Django refuses it anyway.
    return " ".join(subject.split()), body
