"""The worker's batch: rate limit, claim, send through the shared transport, record each outcome."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from config.db import on_lost_connection_retry
from config.mail import messages_send
from customers.models import Customer, Touchpoint
from customers.services.contact_quality import customers_mark_email_status

from ...models import (
    Channel,
    Delivery,
    Notification,
    SendRateWindow,
)
from ...selectors import (
    communication_sign_offs_match,
)
from .common import (
    OPEN_STATUSES,
    BatchResult,
)
from .messages import _messages_build, message_bytes
from .wave import _pause, delivery_breaker_check, delivery_complete


def _rate_reserve(wanted: int) -> tuple[int, float]:
    """Take up to `wanted` sends from this minute's shared budget: (granted, wait seconds).

    The counter row is locked, so every worker of every cluster draws from one budget.
    """
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    SendRateWindow.objects.bulk_create([SendRateWindow(minute=minute)], ignore_conflicts=True)
    window = SendRateWindow.objects.select_for_update().get(minute=minute)
    granted = max(0, min(wanted, settings.DELIVERY_RATE_PER_MINUTE - window.sent))
    if granted:
        SendRateWindow.objects.filter(minute=minute).update(sent=F("sent") + granted)
        return granted, 0.0
    next_minute = minute + timedelta(minutes=1)
    return 0, (next_minute - now).total_seconds()


def _claim(delivery: Delivery, token: uuid.UUID) -> tuple[list[int], float]:
    """Claim the next batch of this communication's open rows.

    FOR UPDATE SKIP LOCKED on PostgreSQL gives concurrent workers disjoint batches; SQLite
    has no row locks, but its IMMEDIATE transactions let one writer in at a time, which
    gives the same guarantee. A claim whose lease ran out (its worker died) is open again.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).exists():
            return [], 0.0
        open_rows = (
            Notification.objects.filter(communication_id=delivery.communication_id)
            .filter(
                Q(status=Notification.Status.PENDING)
                & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                | Q(status=Notification.Status.CLAIMED, lease_expires_at__lt=now)
            )
            .order_by("id")
        )
        if connection.features.has_select_for_update_skip_locked:
            open_rows = open_rows.select_for_update(skip_locked=True)
        ids = list(open_rows.values_list("id", flat=True)[: settings.DELIVERY_BATCH_SIZE])
        if not ids:
            return [], 0.0
        granted, wait = _rate_reserve(len(ids))
        ids = ids[:granted]
        Notification.objects.filter(pk__in=ids).update(
            status=Notification.Status.CLAIMED,
            claim_token=token,
            lease_expires_at=now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    return ids, wait


@transaction.atomic
def _outcomes_record(
    delivery: Delivery,
    token: uuid.UUID,
    *,
    sent: list[int],
    temporary: dict[int, str],
    permanent: dict[int, str],
    malformed: dict[int, str],
    provider_ids: dict[int, str] | None = None,
) -> tuple[int, int, int, int]:
    now = timezone.now()
    mine = Notification.objects.filter(claim_token=token, status=Notification.Status.CLAIMED)
    # Only rows still ours: if the lease ran out and another worker took a row, it records it.
    sent_rows = list(mine.filter(pk__in=sent).values_list("pk", "customer_id"))
    sent_customers = [customer_id for _pk, customer_id in sent_rows]
    mine.filter(pk__in=sent).update(
        status=Notification.Status.SENT, sent_at=now, lease_expires_at=None, last_error=""
    )
    if provider_ids:
        # One UPDATE with a CASE over the batch: the id the provider's webhooks will name.
        Notification.objects.bulk_update(
            [
                Notification(pk=pk, provider_message_id=provider_ids[pk])
                for pk, _customer in sent_rows
                if pk in provider_ids
            ],
            ["provider_message_id"],
        )
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                customer_id=customer_id,
                channel=Touchpoint.Channel.EMAIL,
                kind=delivery.kind,
                occurred_at=now,
                reference=f"communication:{delivery.communication_id}",
            )
            for customer_id in sent_customers
        ]
    )
    retried = failed = 0
    for pk, error in temporary.items():
        row = mine.filter(pk=pk).values("attempts").first()
        if row is None:
            continue
        if row["attempts"] >= settings.DELIVERY_MAX_ATTEMPTS:
            failed += mine.filter(pk=pk).update(
                status=Notification.Status.FAILED, failed_at=now, last_error=error
            )
        else:
            backoff = settings.DELIVERY_BACKOFF_SECONDS * 2 ** (row["attempts"] - 1)
            retried += mine.filter(pk=pk).update(
                status=Notification.Status.PENDING,
                next_attempt_at=now + timedelta(seconds=backoff),
                lease_expires_at=None,
                last_error=error,
            )
    for pk, error in permanent.items():
        failed += mine.filter(pk=pk).update(
            status=Notification.Status.FAILED, failed_at=now, last_error=error
        )
    letters = 0
    if malformed:
        undeliverable = list(
            mine.filter(pk__in=list(malformed)).values_list("customer_id", flat=True)
        )
        letters = mine.filter(pk__in=list(malformed)).update(
            channel=Channel.LETTER,
            status=Notification.Status.LETTER,
            last_error="malformed address",
            lease_expires_at=None,
        )
        customers_mark_email_status(
            customer_ids=undeliverable, status=Customer.EmailStatus.UNDELIVERABLE
        )
    mine.update(claim_token=None)
    return len(sent_customers), retried, failed, letters


def delivery_send_batch(*, delivery_id: int) -> BatchResult:
    """Claim one batch, mail it over one connection, record each outcome."""
    delivery = Delivery.objects.select_related("communication__incident").get(pk=delivery_id)
    if delivery.status == Delivery.Status.SENDING and not communication_sign_offs_match(
        communication_id=delivery.communication_id
    ):
        # Changed mid-wave (the change voided the sign-offs): what is left must not go out
        # in words nobody signed.
        with transaction.atomic():
            _pause(
                delivery,
                reason="The content changed after sign-off; the rest is not sent until the "
                "CMO and the CISO sign the new content.",
                actor=None,
            )
        return BatchResult()
    token = uuid.uuid4()
    ids, wait = _claim(delivery, token)
    if not ids:
        return _batch_finish(delivery, BatchResult(wait=wait))
    rows = list(Notification.objects.filter(pk__in=ids, claim_token=token))
    messages, malformed, broken = _messages_build(delivery.communication, rows)
    outcome = messages_send(messages, encode=message_bytes)
    sent, temporary, permanent = outcome.sent, outcome.temporary, outcome.permanent
    provider_ids = outcome.provider_ids
    permanent.update(broken)
    # The mail has left: a dropped connection must not make it leave again.
    counts = on_lost_connection_retry(
        lambda: _outcomes_record(
            delivery,
            token,
            sent=sent,
            temporary=temporary,
            permanent=permanent,
            malformed=malformed,
            provider_ids=provider_ids,
        ),
        what=f"recording the outcomes of delivery {delivery_id}",
    )
    with transaction.atomic():
        delivery_breaker_check(delivery=delivery)
    result = BatchResult(
        claimed=len(ids),
        sent=counts[0],
        retried=counts[1],
        failed=counts[2],
        letters=counts[3],
        wait=wait,
    )
    return _batch_finish(delivery, result)


def _batch_finish(delivery: Delivery, result: BatchResult) -> BatchResult:
    """Say whether (and when) to go on; complete the wave when no row is left open."""
    now = timezone.now()
    rows = Notification.objects.filter(communication_id=delivery.communication_id)
    remaining = rows.filter(status__in=OPEN_STATUSES).aggregate(
        n=Count("pk"),
        lease=Min("lease_expires_at", filter=Q(status=Notification.Status.CLAIMED)),
        retry=Min("next_attempt_at", filter=Q(status=Notification.Status.PENDING)),
        ready=Count(
            "pk",
            filter=Q(status=Notification.Status.PENDING)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)),
        ),
    )
    if remaining["n"]:
        sending = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).exists()
        wait = result.wait
        if not remaining["ready"]:
            # Nothing to claim now: wait for the first lease to lapse or retry to fall due.
            moments = [m for m in (remaining["lease"], remaining["retry"]) if m is not None]
            if moments:
                wait = max(wait, (min(moments) - now).total_seconds() + 0.1)
        return BatchResult(**{**result.__dict__, "more": sending, "wait": max(0.0, wait)})
    delivery_complete(delivery_id=delivery.pk)
    return result
