"""Changing the company profile: one service, a change record, and a signal the incident
timelines hear (kernel: imports no app)."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal

from config.models import CompanyProfile, CompanyProfileChange, company_profile

# kwargs: changes: dict[str, list[Any]] (field -> [old, new]), actor: User | None.
# Sent inside the change's transaction: incidents log it on every open incident's timeline.
company_profile_changed = Signal()

EDITABLE_FIELDS = (
    "legal_name",
    "address_lines",
    "postal_code",
    "city",
    "country",
    "registration",
    "logo",
    "sender_name",
    "sender_email",
    "reply_to",
    "genuine_check_url",
    "dpo_name",
    "dpo_email",
    "dpo_phone",
    "time_zone",
    "default_language",
    "country_languages",
)


def _plain(value: Any) -> Any:
    if hasattr(value, "name") and not isinstance(value, str | dict | list):
        return value.name or ""
    return value


@transaction.atomic
def company_profile_update(
    *, actor: User | AnonymousUser | None, values: dict[str, Any]
) -> CompanyProfile:
    """Change the profile; what changed is recorded and logged on open incidents."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"not a company profile field: {', '.join(sorted(unknown))}")
    company_profile()
    profile = CompanyProfile.objects.select_for_update().get(pk=1)
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        old = getattr(profile, name)
        if _plain(old) != _plain(value):
            changes[name] = [_plain(old), _plain(value)]
            setattr(profile, name, value)
    if "country" in values:
        profile.country = profile.country.upper()
    if not changes:
        return profile
    profile.full_clean()
    profile.save()
    user = actor if actor is not None and actor.is_authenticated else None
    CompanyProfileChange.objects.create(
        actor=user, actor_label=user.get_username() if user else "system", changes=changes
    )
    company_profile_changed.send(sender=CompanyProfile, changes=changes, actor=user)
    return profile
