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

# Bounces anymail reports as "bounced" that the provider itself calls temporary.
_SOFT_BOUNCES = {
    "postmark": ("Type", {"SoftBounce", "DnsError", "Transient", "AutoResponder"}),
    "brevo": ("event", {"soft_bounce"}),
}
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
        field, soft = _SOFT_BOUNCES.get(provider, ("", set()))
        if isinstance(esp_event, dict) and esp_event.get(field) in soft:
            return Kind.SOFT_BOUNCE
        return Kind.HARD_BOUNCE
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


def _claim(limit: int) -> list[int]:
    """Take a batch out of the queue (one write per row: the delete is the claim; it
    comes back if the batch's transaction rolls back)."""
    table = PendingDeliveryEvent._meta.db_table
    # Several workers apply at once, each its own events.
    skip_locked = connection.features.has_select_for_update_skip_locked
    lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM {table} "
            f"ORDER BY event_id LIMIT %s{lock}) RETURNING event_id",
            [limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


@transaction.atomic
def delivery_events_apply(*, limit: int | None = None) -> int:
    """Apply one batch of stored provider events; returns how many were applied.

    Per batch: resolve each event's message and person, raise delivery states (never
    lower them), move hard-bounced messages to the letter queue and mark the address
    bounced, record complaints and unsubscribes as opt-outs (an import never undoes
    one, see customers.imports.merge), add touchpoints, and tell each incident's
    timeline what its wave heard. An event naming no known message is kept as
    "unknown" and changes nothing.
    """
    ids = _claim(limit or settings.DELIVERY_EVENTS_BATCH_SIZE)
    if not ids:
        return 0
    now = timezone.now()
    event = DeliveryEvent._meta.db_table
    notification = Notification._meta.db_table
    customer = Customer._meta.db_table
    touchpoint = Touchpoint._meta.db_table
    postgres = connection.vendor == "postgresql"
    # The batch is copied into a temporary table (not written to the log, dropped at the
    # end) where it is resolved; each stored event is then written once, when marked.
    b = f"delivery_event_batch_{uuid.uuid4().hex[:12]}"
    id_params: list[Any]
    if postgres:
        chosen, id_params = "= ANY(%s)", [ids]
    else:
        chosen, id_params = f"IN ({', '.join(['%s'] * len(ids))})", list(ids)
    hard, opt_outs = Kind.HARD_BOUNCE.value, (Kind.COMPLAINED.value, Kind.UNSUBSCRIBED.value)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {b} AS SELECT e.id, e.kind, e.provider, e.reference, "
            "e.recipient, e.provider_message_id, e.ref_communication_id, e.ref_customer_id, "
            "e.ref_campaign_id, COALESCE(e.occurred_at, e.received_at) AS at, "
            "CAST(NULL AS bigint) AS notification_id, CAST(NULL AS bigint) AS customer_id, "
            "CAST(NULL AS bigint) AS communication_id "
            f"FROM {event} e WHERE e.id {chosen}",
            id_params,
        )
        if postgres:
            cursor.execute(f"ANALYZE {b}")
        steps: list[tuple[str, list[Any]]] = [
            # Whose message: by our reference first, else by the provider's id.
            (
                f"UPDATE {b} SET notification_id = n.id, customer_id = n.customer_id, "
                "communication_id = n.communication_id "
                f"FROM {notification} n WHERE {b}.ref_communication_id IS NOT NULL "
                f"AND n.communication_id = {b}.ref_communication_id "
                f"AND n.customer_id = {b}.ref_customer_id",
                [],
            ),
            (
                f"UPDATE {b} SET notification_id = n.id, customer_id = n.customer_id, "
                "communication_id = n.communication_id "
                f"FROM {notification} n WHERE {b}.notification_id IS NULL "
                f"AND {b}.ref_campaign_id IS NULL AND {b}.provider_message_id <> '' "
                # Spelled out so that the partial index on the provider id serves the join.
                f"AND n.provider_message_id <> '' "
                f"AND n.provider_message_id = {b}.provider_message_id",
                [],
            ),
            # A campaign's message: the person is known from the reference.
            (
                f"UPDATE {b} SET customer_id = c.id FROM {customer} c "
                f"WHERE {b}.ref_campaign_id IS NOT NULL AND c.id = {b}.ref_customer_id",
                [],
            ),
            # The furthest state of each message in the batch, if further than it was.
            (
                f"UPDATE {notification} AS n SET delivery_state = "
                f"{_state_for_rank_sql('r.rank')}, delivery_state_at = r.at FROM "
                f"(SELECT notification_id, MAX({_rank_sql('kind')}) AS rank, MAX(at) AS at "
                f"FROM {b} WHERE notification_id IS NOT NULL GROUP BY notification_id) r "
                f"WHERE n.id = r.notification_id AND r.rank > {_rank_sql('n.delivery_state')}",
                [],
            ),
            # A hard bounce: the letter queue, for this message ...
            (
                f"UPDATE {notification} SET status = %s, bounced_at = %s "
                f"WHERE status = %s AND id IN (SELECT notification_id FROM {b} WHERE kind = %s)",
                [Notification.Status.BOUNCED, now, Notification.Status.SENT, hard],
            ),
            # ... and for any breach message still waiting to go to the same address.
            (
                f"UPDATE {notification} AS n SET channel = 'letter', status = %s, "
                "last_error = 'the address hard-bounced' "
                f"WHERE n.status = %s AND n.channel = 'email' AND EXISTS (SELECT 1 FROM {b} "
                f"WHERE {b}.kind = %s AND {b}.customer_id = n.customer_id "
                f"AND LOWER({b}.recipient) = LOWER(n.email))",
                [Notification.Status.LETTER, Notification.Status.PENDING, hard],
            ),
            # The address that bounced is marked (a new address from an import starts afresh).
            (
                f"UPDATE {customer} AS c SET email_status = %s, updated_at = %s "
                f"WHERE c.email_status = %s AND EXISTS (SELECT 1 FROM {b} "
                f"WHERE {b}.kind = %s AND {b}.customer_id = c.id "
                f"AND ({b}.recipient = '' OR LOWER({b}.recipient) = c.email_normalized))",
                [Customer.EmailStatus.BOUNCED, now, Customer.EmailStatus.VALID, hard],
            ),
            (
                f"UPDATE {customer} AS c SET marketing_consent = %s, consent_updated_at = %s, "
                "consent_source = 'email provider: complaint or unsubscribe', updated_at = %s "
                f"WHERE c.marketing_consent <> %s AND EXISTS (SELECT 1 FROM {b} "
                f"WHERE {b}.kind IN (%s, %s) AND {b}.customer_id = c.id)",
                [
                    Customer.Consent.WITHDRAWN,
                    now,
                    now,
                    Customer.Consent.WITHDRAWN,
                    *opt_outs,
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
        cursor.execute(f"DROP TABLE {b}")
    _timeline_tell(heard)
    return len(ids)


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
