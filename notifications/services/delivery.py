"""Sending a signed-off communication: fan-out, batch claims, SMTP, retries, the shared
rate limit, the circuit breaker and completion. Every person is told once; a message that
may have gone out twice (a worker killed between the SMTP reply and the commit) carries
the same Message-ID both times."""

import binascii
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from config.db import on_lost_connection_retry
from config.drills import DrillWithoutRecipientsError, drill_message_redirect, drill_recipients
from config.mail import messages_send, provider_message_id
from config.models import company_profile
from config.services import ServiceError, enqueue_on_commit
from customers.models import Customer, Touchpoint
from customers.services.contact_quality import customers_mark_email_status
from incidents.models import AffectedCustomer
from incidents.services import (
    incident_record_people_notified,
    obligations_meet_by_notices,
    timeline_append,
)

from ..events import DELIVERY_STALL_RESUMED
from ..models import (
    Channel,
    Communication,
    Delivery,
    Notification,
    RemediationCode,
    SendRateWindow,
    notification_message_id,
)
from ..rendering import (
    CodeInfo,
    RenderError,
    breach_email_compose,
    message_render,
    template_source_problems,
)
from ..selectors import (
    communication_content_hash,
    communication_sign_offs_match,
    complaint_authorities,
    message_context,
    version_choose,
)
from .codes import codes_assign, codes_shortfall
from .common import Actor, acting_user, holds_role

logger = logging.getLogger(__name__)

OPEN_STATUSES = (Notification.Status.PENDING, Notification.Status.CLAIMED)


class DeliveryError(ServiceError):
    """A send, pause or resume was refused; the message says which communication and why."""


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    letters: int = 0
    # Rows remain that this chain (or a later one) should go on with.
    more: bool = False
    # Seconds to wait before the next claim: the rate limit, a live lease or a backoff.
    wait: float = 0.0


# --- Starting the wave ---------------------------------------------------------------------


def communication_needs_codes(*, communication: Communication) -> bool:
    """True when any chosen version prints a remediation code: then everyone gets one."""
    for version in communication.versions.all():
        for source in (version.subject, version.text_body, version.html_body):
            _problems, used = template_source_problems(part="", source=source)
            if "remediation_code" in used:
                return True
    return False


def _audience_sql(communication: Communication) -> tuple[str, list[Any]]:
    """SELECT of (customer id, email, email_status) for everyone the communication is for.

    The same filters as the who-gets-what matrix, in SQL over the whole set.
    """
    affected = AffectedCustomer._meta.db_table
    customer = Customer._meta.db_table
    where = ["a.incident_id = %s"]
    params: list[Any] = [communication.incident_id]
    if communication.audience_countries:
        where.append(f"c.country IN ({', '.join(['%s'] * len(communication.audience_countries))})")
        params += list(communication.audience_countries)
    categories = list(communication.audience_data_categories)
    if categories:
        if connection.vendor == "postgresql":
            where.append("a.data_categories ?| %s")
            params.append(categories)
        else:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(a.data_categories) j "  # noqa: S608
                f"WHERE j.value IN ({', '.join(['%s'] * len(categories))}))"
            )
            params += categories
    sql = (
        f"SELECT c.id AS customer_id, c.email AS email, c.email_status AS email_status "  # noqa: S608
        f"FROM {affected} a JOIN {customer} c ON c.id = a.customer_id "
        f"WHERE {' AND '.join(where)}"
    )
    return sql, params


def communication_audience_size(*, communication: Communication) -> int:
    sql, params = _audience_sql(communication)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) audience", params)  # noqa: S608
        return int(cursor.fetchone()[0])


def notifications_fan_out(*, communication: Communication) -> int:
    """One notification per person, in one INSERT ... SELECT; a second run adds nothing.

    Email goes to people whose address is known good; everyone else is down for a letter.
    """
    sql, params = _audience_sql(communication)
    email_ok = "email" in communication.channels
    table = Notification._meta.db_table
    usable = "audience.email_status = 'valid' AND audience.email <> ''" if email_ok else "1 = 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (communication_id, customer_id, channel, status, skip_reason, "  # noqa: S608
            "email, attempts, last_error) "
            f"SELECT %s, audience.customer_id, "
            f"CASE WHEN {usable} THEN 'email' ELSE 'letter' END, "
            f"CASE WHEN {usable} THEN 'pending' ELSE 'letter' END, "
            f"'', CASE WHEN {usable} THEN audience.email ELSE '' END, 0, '' "
            f"FROM ({sql}) audience "
            # WHERE 1=1 keeps SQLite from reading ON CONFLICT as a join condition.
            "WHERE 1=1 ON CONFLICT (communication_id, customer_id) DO NOTHING",
            [communication.pk, *params],
        )
        return cursor.rowcount


def _follow_ups_skip(communication: Communication) -> int:
    """Follow-ups respect marketing opt-outs and the frequency cap; breach notices do not."""
    open_rows = Notification.objects.filter(
        communication_id=communication.pk, status=Notification.Status.PENDING
    )
    opted_out = open_rows.filter(customer__marketing_consent=Customer.Consent.WITHDRAWN).update(
        status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.OPTED_OUT
    )
    since = timezone.now() - timedelta(days=settings.DELIVERY_FOLLOW_UP_CAP_DAYS)
    busy = (
        Touchpoint.objects.filter(
            occurred_at__gte=since,
            kind__in=[Touchpoint.Kind.PROMOTIONAL, Touchpoint.Kind.FOLLOW_UP],
        )
        .values("customer_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=settings.DELIVERY_FOLLOW_UP_CAP_MESSAGES)
        .values("customer_id")
    )
    capped = open_rows.filter(customer_id__in=busy).update(
        status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.FREQUENCY_CAP
    )
    return opted_out + capped


@transaction.atomic
def deliveries_resume_stalled(*, quiet_since: datetime) -> list[int]:
    """Hand the batches of every wave that is sending, has notices due, holds no live
    claim and has sent nothing since `quiet_since` to the task cluster again; each on its
    incident's timeline. Return the waves resumed.

    Its chains died (every attempt failed, a cluster was lost): nothing else would send
    the rest. Batches claim with leases and each message is sent once, so a chain too many
    finds nothing to do and stops.
    """
    now = timezone.now()
    due = Q(status=Notification.Status.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ) | Q(status=Notification.Status.CLAIMED, lease_expires_at__lte=now)
    live = Q(status=Notification.Status.CLAIMED, lease_expires_at__gt=now)
    recent = Q(sent_at__gte=quiet_since) | Q(failed_at__gte=quiet_since)
    resumed = []
    waves = Delivery.objects.select_for_update(skip_locked=True).filter(
        status=Delivery.Status.SENDING, started_at__lt=quiet_since
    )
    for delivery in waves.select_related("communication"):
        rows = Notification.objects.filter(communication_id=delivery.communication_id)
        if not rows.filter(due).exists() or rows.filter(live | recent).exists():
            continue
        timeline_append(
            incident_id=delivery.communication.incident_id,
            kind=DELIVERY_STALL_RESUMED,
            actor=None,
            payload={"delivery": delivery.pk, "quiet_since": quiet_since},
        )
        _chains_enqueue(delivery.pk)
        resumed.append(delivery.pk)
    return resumed


def _chains_enqueue(delivery_id: int) -> None:
    enqueue_on_commit(
        "notifications.tasks.delivery_send_batch_task",
        delivery_id,
        times=settings.DELIVERY_PARALLEL_BATCHES,
    )


@dataclass(frozen=True)
class SendBlocker:
    """Why a communication cannot be sent now, and what is missing (a key for the page to
    link to where it is made: "art34", "codes", "sign_off", "drill_recipients")."""

    reason: str
    missing: str = ""


def communication_send_blockers(*, communication: Communication) -> list[SendBlocker]:
    """Every reason the send would be refused, known before anyone presses Send.

    The send page lists them and shows no Send button; `communication_send` raises the
    first, so the page and the service cannot disagree.
    """
    blockers: list[SendBlocker] = []
    refusal = company_profile().send_refusal()
    if refusal:
        blockers.append(SendBlocker(f"Nothing is sent: {refusal}", "company"))
    incident = communication.incident
    if incident.art34_decision == incident.Art34Decision.UNDECIDED:
        blockers.append(
            SendBlocker(
                f"'{communication}' is not sent: the Art. 34 decision of incident "
                f"'{incident}' (are the people at high risk, must they be told?) is not "
                "decided yet. The DPO or the CISO records it first.",
                "art34",
            )
        )
    if communication.status != Communication.Status.SIGNED_OFF or not (
        communication_sign_offs_match(communication_id=communication.pk)
    ):
        blockers.append(
            SendBlocker(
                f"'{communication}' is not sent: its content is not what the CMO and the CISO "
                "signed off (or it is not signed off by both). Review and sign it again.",
                "sign_off",
            )
        )
    if incident.is_drill:
        try:
            drill_recipients()
        except DrillWithoutRecipientsError as error:
            blockers.append(
                SendBlocker(f"'{communication}' is not sent: {error}", "drill_recipients")
            )
    if communication_needs_codes(communication=communication):
        shortfall = codes_shortfall(
            communication=communication,
            audience_size=communication_audience_size(communication=communication),
        )
        if shortfall:
            blockers.append(
                SendBlocker(
                    f"'{communication}' is not sent: the remediation code pool of incident "
                    f"'{incident}' is short by {shortfall} "
                    f"code{'s' if shortfall != 1 else ''}. Import more codes first.",
                    "codes",
                )
            )
    return blockers


def _audience_skip(communication: Communication, skips: Mapping[str, QuerySet[Any]]) -> int:
    """Skip, for a caller's reason, the open rows of the people its queryset of customer ids
    names (a recovery step's condition); one UPDATE per reason, whatever the audience."""
    skipped = 0
    for reason, customer_ids in skips.items():
        skipped += Notification.objects.filter(
            communication_id=communication.pk,
            status__in=[Notification.Status.PENDING, Notification.Status.LETTER],
            customer_id__in=customer_ids,
        ).update(status=Notification.Status.SKIPPED, skip_reason=reason)
    return skipped


@transaction.atomic
def communication_send(
    *,
    communication_id: int,
    actor: Actor,
    kind: str = Delivery.Kind.BREACH_NOTICE,
    skips: Mapping[str, QuerySet[Any]] | None = None,
) -> Delivery:
    """Send a signed-off communication to everyone in its audience.

    Refused for any of `communication_send_blockers`: unless the Art. 34 decision is
    recorded, the CMO and the CISO signed exactly the current content (the hash is
    recomputed here), a drill has its recipients, and the code pool covers everyone when
    the message prints a code. Clicking again adds nobody: the fan-out is idempotent.
    """
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.send_communication"):
        raise DeliveryError(f"{actor} may not send communications.")
    if kind not in Delivery.Kind.values:
        raise DeliveryError(f"{kind!r} is not a kind of delivery")
    communication = (
        Communication.objects.select_for_update()
        .select_related("incident")
        .get(pk=communication_id)
    )
    blockers = communication_send_blockers(communication=communication)
    if blockers:
        raise DeliveryError(blockers[0].reason)
    content_hash = communication_content_hash(communication=communication)
    now = timezone.now()
    delivery, created = Delivery.objects.get_or_create(
        communication=communication,
        defaults={
            "kind": kind,
            "content_hash": content_hash,
            "started_by": user,
            "started_at": now,
        },
    )
    if delivery.status == Delivery.Status.COMPLETED:
        raise DeliveryError(f"'{communication}' was sent already ({delivery.completed_at}).")
    added = notifications_fan_out(communication=communication)
    if communication_needs_codes(communication=communication):
        codes_assign(communication=communication)
    skipped = _follow_ups_skip(communication) if delivery.kind == Delivery.Kind.FOLLOW_UP else 0
    if skips and created:
        # Before commit, so no batch claims a row the caller's condition rules out.
        skipped += _audience_skip(communication, skips)
    if created:
        counts = dict(
            Notification.objects.filter(communication=communication)
            .exclude(status=Notification.Status.SKIPPED)
            .values_list("channel")
            .annotate(n=Count("pk"))
            .order_by()
        )
        timeline_append(
            incident_id=communication.incident_id,
            kind="delivery.started",
            actor=user,
            payload={
                "communication": communication.pk,
                "kind": delivery.kind,
                "content_hash": content_hash,
                "people": added,
                "by_email": counts.get(Channel.EMAIL, 0),
                "by_letter": counts.get(Channel.LETTER, 0),
                "skipped": skipped,
            },
        )
    if delivery.status == Delivery.Status.SENDING:
        _chains_enqueue(delivery.pk)
    return delivery


# --- Pause and resume ----------------------------------------------------------------------


def _pause(delivery: Delivery, *, reason: str, actor: Actor) -> bool:
    now = timezone.now()
    paused = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.PAUSED, paused_at=now, pause_reason=reason
    )
    if paused:
        timeline_append(
            incident_id=delivery.communication.incident_id,
            kind="delivery.paused",
            actor=acting_user(actor),
            payload={"communication": delivery.communication_id, "reason": reason},
        )
    return bool(paused)


@transaction.atomic
def delivery_pause(*, delivery_id: int, actor: Actor, reason: str) -> None:
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.resume_delivery"):
        raise DeliveryError(f"{actor} may not pause deliveries.")
    delivery = Delivery.objects.select_related("communication").get(pk=delivery_id)
    if not _pause(delivery, reason=reason or f"Paused by {user}.", actor=user):
        raise DeliveryError(f"{delivery} is {delivery.status}, not sending.")


@transaction.atomic
def delivery_resume(*, delivery_id: int, actor: Actor) -> None:
    """A CISO or a CMO sends on after a pause (the circuit breaker's or a person's)."""
    user = acting_user(actor)
    if (
        user is None
        or not user.has_perm("notifications.resume_delivery")
        or not (holds_role(user, "CMO") or holds_role(user, "CISO"))
    ):
        raise DeliveryError(f"Only the CISO or the CMO may resume a delivery; {actor} may not.")
    delivery = Delivery.objects.select_related("communication").get(pk=delivery_id)
    if not communication_sign_offs_match(communication_id=delivery.communication_id):
        raise DeliveryError(
            f"'{delivery.communication}' changed since its sign-off; it cannot be resumed."
        )
    resumed = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PAUSED).update(
        status=Delivery.Status.SENDING, resumed_by=user, paused_at=None
    )
    if not resumed:
        raise DeliveryError(f"{delivery} is {delivery.status}, not paused.")
    timeline_append(
        incident_id=delivery.communication.incident_id,
        kind="delivery.resumed",
        actor=user,
        payload={"communication": delivery.communication_id, "after": delivery.pause_reason},
    )
    _chains_enqueue(delivery_id)


def delivery_breaker_check(*, delivery: Delivery) -> bool:
    """Pause the wave when failures and bounces over the rolling window pass the threshold."""
    since = timezone.now() - timedelta(minutes=settings.DELIVERY_BREAKER_WINDOW_MINUTES)
    counts = Notification.objects.filter(communication_id=delivery.communication_id).aggregate(
        sent=Count("pk", filter=Q(sent_at__gte=since)),
        failed=Count("pk", filter=Q(failed_at__gte=since)),
        bounced=Count("pk", filter=Q(bounced_at__gte=since)),
    )
    attempted = counts["sent"] + counts["failed"]
    bad = counts["failed"] + counts["bounced"]
    if attempted < settings.DELIVERY_BREAKER_MIN_SAMPLE:
        return False
    rate = bad / attempted
    if rate <= settings.DELIVERY_BREAKER_RATE:
        return False
    return _pause(
        delivery,
        reason=(
            f"Circuit breaker: {bad} of {attempted} messages failed or bounced in the last "
            f"{settings.DELIVERY_BREAKER_WINDOW_MINUTES} minutes ({rate:.0%}, limit "
            f"{settings.DELIVERY_BREAKER_RATE:.0%}). A CISO or the CMO resumes it."
        ),
        actor=None,
    )


# --- Sending one batch ---------------------------------------------------------------------


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


def reset_link(customer_id: int) -> str:
    token = signing.dumps({"customer": customer_id}, salt="breachdesk.reset")
    return f"{settings.DELIVERY_RESET_URL}?token={token}"


def _messages_build(
    communication: Communication, rows: list[Notification]
) -> tuple[list[tuple[int, EmailMultiAlternatives]], dict[int, str], dict[int, str]]:
    """(notification id, message) for each valid address, the malformed ones, render errors."""
    customer_ids = [r.customer_id for r in rows]
    customers = Customer.objects.in_bulk(customer_ids)
    categories = dict(
        AffectedCustomer.objects.filter(
            incident_id=communication.incident_id, customer_id__in=customer_ids
        ).values_list("customer_id", "data_categories")
    )
    codes = {
        c.notification_id: CodeInfo(
            code=c.code, vendor=c.vendor, expires_on=c.expires_on, redeem_url=c.redeem_url
        )
        for c in RemediationCode.objects.filter(notification_id__in=[r.pk for r in rows])
    }
    versions = list(communication.versions.all())
    profile = company_profile()
    authorities = complaint_authorities(incident_id=communication.incident_id)
    # The one place the reference a person quotes comes from (per notification later).
    reference = communication.incident.reference
    today = timezone.localdate()
    malformed: dict[int, str] = {}
    broken: dict[int, str] = {}
    messages = []
    for row in rows:
        try:
            # Django's send_messages gives up the rest of a batch at the first bad address.
            validate_email(row.email)
        except ValidationError:
            malformed[row.pk] = f"malformed address {row.email!r}"
            continue
        customer = customers[row.customer_id]
        person_categories = categories.get(row.customer_id, [])
        version, _fallback = version_choose(
            versions,
            channel=Channel.EMAIL,
            language=profile.language_for(language=customer.language, country=customer.country),
            data_categories=person_categories,
            fallback_language=communication.fallback_language,
        )
        if version is None:
            broken[row.pk] = "no approved email version fits this person"
            continue
        code = codes.get(row.pk)
        try:
            context = message_context(
                incident=communication.incident,
                customer=customer,
                data_categories=person_categories,
                reset_link=reset_link(row.customer_id),
                remediation_code=code.code if code else "",
                language=version.language,
            )
            rendered = breach_email_compose(
                rendered=message_render(
                    subject=version.subject,
                    text_body=version.text_body,
                    html_body=version.html_body,
                    context=context,
                ),
                language=version.language,
                reference=reference,
                sent_on=today,
                data_categories=person_categories,
                code=code,
                authority=authorities.get(customer.country.upper(), ""),
                profile=profile,
            )
        except RenderError as error:
            broken[row.pk] = str(error)
            continue
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=profile.sender,
            to=[row.email],
            reply_to=[profile.reply_to] if profile.reply_to else None,
            headers={"Message-ID": row.message_id, "Content-Language": version.language},
        )
        message.attach_alternative(rendered.html, "text/html")
        # Through an email provider (anymail), our Message-ID comes back with every tracking
        # event in the metadata, even for a message whose provider id was never recorded.
        message.metadata = {"breachdesk": row.message_id}  # type: ignore[attr-defined]
        if communication.incident.is_drill:
            # A drill's message never reaches the person: only the drill addresses.
            drill_message_redirect(message)
        messages.append((row.pk, message))
    return messages, malformed, broken


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").encode()
    return binascii.b2a_qp(body, istext=True).replace(b"\n", b"\r\n")


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def message_bytes(message: EmailMultiAlternatives) -> bytes:
    """The message as sent: multipart/alternative, text and HTML in quoted-printable UTF-8.

    Python's email generator costs more per message than the SMTP exchange itself; a
    breach message has a fixed, simple shape, so it is assembled directly.
    """
    html = next(
        (content for content, mimetype in message.alternatives if mimetype == "text/html"), ""
    )
    boundary = f"=_breachdesk_{uuid.uuid4().hex}"
    name, address = parseaddr(message.from_email)
    headers = [
        f"From: {formataddr((_header(name), address)) if name else address}",
        f"To: {', '.join(message.to)}",
        *([f"Reply-To: {', '.join(message.reply_to)}"] if message.reply_to else []),
        f"Subject: {_header(str(message.subject))}",
        f"Date: {formatdate()}",
        f"Message-ID: {message.extra_headers['Message-ID']}",
        *(f"{k}: {_header(str(v))}" for k, v in message.extra_headers.items() if k != "Message-ID"),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    return b"".join(
        [
            "\r\n".join(headers).encode(),
            f"\r\n\r\n--{boundary}\r\n{part.format('plain')}\r\n\r\n".encode(),
            _qp(str(message.body)),
            f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n".encode(),
            _qp(str(html)),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


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


def delivery_progress_counts(*, communication_id: int) -> dict[str, int]:
    counts = dict(
        Notification.objects.filter(communication_id=communication_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {status: counts.get(status, 0) for status in Notification.Status.values}


@transaction.atomic
def delivery_complete(*, delivery_id: int) -> bool:
    """Sending -> completed once no row is open; the incident learns its people were told."""
    delivery = Delivery.objects.select_related("communication").get(pk=delivery_id)
    if Notification.objects.filter(
        communication_id=delivery.communication_id, status__in=OPEN_STATUSES
    ).exists():
        return False
    now = timezone.now()
    done = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.COMPLETED, completed_at=now
    )
    if not done:
        return False
    counts = delivery_progress_counts(communication_id=delivery.communication_id)
    incident_id = delivery.communication.incident_id
    timeline_append(
        incident_id=incident_id,
        kind="delivery.completed",
        actor=None,
        payload={"communication": delivery.communication_id, **counts},
    )
    if delivery.kind == Delivery.Kind.BREACH_NOTICE:
        first: datetime | None = Notification.objects.filter(
            communication_id=delivery.communication_id
        ).aggregate(first=Min("sent_at"))["first"]
        incident_record_people_notified(
            incident_id=incident_id, actor=None, notified_at=first or now
        )
        obligations_meet_by_notices(
            incident_id=incident_id,
            sent=Notification.objects.filter(
                communication_id=delivery.communication_id, status=Notification.Status.SENT
            ),
        )
    return True


__all__ = [
    "BatchResult",
    "DeliveryError",
    "communication_audience_size",
    "communication_needs_codes",
    "communication_send",
    "delivery_breaker_check",
    "delivery_complete",
    "delivery_pause",
    "delivery_progress_counts",
    "delivery_resume",
    "delivery_send_batch",
    "notification_message_id",
    "notifications_fan_out",
    "provider_message_id",
]
