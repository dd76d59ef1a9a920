"""Sending a campaign: claim a batch, keep holds, consent and the frequency cap, and record
each outcome."""

import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import CharField, Count, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from config.db import on_lost_connection_retry
from config.mail import SendOutcome, messages_send
from customers.models import Customer, Touchpoint

from ..messages import campaign_message_build
from ..models import Campaign, CampaignSend, Withholding
from ..selectors import (
    held_customer_incidents,
)
from .common import (
    FREQUENCY_LOCK,
    BatchResult,
    logger,
)
from .content import campaign_render


def _withhold(campaign_id: int, pairs: list[tuple[int, int]], *, token: uuid.UUID | None) -> int:
    """Mark these customers' sends withheld and record which incident held each."""
    if not pairs:
        return 0
    now = timezone.now()
    customer_ids = {customer_id for customer_id, _ in pairs}
    Withholding.objects.bulk_create(
        [
            Withholding(
                campaign_id=campaign_id,
                customer_id=customer_id,
                incident_id=incident_id,
                withheld_at=now,
            )
            for customer_id, incident_id in pairs
        ],
        ignore_conflicts=True,
    )
    sends = CampaignSend.objects.filter(campaign_id=campaign_id, customer_id__in=customer_ids)
    if token is not None:
        sends = sends.filter(claim_token=token, status=CampaignSend.Status.CLAIMED)
    return sends.update(
        status=CampaignSend.Status.WITHHELD, claim_token=None, lease_expires_at=None
    )


def _skip_reason(customer: dict[str, object], recent: int) -> str:
    if customer["marketing_consent"] != Customer.Consent.GRANTED:
        return CampaignSend.SkipReason.NO_CONSENT
    if customer["email_status"] != Customer.EmailStatus.VALID:
        return CampaignSend.SkipReason.EMAIL_STATUS
    if recent >= settings.CAMPAIGNS_FREQUENCY_CAP_MESSAGES:
        return CampaignSend.SkipReason.FREQUENCY_CAP
    try:
        # Django's send_messages gives up the rest of a batch at the first bad address.
        validate_email(str(customer["email"]))
    except ValidationError:
        return CampaignSend.SkipReason.INVALID_ADDRESS
    return ""


CUSTOMER_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "country",
    "language",
    "marketing_consent",
    "email_status",
)


def _frequency_lock(customer_ids: list[int]) -> None:
    """Claims of the same people by two campaigns take turns from here to their commit, so
    the second counts the first's claims. Advisory locks, not row locks: an import holding
    customer rows for minutes must not stall the sends. SQLite lets one writer in anyway."""
    if connection.vendor != "postgresql" or not customer_ids:
        return
    with connection.cursor() as cursor:
        # In key order, so that two claims never wait for each other's later locks.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, k) FROM (SELECT DISTINCT "
            "(unnest(%s::bigint[]) %% 2147483647)::integer AS k ORDER BY 1) AS ordered",
            [FREQUENCY_LOCK, customer_ids],
        )


def _recent_promotions(customer_ids: list[int], *, now: datetime) -> Counter[int]:
    """Promotions each person got within the cap's window, counting those claimed by a
    running batch but not mailed yet: the cap holds while two campaigns send at once."""
    _frequency_lock(customer_ids)
    since = now - timedelta(days=settings.CAMPAIGNS_FREQUENCY_CAP_DAYS)
    recent: Counter[int] = Counter(
        dict(
            Touchpoint.objects.filter(
                customer_id__in=customer_ids,
                kind=Touchpoint.Kind.PROMOTIONAL,
                occurred_at__gte=since,
            )
            .values("customer_id")
            .annotate(n=Count("pk"))
            .values_list("customer_id", "n")
        )
    )
    recent.update(
        CampaignSend.objects.filter(
            customer_id__in=customer_ids,
            status=CampaignSend.Status.CLAIMED,
            lease_expires_at__gte=now,
        ).values_list("customer_id", flat=True)
    )
    return recent


def _claim(campaign_id: int, token: uuid.UUID) -> tuple[dict[int, int], int, int]:
    """Claim the next batch: returns {send id: customer id} to mail, withheld and skipped counts.

    Rows are locked with FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent workers take
    disjoint batches; SQLite has no row locks, but its IMMEDIATE transactions let one
    writer at a time in, which gives the same guarantee. Customers under an active hold
    are never claimed for sending: their rows are marked withheld right here.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).exists():
            return {}, 0, 0
        open_rows = (
            CampaignSend.objects.filter(campaign_id=campaign_id)
            .filter(
                Q(status=CampaignSend.Status.PENDING)
                | Q(status=CampaignSend.Status.CLAIMED, lease_expires_at__lt=now)
            )
            .order_by("id")
        )
        if connection.features.has_select_for_update_skip_locked:
            open_rows = open_rows.select_for_update(skip_locked=True, of=("self",))
        rows = dict(open_rows.values_list("id", "customer_id")[: settings.CAMPAIGNS_BATCH_SIZE])
        if not rows:
            return {}, 0, 0
        ids_by_customer = {customer_id: send_id for send_id, customer_id in rows.items()}
        held = held_customer_incidents(campaign_id=campaign_id, customer_ids=rows.values())
        withheld = _withhold(campaign_id, held, token=None)
        held_customers = {customer_id for customer_id, _ in held}
        candidates = [c for c in rows.values() if c not in held_customers]
        recent = _recent_promotions(candidates, now=now)
        skipped_by_reason: dict[str, list[int]] = defaultdict(list)
        to_send: dict[int, int] = {}
        for customer in Customer.objects.filter(pk__in=candidates).values(*CUSTOMER_FIELDS):
            customer_id = int(customer["id"])
            reason = _skip_reason(customer, recent.get(customer_id, 0))
            if reason:
                skipped_by_reason[reason].append(ids_by_customer[customer_id])
            else:
                to_send[ids_by_customer[customer_id]] = customer_id
        for reason, send_ids in skipped_by_reason.items():
            CampaignSend.objects.filter(pk__in=send_ids).update(
                status=CampaignSend.Status.SKIPPED,
                skip_reason=reason,
                claim_token=None,
                lease_expires_at=None,
            )
        CampaignSend.objects.filter(pk__in=list(to_send)).update(
            status=CampaignSend.Status.CLAIMED,
            claim_token=token,
            claimed_at=now,
            lease_expires_at=now + timedelta(seconds=settings.CAMPAIGNS_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    skipped = sum(len(v) for v in skipped_by_reason.values())
    return to_send, withheld, skipped


def message_id_for(*, campaign_id: int, customer_id: int) -> str:
    """The same Message-ID for a resend after a crash, so the receiving side can spot it.

    `_sent_record` builds the same string in SQL for the send row.
    """
    return f"<campaign-{campaign_id}.customer-{customer_id}@breachdesk.invalid>"


def campaign_send_batch(*, campaign_id: int) -> BatchResult:
    """Claim one batch, mail it over one connection, record sends and touchpoints."""
    token = uuid.uuid4()
    claimed, withheld, skipped = _claim(campaign_id, token)
    if not claimed:
        return _batch_finish(campaign_id, BatchResult(withheld=withheld, skipped=skipped))
    campaign = Campaign.objects.get(pk=campaign_id)
    # Look again just before the mail leaves: a scope committed since the claim still
    # keeps its people out of this batch.
    late = held_customer_incidents(campaign_id=campaign_id, customer_ids=claimed.values())
    if late:
        withheld += _withhold(campaign_id, late, token=token)
        late_customers = {customer_id for customer_id, _ in late}
        claimed = {s: c for s, c in claimed.items() if c not in late_customers}
    customers = {
        int(c["id"]): c
        for c in Customer.objects.filter(pk__in=claimed.values()).values(*CUSTOMER_FIELDS)
    }
    messages = []
    for customer_id in claimed.values():
        customer = customers[customer_id]
        message_id = message_id_for(campaign_id=campaign_id, customer_id=customer_id)
        subject, body = campaign_render(campaign=campaign, customer=customer)
        message = campaign_message_build(
            campaign_id=campaign_id,
            customer=customer,
            subject=subject,
            body=body,
            message_id=message_id,
        )
        # Through an email provider (anymail) our Message-ID comes back with each tracking
        # event, so a bounce or a complaint finds the person.
        message.metadata = {"breachdesk": message_id}  # type: ignore[attr-defined]
        messages.append(message)
    outcome = messages_send(list(zip(claimed, messages, strict=True)))
    if outcome.temporary or outcome.permanent:
        logger.warning(
            "campaign %s: %s of %s messages not sent (%s to try again)",
            campaign_id,
            len(outcome.temporary) + len(outcome.permanent),
            len(messages),
            len(outcome.temporary),
        )
    # The mail has left: a dropped connection must not make it leave again.
    sent = on_lost_connection_retry(
        lambda: _outcomes_record(campaign_id, claimed, token, outcome),
        what=f"recording the sends of campaign {campaign_id}",
    )
    return _batch_finish(
        campaign_id,
        BatchResult(claimed=len(claimed), sent=sent, withheld=withheld, skipped=skipped),
    )


@transaction.atomic
def _outcomes_record(
    campaign_id: int, claimed: dict[int, int], token: uuid.UUID, outcome: SendOutcome[int]
) -> int:
    """Record what became of each claimed message; return how many were sent.

    Only the messages the server did not accept go back to pending; one that failed
    CAMPAIGNS_MAX_ATTEMPTS times, or was refused for good, is failed.
    """
    sent = _sent_record(
        campaign_id, {pk: claimed[pk] for pk in outcome.sent}, token, outcome.provider_ids
    )
    mine = CampaignSend.objects.filter(claim_token=token, status=CampaignSend.Status.CLAIMED)
    given_up = Q(pk__in=list(outcome.permanent)) | Q(
        pk__in=list(outcome.temporary), attempts__gte=settings.CAMPAIGNS_MAX_ATTEMPTS
    )
    mine.filter(given_up).update(
        status=CampaignSend.Status.FAILED, claim_token=None, lease_expires_at=None
    )
    mine.filter(pk__in=list(outcome.temporary)).update(
        status=CampaignSend.Status.PENDING, claim_token=None, lease_expires_at=None
    )
    return sent


@transaction.atomic
def _sent_record(
    campaign_id: int,
    claimed: dict[int, int],
    token: uuid.UUID,
    provider_ids: dict[int, str] | None = None,
) -> int:
    now = timezone.now()
    CampaignSend.objects.filter(pk__in=list(claimed), claim_token=token).update(
        status=CampaignSend.Status.SENT,
        sent_at=now,
        lease_expires_at=None,
        message_id=Concat(
            Value("<campaign-"),
            Cast("campaign_id", CharField()),
            Value(".customer-"),
            Cast("customer_id", CharField()),
            Value("@breachdesk.invalid>"),
        ),
    )
    # Only rows still ours: if the lease ran out and another worker took a row, it records it.
    mine = list(
        CampaignSend.objects.filter(
            pk__in=list(claimed), claim_token=token, status=CampaignSend.Status.SENT
        ).values_list("customer_id", flat=True)
    )
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                customer_id=customer_id,
                channel=Touchpoint.Channel.EMAIL,
                kind=Touchpoint.Kind.PROMOTIONAL,
                occurred_at=now,
                reference=f"campaign:{campaign_id}",
            )
            for customer_id in mine
        ]
    )
    if provider_ids:
        ours = set(
            CampaignSend.objects.filter(
                pk__in=list(provider_ids), claim_token=token, status=CampaignSend.Status.SENT
            ).values_list("pk", flat=True)
        )
        CampaignSend.objects.bulk_update(
            [CampaignSend(pk=pk, provider_message_id=provider_ids[pk]) for pk in sorted(ours)],
            ["provider_message_id"],
        )
    CampaignSend.objects.filter(pk__in=list(claimed), claim_token=token).update(claim_token=None)
    return len(mine)


def _batch_finish(campaign_id: int, result: BatchResult) -> BatchResult:
    """Say whether to go on; complete the campaign when no row is left open."""
    now = timezone.now()
    open_rows = CampaignSend.objects.filter(campaign_id=campaign_id).filter(
        Q(status=CampaignSend.Status.PENDING)
        | Q(status=CampaignSend.Status.CLAIMED, lease_expires_at__lt=now)
    )
    if open_rows.exists():
        sending = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).exists()
        return BatchResult(**{**result.__dict__, "more": sending})
    if not CampaignSend.objects.filter(
        campaign_id=campaign_id, status=CampaignSend.Status.CLAIMED
    ).exists():
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).update(
            status=Campaign.Status.COMPLETED, completed_at=now, updated_at=now
        )
    return result


@transaction.atomic
def campaign_sends_skip_merged(*, merged_id: int) -> int:
    """Skip the merged-away record's promotions not yet claimed; returns how many.

    The merge takes the record out of every scope (the survivor stands in it), so an
    incident's hold would no longer stop these, and the person is mailed, or held, as
    the survivor.
    """
    return CampaignSend.objects.filter(
        customer_id=merged_id, status=CampaignSend.Status.PENDING
    ).update(status=CampaignSend.Status.SKIPPED, skip_reason=CampaignSend.SkipReason.MERGED)
