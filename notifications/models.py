"""Breach messages: template versions legal approves, and the communications the CMO and
the CISO sign off together."""

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.models import Incident, Obligation


class RandomReference(models.Func):
    """16 upper-case hex digits from the database's random source, on either backend."""

    output_field = models.CharField()

    def __init__(self) -> None:
        super().__init__()

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra_context: Any) -> Any:
        return "upper(hex(randomblob(8)))", []

    def as_postgresql(
        self, compiler: Any, connection: Any, *args: Any, **extra_context: Any
    ) -> Any:
        # gen_random_uuid() is built in since PostgreSQL 13 and draws from a strong source.
        return "upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 16))", []


def reference_display(reference: str) -> str:
    """ABCD-EF01-2345-6789: how a reference is printed and read out on the phone."""
    return "-".join(reference[i : i + 4] for i in range(0, len(reference), 4))


def reference_normalize(value: str) -> str:
    """What a caller reads out, as stored: dashes, spaces and case do not matter."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"


class SignOffRole(models.TextChoices):
    # Values are the role group names in config.roles.
    CMO = "CMO", "CMO"
    CISO = "CISO", "CISO"


class MessageTemplate(models.Model):
    """A message written for one incident; its words live in numbered versions."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="message_templates"
    )
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "name"], name="messagetemplate_incident_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """The words of a template at one point. Approved versions never change (a database
    trigger refuses it too); editing one makes version N+1, which needs its own review."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for legal review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    language = models.CharField(
        max_length=8, help_text="ISO 639-1 code of the language it is written in, e.g. en, de."
    )
    data_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="The data categories it is written for; it is sent only to people whose "
        "categories it covers.",
    )
    subject = models.CharField(max_length=255)
    text_body = models.TextField()
    html_body = models.TextField()
    # SHA-256 over the fields above, kept current by the services; sign-offs bind to it.
    content_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["template", "-number"]
        permissions = [("review_templateversion", "Can approve or reject template versions")]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="templateversion_template_number_unique"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved")
                | (Q(reviewed_by__isnull=False) & Q(reviewed_at__isnull=False)),
                name="templateversion_approved_has_reviewer",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(reviewed_by=models.F("created_by")),
                name="templateversion_reviewer_is_not_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number} ({self.language}, {self.get_channel_display()})"

    def compute_content_hash(self) -> str:
        return canonical_sha256(
            {
                "channel": self.channel,
                "language": self.language,
                "data_categories": sorted(self.data_categories),
                "subject": self.subject,
                "text_body": self.text_body,
                "html_body": self.html_body,
            }
        )


class Communication(models.Model):
    """One breach message of an incident: who gets it, how, when, and in which words."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED_OFF = "signed_off", "Signed off by CMO and CISO"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="communications")
    name = models.CharField(max_length=200)
    audience_data_categories = models.JSONField(
        "only people with these data categories",
        default=list,
        blank=True,
        help_text="Empty: everyone affected.",
    )
    audience_countries = models.JSONField(
        "only people in these countries",
        default=list,
        blank=True,
        help_text="ISO 3166 codes. Empty: every country.",
    )
    channels = models.JSONField(default=list)
    send_window_start = models.DateTimeField()
    send_window_end = models.DateTimeField()
    fallback_language = models.CharField(
        max_length=8,
        help_text="Language used for people with no approved version in their own language.",
    )
    versions: "models.ManyToManyField[TemplateVersion, CommunicationVersion]" = (
        models.ManyToManyField(
            TemplateVersion, through="CommunicationVersion", related_name="communications"
        )
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("sign_communication", "Can sign off communications")]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_window_end__gt=models.F("send_window_start")),
                name="communication_window_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommunicationVersion(models.Model):
    communication = models.ForeignKey(Communication, on_delete=models.CASCADE)
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["communication", "version"], name="communicationversion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} in {self.communication}"


class CommunicationSignOff(models.Model):
    """A CMO's or CISO's signature over one content hash. Voided, never deleted."""

    communication = models.ForeignKey(
        Communication, on_delete=models.PROTECT, related_name="sign_offs"
    )
    role = models.CharField(max_length=8, choices=SignOffRole.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["communication", "signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["CMO", "CISO"]), name="signoff_role_is_cmo_or_ciso"
            ),
            # With the row lock in the service these make racing sign-offs safe: one role
            # signs once, and one person signs once whatever roles they hold.
            models.UniqueConstraint(
                fields=["communication", "role"],
                condition=Q(voided_at__isnull=True),
                name="signoff_one_active_per_role",
            ),
            models.UniqueConstraint(
                fields=["communication", "user"],
                condition=Q(voided_at__isnull=True),
                name="signoff_one_active_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} sign-off by {self.user} on {self.communication}"


def canonical_sha256(document: dict[str, Any]) -> str:
    """SHA-256 of canonical JSON: sorted keys, no whitespace, UTF-8."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- Delivery ----------------------------------------------------------------------------


class Delivery(models.Model):
    """The sending of one signed-off communication: its wave, pause and completion."""

    class Kind(models.TextChoices):
        # Values match customers.Touchpoint.Kind.
        BREACH_NOTICE = "breach_notice", "Breach notice (mandatory)"
        FOLLOW_UP = "follow_up", "Follow-up reminder"

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    communication = models.OneToOneField(
        Communication, on_delete=models.PROTECT, related_name="delivery"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    # The content hash the send was checked against, kept as evidence.
    content_hash = models.CharField(max_length=64, editable=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.TextField(blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "deliveries"
        permissions = [
            ("send_communication", "Can send signed-off communications"),
            ("resume_delivery", "Can resume a paused delivery"),
        ]

    def __str__(self) -> str:
        return f"Delivery of {self.communication}"


class WaveFigures(models.Model):
    """The counts of a large wave (statuses, what the provider said, letters), kept by the
    task cluster so that no page counts a million notifications; `counted_at` is shown
    beside them. Waves under `KEPT_FIGURES_FROM` people are counted live."""

    communication = models.OneToOneField(
        Communication, on_delete=models.PROTECT, primary_key=True, related_name="wave_figures"
    )
    # {"status": {status: n}, "outcomes": {field of DeliveryOutcomes: n}}
    counts = models.JSONField()
    counted_at = models.DateTimeField()
    # The count before, for the pace: messages sent between the two counts.
    previous_sent = models.PositiveIntegerField(default=0)
    previous_counted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "wave figures"

    def __str__(self) -> str:
        return f"Figures of {self.communication_id}, counted {self.counted_at}"


class ReachFigures(models.Model):
    """The unreached of a large scope by jurisdiction (`reach.unreached.UnreachedCounts`),
    kept by the task cluster for the incident page; the evidence pack counts them live."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    rows = models.JSONField()
    counted_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "reach figures"

    def __str__(self) -> str:
        return f"Unreached of {self.incident_id}, counted {self.counted_at}"


class DeliveryState(models.TextChoices):
    """What became of a sent message, by the provider's word; ordered by DELIVERY_STATE_RANK."""

    NONE = "", "No news"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce (deferred)"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINED = "complained", "Complained (spam)"


# A state moves only to a higher rank: events arrive late, twice and out of order, and a
# late "delivered" must never undo a "bounced". Opt-outs and clicks carry no rank of their
# own: an unsubscribe changes consent, a click says as much as an open.
DELIVERY_STATE_RANK = {
    DeliveryState.NONE: 0,
    DeliveryState.SOFT_BOUNCE: 1,
    DeliveryState.DELIVERED: 2,
    DeliveryState.OPENED: 3,
    DeliveryState.HARD_BOUNCE: 4,
    DeliveryState.COMPLAINED: 5,
}


class Notification(models.Model):
    """One person's copy of one communication: the ledger row that makes "exactly once"."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"
        LETTER = "letter", "By letter"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        NONE = "", "-"
        OPTED_OUT = "opted_out", "Opted out (follow-ups only)"
        FREQUENCY_CAP = "frequency_cap", "Frequency cap (follow-ups only)"
        # A person confirmed this record is the same person as another: the notice goes
        # to the surviving record, once.
        MERGED = "merged", "Record merged into another"
        # A recovery step's condition: the person already did what the reminder asks.
        ACTED = "acted", "Already acted (recovery steps)"
        # A complaint or an unsubscribe since the notice ends the recovery plan for them.
        STOPPED = "stopped", "Complained or unsubscribed (recovery steps)"

    communication = models.ForeignKey(
        Communication, on_delete=models.PROTECT, related_name="notifications"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="breach_notifications"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    skip_reason = models.CharField(
        max_length=16, choices=SkipReason.choices, blank=True, default=""
    )
    # The address when the row was written: a later CRM import does not redirect it.
    email = models.CharField(max_length=254, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    letter_batch = models.ForeignKey(
        "LetterBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    # The email provider's own id for the message (blank over SMTP); its webhooks name it.
    provider_message_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    # What the provider's webhooks said became of the message: the furthest state heard,
    # never moved back (a late "delivered" does not undo a bounce). See DeliveryState.
    delivery_state = models.CharField(
        max_length=16, choices=DeliveryState.choices, blank=True, default="", db_default=""
    )
    delivery_state_at = models.DateTimeField(null=True, blank=True)
    # Printed on the letter and in the email so that a caller can be found by it alone.
    # The database draws it (the fan-out is one INSERT ... SELECT that names no column
    # for it): 64 random bits, so neither guessable nor, at a million rows, colliding.
    reference = models.CharField(
        max_length=16, unique=True, editable=False, db_default=RandomReference()
    )

    class Meta:
        ordering = ["communication", "customer"]
        permissions = [("lookup_notification", "Can look a notified person up by reference number")]
        constraints = [
            models.UniqueConstraint(
                fields=["communication", "customer"], name="notification_one_per_person"
            ),
        ]
        indexes = [
            # The batch claim: open rows of one communication in id order.
            models.Index(fields=["communication", "status", "id"], name="notification_claim_idx"),
            models.Index(fields=["email"], name="notification_email_idx"),
            # A webhook event names the message by the provider's id.
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="notification_provider_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.communication} to {self.customer_id}"

    @property
    def message_id(self) -> str:
        return notification_message_id(
            communication_id=self.communication_id, customer_id=self.customer_id
        )


def notification_message_id(*, communication_id: int, customer_id: int) -> str:
    """The same Message-ID for every attempt, so a resend after a crash is recognisable."""
    return f"<breach-{communication_id}.{customer_id}@breachdesk.invalid>"


class SendRateWindow(models.Model):
    """Messages sent per minute across every worker: the shared rate limit's counter."""

    minute = models.DateTimeField(primary_key=True)
    sent = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.sent} at {self.minute:%H:%M}"


class RemediationCode(models.Model):
    """A credit monitoring (or similar) code from a vendor; given to one person, once."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="remediation_codes"
    )
    code = models.CharField(max_length=128)
    vendor = models.CharField(max_length=128)
    expires_on = models.DateField()
    redeem_url = models.URLField("where to redeem it", max_length=500, blank=True)
    # One-to-one: the database refuses to give a code twice or a person two codes.
    notification = models.OneToOneField(
        Notification,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remediation_code",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    # Set once, by the signed redemption link or the vendor's redemption file.
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["incident", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "code"], name="remediationcode_unique"),
        ]
        indexes = [
            models.Index(
                fields=["incident", "notification", "expires_on"], name="remediationcode_free_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} code {self.code[:4]}…"


class LetterBatch(models.Model):
    """Letters for the print house: one PDF and a CSV manifest, built in the background."""

    class PaperSize(models.TextChoices):
        A4 = "A4", "A4 (DIN 5008 window envelope)"
        LETTER = "Letter", "US Letter (#10 window envelope)"

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready to print"
        POSTED = "posted", "Posted"
        FAILED = "failed", "Failed to build"

    communication = models.ForeignKey(
        Communication, on_delete=models.PROTECT, related_name="letter_batches"
    )
    paper_size = models.CharField(max_length=8, choices=PaperSize.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    letters = models.PositiveIntegerField(default=0)
    built = models.PositiveIntegerField(default=0)
    pdf = models.FileField(upload_to="letters/", blank=True)
    manifest = models.FileField(upload_to="letters/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "letter batches"
        permissions = [("post_letterbatch", "Can record letter batches as posted")]

    def __str__(self) -> str:
        return f"Letters {self.pk} for {self.communication} ({self.letters})"


class DeliveryEvent(models.Model):
    """One tracking event of an email provider, normalised by anymail, stored as received.

    The webhook only stores it (fast, idempotent by `dedupe_key`) and queues it in
    PendingDeliveryEvent; the task cluster applies queued events in batches
    (`delivery_events_apply`). An event naming no known message is kept with outcome
    "unknown" for a person to look at, and changes nothing.
    """

    class Kind(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened or clicked"
        SOFT_BOUNCE = "soft_bounce", "Soft bounce"
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        COMPLAINED = "complained", "Complained"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        OTHER = "other", "Other (queued, sent, ...)"

    class Outcome(models.TextChoices):
        RECEIVED = "", "Received"
        UNKNOWN = "unknown", "Unknown message"

    provider = models.CharField(max_length=32)
    # anymail's normalised event type (bounced, deferred, delivered, ...), as received.
    event_type = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    provider_message_id = models.CharField(max_length=255, blank=True)
    # Our Message-ID, carried back by the provider in the message's metadata.
    reference = models.CharField(max_length=255, blank=True)
    # The reference read when received (no lookup in the request): whose message it was.
    ref_communication_id = models.BigIntegerField(null=True, blank=True)
    ref_campaign_id = models.BigIntegerField(null=True, blank=True)
    ref_customer_id = models.BigIntegerField(null=True, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)
    # SHA-256 over what the provider said: a repeated event is the same row.
    dedupe_key = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField()
    # Blank once applied to a known message; "unknown" when it named none.
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The admin's "unknown message" list (few rows: a partial index).
            models.Index(
                fields=["received_at"],
                condition=Q(outcome="unknown"),
                name="deliveryevent_unknown_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.provider_message_id or self.reference}"


class PendingDeliveryEvent(models.Model):
    """A stored provider event not applied yet: the apply task's queue.

    A queue of its own so that applying an event deletes one narrow row instead of
    rewriting the event (a new row version and an entry in each of its indexes).
    """

    event = models.OneToOneField(
        DeliveryEvent, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )

    def __str__(self) -> str:
        return f"event {self.event_id} waiting"


# --- Reaching everyone -------------------------------------------------------------------


class ReturnedLetter(models.Model):
    """A letter the post brought back, from the print house's return file. The address it
    went to is kept: while the customer's address is still that one, post cannot reach
    them; a corrected address from the CRM makes them reachable again."""

    notification = models.OneToOneField(
        Notification, on_delete=models.PROTECT, related_name="returned_letter"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="returned_letters"
    )
    street = models.TextField(blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=128, blank=True)
    returned_on = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField("return file", max_length=255)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at"]
        permissions = [("import_returnedletter", "Can import the print house's return file")]
        # The unreached count asks, per customer, for a return to their current address.
        indexes = [models.Index(fields=["customer", "street"], name="returnedletter_customer_idx")]

    def __str__(self) -> str:
        return f"Returned letter {reference_display(self.notification.reference)}"


class SubstituteNotice(models.Model):
    """The decision that people no channel reaches are told by a public notice instead,
    under one regime's condition, with the texts it produced and the obligations it set."""

    class Regime(models.TextChoices):
        HIPAA = "hipaa", "HIPAA 45 CFR 164.404(d)(2)"
        GDPR = "gdpr", "GDPR Art. 34(3)(c)"
        US_STATE = "us_state", "US state law"

    class Outcome(models.TextChoices):
        REQUIRED = "required", "Substitute notice required"
        ALLOWED = "allowed", "Substitute notice allowed"
        NOT_MET = "not_met", "Condition not met: individual notice stands"

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="substitute_notices"
    )
    regime = models.CharField(max_length=16, choices=Regime.choices)
    region = models.CharField("US state", max_length=8, blank=True)
    unreached = models.PositiveIntegerField(help_text="People no channel reaches, when decided.")
    affected = models.PositiveIntegerField(help_text="People affected under this regime.")
    cost_estimate = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cost_threshold = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    people_threshold = models.PositiveIntegerField(null=True, blank=True)
    condition = models.TextField(help_text="The law's condition and how the figures meet it.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    toll_free_number = models.CharField(max_length=32)
    web_version = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    media_version = models.ForeignKey(
        TemplateVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posting_obligation = models.ForeignKey(
        Obligation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posting_end_obligation = models.ForeignKey(
        Obligation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["incident", "-decided_at"]
        permissions = [("decide_substitutenotice", "Can decide on substitute notice")]

    def __str__(self) -> str:
        return f"{self.get_regime_display()}: {self.get_outcome_display()} ({self.incident})"


class SubstituteNoticeSignOff(models.Model):
    """The CMO's or the CISO's signature over the SHA-256 of a substitute notice's texts
    (web posting and media notice, as legal approved them). A changed text changes the
    hash, and a signature over another hash no longer counts."""

    notice = models.ForeignKey(SubstituteNotice, on_delete=models.PROTECT, related_name="sign_offs")
    role = models.CharField(max_length=8, choices=SignOffRole.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["notice", "signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["CMO", "CISO"]), name="substitute_signoff_cmo_or_ciso"
            ),
            # With the row lock in the service: per set of texts, one role signs once and
            # one person signs once whatever roles they hold.
            models.UniqueConstraint(
                fields=["notice", "content_hash", "role"], name="substitute_signoff_one_per_role"
            ),
            models.UniqueConstraint(
                fields=["notice", "content_hash", "user"],
                name="substitute_signoff_one_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} sign-off of {self.notice}"


class CallCentrePack(models.Model):
    """What the call centre says about one communication: script, FAQ, escalation rules
    and never-say list per segment and language, bound by hash to the approved words it
    was generated from. A new approved version of the notice voids it."""

    communication = models.ForeignKey(
        Communication, on_delete=models.PROTECT, related_name="call_centre_packs"
    )
    number = models.PositiveIntegerField()
    # The content hashes of the approved versions it was written from, and the facts.
    notice_hash = models.CharField(max_length=64)
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["communication", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["communication", "number"], name="callcentrepack_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Call-centre pack v{self.number} for {self.communication}"


class RecoveryPlan(models.Model):
    """The way back for the people an incident touched: steps after the notice, set up by
    the CMO and run only while the CISO's consent covers the steps as they are."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for the CISO's consent"
        ACTIVE = "active", "Running"
        STOPPED = "stopped", "Stopped"

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="recovery_plan"
    )
    marketing_returns_after_days = models.PositiveIntegerField(
        default=90,
        help_text="Days after the notice when marketing returns to normal for the people affected.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    consented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    marketing_returned_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("consent_recoveryplan", "Can consent to a recovery plan"),
            ("stop_recoveryplan", "Can stop a recovery plan"),
            ("record_responses", "Can import code redemptions and password resets"),
        ]

    def __str__(self) -> str:
        return f"Recovery plan of {self.incident}"


class RecoveryStep(models.Model):
    """One message of a plan: sent to its audience `delay_days` after the notice, to those
    its condition leaves, through the same review and sign-off as the notice."""

    class Condition(models.TextChoices):
        EVERYONE = "everyone", "Everyone the communication is for"
        NOT_REDEEMED = "not_redeemed", "Those who have not redeemed their code"
        NOT_RESET = "not_reset", "Those who have not reset their password"
        NOT_ACTED = "not_acted", "Those who have done neither"

    plan = models.ForeignKey(RecoveryPlan, on_delete=models.PROTECT, related_name="steps")
    name = models.CharField(max_length=200)
    communication = models.OneToOneField(
        Communication, on_delete=models.PROTECT, related_name="recovery_step"
    )
    delay_days = models.PositiveIntegerField(help_text="Days after the notice.")
    after_quiet_period = models.BooleanField(
        "waits for the quiet period",
        default=False,
        help_text="An offer: never before the quiet period after the notice has passed.",
    )
    condition = models.CharField(
        max_length=16, choices=Condition.choices, default=Condition.EVERYONE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Why the last run could not send it (not signed off, ...); cleared when it goes.
    waiting_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["plan", "delay_days", "id"]
        indexes = [
            # The runner: steps not started yet.
            models.Index(
                fields=["plan"], condition=Q(started_at__isnull=True), name="recoverystep_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RecoveryFigures(models.Model):
    """The cohort figures of an incident as last computed: read by the recovery page, the
    report and the evidence pack in two small queries, whatever the population; refreshed
    set-based by the task cluster (hourly while a plan runs, or when asked)."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="recovery_figures"
    )
    notice_at = models.DateTimeField()
    computed_at = models.DateTimeField()
    affected = models.PositiveIntegerField()
    unaffected = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"Recovery figures of {self.incident} at {self.computed_at}"


class RecoveryFigure(models.Model):
    """Distinct people of one cohort with one response in one week since the notice."""

    figures = models.ForeignKey(RecoveryFigures, on_delete=models.CASCADE, related_name="rows")
    affected = models.BooleanField()
    week = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)
    people = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["figures", "affected", "week", "kind"], name="recoveryfigure_one_per_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} week {self.week}: {self.people}"
