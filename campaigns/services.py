"""Every write to campaigns, sends and holds: named transitions, each in one transaction.

Consent: only customers whose `marketing_consent` is "granted" are mailed. "unknown" is
treated like "withdrawn": GDPR and the ePrivacy rules require opt-in for promotional
email, and an unknown state is no evidence of an opt-in.
"""

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import CharField, Count, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.template import Context, TemplateSyntaxError
from django.template.base import VariableNode
from django.utils import timezone

from config.db import on_lost_connection_retry
from config.mail import SendOutcome, messages_send
from config.models import company_profile
from config.roles import CMO
from config.services import Actor, ServiceError, acting_user, enqueue_on_commit, holds_role
from config.template_sandbox import TemplateLimitError, sandbox_engine, sandbox_render
from customers.models import Customer, Touchpoint
from incidents.models import AffectedCustomer, Incident
from incidents.services import timeline_append

from .messages import campaign_message_build
from .models import Campaign, CampaignExclusion, CampaignHold, CampaignSend, Withholding
from .selectors import (
    RUNNING_STATUSES,
    campaign_audience,
    campaign_overlap_counts,
    held_customer_incidents,
    quiet_period_end,
)

logger = logging.getLogger(__name__)
# Advisory lock namespace ("FREQ") of the frequency cap: one lock per person, with two
# int keys, a key space apart from the single-key lock of customer imports.
FREQUENCY_LOCK = 0x46524551


# The kernel's sandbox, as breach messages use it: no loaders, no {% include %}, {% url %}
# or {% debug %}, render limits; no autoescape (the body is plain text).
MESSAGE_ENGINE = sandbox_engine(autoescape=False)
# The only names a campaign's subject and body can use.
MESSAGE_CONTEXT_NAMES = ("first_name", "last_name", "country", "language", "campaign_name")
EXEMPT_FROM_NOTICE = (
    Incident.Art34Decision.EXEMPT_A,
    Incident.Art34Decision.EXEMPT_B,
    Incident.Art34Decision.EXEMPT_C,
)


class CampaignError(ServiceError):
    """A campaign action was refused; the message says which campaign and why."""


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    withheld: int = 0
    skipped: int = 0
    # True when open rows remain that this chain should go on with.
    more: bool = False


def _require_perm(actor: Actor, perm: str, what: str) -> None:
    user = acting_user(actor)
    if actor is not None and not (user and user.has_perm(perm)):
        raise CampaignError(f"{actor} may not {what}.")


def _is_cmo(actor: Actor) -> bool:
    return holds_role(actor, CMO)


def _transition(campaign_id: int, *, from_: Iterable[str], to: str, **fields: object) -> None:
    """Move the campaign only if it is still in one of `from_`; refuse otherwise."""
    allowed = list(from_)
    updated = Campaign.objects.filter(pk=campaign_id, status__in=allowed).update(
        status=to, updated_at=timezone.now(), **fields
    )
    if updated != 1:
        current = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
        raise CampaignError(
            f"Campaign {campaign_id} is {current or 'missing'}; it must be {' or '.join(allowed)}."
        )


def campaign_template_check(*, subject: str, body: str) -> None:
    """Refuse a subject or body that does not compile or uses names outside the context."""
    errors = {}
    for field, source in (("subject", subject), ("body", body)):
        try:
            template = MESSAGE_ENGINE.from_string(source)
        except TemplateSyntaxError as exc:
            errors[field] = f"Template error: {exc}"
            continue
        nodes: list[Any] = template.nodelist.get_nodes_by_type(VariableNode)
        used = {
            node.filter_expression.var.lookups[0]
            for node in nodes
            if getattr(node.filter_expression.var, "lookups", None)
        }
        unknown = sorted(used - set(MESSAGE_CONTEXT_NAMES))
        if unknown:
            errors[field] = (
                f"Unknown name(s) {', '.join(unknown)}; use {', '.join(MESSAGE_CONTEXT_NAMES)}."
            )
    if errors:
        raise ValidationError(errors)


def campaign_render(*, campaign: Campaign, customer: dict[str, object]) -> tuple[str, str]:
    """Subject and body for one customer, from the explicit context only."""
    context = Context(
        {
            "first_name": customer.get("first_name", ""),
            "last_name": customer.get("last_name", ""),
            "country": customer.get("country", ""),
            "language": customer.get("language", ""),
            "campaign_name": campaign.name,
        }
    )
    try:
        subject = sandbox_render(MESSAGE_ENGINE.from_string(campaign.subject), context)
        body = sandbox_render(MESSAGE_ENGINE.from_string(campaign.body), context)
    except TemplateLimitError as error:
        raise CampaignError(f"Campaign '{campaign}' cannot be rendered: {error}") from error
    # A newline in a subject would be a header injection; Django refuses it anyway.
    return " ".join(subject.split()), body


@transaction.atomic
def campaign_schedule(*, campaign_id: int, actor: Actor) -> None:
    """Draft -> scheduled; the task queue starts it at `scheduled_at`."""
    _require_perm(actor, "campaigns.send_campaign", "schedule campaigns")
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.scheduled_at is None:
        raise CampaignError(f"Campaign {campaign} has no schedule; set 'scheduled at' first.")
    if not campaign.segments.exists():
        raise CampaignError(f"Campaign {campaign} has no segment; its audience would be empty.")
    _transition(campaign_id, from_=[Campaign.Status.DRAFT], to=Campaign.Status.SCHEDULED)
    run_at = campaign.scheduled_at

    def enqueue() -> None:
        from django_q.models import Schedule
        from django_q.tasks import schedule

        schedule(
            "campaigns.tasks.campaign_start_task",
            campaign_id,
            schedule_type=Schedule.ONCE,
            next_run=run_at,
            name=f"campaign-{campaign_id}-start-{uuid.uuid4().hex[:8]}",
        )

    transaction.on_commit(enqueue)


def _audience_materialise(campaign: Campaign) -> int:
    """One send row per audience member, in one INSERT ... SELECT; idempotent."""
    audience_sql, params = (
        campaign_audience(campaign=campaign).order_by().values("id").query.sql_with_params()
    )
    table = CampaignSend._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, customer_id, status, skip_reason, attempts, "  # noqa: S608
            f"message_id) SELECT %s, audience.id, %s, '', 0, '' FROM ({audience_sql}) audience "
            # WHERE 1=1 keeps SQLite from reading ON CONFLICT as a join condition.
            "WHERE 1=1 ON CONFLICT (campaign_id, customer_id) DO NOTHING",
            [campaign.pk, CampaignSend.Status.PENDING, *params],
        )
        created = cursor.rowcount
    Campaign.objects.filter(pk=campaign.pk).update(
        audience_size=CampaignSend.objects.filter(campaign_id=campaign.pk).count()
    )
    return created


@transaction.atomic
def campaigns_resume_stalled(*, quiet_since: datetime) -> list[int]:
    """Hand the batches of every campaign that is sending, has messages waiting, holds no
    live claim and has sent nothing since `quiet_since` to the task cluster again; return
    the campaigns resumed.

    Its chains died (every attempt failed, a cluster was lost): nothing else would send
    the rest. Batches claim with leases, so a chain too many finds nothing and stops.
    """
    now = timezone.now()
    waiting = Q(status=CampaignSend.Status.PENDING) | Q(
        status=CampaignSend.Status.CLAIMED, lease_expires_at__lte=now
    )
    busy = Q(status=CampaignSend.Status.CLAIMED, lease_expires_at__gt=now) | Q(
        sent_at__gte=quiet_since
    )
    resumed = []
    campaigns = Campaign.objects.select_for_update(skip_locked=True).filter(
        status=Campaign.Status.SENDING, started_at__lt=quiet_since
    )
    for campaign_id in campaigns.values_list("pk", flat=True):
        sends = CampaignSend.objects.filter(campaign_id=campaign_id)
        if not sends.filter(waiting).exists() or sends.filter(busy).exists():
            continue
        logger.warning("Campaign %s stalled: its batches are handed out again", campaign_id)
        _batches_enqueue(campaign_id)
        resumed.append(campaign_id)
    return resumed


def _batches_enqueue(campaign_id: int) -> None:
    enqueue_on_commit(
        "campaigns.tasks.campaign_send_batch_task",
        campaign_id,
        times=settings.CAMPAIGNS_PARALLEL_BATCHES,
    )


def campaign_start_refusal(*, campaign: Campaign) -> str:
    """Why starting this campaign now would be refused; empty when it would start."""
    refusal = company_profile().send_refusal()
    if refusal:
        return f"Nothing is sent: {refusal}"
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        return f"Campaign {campaign} is {campaign.status}, not draft or scheduled."
    if not campaign.segments.exists():
        return f"Campaign {campaign} has no segment; its audience would be empty."
    return ""


@transaction.atomic
def campaign_start(*, campaign_id: int, actor: Actor) -> int:
    """Draft or scheduled -> sending: write the send rows and start the batch workers."""
    _require_perm(actor, "campaigns.send_campaign", "start campaigns")
    refusal = company_profile().send_refusal()
    if refusal:
        raise CampaignError(f"Nothing is sent: {refusal}")
    campaign = Campaign.objects.get(pk=campaign_id)
    if not campaign.segments.exists():
        raise CampaignError(f"Campaign {campaign} has no segment; its audience would be empty.")
    _transition(
        campaign_id,
        from_=[Campaign.Status.DRAFT, Campaign.Status.SCHEDULED],
        to=Campaign.Status.SENDING,
        started_at=timezone.now(),
    )
    created = _audience_materialise(campaign)
    _batches_enqueue(campaign_id)
    return created


@transaction.atomic
def campaign_cancel(*, campaign_id: int, actor: Actor) -> None:
    """Stop for good: open sends stay unsent, since no batch claims for a cancelled campaign."""
    _require_perm(actor, "campaigns.send_campaign", "cancel campaigns")
    _transition(
        campaign_id,
        from_=[
            Campaign.Status.DRAFT,
            Campaign.Status.SCHEDULED,
            Campaign.Status.SENDING,
            Campaign.Status.PAUSED,
        ],
        to=Campaign.Status.CANCELLED,
    )


@transaction.atomic
def campaign_pause(*, campaign_id: int, actor: Actor, incident_id: int | None = None) -> None:
    """Scheduled or sending -> paused, naming the incident when one is the reason."""
    _require_perm(actor, "campaigns.pause_campaign", "pause campaigns")
    now = timezone.now()
    _transition(
        campaign_id,
        from_=RUNNING_STATUSES,
        to=Campaign.Status.PAUSED,
        paused_at=now,
        paused_by_incident_id=incident_id,
    )
    if incident_id is not None:
        name = Campaign.objects.values_list("name", flat=True).get(pk=campaign_id)
        timeline_append(
            incident_id=incident_id,
            kind="campaign.paused",
            actor=actor,
            payload={"campaign": campaign_id, "name": name},
        )


@transaction.atomic
def campaigns_pause_for_incident(
    *, incident_id: int, campaign_ids: Iterable[int], actor: Actor
) -> list[int]:
    """Pause the chosen campaigns together because of the incident; all or none."""
    _require_perm(actor, "campaigns.pause_campaign", "pause campaigns")
    ids = sorted(set(campaign_ids))
    if not ids:
        raise CampaignError("Choose at least one campaign to pause.")
    incident = Incident.objects.get(pk=incident_id)
    if incident.is_drill:
        raise CampaignError(
            f"'{incident}' is a drill: its hold shows what it would pause and pauses nothing."
        )
    # The ids come from a form: one naming a campaign that reaches nobody in this
    # incident's scope (another incident's, or a forged id) pauses nothing.
    stray = sorted(set(ids) - set(campaign_overlap_counts(incident_id=incident_id)))
    if stray:
        raise CampaignError(
            f"Campaign(s) {', '.join(map(str, stray))} reach nobody affected by incident "
            f"{incident_id}; nothing was paused."
        )
    for campaign_id in ids:
        campaign_pause(campaign_id=campaign_id, actor=actor, incident_id=incident_id)
    return ids


def notice_guard_refusal(incident: Incident, *, what: str) -> str:
    """Why the notice or its quiet period still blocks `what`; empty when nothing does.

    Without a notice (Art. 34(3) exemption) there is no quiet period to wait for.
    """
    if incident.people_notified_at is None:
        if incident.art34_decision not in EXEMPT_FROM_NOTICE:
            return f"Cannot {what}: the breach notice for incident '{incident}' has not gone out."
        return ""
    quiet_until = quiet_period_end(incident=incident)
    if quiet_until is not None and timezone.now() < quiet_until:
        return (
            f"Cannot {what}: the quiet period after the notice of incident '{incident}' "
            f"runs until {quiet_until:%Y-%m-%d %H:%M} UTC."
        )
    return ""


def _hold_release(incident: Incident, actor: Actor) -> bool:
    released = CampaignHold.objects.filter(
        incident_id=incident.pk, released_at__isnull=True
    ).update(
        released_at=timezone.now(),
        released_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if released:
        timeline_append(incident_id=incident.pk, kind="campaign.hold_released", actor=actor)
    return bool(released)


def hold_release_refusal(*, incident: Incident, actor: Actor) -> str:
    """Why releasing the incident's hold would be refused now; empty when it would go.

    The confirmation page asks this before it offers the button; `hold_release` raises it.
    """
    if not _is_cmo(actor):
        return f"Only the CMO may release the hold of incident '{incident}'."
    refusal = notice_guard_refusal(incident, what="release the hold")
    if refusal:
        return refusal
    if not CampaignHold.objects.filter(incident_id=incident.pk, released_at__isnull=True).exists():
        return f"Incident '{incident}' has no active campaign hold."
    return ""


@transaction.atomic
def hold_release(*, incident_id: int, actor: Actor) -> None:
    """The CMO lets promotions reach the incident's affected customers again."""
    incident = Incident.objects.get(pk=incident_id)
    refusal = hold_release_refusal(incident=incident, actor=actor)
    if refusal:
        raise CampaignError(refusal)
    if not _hold_release(incident, actor):
        raise CampaignError(f"Incident '{incident}' has no active campaign hold.")


@transaction.atomic
def hold_follow_drill_status(*, incident_id: int, is_drill: bool, cmo: Actor) -> None:
    """An incident became real (its hold is placed again, campaigns paused as for any
    scope) or became a drill (its hold lifts only as the CMO could lift it by hand)."""
    if not is_drill:
        if AffectedCustomer.objects.filter(incident_id=incident_id).exists():
            hold_place(incident_id=incident_id, actor=cmo, added=1)
        return
    if CampaignHold.objects.filter(incident_id=incident_id, released_at__isnull=True).exists():
        hold_release(incident_id=incident_id, actor=cmo)


def campaign_resume_refusal(*, campaign: Campaign, actor: Actor, exclude_affected: bool) -> str:
    """Why resuming this campaign now would be refused; empty when it would resume."""
    if not _is_cmo(actor):
        return f"Only the CMO may resume campaign '{campaign}'."
    if campaign.status != Campaign.Status.PAUSED:
        return f"Campaign '{campaign}' is {campaign.status}, not paused."
    incident = campaign.paused_by_incident
    if exclude_affected:
        if incident is None:
            return f"Campaign '{campaign}' was not paused by an incident; resume it normally."
        return ""
    if incident is not None:
        return notice_guard_refusal(incident, what=f"resume campaign '{campaign}'")
    return ""


@transaction.atomic
def campaign_resume(*, campaign_id: int, actor: Actor, exclude_affected: bool = False) -> None:
    """Paused -> sending (or scheduled if its time has not come). The CMO's alone.

    A campaign paused by an incident resumes normally only once the notice is out and the
    quiet period has passed; that also releases the incident's hold. "Excluding affected"
    needs neither: the incident's scope is excluded from this campaign for good, so it
    reaches nobody the breach touched.
    """
    campaign = Campaign.objects.select_related("paused_by_incident").get(pk=campaign_id)
    refusal = campaign_resume_refusal(
        campaign=campaign, actor=actor, exclude_affected=exclude_affected
    )
    if refusal:
        raise CampaignError(refusal)
    incident = campaign.paused_by_incident
    if exclude_affected and incident is not None:
        CampaignExclusion.objects.get_or_create(
            campaign_id=campaign_id, incident=incident, defaults={"created_by": actor}
        )
    elif incident is not None:
        _hold_release(incident, actor)
    now = timezone.now()
    not_started = campaign.started_at is None
    to = (
        Campaign.Status.SCHEDULED
        if not_started and campaign.scheduled_at is not None and campaign.scheduled_at > now
        else Campaign.Status.SENDING
    )
    _transition(
        campaign_id,
        from_=[Campaign.Status.PAUSED],
        to=to,
        paused_at=None,
        paused_by_incident=None,
        **({"started_at": now} if to == Campaign.Status.SENDING and not_started else {}),
    )
    if to == Campaign.Status.SENDING:
        _audience_materialise(campaign)
        _batches_enqueue(campaign_id)
    if incident is not None:
        timeline_append(
            incident_id=incident.pk,
            kind="campaign.resumed",
            actor=actor,
            payload={
                "campaign": campaign_id,
                "name": campaign.name,
                "exclude_affected": exclude_affected,
            },
        )


@transaction.atomic
def hold_place(*, incident_id: int, actor: Actor, added: int = 0) -> list[int]:
    """Hold promotions to the incident's scope; runs inside the scope's own transaction.

    From the commit on, every batch claim sees the hold. A released hold comes back when
    people are added to the scope: they have not been told anything yet.
    Returns the campaigns paused automatically.
    """
    now = timezone.now()
    hold, created = CampaignHold.objects.get_or_create(
        incident_id=incident_id, defaults={"placed_at": now}
    )
    placed = created
    if not created and hold.released_at is not None and added:
        placed = bool(
            CampaignHold.objects.filter(pk=hold.pk, released_at__isnull=False).update(
                released_at=None, released_by=None, placed_at=now
            )
        )
    if placed:
        timeline_append(incident_id=incident_id, kind="campaign.hold_placed", actor=actor)
    paused: list[int] = []
    is_drill = Incident.objects.filter(pk=incident_id, is_drill=True).exists()
    if settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE and not is_drill:
        overlapping = campaign_overlap_counts(incident_id=incident_id, statuses=RUNNING_STATUSES)
        for campaign_id in sorted(overlapping):
            # The system pauses, not the person who set the scope: they may lack the right.
            campaign_pause(campaign_id=campaign_id, actor=None, incident_id=incident_id)
            paused.append(campaign_id)
    return paused


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
