from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError


@register(Tags.security)
def check_single_superuser(
    app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Superuser status is break-glass access: one account at most, held in reserve."""
    if not databases:
        return []
    try:
        count = get_user_model().objects.filter(is_superuser=True).count()
    except DatabaseError:
        return []
    if count <= 1:
        return []
    return [
        Error(
            f"{count} superusers exist; Breachdesk allows one break-glass account.",
            hint="Give people roles (groups) instead; remove superuser status from the others.",
            id="breachdesk.E001",
        )
    ]
