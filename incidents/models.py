"""The incident: the spine every other record hangs on, and its tamper-evident timeline."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

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


class EnisaCategory(models.IntegerChoices):
    """ENISA's basic data categories (2013 methodology); the value is the base DPC score."""

    SIMPLE = 1, "Simple"
    BEHAVIOURAL = 2, "Behavioural"
    FINANCIAL = 3, "Financial"
    SENSITIVE = 4, "Sensitive"


# Credentials are absent on purpose: they take the category of what they open.
ENISA_CATEGORY = {
    DataCategory.CONTACT: EnisaCategory.SIMPLE,
    DataCategory.IDENTITY: EnisaCategory.SIMPLE,
    DataCategory.LOCATION: EnisaCategory.BEHAVIOURAL,
    DataCategory.BEHAVIOURAL: EnisaCategory.BEHAVIOURAL,
    DataCategory.PAYMENT_CARD: EnisaCategory.FINANCIAL,
    DataCategory.BANK_ACCOUNT: EnisaCategory.FINANCIAL,
    # ENISA names no identity documents; they enable identity fraud, so they are rated
    # with financial data rather than with a plain name.
    DataCategory.GOVERNMENT_ID: EnisaCategory.FINANCIAL,
    DataCategory.HEALTH: EnisaCategory.SENSITIVE,
}


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
    # What the authorities are told beyond the customer text (Art. 33(3)).
    encryption = models.TextField(
        "encryption", blank=True, help_text="Was the data encrypted, how, and was the key safe?"
    )
    processor_involvement = models.TextField(
        "processor involvement", blank=True, help_text="Which processor, if any, and its part."
    )
    measures_for_authority = models.TextField(
        "measures, for the authority",
        blank=True,
        help_text="Measures taken and proposed, written for the regulator (not the customers).",
    )
    # The same facts in other languages: {"de": {"nature": ..., "likely_consequences": ...}}.
    # A message in German carries the German facts; sign-off waits until they are written.
    facts_translations = models.JSONField(
        "incident facts in other languages", default=dict, blank=True
    )
    art33_decision = models.CharField(
        max_length=16, choices=Art33Decision.choices, default=Art33Decision.UNDECIDED
    )
    art33_reason = models.TextField(blank=True)
    art34_decision = models.CharField(
        max_length=16, choices=Art34Decision.choices, default=Art34Decision.UNDECIDED
    )
    art34_reason = models.TextField(blank=True)
    materiality_determined_at = models.DateTimeField(null=True, blank=True)
    # Clock starts other than awareness that state laws name: the determination that a
    # breach occurred, and the scope (who, which data) being identified.
    breach_determined_at = models.DateTimeField("breach determined at", null=True, blank=True)
    scope_identified_at = models.DateTimeField("scope identified at", null=True, blank=True)
    credentials_open = models.CharField(
        "the leaked credentials open",
        max_length=16,
        blank=True,
        choices=[c for c in DataCategory.choices if c[0] != DataCategory.CREDENTIALS],
        help_text="Credentials take the ENISA category of the data they give access to.",
    )
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
        permissions = [
            ("transition_incident", "Can move an incident from one status to the next"),
            ("scope_incident", "Can set the scope (affected customers) of an incident"),
            ("decide_incident", "Can record the Art. 33/34 decisions of an incident"),
            ("decide_drill", "Can propose or confirm a change of an incident's drill status"),
        ]
        indexes = [models.Index(fields=["status"], name="incident_status_idx")]

    def __str__(self) -> str:
        return f"{'[DRILL] ' if self.is_drill else ''}{self.title}"

    @property
    def reference(self) -> str:
        """The reference people and authorities quote back to us."""
        year = self.awareness_at.year if self.awareness_at else 0
        return f"INC-{year}-{self.pk or 0:05d}"


class DrillChange(models.Model):
    """A proposal to turn a real incident into a drill or back: the CISO and the CMO decide
    it together, one proposes and another person in the other role confirms."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="drill_changes")
    to_drill = models.BooleanField()
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_as = models.CharField(max_length=16)
    requested_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_as = models.CharField(max_length=16, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    withdrawn = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # One open proposal per incident: a second one would race the first.
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(decided_at__isnull=True),
                name="drill_change_one_open_per_incident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident}: {'drill' if self.to_drill else 'real'} ({self.reason})"


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


class ScopeFigures(models.Model):
    """The counts of a large scope, kept so that a page never counts a million rows.

    Kept for scopes of `SCOPE_FIGURES_FROM` people and more: the scope services change them
    in the transaction that changes the scope (so the total and the groups follow every
    addition and removal at once), and the task cluster counts them again from the customer
    records every few minutes (a customer's country or language may change by an import);
    `counted_at` is that count's time, shown beside the figures.
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, primary_key=True, related_name="scope_figures"
    )
    total = models.PositiveIntegerField()
    counted_at = models.DateTimeField()
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "scope figures"

    def __str__(self) -> str:
        return f"{self.total} affected by {self.incident_id}, counted {self.counted_at}"


class ScopeGroup(models.Model):
    """Affected people of one residence, language and set of data categories: the groups
    every scope count (by country, US state, category, language) is summed from."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="scope_groups")
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=128, blank=True)
    # The postal code's first five characters where no region is given (a US ZIP places it).
    zip5 = models.CharField(max_length=5, blank=True)
    language = models.CharField(max_length=16, blank=True)
    # The data categories in the controlled list's order, comma-joined.
    categories = models.CharField(max_length=255, blank=True)
    people = models.PositiveIntegerField()
    # The lowest customer id of the group: the sample person a message preview shows.
    sample_customer_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "country", "region", "zip5", "language", "categories"],
                name="scopegroup_key_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.people} in {self.country}/{self.region} ({self.language})"


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

    # The runtime database role may only append (config.db_roles); Django's SET_NULL of a
    # deleted user's events is the one change it may still write.
    runtime_append_only = True
    runtime_updatable_columns = ("actor_id",)

    class Meta:
        ordering = ["incident", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "seq"], name="timelineevent_incident_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class ForensicList(models.Model):
    """A list of breached accounts (external ids or emails) uploaded by security."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="forensic_lists")
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    column = models.CharField("column used", max_length=128)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    rows = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.matched}/{self.rows} matched)"


class ForensicListRow(models.Model):
    """One line of a forensic list, kept whether or not it matched a customer."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        EXTERNAL_ID = "external_id", "External id"

    forensic_list = models.ForeignKey(ForensicList, on_delete=models.CASCADE, related_name="lines")
    line = models.PositiveIntegerField()
    value = models.CharField(max_length=254)
    value_normalized = models.CharField(max_length=254)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unmatched_reason = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["forensic_list", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["forensic_list", "line"], name="forensicrow_line_unique"
            )
        ]

    def __str__(self) -> str:
        # Not the value: an inline prints this string to whoever may read the list,
        # and the value is an email or an account id.
        return f"line {self.line}"


class Assessment(models.Model):
    """One version of the ENISA severity assessment: SE = DPC x EI + CB."""

    class Level(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        VERY_HIGH = "very_high", "Very high"

    EI_CHOICES = [
        (Decimal("0.25"), "0.25 negligible"),
        (Decimal("0.50"), "0.5 limited"),
        (Decimal("0.75"), "0.75 medium"),
        (Decimal("1.00"), "1 high"),
    ]
    CB_CHOICES = [(Decimal("0.00"), "0"), (Decimal("0.25"), "0.25"), (Decimal("0.50"), "0.5")]
    MALICIOUS_CHOICES = [(Decimal("0.00"), "0 no"), (Decimal("0.50"), "0.5 yes")]

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="assessments")
    version = models.PositiveIntegerField()
    basic_category = models.PositiveSmallIntegerField(choices=EnisaCategory.choices)
    # The data categories that decided the basic category, as the assessor saw them.
    data_categories = models.JSONField(default=list)
    dpc_base = models.PositiveSmallIntegerField()
    # [{"delta": int, "reason": str}, ...]: ENISA's contextual adjustments, each justified.
    dpc_adjustments = models.JSONField(default=list, blank=True)
    dpc = models.PositiveSmallIntegerField()
    ei = models.DecimalField("ease of identification", max_digits=3, decimal_places=2)
    cb_confidentiality = models.DecimalField(max_digits=3, decimal_places=2)
    cb_integrity = models.DecimalField(max_digits=3, decimal_places=2)
    cb_availability = models.DecimalField(max_digits=3, decimal_places=2)
    cb_malicious = models.DecimalField("malicious intent", max_digits=3, decimal_places=2)
    score = models.DecimalField(max_digits=5, decimal_places=2)
    level = models.CharField(max_length=16, choices=Level.choices)
    note = models.TextField(blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assessed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "version"], name="assessment_version_unique"
            ),
            models.CheckConstraint(condition=Q(dpc__gte=1, dpc__lte=4), name="assessment_dpc_1_4"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}: {self.score} ({self.get_level_display()})"

    @property
    def cb(self) -> Decimal:
        return (
            self.cb_confidentiality + self.cb_integrity + self.cb_availability + self.cb_malicious
        )

    @property
    def arithmetic(self) -> str:
        """The calculation as a reader checks it, e.g. for the evidence pack."""
        steps = [f"DPC {self.dpc_base} ({self.get_basic_category_display().lower()})"]
        steps += [f"{a['delta']:+d} ({a['reason']})" for a in self.dpc_adjustments]
        raw = self.dpc_base + sum(a["delta"] for a in self.dpc_adjustments)
        dpc = f"{' '.join(steps)} = {raw}"
        if raw != self.dpc:
            dpc += f", bounded to {self.dpc}"
        cb = (
            f"{self.cb_confidentiality.normalize()} + {self.cb_integrity.normalize()}"
            f" + {self.cb_availability.normalize()} + {self.cb_malicious.normalize()}"
        )
        return (
            f"{dpc}; SE = DPC x EI + CB = {self.dpc} x {self.ei.normalize()} + ({cb})"
            f" = {self.score} -> {self.get_level_display().lower()}"
        )


class Regulator(models.Model):
    """An authority notices go to: where and how it takes them. The notices (drafted by
    the documents side) read the recipient's address, channel, form and language here."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    jurisdiction = models.CharField(max_length=16, help_text="ISO 3166 code: US, US-TX, DE.")
    address = models.TextField(blank=True)
    portal_url = models.URLField("portal", blank=True)
    email = models.EmailField(blank=True)
    form = models.CharField(
        max_length=200, blank=True, help_text="The form or portal page the notice uses."
    )
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1.")

    class Meta:
        ordering = ["jurisdiction", "name"]

    def __str__(self) -> str:
        return self.name


class Regime(models.Model):
    """A notification rule kept as data: who must be told, by when, and on what authority.

    It applies when the company profile sets `profile_flag` (and the scope holds at least
    `min_affected` people), or when at least max(`min_affected`, 1) affected customers live
    in `countries` (and, when given, `regions`: US state codes).
    """

    class ProfileFlag(models.TextChoices):
        NONE = "", "None"
        EU_ESTABLISHMENT = "eu_establishment", "EU establishment"
        UK_ESTABLISHMENT = "uk_establishment", "UK establishment"
        NIS2_ENTITY = "nis2_entity", "NIS2 essential or important entity"
        HIPAA_COVERED = "hipaa_covered", "HIPAA covered entity"
        SEC_REGISTRANT = "sec_registrant", "SEC registrant"
        NYDFS_COVERED = "nydfs_covered", "NYDFS-licensed covered entity (23 NYCRR 500)"
        FTC_SAFEGUARDS = "ftc_safeguards", "Financial institution under the FTC Safeguards Rule"
        BROKER_DEALER = "broker_dealer", "Broker-dealer or adviser (Regulation S-P)"
        US_BANK = "us_bank", "US banking organisation (36-hour rule)"
        DORA_ENTITY = "dora_entity", "EU financial entity under DORA"
        TELECOM_PROVIDER = "telecom_provider", "Provider of electronic communications (ePrivacy)"

    class ClockStart(models.TextChoices):
        AWARENESS = "awareness", "Awareness (discovery)"
        MATERIALITY = "materiality", "Materiality determination"
        PRECEDING_FILING = "preceding_filing", "Submission of the preceding filing"
        DETERMINATION = "determination", "Determination that a breach occurred"
        SCOPE_IDENTIFIED = "scope_identified", "Scope identified"
        CONTAINMENT = "containment", "Containment (the incident handled)"
        CONSUMER_NOTICE = "consumer_notice", "Notice to the people affected"
        YEAR_END = "year_end", "End of the calendar year of discovery"

    class Relation(models.TextChoices):
        NONE = "", "None"
        BEFORE = "before", "Before"
        SAME_TIME = "same_time", "At the same time as"
        NO_LATER_THAN = "no_later_than", "No later than"
        SOONER_OF = "sooner_of", "Its own clock or the other's, whichever is sooner"

    class Unit(models.TextChoices):
        HOURS = "hours", "Hours"
        DAYS = "days", "Calendar days"
        US_BUSINESS_DAYS = "us_business_days", "US business days"
        BUSINESS_DAYS = "business_days", "Business days (the regulator's calendar)"
        MONTHS = "months", "Months"
        NONE = "none", "No fixed deadline"

    class WaivedBy(models.TextChoices):
        NOTHING = "", "Nothing"
        ART33 = "art33", "The Art. 33 decision (not required)"
        ART34 = "art34", "The Art. 34 decision (an exemption)"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    recipient = models.CharField(max_length=200)
    regulator = models.ForeignKey(
        Regulator,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="regimes",
        help_text="The authority told, when the recipient is one.",
    )
    # GDPR filings stop being owed when the DPO records that they are not required.
    waived_by = models.CharField(
        max_length=8, choices=WaivedBy.choices, blank=True, default=WaivedBy.NOTHING
    )
    profile_flag = models.CharField(
        max_length=32, choices=ProfileFlag.choices, blank=True, default=ProfileFlag.NONE
    )
    countries = models.JSONField(default=list, blank=True, help_text="ISO 3166 codes.")
    regions = models.JSONField(default=list, blank=True, help_text="US state codes, e.g. TX.")
    min_affected = models.PositiveIntegerField(default=0)
    max_affected = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Applies only below this many affected (HIPAA's log of breaches under 500).",
    )
    threshold_per_subdivision = models.BooleanField(
        default=False,
        help_text="The threshold counts the residents of one subdivision (a State), not "
        "the whole scope.",
    )
    clock_start = models.CharField(
        max_length=32, choices=ClockStart.choices, default=ClockStart.AWARENESS
    )
    follows = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The filing whose submission starts this clock.",
    )
    relation = models.CharField(
        max_length=16, choices=Relation.choices, blank=True, default=Relation.NONE
    )
    relative_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The obligation this one is ordered against (the consumer notice).",
    )
    deadline_amount = models.PositiveIntegerField(null=True, blank=True)
    deadline_unit = models.CharField(max_length=32, choices=Unit.choices)
    # Business-day deadlines end at a local time of day (EDGAR accepts filings until 17:30 ET).
    due_local_time = models.TimeField(null=True, blank=True)
    due_timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="The jurisdiction's time zone: days end at the end of its local day.",
    )
    holiday_calendar = models.CharField(
        max_length=16,
        blank=True,
        help_text="Business days skip this calendar's holidays: a country (US, BR), a "
        "subdivision (US-NY) or a market (NYSE). Closures entered by an admin are added.",
    )
    terms = models.TextField(help_text="What must be done, in plain words.")
    source = models.TextField(help_text="The provision this rule comes from.")
    met_by_consumer_notice = models.BooleanField(
        "met by the notices sent",
        default=False,
        help_text="A notice to the people themselves: met when the wave of notices to its "
        "jurisdiction's residents completes, at the last message's time.",
    )
    in_force_from = models.DateField(
        null=True,
        blank=True,
        help_text="A breach discovered before this day is judged by the version in force then.",
    )
    in_force_until = models.DateField(
        null=True, blank=True, help_text="Last day this version applies (then its successor)."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(deadline_unit="none") | Q(deadline_amount__isnull=False),
                name="regime_deadline_has_amount",
            ),
            models.CheckConstraint(
                condition=~Q(clock_start="preceding_filing") | Q(follows__isnull=False),
                name="regime_preceding_filing_named",
            ),
            models.CheckConstraint(
                condition=Q(relation="") | Q(relative_to__isnull=False),
                name="regime_relation_named",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RegimeChange(models.Model):
    """One edit of a regime by an admin: who, when, and the fields before and after.
    Obligations keep the terms they copied, so no started clock moves with it."""

    regime = models.ForeignKey(Regime, on_delete=models.PROTECT, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.regime.code} changed at {self.changed_at:%Y-%m-%d %H:%M}"


class BusinessDayClosure(models.Model):
    """A one-off day a regulator is closed that no holiday rule knows (an executive order
    closing federal offices, EDGAR down for a national day of mourning)."""

    calendar = models.CharField(
        max_length=16, help_text="The holiday calendar it closes, as regimes name it (US)."
    )
    day = models.DateField()
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="closure_calendar_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.calendar} closed on {self.day:%Y-%m-%d}"


class Obligation(models.Model):
    """One regime applied to one incident, with the regime's terms as they were then."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MET = "met", "Met on time"
        LATE = "late", "Met late"
        NOT_REQUIRED = "not_required", "Not required"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="obligations")
    regime = models.ForeignKey(Regime, on_delete=models.PROTECT, related_name="obligations")
    name = models.CharField(max_length=200)
    recipient = models.CharField(max_length=200)
    terms = models.JSONField(
        help_text="The regime's terms, copied when the obligation was created."
    )
    why = models.TextField(
        "why it applies", blank=True, help_text="The rule's test as the scope met it."
    )
    clock_started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    met_at = models.DateTimeField(null=True, blank=True)
    lateness = models.DurationField(null=True, blank=True)
    delay_reason = models.TextField(blank=True)
    not_required_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "due_at", "name"]
        permissions = [("meet_obligation", "Can record an obligation as met or not required")]
        constraints = [
            models.UniqueConstraint(fields=["incident", "regime"], name="obligation_regime_unique"),
            models.CheckConstraint(
                condition=~Q(status="late") | ~Q(delay_reason=""),
                name="obligation_late_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="not_required") | ~Q(not_required_reason=""),
                name="obligation_not_required_has_reason",
            ),
        ]
        # The dashboard looks for each incident's next open deadline.
        indexes = [models.Index(fields=["status", "due_at"], name="obligation_next_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.incident})"


class ObligationPause(models.Model):
    """A documented pause of an obligation's clock: a law-enforcement agency asked in
    writing that notice be delayed. The due time moves by the pause's length."""

    obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="pauses")
    requested_by = models.CharField(
        "requested by", max_length=200, help_text="The agency and officer who asked."
    )
    reference = models.CharField(
        "documented request", max_length=200, help_text="The letter or case reference."
    )
    starts_at = models.DateTimeField()
    until = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["obligation", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(until__gt=models.F("starts_at")), name="pause_ends_after_it_starts"
            )
        ]

    def __str__(self) -> str:
        return f"Paused by {self.requested_by} until {self.until:%Y-%m-%d}"


# --- Regulator notice and evidence -----------------------------------------------------


class RegulatorNotice(models.Model):
    """An Art. 33 notice to the supervisory authority: the initial one, then follow-ups
    (Art. 33(4) lets the information come in phases). Its content is frozen when drafted."""

    class Phase(models.TextChoices):
        INITIAL = "initial", "Initial notice"
        FOLLOW_UP = "follow_up", "Follow-up"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notices")
    number = models.PositiveIntegerField(help_text="1 for the initial notice, then 2, 3, ...")
    # The addressee: each authority's notices are a chain of their own, never a follow-up
    # of another authority's filing.
    authority = models.CharField(max_length=200, blank=True)
    phase = models.CharField(max_length=16, choices=Phase.choices)
    obligation = models.ForeignKey(
        Obligation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notices",
        help_text="The filing obligation this notice meets when it is filed.",
    )
    # The form's answers as drafted from the incident record: {"sections": [...]}.
    content = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "number"]
        permissions = [("file_regulatornotice", "Can draft regulator notices and record filings")]
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="notice_number_unique"),
            models.UniqueConstraint(
                fields=["incident", "authority"],
                condition=Q(phase="initial"),
                name="notice_one_initial_per_authority",
            ),
        ]

    def __str__(self) -> str:
        return f"Notice {self.number} ({self.get_phase_display().lower()}) for {self.incident}"


class Filing(models.Model):
    """A notice as it was sent to an authority: when, under which reference, which file."""

    notice = models.OneToOneField(RegulatorNotice, on_delete=models.PROTECT, related_name="filing")
    authority = models.CharField(max_length=200)
    filed_at = models.DateTimeField("submitted at")
    reference = models.CharField("authority's reference", max_length=200)
    file = models.FileField("file sent", upload_to="filings/")
    file_sha256 = models.CharField(max_length=64)
    delay_reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-filed_at"]

    def __str__(self) -> str:
        return f"{self.reference} at {self.authority}"


class EvidencePack(models.Model):
    """One PDF/A evidence pack of an incident, built in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="evidence_packs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    stage = models.CharField(max_length=200, blank=True)
    file = models.FileField(upload_to="evidence/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    head_hash = models.CharField("timeline head hash", max_length=64, blank=True)
    chain_ok = models.BooleanField(null=True)
    first_broken_seq = models.PositiveIntegerField(null=True, blank=True)
    affected = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {"gather": seconds, "annexes": ..., "render": ..., "write": ...}
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        # Viewing a pack is downloading it: view_evidencepack is held only by those who
        # answer for the breach and by auditors (who hold nothing but view permissions).
        permissions = [("build_evidencepack", "Can build evidence packs")]

    def __str__(self) -> str:
        return f"Evidence pack {self.pk} of {self.incident}"
