from typing import Any

from django import template

from customers.pii import can_view_pii, mask_text

register = template.Library()


@register.filter
def masked_for(value: Any, user: Any) -> str:
    """`{{ value|masked_for:request.user }}`: emails and phones in it masked without view_pii."""
    text = "" if value is None else str(value)
    return text if can_view_pii(user) else mask_text(text)
