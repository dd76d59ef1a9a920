"""The incident: the spine every other record hangs on, and its tamper-evident timeline."""

from django.conf import settings
from django.db import models

from customers.models import Customer


class DataCategory(models.TextChoices):
    """The controlled list of personal data categories a breach can involve."""

    CONTACT = "contact", "Contact details"
    IDENTITY = "identity", "Identity (name, date of birth)"
    CREDENTIALS = "credentials", "Credentials (passwords, tokens)"
    PAYMENT_CARD = "payment_card", "Payment card"
    BANK_ACCOUNT = "bank_account", "Bank account"
    GOVERNMENT_ID = "government_id", "Government ID"
    HEALTH = "health", "Health"
    LOCATION = "location", "Location"
    BEHAVIOURAL = "behavioural", "Behavioural (purchases, browsing)"


class Incident(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ASSESSING = "assessing", "Assessing"
        NOTIFYING = "notifying", "Notifying"
        CONTAINED = "contained", "Contained"
        CLOSED = "closed", "Closed"

    class Art33Decision(models.TextChoices):
        UNDECIDED = "undecided", "Not decided yet"
        NOTIFY = "notify", "Notify the supervisory authority"
        NOT_REQUIRED = "not_required", "Not required (Art. 33(5) register)"

    class Art34Decision(models.TextChoices):
        UNDECIDED = "undecided", "Not decided yet"
        NOTIFY = "notify", "Notify the people affected"
        EXEMPT_A = "exempt_a", "Exempt, Art. 34(3)(a): data unintelligible (e.g. encrypted)"
        EXEMPT_B = "exempt_b", "Exempt, Art. 34(3)(b): high risk no longer likely"
        EXEMPT_C = "exempt_c", "Exempt, Art. 34(3)(c): disproportionate effort, public notice"

    title = models.CharField(max_length=200)
    nature = models.TextField("nature of the breach")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    is_drill = models.BooleanField(default=False)
    awareness_at = models.DateTimeField(
        "became aware at", help_text="When the company became reasonably certain: the clock start."
    )
    occurred_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    data_categories = models.JSONField(default=list, blank=True)
    systems = models.JSONField("systems involved", default=list, blank=True)
    approximate_records = models.PositiveBigIntegerField(null=True, blank=True)
    contact_point = models.TextField("contact point (DPO)", blank=True)
    likely_consequences = models.TextField(blank=True)
    measures_taken = models.TextField(blank=True)
    measures_proposed = models.TextField(blank=True)
    art33_decision = models.CharField(
        max_length=16, choices=Art33Decision.choices, default=Art33Decision.UNDECIDED
    )
    art33_reason = models.TextField(blank=True)
    art34_decision = models.CharField(
        max_length=16, choices=Art34Decision.choices, default=Art34Decision.UNDECIDED
    )
    art34_reason = models.TextField(blank=True)
    materiality_determined_at = models.DateTimeField(null=True, blank=True)
    # Set by `incident_record_people_notified` once the breach notice has gone out; the
    # campaigns app reads it for the quiet period without knowing about notifications.
    people_notified_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-awareness_at"]

    def __str__(self) -> str:
        return f"{'[DRILL] ' if self.is_drill else ''}{self.title}"


class AffectedCustomer(models.Model):
    """One person in an incident's scope, with the categories of their data involved."""

    class FoundBy(models.TextChoices):
        SEGMENT = "segment", "Segment"
        SYSTEM = "system", "Source system"
        CATEGORY = "category", "Data category"
        FORENSIC_LIST = "forensic_list", "Forensic list"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="affected")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="incidents")
    data_categories = models.JSONField(default=list)
    found_by = models.CharField(max_length=16, choices=FoundBy.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "customer"], name="affectedcustomer_incident_customer_unique"
            ),
        ]
        indexes = [models.Index(fields=["customer"], name="affectedcustomer_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer} in {self.incident}"


class TimelineEvent(models.Model):
    """One link of an incident's hash chain. Rows are only ever appended."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    seq = models.PositiveIntegerField()
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The actor's username as it was, so the chain verifies even if the user is renamed.
    actor_label = models.CharField(max_length=150)
    kind = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["incident", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "seq"], name="timelineevent_incident_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"
