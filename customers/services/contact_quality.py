"""Contact quality learnt from delivery: bounced and undeliverable email addresses."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from customers.signals import customers_changed


@transaction.atomic
def customers_mark_email_status(*, customer_ids: Iterable[int], status: str) -> int:
    """Set the email status of these customers (bounced or undeliverable); returns how many
    changed. One UPDATE for the set; a person already so marked is left alone."""
    if status not in (Customer.EmailStatus.BOUNCED, Customer.EmailStatus.UNDELIVERABLE):
        raise ValueError(f"{status!r} is not a status delivery learns")
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    marked = (
        Customer.objects.filter(pk__in=ids)
        .exclude(email_status=status)
        .update(email_status=status, updated_at=timezone.now())
    )
    if marked:
        customers_changed.send(sender=Customer, reason="bounce")
    return marked
