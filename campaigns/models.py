"""Promotional campaigns, their per-customer sends, and the holds incidents put on them."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from customers.models import Customer, Segment
from incidents.models import Incident

# Stored as "DE,FR" / "de,en-gb" so the overlap and audience queries can test membership in
# SQL on every database (a JSON list cannot be joined portably).
country_list_validator = RegexValidator(
    r"^([A-Z]{2}(,[A-Z]{2})*)?$", "Use ISO 3166 country codes separated by commas, e.g. DE,FR."
)
language_list_validator = RegexValidator(
    r"^([a-z]{2,3}(-[a-z0-9]{2,8})?(,[a-z]{2,3}(-[a-z0-9]{2,8})?)*)?$",
    "Use language codes separated by commas, e.g. de,en-gb.",
)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns"
    )
    segments = models.ManyToManyField(Segment, related_name="campaigns")
    countries = models.CharField(
        max_length=512,
        blank=True,
        validators=[country_list_validator],
        help_text="Only customers in these countries (comma-separated ISO codes); empty: all.",
    )
    languages = models.CharField(
        max_length=256,
        blank=True,
        validators=[language_list_validator],
        help_text="Only customers with these languages (comma-separated); empty: all.",
    )
    subject = models.CharField(max_length=200, help_text="Django template syntax.")
    body = models.TextField(help_text="Plain text, Django template syntax.")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by_incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="paused_campaigns",
        help_text="The incident whose scope paused this campaign.",
    )
    # Counted once when the send rows are written: the live count over a million customers
    # is too slow to repeat for every row of the campaign list.
    audience_size = models.PositiveIntegerField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("send_campaign", "Can schedule, start and cancel campaigns"),
            ("pause_campaign", "Can pause campaigns"),
            ("resume_campaign", "Can resume paused campaigns"),
        ]
        indexes = [models.Index(fields=["status"], name="campaign_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def country_list(self) -> list[str]:
        return [c for c in self.countries.split(",") if c]

    @property
    def language_list(self) -> list[str]:
        return [c for c in self.languages.split(",") if c]


class CampaignSend(models.Model):
    """One customer of a campaign's audience: at most one message, ever."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Claimed by a worker"
        SENT = "sent", "Sent"
        WITHHELD = "withheld", "Withheld (incident hold)"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    class SkipReason(models.TextChoices):
        NONE = "", "—"
        NO_CONSENT = "no_consent", "No marketing consent"
        EMAIL_STATUS = "email_status", "Email not valid"
        FREQUENCY_CAP = "frequency_cap", "Frequency cap reached"
        INVALID_ADDRESS = "invalid_address", "Address rejected before sending"
        # A person confirmed this record is the same person as another: the survivor is
        # the one mailed (or held by an incident), never this record too.
        MERGED = "merged", "Record merged into another"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="sends")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    # A claim is a lease: a worker that dies leaves rows whose lease runs out and which the
    # next batch claims again; the token makes sure only the current holder marks them sent.
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    # The email provider's own id for the message (blank over SMTP).
    provider_message_id = models.CharField(max_length=255, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaignsend_unique"),
        ]
        indexes = [
            # The batch claim walks a campaign's open rows in id order.
            models.Index(
                fields=["campaign", "id"],
                condition=Q(status__in=["pending", "claimed"]),
                name="campaignsend_claim_idx",
            ),
            models.Index(fields=["campaign", "status"], name="campaignsend_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.customer_id}: {self.status}"


class CampaignHold(models.Model):
    """While active, no promotional message reaches anyone in the incident's scope."""

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="campaign_hold"
    )
    placed_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-placed_at"]
        indexes = [
            models.Index(
                fields=["incident"],
                condition=Q(released_at__isnull=True),
                name="campaignhold_active_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Hold for {self.incident}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class CampaignExclusion(models.Model):
    """Resumed "excluding affected": this incident's scope never gets this campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="exclusions")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "incident"], name="campaignexclusion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} excludes {self.incident}"


class Withholding(models.Model):
    """Evidence: a campaign's message to this customer was withheld because of this incident."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="withholdings")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="withholdings")
    withheld_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "incident"], name="withholding_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["incident", "campaign"], name="withholding_incident_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.customer_id} held by {self.incident_id}"
