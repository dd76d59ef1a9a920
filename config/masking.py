"""Masking of contact data inside text, for people and places that may not see it whole.

Kernel code: it imports no app, so the logging handler (loaded before the app registry)
and every app can use it. Which fields hold contact data and who may see them whole is
the customers app's rule (`customers.pii`).
"""

import re

# "%40" too: an email in a URL's query string is percent-encoded.
_EMAIL_IN_TEXT = re.compile(r"[^\s<>\"'(),;:=&?/]+(?:@|%40)[^\s<>\"'(),;:=&?/]+\.[A-Za-z]{2,}")
# An international number with its usual separators, or a bare run of 9 to 15 digits
# (dates and times stay readable).
_PHONE_IN_TEXT = re.compile(r"\+\d[\d ()./-]{6,}\d|\b\d{9,15}\b")


def mask_email(value: str) -> str:
    local, at, domain = (value or "").partition("@")
    if not at:
        return mask_word(local)
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = tld, ""
    return f"{mask_word(local)}@{mask_word(host)}{'.' + tld if tld else ''}"


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


def mask_word(value: str) -> str:
    return f"{value[:1]}***" if value else ""
