"""Edits of the customer record by hand, and the log of who saw contact data in full."""

from typing import Any

from django.db import transaction

from ..imports.normalize import Placeholders, country_normalize, email_normalize, phone_normalize
from ..models import Customer, PiiAccess, PlaceholderEmail, SharedEmail


@transaction.atomic
def customer_save(*, customer: Customer) -> Customer:
    """Save a customer edited by hand, with the same normalisation an import applies."""
    customer.email, customer.email_normalized, customer.email_status = _email_for_hand_edit(
        customer
    )
    if customer.country or customer.country_raw:
        code, raw = country_normalize(customer.country or customer.country_raw)
        customer.country, customer.country_raw = code, raw
    customer.phone = phone_normalize(customer.phone, customer.country)
    customer.save()
    return customer


def _email_for_hand_edit(customer: Customer) -> tuple[str, str, str]:
    email, normalized, status = email_normalize(customer.email)
    if normalized and (
        SharedEmail.objects.filter(email=normalized).exists()
        or Placeholders(PlaceholderEmail.objects.values_list("pattern", flat=True)).match(
            normalized
        )
    ):
        # Typed by hand or imported, a shared address joins nobody.
        return email, "", Customer.EmailStatus.SHARED
    # Whether an address bounced is known only from sending to it; a person may record it.
    if status == "valid" and customer.email_status == Customer.EmailStatus.BOUNCED:
        status = Customer.EmailStatus.BOUNCED
    return email, normalized, status


def pii_access_record(
    *, user: Any, kind: str, customer_id: int | None = None, detail: str = ""
) -> PiiAccess:
    """Log that `user` saw contact data in full: one customer's record, or an export."""
    return PiiAccess.objects.create(
        user=user, customer_id=customer_id, kind=kind, detail=detail[:255]
    )
