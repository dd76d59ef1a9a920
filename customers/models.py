"""The unified customer record: one row per person, whatever CRMs they came from."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .pii import mask_text


class Customer(models.Model):
    class EmailStatus(models.TextChoices):
        VALID = "valid", "Valid"
        UNDELIVERABLE = "undeliverable", "Undeliverable (malformed)"
        BOUNCED = "bounced", "Bounced"
        MISSING = "missing", "No email"
        # A placeholder or an address several people's records carry: not the person's own,
        # so it joins nobody and a breach notice goes by letter instead.
        SHARED = "shared", "Shared or placeholder (not the person's own)"

    class Consent(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        GRANTED = "granted", "Opted in"
        WITHDRAWN = "withdrawn", "Opted out"

    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # `email` is what the source said (trimmed); `email_normalized` is the matching key,
    # empty when the address is malformed, a placeholder or shared: such an address
    # must never join two people.
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
    # Where each kept contact value came from (survivorship, see SourcePriority): the
    # source, its record's external id, and when that record last brought the value.
    # Street, postal code, city, region and country are one address: mixing two
    # sources' parts would make an address nobody lives at.
    email_source = models.CharField(max_length=64, blank=True, db_default="")
    email_source_id = models.CharField(max_length=128, blank=True, db_default="")
    email_seen_at = models.DateTimeField(null=True, blank=True)
    phone_source = models.CharField(max_length=64, blank=True, db_default="")
    phone_source_id = models.CharField(max_length=128, blank=True, db_default="")
    phone_seen_at = models.DateTimeField(null=True, blank=True)
    address_source = models.CharField(max_length=64, blank=True, db_default="")
    address_source_id = models.CharField(max_length=128, blank=True, db_default="")
    address_seen_at = models.DateTimeField(null=True, blank=True)
    # Set when a person confirmed this record is the same person as another: its source
    # records moved there (see CustomerMerge, which can undo it).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    segments: "models.ManyToManyField[Segment, SegmentMembership]" = models.ManyToManyField(
        "Segment", through="SegmentMembership", related_name="customers", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("import_customer", "Can import customers"),
            ("export_customer", "Can export customers"),
            ("view_pii", "Can see customers' emails, phones and addresses in full"),
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
            # Filters the customer list offers on a million rows.
            models.Index(fields=["email_status"], name="customer_email_status_idx"),
            models.Index(fields=["marketing_consent"], name="customer_consent_idx"),
            # Prefix search on email ("anna.m%"): text_pattern_ops lets PostgreSQL use a
            # b-tree for LIKE 'x%' whatever the database collation.
            models.Index(
                fields=["email_normalized"],
                name="customer_email_prefix_idx",
                opclasses=["text_pattern_ops"],
            ),
            models.Index(
                fields=["last_name"],
                name="customer_last_name_prefix_idx",
                opclasses=["text_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        # Never the email: this string reaches lists, autocomplete and admin history,
        # where people without the view_pii permission read it.
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"Customer {self.pk}"

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
    # The contact values this source holds, as last imported, whether or not they won.
    email = models.CharField(max_length=254, blank=True, db_default="")
    phone = models.CharField(max_length=64, blank=True, db_default="")
    street = models.TextField(blank=True, db_default="")
    postal_code = models.CharField(max_length=32, blank=True, db_default="")
    city = models.CharField(max_length=128, blank=True, db_default="")
    region = models.CharField(max_length=128, blank=True, db_default="")
    country = models.CharField(max_length=2, blank=True, db_default="")
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
        # A synthetic id is "email:<address>", and this string reaches lists and inlines
        # that people without view_pii read.
        return f"{self.source}:{mask_text(self.external_id)}"


class SourcePriority(models.Model):
    """How far a source system is trusted for contact data; sources not listed count 0.

    A value from a source of higher priority is kept over one from a lower; among equal
    priorities the most recently imported value wins.
    """

    source = models.CharField(max_length=64, unique=True)
    priority = models.IntegerField(default=0, help_text="Higher wins; unlisted sources are 0.")
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-priority", "source"]
        verbose_name_plural = "source priorities"

    def __str__(self) -> str:
        return f"{self.source} ({self.priority})"


class DuplicateCandidate(models.Model):
    """Two customers who may be one person, found without an email match; a person decides."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        MERGED = "merged", "Merged"
        DISMISSED = "dismissed", "Not the same person"

    class Reason(models.TextChoices):
        NAME_POSTAL = "name_postal", "Same last name and postal code"
        PHONE = "phone", "Same phone number"

    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    score = models.FloatField(help_text="Similarity, 0 to 1 (names and street, rapidfuzz).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    found_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score"]
        verbose_name = "suspected duplicate"
        constraints = [
            models.UniqueConstraint(
                fields=["customer_a", "customer_b"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(customer_a__lt=models.F("customer_b")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [
            # The review queue: what is waiting, best first.
            models.Index(fields=["status", "-score"], name="duplicate_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_a} / {self.customer_b} ({self.score:.2f})"


class DuplicateSearch(models.Model):
    """One run of the search for suspected duplicates: when, who or what started it, its yield.

    The task cluster runs it daily; the review queue shows the last run, so a reviewer
    knows how fresh the queue is.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Daily schedule"
        PERSON = "person", "Started from the review queue"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    found = models.PositiveIntegerField("new pairs found", default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"Duplicate search {self.started_at:%Y-%m-%d %H:%M}"


class CustomerMerge(models.Model):
    """One customer merged into another by a person, with what moved, so it can be undone."""

    survivor = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(
        DuplicateCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    source_record_ids = models.JSONField(help_text="Source records moved to the survivor.")
    # {"held": the merged customer's segments, "added": those the survivor joined by it}.
    segments = models.JSONField(default=dict, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField()
    unmerged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unmerged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged} into {self.survivor}"


class PlaceholderEmail(models.Model):
    """An address pattern CRMs fill in when they have no email: it identifies nobody."""

    pattern = models.CharField(
        max_length=254,
        unique=True,
        help_text='Shell-style, case-insensitive: "noemail@*", "none@none.com", "info@*".',
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pattern"]
        verbose_name = "placeholder email pattern"

    def __str__(self) -> str:
        return self.pattern


class SharedEmail(models.Model):
    """An address found on several external ids of one source: never a merge key again."""

    email = models.CharField(max_length=254, unique=True)
    source = models.CharField(max_length=64, help_text="The source it was first seen shared in.")
    first_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["email"]
        verbose_name = "shared email"

    def __str__(self) -> str:
        return self.email


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
        WEB = "web", "Web link"
        IDENTITY = "identity", "Identity system"

    class Kind(models.TextChoices):
        PROMOTIONAL = "promotional", "Promotional message"
        BREACH_NOTICE = "breach_notice", "Breach notice"
        FOLLOW_UP = "follow_up", "Breach follow-up"
        SERVICE = "service", "Service message"
        RECORD = "record", "Record change"
        # The person's response after a breach (the recovery cohorts count these).
        OPENED = "opened", "Opened or clicked"
        BOUNCED = "bounced", "Bounced"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        COMPLAINED = "complained", "Complained (spam)"
        CODE_REDEEMED = "code_redeemed", "Remediation code redeemed"
        PASSWORD_RESET = "password_reset", "Password reset done"

    # touchpoint_frequency_idx starts with the customer: a second index of it alone would
    # only cost each insert (a wave's provider events add touchpoints by the hundred thousand).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="touchpoints", db_index=False
    )
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
            # The recovery cohorts: every response of a kind in the weeks after a notice.
            models.Index(fields=["kind", "occurred_at"], name="touchpoint_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} at {self.occurred_at}"


class ImportMapping(models.Model):
    """A saved column mapping for a file no known CRM layout fits: our field -> its header."""

    name = models.CharField(max_length=128, unique=True)
    source = models.CharField(
        max_length=64, blank=True, help_text="Source system the mapping is meant for."
    )
    columns = models.JSONField(
        help_text='Our field name to the file\'s column header, e.g. {"email": "E-Mail"}.'
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One file imported into the customer record: all its accepted rows commit, or none."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed (nothing imported)"
        CANCEL_REQUESTED = "cancel_requested", "Cancelling"
        CANCELLED = "cancelled", "Cancelled (nothing imported)"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField("file SHA-256", max_length=64)
    file_size = models.PositiveBigIntegerField(default=0)
    source = models.CharField(max_length=64)
    layout = models.CharField(max_length=32, blank=True)
    mapping = models.ForeignKey(
        ImportMapping, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    # The mapping as used, so the job still says what it did after the mapping is edited.
    mapping_columns = models.JSONField(null=True, blank=True)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField("progress (%)", default=0)
    rows_read = models.PositiveBigIntegerField(default=0)
    created = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    merged = models.PositiveBigIntegerField(default=0)
    duplicate = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    # Rows kept but whose email joins nobody, by why (see CustomerRow.email_flag).
    email_malformed = models.PositiveBigIntegerField("malformed email", default=0)
    email_placeholder = models.PositiveBigIntegerField("placeholder email", default=0)
    email_shared = models.PositiveBigIntegerField("shared email", default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="importjob_status_idx")]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name} ({self.source})"

    @property
    def is_finished(self) -> bool:
        return self.status in {
            self.Status.SUCCEEDED,
            self.Status.FAILED,
            self.Status.CANCELLED,
        }

    @property
    def email_unkeyed_summary(self) -> str:
        """Rows kept whose email joins nobody, and why, in a sentence ("" when none)."""
        reasons = [
            (self.email_malformed, "malformed"),
            (self.email_placeholder, "a placeholder address (noemail@…, generic inboxes)"),
            (self.email_shared, "shared by several external ids of this source"),
        ]
        parts = [f"{count} {why}" for count, why in reasons if count]
        if not parts:
            return ""
        total = self.email_malformed + self.email_placeholder + self.email_shared
        return (
            f"{total} rows kept with an email that matches no one else: "
            + "; ".join(parts)
            + ". They get a letter, not an email."
        )

    @property
    def changed_nothing(self) -> bool:
        return (
            self.status == self.Status.SUCCEEDED
            and self.created + self.updated + self.merged == 0
            and self.unchanged + self.duplicate > 0
        )


class ImportRejection(models.Model):
    """A row the import did not take, with where it was and why: the job's error report."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    row = models.PositiveBigIntegerField(help_text="Data row number, the header not counted.")
    line = models.PositiveBigIntegerField(help_text="Line of the file where the row starts.")
    field = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=255)
    value = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["job", "row"]

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


class PiiAccess(models.Model):
    """Who saw a customer's contact data in full, and when (the access log)."""

    class Kind(models.TextChoices):
        RECORD = "record", "Opened the customer record"
        EXPORT = "export", "Exported contact data"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Empty for an export, which names its row count in `detail` instead.
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    detail = models.CharField(max_length=255, blank=True)
    accessed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "contact data access"
        verbose_name_plural = "contact data accesses"
        indexes = [models.Index(fields=["customer", "accessed_at"], name="piiaccess_customer_idx")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_kind_display()} — {self.accessed_at:%Y-%m-%d %H:%M}"


class CustomerExport(models.Model):
    """A CSV of the customer list built in the background, for the person who asked for it.

    Whether contact data is in full is decided once, from the requester's view_pii when
    they asked; the file is deleted CUSTOMERS_EXPORT_FILE_RETENTION_DAYS after it was built.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed (no file)"

    class Scope(models.TextChoices):
        ALL = "all", "All customers"
        SEGMENT = "segment", "One segment"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    # Names from customers.resources.EXPORT_FIELDS, in that order.
    fields = models.JSONField()
    contact_in_full = models.BooleanField(
        "contact data in full",
        default=False,
        help_text="Decided from the requester's right to see contact data when they asked.",
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    # A deleted segment leaves the export without one: it then fails rather than
    # exporting everyone.
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports"
    )
    segment_name = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    progress = models.PositiveSmallIntegerField("progress (%)", default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    file = models.FileField(upload_to="exports/", blank=True)
    sha256 = models.CharField("file SHA-256", max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    downloaded_at = models.DateTimeField("last downloaded at", null=True, blank=True)
    # When the daily housekeeping deleted its file (and any left by a crashed run).
    purged_at = models.DateTimeField("file deleted at", null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="segment") | Q(segment__isnull=True),
                name="customerexport_segment_only_for_segment_scope",
            ),
        ]
        indexes = [
            # The dashboard's exports under way.
            models.Index(fields=["status", "requested_at"], name="customerexport_status_idx"),
            # The daily purge: finished exports whose files are not yet deleted.
            models.Index(
                fields=["finished_at"],
                condition=Q(purged_at__isnull=True),
                name="customerexport_purge_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Customer export {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.READY, self.Status.FAILED}

    @property
    def selection(self) -> str:
        if self.scope == self.Scope.SEGMENT:
            return f"Segment {self.segment_name}"
        return "All customers"
