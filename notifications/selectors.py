"""Reads about breach messages: what a version lacks, who gets which version, what the
CMO and the CISO sign."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from config.models import company_profile
from customers.models import Customer
from customers.pii import mask_text
from incidents.models import AffectedCustomer, DataCategory, Incident
from incidents.selectors import scope_audience_groups

from .models import (
    Channel,
    Communication,
    CommunicationSignOff,
    Delivery,
    Notification,
    SignOffRole,
    TemplateVersion,
    WaveFigures,
    canonical_sha256,
)
from .readability import Readability, reading_ease
from .rendering import (
    ART34_VARIABLES,
    CATEGORY_VARIABLES,
    CONTEXT_VARIABLES,
    RenderedMessage,
    RenderError,
    TemplateProblem,
    breach_email_compose,
    message_render,
    template_source_problems,
)

# Shown in previews where the send service will put each person's own value.
PREVIEW_RESET_LINK = "https://reset.invalid/PREVIEW"
PREVIEW_REMEDIATION_CODE = "PREVIEW-CODE"
PREVIEW_REDEMPTION_LINK = "https://redeem.invalid/PREVIEW"
# The incident facts a message renders; a blank one would be a blank in every inbox.
INCIDENT_FACTS = {
    "nature": "nature of the breach",
    "contact_point": "contact point",
    "likely_consequences": "likely consequences",
    "measures_taken": "measures taken",
    "measures_proposed": "measures proposed",
}

# Incident dates a message renders: changing one voids the sign-offs as the facts do.
INCIDENT_RENDERED_DATES = {
    "awareness_at": "awareness time",
    "occurred_at": "time the breach occurred",
}


def incident_facts(*, incident: Incident, language: str = "") -> dict[str, str]:
    """The facts a message tells, in `language` when written in it, else as recorded."""
    translated = (incident.facts_translations or {}).get(language_primary(language)) or {}
    return {name: str(translated.get(name) or getattr(incident, name)) for name in INCIDENT_FACTS}


def incident_facts_missing(*, incident: Incident, language: str) -> list[str]:
    """The facts not yet written in `language` (none for the company's own language)."""
    wanted = language_primary(language)
    if not wanted or wanted == language_primary(company_profile().default_language):
        return []
    translated = (incident.facts_translations or {}).get(wanted) or {}
    return [
        label for name, label in INCIDENT_FACTS.items() if not str(translated.get(name, "")).strip()
    ]


def language_primary(code: str) -> str:
    """ "de-AT", "DE_de" and "de" all mean German here."""
    return code.strip().lower().replace("_", "-").split("-")[0]


# --- Template versions -------------------------------------------------------------------


def template_version_problems(*, version: TemplateVersion) -> list[TemplateProblem]:
    """What stops a version from being submitted or approved, in words a writer can act on."""
    problems: list[TemplateProblem] = []
    used_by_part: dict[str, set[str]] = {}
    for part, source in (
        ("subject", version.subject),
        ("text body", version.text_body),
        ("HTML body", version.html_body),
    ):
        part_problems, used = template_source_problems(part=part, source=source)
        problems += part_problems
        used_by_part[part] = used
    if problems:
        return problems
    if not version.language or version.language != language_primary(version.language):
        problems.append(TemplateProblem("language", "must be a two-letter code such as en or de"))
    unknown = set(version.data_categories) - set(DataCategory.values)
    if unknown:
        problems.append(
            TemplateProblem("data categories", f"unknown: {', '.join(sorted(unknown))}")
        )
    required = dict(ART34_VARIABLES)
    for category in version.data_categories:
        required.update(CATEGORY_VARIABLES.get(category, {}))
    # Both bodies must say it all: a reader of either version gets what Art. 34(2) requires.
    for part in ("text body", "HTML body"):
        for variable, meaning in required.items():
            if variable not in used_by_part[part]:
                problems.append(
                    TemplateProblem(part, f"must tell {meaning}: use {{{{ {variable} }}}}")
                )
    return problems


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    meaning: str
    # Empty when optional; else which messages must use it.
    required_for: str


def template_variables() -> list[TemplateVariable]:
    """Every name a template may use, what it means, and which messages must use it."""
    labels = dict(DataCategory.choices)
    needed: dict[str, list[str]] = defaultdict(list)
    for name in ART34_VARIABLES:
        needed[name].append("every message (Art. 34(2) GDPR)")
    for category, variables in CATEGORY_VARIABLES.items():
        for name in variables:
            needed[name].append(f"{labels.get(category, category)} data")
    return [
        TemplateVariable(name, meaning, ", ".join(needed.get(name, [])))
        for name, meaning in CONTEXT_VARIABLES.items()
    ]


def sample_context(
    *, incident: Incident | None = None, data_categories: Iterable[str] = ()
) -> dict[str, Any]:
    """A context for previews: the incident's facts and a made-up person."""
    customer = Customer(first_name="Alex", last_name="Example", email="alex@example.invalid")
    if incident is None:
        incident = Incident(
            nature="[nature of the breach]",
            contact_point="[contact point]",
            likely_consequences="[likely consequences]",
            measures_taken="[measures taken]",
            measures_proposed="[measures proposed]",
        )
    return message_context(
        incident=incident,
        customer=customer,
        data_categories=data_categories,
        reset_link=PREVIEW_RESET_LINK,
        remediation_code=PREVIEW_REMEDIATION_CODE,
        redemption_link=PREVIEW_REDEMPTION_LINK,
    )


def message_incident_facts(*, incident: Incident, language: str = "") -> dict[str, Any]:
    """What a template can render of the incident, in `language` where it is written in it;
    the sign-offs cover exactly this (and the translations)."""
    facts = incident_facts(incident=incident, language=language)
    return {
        "nature": facts["nature"],
        "occurred_on": incident.occurred_at.date() if incident.occurred_at else None,
        "became_aware_on": incident.awareness_at.date() if incident.awareness_at else None,
        "likely_consequences": facts["likely_consequences"],
        "measures_taken": facts["measures_taken"],
        "measures_proposed": facts["measures_proposed"],
    }


def message_context(
    *,
    incident: Incident,
    customer: Customer,
    data_categories: Iterable[str],
    reset_link: str,
    remediation_code: str,
    redemption_link: str,
    language: str = "",
) -> dict[str, Any]:
    """Exactly the variables of rendering.CONTEXT_VARIABLES, as plain values; the incident
    facts in `language` where the incident has them written in it."""
    full_name = f"{customer.first_name} {customer.last_name}".strip() or customer.email
    labels = dict(DataCategory.choices)
    facts = incident_facts(incident=incident, language=language)
    return {
        "customer": {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "full_name": full_name,
        },
        "incident": message_incident_facts(incident=incident, language=language),
        "affected_data": [labels.get(code, code) for code in sorted(data_categories)],
        "contact_point": facts["contact_point"],
        "reset_link": reset_link,
        "remediation_code": remediation_code,
        "redemption_link": redemption_link,
    }


def template_version_preview(
    *, version: TemplateVersion, context: dict[str, Any] | None = None
) -> RenderedMessage | None:
    if template_version_problems(version=version):
        return None
    try:
        return message_render(
            subject=version.subject,
            text_body=version.text_body,
            html_body=version.html_body,
            context=context
            or sample_context(
                incident=version.template.incident, data_categories=version.data_categories
            ),
        )
    except RenderError:
        return None


def template_version_readability(*, version: TemplateVersion) -> Readability | None:
    """Reading ease of the text body as a person reads it (rendered with sample facts)."""
    rendered = template_version_preview(version=version)
    text = rendered.text if rendered else version.text_body
    return reading_ease(text, version.language)


def readability_is_too_hard(readability: Readability | None) -> bool:
    return readability is not None and readability.score < settings.BREACH_MESSAGE_MIN_READING_EASE


# --- Communications ----------------------------------------------------------------------


def communication_content_document(*, communication: Communication) -> dict[str, Any]:
    """What the CMO and the CISO sign: the words (each version's id and hash), who gets
    them, how and when, and the incident facts the words are rendered with."""
    incident = communication.incident
    versions = sorted(communication.versions.all(), key=lambda v: v.pk)
    return {
        "communication": communication.pk,
        "incident": communication.incident_id,
        "versions": [{"id": v.pk, "content_hash": v.content_hash} for v in versions],
        "audience": {
            "data_categories": sorted(communication.audience_data_categories),
            "countries": sorted(communication.audience_countries),
        },
        "channels": sorted(communication.channels),
        "send_window": {
            "start": communication.send_window_start.isoformat(),
            "end": communication.send_window_end.isoformat(),
        },
        "fallback_language": communication.fallback_language,
        "incident_facts": {name: getattr(incident, name) for name in INCIDENT_FACTS},
        "incident_facts_translations": incident.facts_translations or {},
        # Every incident value a template can render (the dates included), as rendered.
        "incident_rendered": {
            name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in message_incident_facts(incident=incident).items()
        },
        # A drill's messages are marked [DRILL]: a notice signed as a drill is not a real one.
        "is_drill": incident.is_drill,
    }


def communication_content_hash(*, communication: Communication) -> str:
    """SHA-256 of the canonical content; the send service compares it with the sign-offs."""
    return canonical_sha256(communication_content_document(communication=communication))


def communication_active_sign_offs(*, communication: Communication) -> list[CommunicationSignOff]:
    return list(
        communication.sign_offs.filter(voided_at__isnull=True)
        .select_related("user")
        .order_by("signed_at")
    )


def communication_sign_offs_match(*, communication_id: int) -> bool:
    """True only when the CMO and the CISO, two different people, signed the current content.

    The send service calls this right before sending (a mismatch means no send); it reads
    the communication and its incident afresh, so no stale copy passes the check.
    """
    communication = Communication.objects.select_related("incident").get(pk=communication_id)
    current = communication_content_hash(communication=communication)
    sign_offs = communication_active_sign_offs(communication=communication)
    roles = {s.role for s in sign_offs if s.content_hash == current}
    users = {s.user_id for s in sign_offs if s.content_hash == current}
    return roles == set(SignOffRole.values) and len(users) == len(SignOffRole.values)


@dataclass
class MatrixRow:
    channel: str
    language: str
    data_categories: tuple[str, ...]
    people: int
    sample_customer_id: int
    version: TemplateVersion | None = None
    via_fallback: bool = False

    @property
    def channel_label(self) -> str:
        return Channel(self.channel).label


@dataclass
class Matrix:
    rows: list[MatrixRow] = field(default_factory=list)

    @property
    def people(self) -> int:
        # Every channel has a row for every person; count one channel's rows.
        channels = {row.channel for row in self.rows}
        first = min(channels) if channels else None
        return sum(row.people for row in self.rows if row.channel == first)

    @property
    def uncovered(self) -> list[MatrixRow]:
        return [row for row in self.rows if row.version is None]


def version_choose(
    versions: Sequence[TemplateVersion],
    *,
    channel: str,
    language: str,
    data_categories: Iterable[str],
    fallback_language: str,
) -> tuple[TemplateVersion | None, bool]:
    """The version a person gets on one channel, and whether it is in the fallback language.

    A version fits when it is written for every category of the person's data, so nobody
    gets a message silent on part of what leaked; among those, the most specific one
    (fewest categories), then the oldest, in the person's language, else the fallback.
    A letter reads the approved email version's words unless a letter version fits: the
    same words legal approved, printed; no separate letter version is needed.
    """
    wanted = set(data_categories)
    fitting = [v for v in versions if v.channel == channel and wanted <= set(v.data_categories)]
    for candidate_language in (language, fallback_language):
        candidates = [v for v in fitting if v.language == candidate_language]
        if candidates:
            chosen = min(candidates, key=lambda v: (len(v.data_categories), v.pk))
            return chosen, candidate_language != language
    if channel == Channel.LETTER:
        return version_choose(
            versions,
            channel=Channel.EMAIL,
            language=language,
            data_categories=data_categories,
            fallback_language=fallback_language,
        )
    return None, False


def _in_audience(communication: Communication, categories: Iterable[str]) -> bool:
    narrowed = set(communication.audience_data_categories)
    return not narrowed or bool(narrowed & set(categories))


def communication_matrix(*, communication: Communication) -> Matrix:
    """Who gets what: one grouped query over the audience, never a loop over people.

    People are grouped by language and data categories in SQL; the few groups are then
    narrowed by the audience's categories and given their version.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = defaultdict(lambda: [0, 0])
    profile = company_profile()
    for group in scope_audience_groups(
        incident_id=communication.incident_id, countries=communication.audience_countries
    ):
        categories = tuple(sorted(set(group.data_categories)))
        if not _in_audience(communication, categories):
            continue
        # A person's own language, else their country's, else the company's: as sent.
        language = profile.language_for(language=group.language, country=group.country)
        key = (language, categories)
        total = groups[key]
        total[0] += group.people
        total[1] = min(total[1] or group.sample_customer_id, group.sample_customer_id)
    versions = list(communication.versions.select_related("template"))
    matrix = Matrix()
    for channel in sorted(communication.channels):
        for (language, categories), (people, sample) in sorted(groups.items()):
            version, via_fallback = version_choose(
                versions,
                channel=channel,
                language=language,
                data_categories=categories,
                fallback_language=communication.fallback_language,
            )
            matrix.rows.append(
                MatrixRow(
                    channel=channel,
                    language=language,
                    data_categories=categories,
                    people=people,
                    sample_customer_id=sample,
                    version=version,
                    via_fallback=via_fallback,
                )
            )
    return matrix


def communication_sign_off_blockers(
    *, communication: Communication, matrix: Matrix | None = None
) -> list[str]:
    """Why the communication cannot be signed off yet (empty when it can)."""
    blockers = []
    if not communication.channels:
        blockers.append("No channel is chosen.")
    incident = communication.incident
    blank = [label for name, label in INCIDENT_FACTS.items() if not getattr(incident, name).strip()]
    if blank:
        blockers.append(
            f"The incident record has no {', '.join(blank)}: every message would show a blank."
        )
    for version in communication.versions.all():
        if version.status != TemplateVersion.Status.APPROVED:
            blockers.append(f"{version} is not approved by legal.")
    for language in sorted({v.language for v in communication.versions.all()}):
        missing = incident_facts_missing(incident=incident, language=language)
        if missing:
            blockers.append(
                f"The incident facts are not written in '{language}' ({', '.join(missing)}): "
                f"the {language} messages would carry them in another language."
            )
    matrix = matrix or communication_matrix(communication=communication)
    if not matrix.rows and communication.channels:
        blockers.append("Nobody is in the audience.")
    for row in matrix.uncovered:
        blockers.append(
            f"{row.people} {'person' if row.people == 1 else 'people'} "
            f"(language {row.language or 'unknown'}, data "
            f"{', '.join(row.data_categories) or 'none'}) would get no approved "
            f"{row.channel_label.lower()} version."
        )
    return blockers


@dataclass
class PersonPreview:
    customer: Customer
    data_categories: list[str]
    channel: str
    version: TemplateVersion | None
    via_fallback: bool
    message: RenderedMessage | None
    error: str = ""


def communication_previews(
    *, communication: Communication, customer_ids: Iterable[int], masked: bool = False
) -> list[PersonPreview]:
    """Each given person's message on each channel, rendered as they would get it.

    People outside the communication's audience are left out. `masked` hides the emails
    and phone numbers a message names (a nameless person is greeted by their email), for
    readers without the permission to see contact data.
    """
    affected = AffectedCustomer.objects.filter(
        incident_id=communication.incident_id, customer_id__in=list(customer_ids)
    ).select_related("customer")
    if communication.audience_countries:
        affected = affected.filter(customer__country__in=communication.audience_countries)
    versions = list(communication.versions.select_related("template"))
    profile = company_profile()
    authorities = complaint_authorities(incident_id=communication.incident_id)
    previews = []
    for row in affected.order_by("customer_id"):
        if not _in_audience(communication, row.data_categories):
            continue
        for channel in sorted(communication.channels):
            version, via_fallback = version_choose(
                versions,
                channel=channel,
                language=profile.language_for(
                    language=row.customer.language, country=row.customer.country
                ),
                data_categories=row.data_categories,
                fallback_language=communication.fallback_language,
            )
            preview = PersonPreview(
                customer=row.customer,
                data_categories=sorted(row.data_categories),
                channel=channel,
                version=version,
                via_fallback=via_fallback,
                message=None,
            )
            if version is not None:
                try:
                    preview.message = message_render(
                        subject=version.subject,
                        text_body=version.text_body,
                        html_body=version.html_body,
                        context=message_context(
                            incident=communication.incident,
                            customer=row.customer,
                            data_categories=row.data_categories,
                            reset_link=PREVIEW_RESET_LINK,
                            remediation_code=PREVIEW_REMEDIATION_CODE,
                            redemption_link=PREVIEW_REDEMPTION_LINK,
                            language=version.language,
                        ),
                    )
                    if channel == Channel.EMAIL:
                        # The email as it will leave: inside the company's frame.
                        preview.message = breach_email_compose(
                            rendered=preview.message,
                            language=version.language,
                            reference=communication.incident.reference,
                            sent_on=timezone.localdate(),
                            data_categories=list(row.data_categories),
                            code=None,
                            authority=authorities.get(row.customer.country.upper(), ""),
                            profile=profile,
                        )
                except RenderError as error:
                    preview.error = str(error)
            if masked and preview.message is not None:
                preview.message = RenderedMessage(
                    subject=mask_text(preview.message.subject),
                    text=mask_text(preview.message.text),
                    html=mask_text(preview.message.html),
                )
            previews.append(preview)
    return previews


# --- Delivery ----------------------------------------------------------------------------


@dataclass
class DeliveryProgress:
    """Where a wave stands, for the communication's page."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    status: str = ""
    pause_reason: str = ""
    per_minute: float = 0.0
    estimated_finish: datetime | None = None
    # When the task cluster counted a large wave (None: counted just now).
    counted_at: datetime | None = None

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def pending(self) -> int:
        return self.count("pending") + self.count("claimed")

    @property
    def letters(self) -> int:
        return self.count("letter") + self.count("bounced") + self.count("failed")

    def percent(self, value: int) -> float:
        return round(100 * value / self.total, 1) if self.total else 0.0

    @property
    def bars(self) -> list[tuple[str, int, float]]:
        return [
            (label, value, self.percent(value))
            for label, value in (
                ("sent", self.count("sent")),
                ("failed", self.count("failed")),
                ("bounced", self.count("bounced")),
                ("by letter", self.count("letter")),
                ("skipped", self.count("skipped")),
                ("pending", self.pending),
            )
        ]


def wave_status_counts(*, communication_id: int) -> dict[str, int]:
    """Notifications of a wave by status: one grouped query."""
    return dict(
        Notification.objects.filter(communication_id=communication_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )


def wave_kept_figures(*, communication_id: int) -> WaveFigures | None:
    """The kept counts of a large wave (services.wave_figures), or None: count live."""
    return WaveFigures.objects.filter(communication_id=communication_id).first()


def delivery_progress(*, communication_id: int) -> DeliveryProgress | None:
    """Counts by status in one grouped query (kept by the task cluster for a large wave);
    the finish is estimated from the pace of the last five minutes, or between the last
    two counts of a kept wave."""
    delivery = Delivery.objects.filter(communication_id=communication_id).first()
    if delivery is None:
        return None
    figures = wave_kept_figures(communication_id=communication_id)
    counts = (
        dict(figures.counts["status"])
        if figures
        else wave_status_counts(communication_id=communication_id)
    )
    progress = DeliveryProgress(
        total=sum(counts.values()),
        counts=counts,
        status=delivery.get_status_display(),
        pause_reason=delivery.pause_reason if delivery.status == "paused" else "",
        counted_at=figures.counted_at if figures else None,
    )
    now = timezone.now()
    if figures is None:
        recent = Notification.objects.filter(
            communication_id=communication_id, sent_at__gte=now - timedelta(minutes=5)
        ).count()
        progress.per_minute = recent / 5
    elif figures.previous_counted_at is not None:
        minutes = (figures.counted_at - figures.previous_counted_at).total_seconds() / 60
        sent = figures.counts["outcomes"]["sent"] - figures.previous_sent
        progress.per_minute = max(0, sent) / minutes if minutes > 0 else 0.0
    if progress.pending and progress.per_minute and delivery.status == "sending":
        progress.estimated_finish = now + timedelta(minutes=progress.pending / progress.per_minute)
    return progress


@dataclass
class DeliveryOutcomes:
    """What became of a wave, by the provider's webhooks and the letter queue."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    soft_bounced: int = 0
    hard_bounced: int = 0
    complained: int = 0
    letters_owed: int = 0
    letters_posted: int = 0
    # When the task cluster counted a large wave (None: counted just now).
    counted_at: datetime | None = None

    @property
    def told(self) -> int:
        """People the message reached: an email not bounced back, or a letter posted."""
        return self.sent - self.hard_bounced + self.letters_posted

    @property
    def no_news(self) -> int:
        return max(0, self.sent - self.delivered - self.soft_bounced - self.hard_bounced)

    @property
    def bars(self) -> list[tuple[str, int, float, str]]:
        """(label, count, percent of sent, colour) for the bar over everything sent."""
        parts = (
            ("delivered", self.delivered - self.complained, "#2e7d32"),
            ("complained", self.complained, "#6a1b9a"),
            ("soft bounce", self.soft_bounced, "#ef6c00"),
            ("hard bounce", self.hard_bounced, "#c62828"),
            ("no news yet", self.no_news, "#e0e0e0"),
        )
        return [
            (label, value, round(100 * value / self.sent, 1) if self.sent else 0.0, colour)
            for label, value, colour in parts
        ]


def delivery_outcomes(*, communication_id: int) -> DeliveryOutcomes:
    """What became of a wave: kept by the task cluster for a large wave, else counted."""
    figures = wave_kept_figures(communication_id=communication_id)
    if figures is not None:
        return DeliveryOutcomes(**figures.counts["outcomes"], counted_at=figures.counted_at)
    return wave_outcomes_count(communication_id=communication_id)


def _outcome_counts() -> dict[str, Count]:
    """The aggregates of `DeliveryOutcomes` over notifications (and their letter batches)."""
    from .models import DeliveryState, LetterBatch

    letter = Q(status__in=["letter", "bounced", "failed"])
    posted = Q(letter_batch__status=LetterBatch.Status.POSTED)
    return {
        "sent": Count("pk", filter=Q(sent_at__isnull=False)),
        "delivered": Count(
            "pk",
            filter=Q(
                delivery_state__in=[
                    DeliveryState.DELIVERED,
                    DeliveryState.OPENED,
                    DeliveryState.COMPLAINED,
                ]
            ),
        ),
        "opened": Count("pk", filter=Q(delivery_state=DeliveryState.OPENED)),
        "soft_bounced": Count(
            "pk", filter=Q(delivery_state=DeliveryState.SOFT_BOUNCE, status="sent")
        ),
        "hard_bounced": Count("pk", filter=Q(status="bounced")),
        "complained": Count("pk", filter=Q(delivery_state=DeliveryState.COMPLAINED)),
        "letters_owed": Count("pk", filter=letter & ~posted),
        "letters_posted": Count("pk", filter=letter & posted),
    }


def wave_outcomes_count(*, communication_id: int) -> DeliveryOutcomes:
    """One aggregate over the wave's notifications (and their letter batches): no query
    per person, whatever the wave's size."""
    counts = Notification.objects.filter(communication_id=communication_id).aggregate(
        **_outcome_counts()
    )
    return DeliveryOutcomes(**counts)


def complaint_authorities(*, incident_id: int) -> dict[str, str]:
    """Country -> the authority the incident's obligations name for it, as its regime row
    names it (one query; people of other countries get the generic wording)."""
    from incidents.models import Obligation

    found: dict[str, str] = {}
    rows = Obligation.objects.filter(incident_id=incident_id, regime__regions=[]).values_list(
        "regime__countries", "regime__recipient"
    )
    for countries, recipient in rows:
        if recipient.startswith(("Affected", "Prominent")):
            continue
        for country in countries or []:
            found.setdefault(str(country).upper(), recipient)
    return found


@dataclass
class IncidentWaves:
    """What the breach-notice waves of one incident did, summed over its communications."""

    outcomes: DeliveryOutcomes = field(default_factory=DeliveryOutcomes)
    pending: int = 0
    waves: int = 0

    @property
    def counted_at(self) -> datetime | None:
        return self.outcomes.counted_at


def wave_counts(*, communication_ids: list[int]) -> dict[int, tuple[DeliveryOutcomes, int]]:
    """Per wave, what became of it and how many are still to send: kept (a large wave) or
    counted in one grouped query for all the others. Three queries, however many waves."""
    found: dict[int, tuple[DeliveryOutcomes, int]] = {}
    for figures in WaveFigures.objects.filter(communication_id__in=communication_ids):
        status = figures.counts["status"]
        outcomes = DeliveryOutcomes(**figures.counts["outcomes"], counted_at=figures.counted_at)
        found[figures.communication_id] = (
            outcomes,
            status.get("pending", 0) + status.get("claimed", 0),
        )
    live = [pk for pk in communication_ids if pk not in found]
    if live:
        pending = dict(
            Notification.objects.filter(
                communication_id__in=live,
                status__in=[Notification.Status.PENDING, Notification.Status.CLAIMED],
            )
            .values_list("communication_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in (
            Notification.objects.filter(communication_id__in=live)
            .values("communication_id")
            .annotate(**_outcome_counts())
            .order_by()
        ):
            communication_id = row.pop("communication_id")
            found[communication_id] = (DeliveryOutcomes(**row), pending.get(communication_id, 0))
    return {pk: found.get(pk, (DeliveryOutcomes(), 0)) for pk in communication_ids}


def incident_waves(*, incident_ids: list[int]) -> dict[int, IncidentWaves]:
    """Per incident, its breach-notice waves' outcomes added up, each wave kept (a large
    one) or counted as on its communication's page; follow-ups are not the notice. Four
    queries, however many incidents and waves."""
    waves = {pk: IncidentWaves() for pk in incident_ids}
    incident_of = dict(
        Delivery.objects.filter(
            communication__incident_id__in=incident_ids, kind=Delivery.Kind.BREACH_NOTICE
        ).values_list("communication_id", "communication__incident_id")
    )
    names = [f.name for f in fields(DeliveryOutcomes) if f.name != "counted_at"]
    for communication_id, (outcomes, pending) in wave_counts(
        communication_ids=list(incident_of)
    ).items():
        summary = waves[incident_of[communication_id]]
        for name in names:
            setattr(
                summary.outcomes, name, getattr(summary.outcomes, name) + getattr(outcomes, name)
            )
        # A sum is as old as its oldest count.
        counted = [t for t in (summary.outcomes.counted_at, outcomes.counted_at) if t]
        summary.outcomes.counted_at = min(counted) if counted else None
        summary.pending += pending
        summary.waves += 1
    return waves
