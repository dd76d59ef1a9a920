"""Masking of contact data for people who may not see it in full.

Emails, phone numbers and postal addresses are shown whole only to users holding
`customers.view_pii`; everyone else sees enough to tell records apart
(j***@e***.org, +44 ***** **89). Opening a record in full is logged (PiiAccess).
"""

import re
from typing import Any

VIEW_PII = "customers.view_pii"
# Fields of Customer that hold contact data, and what masks each.
CONTACT_FIELDS = ("email", "email_normalized", "phone", "street", "postal_code", "city")

# "%40" too: an email in a URL's query string is percent-encoded.
_EMAIL_IN_TEXT = re.compile(r"[^\s<>\"'(),;:=&?/]+(?:@|%40)[^\s<>\"'(),;:=&?/]+\.[A-Za-z]{2,}")
# An international number with its usual separators, or a bare run of 9 to 15 digits
# (dates and times stay readable).
_PHONE_IN_TEXT = re.compile(r"\+\d[\d ()./-]{6,}\d|\b\d{9,15}\b")


def can_view_pii(user: Any) -> bool:
    return bool(user is not None and user.has_perm(VIEW_PII))


def mask_email(value: str) -> str:
    local, at, domain = (value or "").partition("@")
    if not at:
        return _keep_first(local)
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = tld, ""
    return f"{_keep_first(local)}@{_keep_first(host)}{'.' + tld if tld else ''}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    if len(digits) < 4:
        return "***" if digits else ""
    prefix = f"+{digits[:2]} " if (value or "").lstrip().startswith("+") else ""
    return f"{prefix}***** **{digits[-2:]}"


def mask_text(value: str) -> str:
    """Any email or phone number inside free text (error messages, reports) masked."""
    masked = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0).replace("%40", "@")), value or "")
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), masked)


def mask_field(field: str, value: str) -> str:
    """A Customer contact field's value masked as its kind requires."""
    if field in ("email", "email_normalized"):
        return mask_email(value)
    if field == "phone":
        return mask_phone(value)
    if field in ("street", "postal_code", "city"):
        return _keep_first(value)
    return mask_text(value)


def _keep_first(value: str) -> str:
    return f"{value[:1]}***" if value else ""
