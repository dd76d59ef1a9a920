"""The person's response after a breach, recorded as touchpoints: a code redeemed (by the
signed link in the message, or from the vendor's redemption file) and a password reset
done (from the identity system's file or its authenticated webhook, ids only).

Ids nobody knows are listed back and change nothing; a line that cannot be read refuses
the whole file, so nothing is half-written.
"""

import csv
import hashlib
import hmac
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from customers.models import Customer, SourceRecord, Touchpoint
from incidents.models import AffectedCustomer
from incidents.services import timeline_append

from .. import events
from ..models import Notification, RemediationCode
from ..services.common import Actor, acting_user

REDEEM_SALT = "notifications.recovery.redeem"


class RedemptionLinkError(Exception):
    """A redemption link that is forged, damaged or used already."""


@dataclass
class ResponsesOutcome:
    recorded: int = 0
    already: int = 0
    # (line, id as written) of every id that names nobody: nothing changed for them.
    unknown: list[tuple[int, str]] = field(default_factory=list)

    def summary(self, what: str) -> str:
        text = f"{self.recorded} {what} recorded, {self.already} already known"
        if self.unknown:
            listed = ", ".join(f"line {line}: {value!r}" for line, value in self.unknown[:20])
            more = f" and {len(self.unknown) - 20} more" if len(self.unknown) > 20 else ""
            text += f"; {len(self.unknown)} unknown, left alone ({listed}{more})"
        return text + "."


# --- The signed redemption link ----------------------------------------------------------


def redemption_token(*, code_id: int) -> str:
    return signing.dumps({"code": code_id}, salt=REDEEM_SALT, compress=True)


def redemption_url(*, code_id: int) -> str:
    path = reverse("recovery:redeem", args=[redemption_token(code_id=code_id)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def redemption_links(*, incident_id: int, notifications: Iterable[Notification]) -> dict[int, str]:
    """Notification id -> the redemption link of the code its person holds in the incident,
    for the `redemption_link` variable; no entry for a person without a code.

    A follow-up does not give codes of its own unless it prints one, so the person's code
    is usually the one the notice gave: the code on this very notification wins, else the
    one given last.
    """
    rows = {n.pk: n.customer_id for n in notifications}
    held: dict[int, int] = {}
    own: dict[int, int] = {}
    for code_id, notification_id, customer_id in (
        RemediationCode.objects.filter(
            incident_id=incident_id, notification__customer_id__in=set(rows.values())
        )
        # The same order on both databases: a code given without a date counts as oldest.
        .order_by(F("assigned_at").asc(nulls_first=True), "pk")
        .values_list("pk", "notification_id", "notification__customer_id")
    ):
        held[customer_id] = code_id
        if notification_id in rows:
            own[notification_id] = code_id
    return {
        pk: redemption_url(code_id=own.get(pk) or held[customer_id])
        for pk, customer_id in rows.items()
        if pk in own or customer_id in held
    }


def redemption_token_read(token: str) -> RemediationCode:
    try:
        code_id = int(signing.loads(token, salt=REDEEM_SALT)["code"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise RedemptionLinkError("This redemption link is not valid.") from error
    code = (
        RemediationCode.objects.select_related("notification")
        .filter(pk=code_id, notification__isnull=False)
        .first()
    )
    if code is None:
        raise RedemptionLinkError("This redemption link is not valid.")
    return code


@transaction.atomic
def code_redeem_by_link(*, token: str) -> RemediationCode:
    """Record the redemption the link stands for, once: a replayed link is refused."""
    code = redemption_token_read(token)
    now = timezone.now()
    if not RemediationCode.objects.filter(pk=code.pk, redeemed_at__isnull=True).update(
        redeemed_at=now
    ):
        raise RedemptionLinkError("This code was redeemed already.")
    assert code.notification is not None  # noqa: S101 (filtered above)
    Touchpoint.objects.create(
        customer_id=code.notification.customer_id,
        channel=Touchpoint.Channel.WEB,
        kind=Touchpoint.Kind.CODE_REDEEMED,
        occurred_at=now,
        reference=f"remediation code:{code.pk}",
    )
    code.redeemed_at = now
    return code


# --- Files and the webhook ---------------------------------------------------------------


def _rows(csv_text: str, wanted: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = [h.strip().lower().replace(" ", "_") for h in reader.fieldnames or []]
    reader.fieldnames = header
    if not any(column in header for column in wanted):
        raise ValidationError(f"The file has no {' or '.join(wanted)} column (line 1).")
    return header, list(reader)


def _when(raw: str, line: int, column: str, errors: list[str]) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return timezone.now()
    parsed = parse_datetime(raw) or (
        datetime.fromisoformat(raw) if len(raw) == 10 and raw[4] == "-" else None
    )
    if parsed is None:
        errors.append(f"line {line}: {column} {raw!r} is not a date and time (ISO 8601)")
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    if parsed > timezone.now():
        errors.append(f"line {line}: {column} {raw!r} is in the future")
        return None
    return parsed


def _touchpoints_add(
    responses: list[tuple[int, datetime]], *, channel: str, kind: str, reference: str, user: Any
) -> None:
    """(customer id, when) -> one touchpoint each, in batches of one INSERT."""
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                customer_id=customer_id,
                channel=channel,
                kind=kind,
                occurred_at=at,
                reference=reference[:255],
                created_by=user,
            )
            for customer_id, at in responses
        ],
        batch_size=2_000,
    )


def _tell(
    per_customer_at: dict[int, datetime], what: str, source: str, actor: Actor, **extra: int
) -> None:
    """One timeline event per incident whose affected people responded."""
    per_incident: dict[int, int] = defaultdict(int)
    for incident_id in AffectedCustomer.objects.filter(
        customer_id__in=list(per_customer_at)
    ).values_list("incident_id", flat=True):
        per_incident[incident_id] += 1
    for incident_id, people in sorted(per_incident.items()):
        timeline_append(
            incident_id=incident_id,
            kind=events.RECOVERY_RESPONSES_RECORDED,
            actor=acting_user(actor),
            payload={"what": what, "people": people, "source": source[:255], **extra},
        )


@transaction.atomic
def codes_redeemed_import(*, csv_text: str, source: str, actor: Actor) -> ResponsesOutcome:
    """The vendor's redemption file: columns code, and optionally vendor and redeemed_at."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.record_responses"):
        raise ValidationError(f"{actor} may not import redemption files.")
    _header, rows = _rows(csv_text, ["code"])
    errors: list[str] = []
    wanted: dict[str, tuple[int, str, datetime]] = {}
    for line, row in enumerate(rows, start=2):
        code = (row.get("code") or "").strip()
        if not code:
            errors.append(f"line {line}: code is empty")
            continue
        at = _when(row.get("redeemed_at") or "", line, "redeemed_at", errors)
        if at is not None:
            wanted.setdefault(code, (line, (row.get("vendor") or "").strip(), at))
    if errors:
        raise ValidationError(errors)
    found: dict[str, list[RemediationCode]] = defaultdict(list)
    for known in RemediationCode.objects.filter(
        code__in=list(wanted), notification__isnull=False
    ).select_related("notification"):
        found[known.code].append(known)
    outcome = ResponsesOutcome()
    redeemed: list[RemediationCode] = []
    for value, (line, vendor, at) in wanted.items():
        matches = [c for c in found.get(value, []) if not vendor or c.vendor == vendor]
        if len(matches) != 1:
            outcome.unknown.append((line, value))
        elif matches[0].redeemed_at is not None:
            outcome.already += 1
        else:
            matches[0].redeemed_at = at
            redeemed.append(matches[0])
    RemediationCode.objects.bulk_update(redeemed, ["redeemed_at"], batch_size=2_000)
    customers = {c.notification.customer_id: c.redeemed_at for c in redeemed if c.notification}
    _touchpoints_add(
        [(c, at) for c, at in customers.items() if at is not None],
        channel=Touchpoint.Channel.IMPORT,
        kind=Touchpoint.Kind.CODE_REDEEMED,
        reference=f"redemption file: {source}",
        user=user,
    )
    outcome.recorded = len(redeemed)
    _tell(
        {k: v for k, v in customers.items() if v},
        "codes redeemed",
        source,
        user,
        unknown=len(outcome.unknown),
    )
    outcome.unknown.sort()
    return outcome


def _resets_record(
    items: Iterable[tuple[int, str, datetime]], *, id_kind: str, source: str, actor: Actor
) -> ResponsesOutcome:
    """(line, id, reset at) -> touchpoints; an id is a customer id or, with id_kind
    'external', the identity system's id as a source record of `source`."""
    items = list(items)
    ids = {value for _line, value, _at in items}
    known: dict[str, int]
    if id_kind == "external":
        known = dict(
            SourceRecord.objects.filter(source=source, external_id__in=ids).values_list(
                "external_id", "customer_id"
            )
        )
    else:
        numeric = [int(v) for v in ids if v.isdigit()]
        known = {
            str(pk): pk
            for pk in Customer.objects.filter(pk__in=numeric).values_list("pk", flat=True)
        }
    outcome = ResponsesOutcome()
    wanted: dict[tuple[int, datetime], None] = {}
    for line, value, at in items:
        customer_id = known.get(value)
        if customer_id is None:
            outcome.unknown.append((line, value))
        else:
            wanted[(customer_id, at)] = None
    existing = set(
        Touchpoint.objects.filter(
            kind=Touchpoint.Kind.PASSWORD_RESET,
            customer_id__in={c for c, _at in wanted},
        ).values_list("customer_id", "occurred_at")
    )
    new = [(c, at) for c, at in wanted if (c, at) not in existing]
    outcome.already = len(wanted) - len(new)
    _touchpoints_add(
        new,
        channel=Touchpoint.Channel.IDENTITY,
        kind=Touchpoint.Kind.PASSWORD_RESET,
        reference=f"identity system: {source}",
        user=acting_user(actor),
    )
    outcome.recorded = len(new)
    _tell(dict(new), "passwords reset", source, actor, unknown=len(outcome.unknown))
    outcome.unknown.sort()
    return outcome


@transaction.atomic
def password_resets_import(*, csv_text: str, source: str, actor: Actor) -> ResponsesOutcome:
    """The identity system's file: customer_id or external_id (its own id, known to
    Breachdesk as a source record of `source`), and optionally reset_at."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.record_responses"):
        raise ValidationError(f"{actor} may not import password resets.")
    header, rows = _rows(csv_text, ["customer_id", "external_id"])
    column = "external_id" if "external_id" in header else "customer_id"
    errors: list[str] = []
    items: list[tuple[int, str, datetime]] = []
    for line, row in enumerate(rows, start=2):
        value = (row.get(column) or "").strip()
        if not value:
            errors.append(f"line {line}: {column} is empty")
            continue
        at = _when(row.get("reset_at") or "", line, "reset_at", errors)
        if at is not None:
            items.append((line, value, at))
    if errors:
        raise ValidationError(errors)
    return _resets_record(
        items,
        id_kind="external" if column == "external_id" else "customer",
        source=source,
        actor=user,
    )


class WebhookRefused(Exception):
    """An identity-system request that does not authenticate or does not parse."""


def identity_signature(*, timestamp: str, body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def identity_webhook_verify(*, timestamp: str, signature: str, body: bytes) -> None:
    secret = settings.RECOVERY_IDENTITY_WEBHOOK_SECRET
    if not secret:
        raise WebhookRefused("the identity webhook has no secret configured")
    try:
        sent_at = int(timestamp)
    except ValueError as error:
        raise WebhookRefused("the timestamp header is missing or not a number") from error
    # An old request, even correctly signed, is a replay.
    if abs(timezone.now().timestamp() - sent_at) > settings.RECOVERY_IDENTITY_WEBHOOK_MAX_AGE:
        raise WebhookRefused("the request is too old (or its clock is wrong)")
    expected = identity_signature(timestamp=timestamp, body=body, secret=secret)
    if not hmac.compare_digest(expected, signature):
        raise WebhookRefused("the signature does not match")


@transaction.atomic
def password_resets_from_webhook(*, resets: list[dict[str, str]]) -> ResponsesOutcome:
    """{"id": the identity system's id, "reset_at": ISO 8601} per reset, ids only."""
    errors: list[str] = []
    items: list[tuple[int, str, datetime]] = []
    for index, reset in enumerate(resets, start=1):
        if not isinstance(reset, dict) or not str(reset.get("id") or "").strip():
            errors.append(f"reset {index}: id is missing")
            continue
        at = _when(str(reset.get("reset_at") or ""), index, "reset_at", errors)
        if at is not None:
            items.append((index, str(reset["id"]).strip(), at))
    if errors:
        raise ValidationError([e.replace("line", "reset", 1) for e in errors])
    return _resets_record(
        items, id_kind="external", source=settings.RECOVERY_IDENTITY_SOURCE, actor=None
    )
