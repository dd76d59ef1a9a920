"""Masking of contact data for people who may not see it in full.

Emails, phone numbers and postal addresses are shown whole only to users holding
`customers.view_pii`; everyone else sees enough to tell records apart
(j***@e***.org, +44 ***** **89). Opening a record in full is logged (PiiAccess).
"""

from typing import Any

from config.masking import mask_email, mask_phone, mask_text, mask_word

__all__ = [
    "CONTACT_FIELDS",
    "VIEW_PII",
    "can_view_pii",
    "mask_email",
    "mask_field",
    "mask_phone",
    "mask_text",
]

VIEW_PII = "customers.view_pii"
# Fields of Customer that hold contact data, and what masks each.
CONTACT_FIELDS = ("email", "email_normalized", "phone", "street", "postal_code", "city")


def can_view_pii(user: Any) -> bool:
    return bool(user is not None and user.has_perm(VIEW_PII))


def mask_field(field: str, value: str) -> str:
    """A Customer contact field's value masked as its kind requires."""
    if field in ("email", "email_normalized"):
        return mask_email(value)
    if field == "phone":
        return mask_phone(value)
    if field in ("street", "postal_code", "city"):
        return mask_word(value)
    return mask_text(value)
