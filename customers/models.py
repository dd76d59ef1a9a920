"""The unified customer record: one row per person, whatever CRMs they came from."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Customer(models.Model):
    class EmailStatus(models.TextChoices):
        VALID = "valid", "Valid"
        UNDELIVERABLE = "undeliverable", "Undeliverable (malformed)"
        BOUNCED = "bounced", "Bounced"
        MISSING = "missing", "No email"

    class Consent(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        GRANTED = "granted", "Opted in"
        WITHDRAWN = "withdrawn", "Opted out"

    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # `email` is what the source said (trimmed); `email_normalized` is the matching key.
    email = models.CharField(max_length=254, blank=True)
    email_normalized = models.CharField(max_length=254, blank=True, editable=False)
    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.MISSING
    )
    # E.164 when the number parses, otherwise as the source wrote it.
    phone = models.CharField(max_length=64, blank=True)
    street = models.TextField(blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=128, blank=True)
    region = models.CharField("region / state", max_length=128, blank=True)
    country = models.CharField("country (ISO 3166)", max_length=2, blank=True)
    # Set only when the source's country could not be placed: the row is kept and flagged.
    country_raw = models.CharField("unrecognised country", max_length=128, blank=True)
    language = models.CharField(max_length=16, blank=True)
    marketing_consent = models.CharField(
        max_length=16, choices=Consent.choices, default=Consent.UNKNOWN
    )
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=64, blank=True)
    lifecycle_stage = models.CharField(max_length=64, blank=True)
    segments: "models.ManyToManyField[Segment, SegmentMembership]" = models.ManyToManyField(
        "Segment", through="SegmentMembership", related_name="customers", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("import_customer", "Can import customers"),
            ("export_customer", "Can export customers"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["email_normalized"],
                condition=~Q(email_normalized=""),
                name="customer_email_normalized_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["country", "region"], name="customer_country_region_idx"),
            models.Index(fields=["last_name", "first_name"], name="customer_name_idx"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"Customer {self.pk}"

    @property
    def country_unknown(self) -> bool:
        return bool(self.country_raw) and not self.country


class SourceRecord(models.Model):
    """The person as one source system knows them; a customer may have several."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sources")
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    # Hash of the normalised row last imported: a re-import of the same row changes nothing.
    row_hash = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="sourcerecord_source_external_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["external_id"], name="sourcerecord_external_id_idx")]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class Segment(models.Model):
    name = models.CharField(max_length=128, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"], name="segmentmembership_unique"
            ),
        ]
        indexes = [models.Index(fields=["customer"], name="segmentmembership_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer} in {self.segment}"


class Touchpoint(models.Model):
    """A message or contact the customer received: their journey, appended by other apps."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"
        PHONE = "phone", "Phone"
        SMS = "sms", "SMS"
        IMPORT = "import", "CRM import"

    class Kind(models.TextChoices):
        PROMOTIONAL = "promotional", "Promotional message"
        BREACH_NOTICE = "breach_notice", "Breach notice"
        FOLLOW_UP = "follow_up", "Breach follow-up"
        SERVICE = "service", "Service message"
        RECORD = "record", "Record change"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="touchpoints")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    reference = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            # The frequency cap counts a customer's recent promotional messages.
            models.Index(
                fields=["customer", "kind", "occurred_at"], name="touchpoint_frequency_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} at {self.occurred_at}"
