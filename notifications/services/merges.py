"""What a confirmed customer merge means for breach messages not yet sent."""

from django.db import transaction

from notifications.models import Notification


@transaction.atomic
def notifications_skip_merged(*, merged_id: int) -> int:
    """Skip the merged-away record's messages that have not left yet; returns how many.

    The survivor took the merged record's place in every open scope, so the next
    fan-out gives the survivor their own message; sending this one too would tell one
    person twice. Messages sent, bounced or batched for print stay as the record of
    what happened.
    """
    return Notification.objects.filter(
        customer_id=merged_id,
        status__in=(Notification.Status.PENDING, Notification.Status.LETTER),
        letter_batch__isnull=True,
    ).update(status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.MERGED)
