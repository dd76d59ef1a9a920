"""Bounces: from the mail provider's CSV export or from delivery status notifications
(RFC 3464) in an mbox, .eml files or a directory. A hard bounce marks the notification
bounced and the customer's email bounced; the person then gets a letter."""

import csv
import io
import mailbox
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from itertools import islice
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from customers.models import Customer
from customers.services.contact_quality import customers_mark_email_status
from incidents.services import timeline_append

from ..models import Delivery, Notification
from .common import Actor, acting_user
from .delivery import delivery_breaker_check

HARD = {"hard", "permanent", "bounce", "hardbounce", "hard_bounce", ""}


@dataclass(frozen=True)
class Bounce:
    email: str
    message_id: str = ""
    reason: str = ""


def bounces_from_csv(*, csv_text: str) -> list[Bounce]:
    """Hard bounces of a provider export: a column email (or recipient), optional
    message_id, type (hard/soft) and reason. Soft bounces are left to the retries."""
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = [
        h.strip().lower().replace(" ", "_").replace("-", "_") for h in reader.fieldnames or []
    ]
    reader.fieldnames = header
    address_column = next((c for c in ("email", "recipient", "address") if c in header), None)
    if address_column is None:
        raise ValidationError("The bounce file has no email (or recipient) column (line 1).")
    type_column = next((c for c in ("type", "bounce_type", "bouncetype") if c in header), None)
    bounces = []
    errors = []
    for line, row in enumerate(reader, start=2):
        email = (row.get(address_column) or "").strip()
        if not email or "@" not in email:
            errors.append(f"line {line}: {email!r} is not an email address")
            continue
        kind = (row.get(type_column) or "").strip().lower() if type_column else ""
        if kind not in HARD:
            continue
        bounces.append(
            Bounce(
                email=email,
                message_id=(row.get("message_id") or "").strip(),
                reason=(row.get("reason") or row.get("diagnostic") or "").strip(),
            )
        )
    if errors:
        raise ValidationError(errors)
    return bounces


def _addr(field: str | None) -> str:
    # "rfc822; someone@example.com" -> someone@example.com
    value = (field or "").strip()
    return value.split(";", 1)[1].strip().strip("<>") if ";" in value else value.strip("<>")


def bounces_from_dsn(message: Message) -> list[Bounce]:
    """The failed recipients of one RFC 3464 delivery status notification (none when the
    message is not one, or reports only delays)."""
    if message.get_content_type() != "multipart/report":
        return []
    status_part = None
    original_id = ""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            status_part = part
        elif content_type in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original_id = str(payload[0].get("Message-ID", "")).strip()
            elif isinstance(payload, str):
                original_id = str(message_from_bytes(payload.encode()).get("Message-ID", ""))
    if status_part is None:
        return []
    blocks = status_part.get_payload()
    if not isinstance(blocks, list):
        return []
    bounces = []
    # The first block describes the message; each further one a recipient.
    for block in blocks[1:]:
        if not isinstance(block, Message):
            continue
        action = str(block.get("Action", "")).strip().lower()
        status = str(block.get("Status", "")).strip()
        if action != "failed" or not status.startswith("5"):
            continue
        email = _addr(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if email:
            bounces.append(
                Bounce(
                    email=email,
                    message_id=original_id,
                    reason=f"{status} {block.get('Diagnostic-Code', '')}".strip(),
                )
            )
    return bounces


def dsn_messages(*, path: Path | None = None, data: bytes | None = None) -> Iterator[Message]:
    """Messages of an mbox file, one .eml, or a directory of .eml files (or raw bytes of
    either kind, as uploaded)."""
    if data is not None:
        if data.startswith(b"From "):
            with tempfile.NamedTemporaryFile(suffix=".mbox") as handle:
                handle.write(data)
                handle.flush()
                yield from dsn_messages(path=Path(handle.name))
            return
        yield message_from_bytes(data, policy=policy.compat32)
        return
    if path is None:
        return
    if path.is_dir():
        for file in sorted(path.iterdir()):
            if file.is_file():
                yield message_from_bytes(file.read_bytes(), policy=policy.compat32)
        return
    raw = path.read_bytes()
    if raw.startswith(b"From "):
        box = mailbox.mbox(str(path), create=False)
        try:
            for item in box:
                yield message_from_bytes(item.as_bytes(), policy=policy.compat32)
        finally:
            box.close()
        return
    yield message_from_bytes(raw, policy=policy.compat32)


BOUNCES_PER_QUERY = 500


def _bounced_rows(bounces: list[Bounce]) -> list[tuple[int, int, int]]:
    """(notification, customer, communication) of the sent messages these bounces name. A
    bounce with our Message-ID matches that message only; without one, every sent message
    to the address."""
    pairs: set[tuple[int, int]] = set()
    emails: set[str] = set()
    for bounce in bounces:
        if bounce.message_id:
            # <breach-COMMUNICATION.CUSTOMER@...>
            local = bounce.message_id.strip("<>").split("@")[0]
            parts = local.removeprefix("breach-").split(".")
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                pairs.add((int(parts[0]), int(parts[1])))
                continue
        emails.add(bounce.email.lower())
    match = Q(pk__in=[])
    for communication_id in {c for c, _customer in pairs}:
        customers = sorted(customer for c, customer in pairs if c == communication_id)
        match |= Q(communication_id=communication_id, customer_id__in=customers)
    if emails:
        match |= Q(email_lower__in=sorted(emails))
    rows = Notification.objects.annotate(email_lower=Lower("email")).filter(
        match, status=Notification.Status.SENT
    )
    return list(rows.values_list("pk", "customer_id", "communication_id"))


@transaction.atomic
def bounces_record(*, bounces: Iterable[Bounce], source: str, actor: Actor) -> int:
    """Mark the sent breach messages these bounces are about bounced, and their customers'
    email bounced. A bounce with a Message-ID matches that message only; without one, every
    sent message to the address. Returns how many notifications were marked."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.change_notification"):
        raise ValidationError(f"{actor} may not record bounces.")
    now = timezone.now()
    affected: list[tuple[int, int, int]] = []
    marked = 0
    # A report may name a hundred thousand messages: matched a few thousand at a time, so
    # no single statement grows with the report (SQLite refuses an expression that deep).
    iterator = iter(bounces)
    while chunk := list(islice(iterator, BOUNCES_PER_QUERY)):
        found = _bounced_rows(chunk)
        marked += Notification.objects.filter(
            pk__in=[pk for pk, _c, _m in found], status=Notification.Status.SENT
        ).update(status=Notification.Status.BOUNCED, bounced_at=now)
        affected += found
    if not affected:
        return 0
    customers_mark_email_status(
        customer_ids=[c for _pk, c, _m in affected], status=Customer.EmailStatus.BOUNCED
    )
    by_communication: dict[int, int] = {}
    for _pk, _customer, communication_id in affected:
        by_communication[communication_id] = by_communication.get(communication_id, 0) + 1
    for delivery in Delivery.objects.filter(
        communication_id__in=list(by_communication)
    ).select_related("communication"):
        timeline_append(
            incident_id=delivery.communication.incident_id,
            kind="delivery.bounces_recorded",
            actor=user,
            payload={
                "communication": delivery.communication_id,
                "bounced": by_communication[delivery.communication_id],
                "source": source,
            },
        )
        delivery_breaker_check(delivery=delivery)
    return marked
