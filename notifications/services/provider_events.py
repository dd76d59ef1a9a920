# ruff: noqa: S608  -- the SQL below is built from model table names and a random batch
# table name only; every value goes in as a parameter.
"""What the email provider's webhooks say became of each message.

A webhook request only stores the events anymail normalised (`delivery_events_store`: one
INSERT, a repeated event is the same row). The task cluster applies them in batches
(`delivery_events_apply`), set-based: a handful of UPDATE ... FROM statements per batch,
whatever its size. Applying is order-safe: a message's delivery state only moves up
(DELIVERY_STATE_RANK), so a late "delivered" never undoes a bounce.
"""

import hashlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer, Touchpoint
from customers.signals import customers_changed
from incidents.services import timeline_append

from .. import events
from ..models import (
    DELIVERY_STATE_RANK,
    Communication,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Notification,
    PendingDeliveryEvent,
)
from .delivery import delivery_breaker_check

Kind = DeliveryEvent.Kind

# Bounces anymail reports as "bounced" that the provider itself calls temporary: the
# provider's field (a path into its event) and its values for a soft bounce. Amazon SES's
# "Undetermined" is not taken as hard: a hard bounce marks the address dead for good.
_SOFT_BOUNCES: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "postmark": (("Type",), {"SoftBounce", "DnsError", "Transient", "AutoResponder"}),
    "brevo": (("event",), {"soft_bounce"}),
    "amazon_ses": (("bounce", "bounceType"), {"Transient", "Undetermined"}),
}
# Events anymail does not name ("unknown") that the provider means as a delay.
_DELAYS = {"amazon_ses": (("eventType",), {"DeliveryDelay"})}


def _provider_says(esp_event: Any, path: tuple[str, ...], values: set[str]) -> bool:
    found = esp_event
    for key in path:
        if not isinstance(found, dict):
            return False
        found = found.get(key)
    return isinstance(found, str) and found in values


_BREACH_REF = re.compile(r"<?breach-(\d+)\.(\d+)@")
_CAMPAIGN_REF = re.compile(r"<?campaign-(\d+)\.customer-(\d+)@")

TIMELINE_PROVIDER_EVENTS = events.DELIVERY_PROVIDER_EVENTS


def event_kind(*, provider: str, event_type: str, esp_event: Any) -> str:
    """What an anymail tracking event means here (see DeliveryEvent.Kind)."""
    if event_type == "delivered":
        return Kind.DELIVERED
    if event_type in ("opened", "clicked"):
        return Kind.OPENED
    if event_type == "complained":
        return Kind.COMPLAINED
    if event_type == "unsubscribed":
        return Kind.UNSUBSCRIBED
    if event_type in ("deferred", "failed"):
        return Kind.SOFT_BOUNCE
    if event_type in ("bounced", "rejected"):
        if provider in _SOFT_BOUNCES and _provider_says(esp_event, *_SOFT_BOUNCES[provider]):
            return Kind.SOFT_BOUNCE
        return Kind.HARD_BOUNCE
    if provider in _DELAYS and _provider_says(esp_event, *_DELAYS[provider]):
        return Kind.SOFT_BOUNCE
    return Kind.OTHER


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment, UTC)


def delivery_event_row(*, provider: str, event: Any, received_at: datetime) -> DeliveryEvent:
    """An unsaved DeliveryEvent from one anymail AnymailTrackingEvent; no database access."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    reference = str(metadata.get("breachdesk") or "")[:255]
    occurred_at = _aware(event.timestamp)
    message_id = "" if event.message_id is None else str(event.message_id)[:255]
    recipient = str(event.recipient or "")[:254]
    key = hashlib.sha256(
        json.dumps(
            [
                provider,
                event.event_type,
                message_id,
                reference,
                recipient.lower(),
                occurred_at.isoformat() if occurred_at else "",
                str(event.event_id or ""),
            ]
        ).encode()
    ).hexdigest()
    row = DeliveryEvent(
        provider=provider,
        event_type=str(event.event_type)[:16],
        kind=event_kind(provider=provider, event_type=event.event_type, esp_event=event.esp_event),
        provider_message_id=message_id,
        reference=reference,
        recipient=recipient,
        occurred_at=occurred_at,
        description=str(event.description or event.mta_response or "")[:500],
        dedupe_key=key,
        received_at=received_at,
    )
    if found := _BREACH_REF.match(reference):
        row.ref_communication_id, row.ref_customer_id = int(found[1]), int(found[2])
    elif found := _CAMPAIGN_REF.match(reference):
        row.ref_campaign_id, row.ref_customer_id = int(found[1]), int(found[2])
    return row


def delivery_events_store(*, rows: Iterable[DeliveryEvent]) -> int:
    """Keep the events of one webhook request and queue them to be applied; an event kept
    already (a provider repeats itself) is dropped here. Returns how many were new.

    On PostgreSQL this is one statement (the insert, its conflicts skipped, feeding the
    queue), so a request costs one round trip and one commit.
    """
    fresh: dict[str, DeliveryEvent] = {row.dedupe_key: row for row in rows}
    if not fresh:
        return 0
    if connection.vendor == "postgresql":
        fields = [f for f in DeliveryEvent._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        params = [
            f.get_db_prep_save(getattr(row, f.attname), connection)
            for row in fresh.values()
            for f in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH new AS (INSERT INTO {DeliveryEvent._meta.db_table} ({columns}) "
                f"VALUES {', '.join([one] * len(fresh))} ON CONFLICT (dedupe_key) DO NOTHING "
                f"RETURNING id) INSERT INTO {PendingDeliveryEvent._meta.db_table} (event_id) "
                "SELECT id FROM new",
                params,
            )
            return int(cursor.rowcount)
    # Elsewhere (SQLite: one writer at a time) the kept keys are looked up first.
    kept = set(
        DeliveryEvent.objects.filter(dedupe_key__in=list(fresh)).values_list(
            "dedupe_key", flat=True
        )
    )
    new = [row for key, row in fresh.items() if key not in kept]
    if new:
        with transaction.atomic():
            DeliveryEvent.objects.bulk_create(new)
            PendingDeliveryEvent.objects.bulk_create(
                [PendingDeliveryEvent(event_id=row.pk) for row in new]
            )
    return len(new)


# --- Applying ------------------------------------------------------------------------------


def _rank_sql(column: str) -> str:
    whens = " ".join(f"WHEN '{state}' THEN {rank}" for state, rank in DELIVERY_STATE_RANK.items())
    return f"(CASE {column} {whens} ELSE 0 END)"


def _state_for_rank_sql(column: str) -> str:
    whens = " ".join(f"WHEN {rank} THEN '{state}'" for state, rank in DELIVERY_STATE_RANK.items())
    return f"(CASE {column} {whens} END)"


# The batch's working copy: the stored event's fields, then whose message it names.
_BATCH_COLUMNS = (
    "id bigint, kind varchar(16), provider varchar(32), reference varchar(255), "
    "recipient varchar(254), provider_message_id varchar(255), ref_communication_id bigint, "
    "ref_customer_id bigint, ref_campaign_id bigint, at timestamp with time zone, "
    "notification_id bigint, customer_id bigint, communication_id bigint"
)
_BATCH_FROM_EVENT = (
    "e.id, e.kind, e.provider, e.reference, e.recipient, e.provider_message_id, "
    "e.ref_communication_id, e.ref_customer_id, e.ref_campaign_id, "
    "COALESCE(e.occurred_at, e.received_at), COALESCE(r.id, p.id), "
    "COALESCE(r.customer_id, p.customer_id, c.id), COALESCE(r.communication_id, p.communication_id)"
)


def _resolving_joins() -> str:
    """Whose message each event names, joined as the event is copied (no second pass over
    the batch): by our reference first (communication and person), else by the provider's
    id, which names one message; a campaign's message names its person."""
    notification = Notification._meta.db_table
    customer = Customer._meta.db_table
    return (
        f"LEFT JOIN {notification} r ON e.ref_communication_id IS NOT NULL "
        "AND r.communication_id = e.ref_communication_id AND r.customer_id = e.ref_customer_id "
        f"LEFT JOIN {notification} p ON r.id IS NULL AND e.ref_campaign_id IS NULL "
        # Spelled out so that the partial index on the provider id serves the join.
        "AND e.provider_message_id <> '' AND p.provider_message_id <> '' "
        "AND p.provider_message_id = e.provider_message_id "
        f"LEFT JOIN {customer} c ON e.ref_campaign_id IS NOT NULL AND c.id = e.ref_customer_id"
    )


def _claim_into(cursor: Any, batch: str, limit: int) -> int:
    """Take a batch out of the queue into the working table, each event with its message
    and person; returns the batch's size.

    The delete is the claim (one write per event; the events come back if the batch's
    transaction rolls back), and several workers apply at once, each its own events.
    """
    pending = PendingDeliveryEvent._meta.db_table
    event = DeliveryEvent._meta.db_table
    if connection.vendor == "postgresql":
        # One statement: the queue's rows are deleted and their events copied, with no
        # list of ids going to Python and back.
        cursor.execute(
            f"WITH claimed AS (DELETE FROM {pending} WHERE event_id IN (SELECT event_id "
            f"FROM {pending} ORDER BY event_id LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"RETURNING event_id) INSERT INTO {batch} SELECT {_BATCH_FROM_EVENT} "
            f"FROM claimed JOIN {event} e ON e.id = claimed.event_id {_resolving_joins()}",
            [limit],
        )
        return int(cursor.rowcount)
    # SQLite has no DELETE in a WITH (and one writer at a time: nothing to skip).
    cursor.execute(
        f"DELETE FROM {pending} WHERE event_id IN (SELECT event_id FROM {pending} "
        "ORDER BY event_id LIMIT %s) RETURNING event_id",
        [limit],
    )
    ids = [row[0] for row in cursor.fetchall()]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        cursor.execute(
            f"INSERT INTO {batch} SELECT {_BATCH_FROM_EVENT} FROM {event} e "
            f"{_resolving_joins()} WHERE e.id IN ({', '.join(['%s'] * len(chunk))})",
            list(chunk),
        )
    return len(ids)


@transaction.atomic
def delivery_events_apply(*, limit: int | None = None) -> int:
    """Apply one batch of stored provider events; returns how many were applied.

    Per batch: resolve each event's message and person, raise delivery states (never
    lower them), move hard-bounced messages to the letter queue and mark the address
    bounced, record complaints and unsubscribes as opt-outs (an import never undoes
    one, see customers.imports.merge), add touchpoints, and tell each incident's
    timeline what its wave heard. An event naming no known message is kept as
    "unknown" and changes nothing.

    Every statement is driven by the batch (joins on primary keys and the notification's
    (communication, customer) and provider-id indexes), so its cost follows the batch's
    size, not the size of the customer or notification tables.
    """
    now = timezone.now()
    event = DeliveryEvent._meta.db_table
    notification = Notification._meta.db_table
    customer = Customer._meta.db_table
    touchpoint = Touchpoint._meta.db_table
    postgres = connection.vendor == "postgresql"
    # The batch's working copy: a temporary table, not written to the log, gone at commit.
    b = f"delivery_event_batch_{uuid.uuid4().hex[:12]}"
    hard, opt_outs = Kind.HARD_BOUNCE.value, (Kind.COMPLAINED.value, Kind.UNSUBSCRIBED.value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {b} ({_BATCH_COLUMNS})"
            + (" ON COMMIT DROP" if postgres else "")
        )
        claimed = _claim_into(cursor, b, limit or settings.DELIVERY_EVENTS_BATCH_SIZE)
        if not claimed:
            if not postgres:
                cursor.execute(f"DROP TABLE {b}")
            return 0
        if postgres:
            # Statistics for the joins below: index lookups from the batch, whatever the
            # size of the notification and customer tables.
            cursor.execute(f"ANALYZE {b}")
        raised = f"r.rank > {_rank_sql('n.delivery_state')}"
        newly_bounced = f"(r.hard = 1 AND n.status = '{Notification.Status.SENT.value}')"
        steps: list[tuple[str, list[Any]]] = [
            # Each message once: the furthest state of the batch if further than it was,
            # and a hard bounce of a sent message puts it in the letter queue.
            (
                f"UPDATE {notification} AS n SET "
                f"delivery_state = CASE WHEN {raised} THEN {_state_for_rank_sql('r.rank')} "
                "ELSE n.delivery_state END, "
                f"delivery_state_at = CASE WHEN {raised} THEN r.at ELSE n.delivery_state_at END, "
                f"status = CASE WHEN {newly_bounced} THEN %s ELSE n.status END, "
                f"bounced_at = CASE WHEN {newly_bounced} THEN %s ELSE n.bounced_at END "
                f"FROM (SELECT notification_id, MAX({_rank_sql('kind')}) AS rank, "
                f"MAX(at) AS at, MAX(CASE WHEN kind = %s THEN 1 ELSE 0 END) AS hard "
                f"FROM {b} WHERE notification_id IS NOT NULL GROUP BY notification_id) r "
                f"WHERE n.id = r.notification_id AND ({raised} OR {newly_bounced})",
                [Notification.Status.BOUNCED, now, hard],
            ),
            # A breach message still waiting to go to an address that hard-bounced goes
            # by letter.
            (
                f"UPDATE {notification} AS n SET channel = 'letter', status = %s, "
                "last_error = 'the address hard-bounced' "
                f"FROM (SELECT DISTINCT customer_id, LOWER(recipient) AS recipient FROM {b} "
                "WHERE kind = %s AND customer_id IS NOT NULL) h "
                "WHERE n.customer_id = h.customer_id AND n.status = %s "
                "AND n.channel = 'email' AND LOWER(n.email) = h.recipient",
                [Notification.Status.LETTER, hard, Notification.Status.PENDING],
            ),
            # The address that bounced is marked (a new address from an import starts afresh).
            (
                f"UPDATE {customer} AS c SET email_status = %s, updated_at = %s "
                f"FROM (SELECT DISTINCT customer_id, LOWER(recipient) AS recipient FROM {b} "
                "WHERE kind = %s AND customer_id IS NOT NULL) h "
                "WHERE c.id = h.customer_id AND c.email_status = %s "
                "AND (h.recipient = '' OR h.recipient = c.email_normalized)",
                [Customer.EmailStatus.BOUNCED, now, hard, Customer.EmailStatus.VALID],
            ),
            (
                f"UPDATE {customer} AS c SET marketing_consent = %s, consent_updated_at = %s, "
                "consent_source = 'email provider: complaint or unsubscribe', updated_at = %s "
                f"FROM (SELECT DISTINCT customer_id FROM {b} WHERE kind IN (%s, %s) "
                "AND customer_id IS NOT NULL) o "
                "WHERE c.id = o.customer_id AND c.marketing_consent <> %s",
                [
                    Customer.Consent.WITHDRAWN,
                    now,
                    now,
                    *opt_outs,
                    Customer.Consent.WITHDRAWN,
                ],
            ),
            # The person's response, as the recovery cohorts count it.
            (
                f"INSERT INTO {touchpoint} (customer_id, channel, kind, occurred_at, reference) "
                "SELECT customer_id, 'email', CASE kind WHEN %s THEN %s WHEN %s THEN %s "
                "WHEN %s THEN %s ELSE %s END, at, "
                "SUBSTR(provider || ': ' || kind || ' ' || reference, 1, 255) "
                f"FROM {b} WHERE customer_id IS NOT NULL AND kind IN (%s, %s, %s, %s)",
                [
                    hard,
                    Touchpoint.Kind.BOUNCED,
                    Kind.COMPLAINED.value,
                    Touchpoint.Kind.COMPLAINED,
                    Kind.UNSUBSCRIBED.value,
                    Touchpoint.Kind.UNSUBSCRIBED,
                    Touchpoint.Kind.OPENED,
                    hard,
                    *opt_outs,
                    Kind.OPENED.value,
                ],
            ),
            # An event that named no message is kept, marked.
            (
                f"UPDATE {event} SET outcome = %s "
                f"WHERE id IN (SELECT id FROM {b} WHERE customer_id IS NULL)",
                [DeliveryEvent.Outcome.UNKNOWN],
            ),
        ]
        for sql, params in steps:
            cursor.execute(sql, params)
        cursor.execute(
            f"SELECT communication_id, kind, COUNT(*) FROM {b} "
            "WHERE communication_id IS NOT NULL GROUP BY communication_id, kind"
        )
        heard: dict[int, dict[str, int]] = defaultdict(dict)
        for communication_id, kind, count in cursor.fetchall():
            heard[communication_id][kind] = count
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {b} WHERE kind = %s AND customer_id IS NOT NULL)",
            [hard],
        )
        (bounced,) = cursor.fetchone()
        if not postgres:
            cursor.execute(f"DROP TABLE {b}")
    _timeline_tell(heard)
    if bounced:
        customers_changed.send(sender=DeliveryEvent, reason="bounce")
    return claimed


def _timeline_tell(heard: dict[int, dict[str, int]]) -> None:
    """One timeline entry per wave and batch: what the provider said, in counts."""
    if not heard:
        return
    incidents = dict(
        Communication.objects.filter(pk__in=list(heard)).values_list("pk", "incident_id")
    )
    for communication_id in sorted(heard):
        timeline_append(
            incident_id=incidents[communication_id],
            kind=TIMELINE_PROVIDER_EVENTS,
            actor=None,
            payload={"communication": communication_id, **heard[communication_id]},
        )
    for delivery in Delivery.objects.filter(
        communication_id__in=list(heard), status=Delivery.Status.SENDING
    ).select_related("communication"):
        # Hard bounces count against the circuit breaker as SMTP refusals do.
        delivery_breaker_check(delivery=delivery)


def delivery_events_apply_all(*, limit: int | None = None) -> int:
    """Apply batches until none is left; returns how many events were applied."""
    total = 0
    while applied := delivery_events_apply(limit=limit):
        total += applied
    return total


__all__ = [
    "DeliveryState",
    "delivery_event_row",
    "delivery_events_apply",
    "delivery_events_apply_all",
    "delivery_events_store",
    "event_kind",
]
