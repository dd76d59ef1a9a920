"""Every write to an incident and to what hangs on it goes through here."""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from config.events import event_kind
from config.services import Actor, acting_user
from incidents.models import Incident, TimelineEvent

GENESIS_HASH = "0" * 64


def timeline_canonical(
    *,
    incident_id: int,
    seq: int,
    occurred_at: datetime,
    actor_label: str,
    kind: str,
    payload: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over: sorted keys, no whitespace, UTF-8."""
    document = {
        "incident": incident_id,
        "seq": seq,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "actor": actor_label,
        "kind": kind,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    ).encode()


def timeline_key() -> bytes:
    """The secret the chain is keyed with: from settings, never stored in the database."""
    return str(settings.TIMELINE_HMAC_KEY).encode()


def timeline_digest(canonical: bytes, *, key: bytes | None = None) -> str:
    """An event's hash: HMAC-SHA256 of its canonical bytes under the timeline key.

    Keyed, so that whoever can write the table but does not hold the key (the database's
    own roles, a restored backup, an injected statement) cannot re-hash an edited chain
    into one that verifies.
    """
    return hmac.new(key or timeline_key(), canonical, hashlib.sha256).hexdigest()


def timeline_append(
    *,
    incident_id: int,
    kind: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append one event to the incident's chain, in the caller's transaction.

    Appends to one incident are serialised by locking the incident row, so two writers
    never read the same head and fork the chain. On SQLite the IMMEDIATE transaction
    mode already serialises every writer.
    """
    event_kind(kind)  # an undeclared kind never reaches the evidence
    # Round-trip the payload so what is hashed is exactly what the JSON column returns.
    clean_payload = json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder))
    with transaction.atomic():
        Incident.objects.select_for_update().only("pk").get(pk=incident_id)
        head = (
            TimelineEvent.objects.filter(incident_id=incident_id)
            .order_by("-seq")
            .values("seq", "hash", "occurred_at")
            .first()
        )
        seq = head["seq"] + 1 if head else 1
        prev_hash = head["hash"] if head else GENESIS_HASH
        user = acting_user(actor)
        actor_label = user.get_username() if user else "system"
        # Never earlier than the head: another machine's clock may lag this one's.
        occurred_at = max(timezone.now(), head["occurred_at"]) if head else timezone.now()
        digest = timeline_digest(
            timeline_canonical(
                incident_id=incident_id,
                seq=seq,
                occurred_at=occurred_at,
                actor_label=actor_label,
                kind=kind,
                payload=clean_payload,
                prev_hash=prev_hash,
            )
        )
        return TimelineEvent.objects.create(
            incident_id=incident_id,
            seq=seq,
            occurred_at=occurred_at,
            actor=user,
            actor_label=actor_label,
            kind=kind,
            payload=clean_payload,
            prev_hash=prev_hash,
            hash=digest,
        )


def timeline_append_many(
    *,
    incident_id: int,
    events: list[tuple[str, dict[str, Any]]],
    actor: Actor,
) -> list[TimelineEvent]:
    """Append several events (kind, payload), in order, to the incident's chain with one
    lock, one head lookup and one INSERT: what a set-based write (a hundred obligations
    at once) records, chained exactly as that many `timeline_append` calls would be."""
    if not events:
        return []
    for kind, _payload in events:
        event_kind(kind)  # an undeclared kind never reaches the evidence
    kinds = [kind for kind, _payload in events]
    payloads = [json.loads(json.dumps(p or {}, cls=DjangoJSONEncoder)) for _k, p in events]
    with transaction.atomic():
        Incident.objects.select_for_update().only("pk").get(pk=incident_id)
        head = (
            TimelineEvent.objects.filter(incident_id=incident_id)
            .order_by("-seq")
            .values("seq", "hash", "occurred_at")
            .first()
        )
        seq = head["seq"] if head else 0
        prev_hash = head["hash"] if head else GENESIS_HASH
        user = acting_user(actor)
        actor_label = user.get_username() if user else "system"
        occurred_at = max(timezone.now(), head["occurred_at"]) if head else timezone.now()
        rows: list[TimelineEvent] = []
        for kind, payload in zip(kinds, payloads, strict=True):
            seq += 1
            digest = timeline_digest(
                timeline_canonical(
                    incident_id=incident_id,
                    seq=seq,
                    occurred_at=occurred_at,
                    actor_label=actor_label,
                    kind=kind,
                    payload=payload,
                    prev_hash=prev_hash,
                )
            )
            rows.append(
                TimelineEvent(
                    incident_id=incident_id,
                    seq=seq,
                    occurred_at=occurred_at,
                    actor=user,
                    actor_label=actor_label,
                    kind=kind,
                    payload=payload,
                    prev_hash=prev_hash,
                    hash=digest,
                )
            )
            prev_hash = digest
        # One statement, rows in sequence order: the in-order trigger sees each earlier row.
        return TimelineEvent.objects.bulk_create(rows)
