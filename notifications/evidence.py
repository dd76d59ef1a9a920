"""The breach message sections of the incident evidence pack: templates with their legal
approvals, sign-offs with their content hashes, delivery statistics, and each affected
person's notice status for the customers annex."""

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

from django.db.models import Count, Min, Q, Sum

from config.models import company_profile
from customers.models import Customer
from incidents.evidence.registry import (
    Sample,
    SectionContent,
    Table,
    evidence_customer_status_register,
    evidence_section_register,
)
from incidents.models import Incident

from .models import (
    Channel,
    Communication,
    CommunicationSignOff,
    Delivery,
    LetterBatch,
    Notification,
    TemplateVersion,
)
from .rendering import RenderError, breach_email_compose, frame_labels, message_render
from .selectors import (
    PREVIEW_REDEMPTION_LINK,
    PREVIEW_RESET_LINK,
    complaint_authorities,
    delivery_outcomes,
    message_context,
)


# The made-up person every version is shown for: the pack holds no customer's message.
def _sample_person() -> Customer:
    return Customer(first_name="Alex", last_name="Sample", email="alex.sample@example.invalid")


SAMPLE_CODE = "SAMPLE-CODE"


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value else "-"


def templates_section(incident_id: int) -> SectionContent:
    versions = (
        TemplateVersion.objects.filter(template__incident_id=incident_id)
        .select_related("template", "created_by", "reviewed_by")
        .order_by("template__name", "number")
    )
    rows = [
        [
            f"{v.template.name} v{v.number}",
            f"{v.language}, {v.get_channel_display()}",
            ", ".join(v.data_categories) or "all",
            v.get_status_display(),
            f"{v.reviewed_by} at {_when(v.reviewed_at)}" if v.reviewed_by else "-",
            v.review_comment or "-",
            v.content_hash,
        ]
        for v in versions
    ]
    return SectionContent(
        tables=[
            Table(
                columns=[
                    "Template version",
                    "Language, channel",
                    "Data categories",
                    "Status",
                    "Legal review",
                    "Comment",
                    "Content hash",
                ],
                rows=rows,
                empty="No breach message templates.",
            )
        ]
    )


def sign_offs_section(incident_id: int) -> SectionContent:
    sign_offs = (
        CommunicationSignOff.objects.filter(communication__incident_id=incident_id)
        .select_related("communication", "user")
        .order_by("communication__name", "signed_at")
    )
    rows = [
        [
            s.communication.name,
            s.role,
            s.user.get_username(),
            _when(s.signed_at),
            s.content_hash,
            f"voided {_when(s.voided_at)}: {s.void_reason}" if s.voided_at else "in force",
        ]
        for s in sign_offs
    ]
    return SectionContent(
        tables=[
            Table(
                columns=["Communication", "Role", "Who", "When", "Content hash", "Standing"],
                rows=rows,
                empty="No sign-offs.",
            )
        ]
    )


def delivery_section(incident_id: int) -> SectionContent:
    statuses = Notification.Status
    per_communication = (
        Notification.objects.filter(communication__incident_id=incident_id)
        .values("communication_id", "communication__name")
        .annotate(
            total=Count("pk"),
            sent=Count("pk", filter=Q(status=statuses.SENT)),
            failed=Count("pk", filter=Q(status=statuses.FAILED)),
            bounced=Count("pk", filter=Q(status=statuses.BOUNCED)),
            letter=Count("pk", filter=Q(status=statuses.LETTER)),
            pending=Count("pk", filter=Q(status__in=[statuses.PENDING, statuses.CLAIMED])),
            skipped=Count("pk", filter=Q(status=statuses.SKIPPED)),
            first_sent=Min("sent_at"),
        )
        .order_by("communication__name")
    )
    deliveries = {
        d.communication_id: d
        for d in Delivery.objects.filter(communication__incident_id=incident_id)
    }
    rows = []
    outcome_rows = []
    for row in per_communication:
        delivery = deliveries.get(row["communication_id"])
        rows.append(
            [
                row["communication__name"],
                delivery.get_kind_display() if delivery else "-",
                *(f"{row[k]:,}" for k in ("total", "sent", "failed", "bounced", "letter")),
                f"{row['pending']:,} / {row['skipped']:,}",
                _when(row["first_sent"]),
            ]
        )
        # The figures the wave's page shows, from the same selector: one aggregate a wave.
        outcomes = delivery_outcomes(communication_id=row["communication_id"])
        outcome_rows.append(
            [
                row["communication__name"],
                f"{outcomes.sent:,}",
                f"{outcomes.delivered:,} ({outcomes.opened:,})",
                f"{outcomes.hard_bounced:,} / {outcomes.soft_bounced:,}",
                f"{outcomes.complained:,}",
                f"{outcomes.letters_owed:,} / {outcomes.letters_posted:,}",
            ]
        )
    letters = LetterBatch.objects.filter(communication__incident_id=incident_id).aggregate(
        batches=Count("pk"),
        letter_count=Sum("letters"),
        posted=Sum("letters", filter=Q(status=LetterBatch.Status.POSTED)),
    )
    awareness = Incident.objects.values_list("awareness_at", flat=True).get(pk=incident_id)
    first_notice = Notification.objects.filter(
        communication__incident_id=incident_id,
        communication__delivery__kind=Delivery.Kind.BREACH_NOTICE,
        sent_at__isnull=False,
    ).aggregate(first=Min("sent_at"))["first"]
    elapsed = "no breach notice sent yet"
    if first_notice is not None:
        hours, rest = divmod(int((first_notice - awareness).total_seconds()), 3600)
        elapsed = f"{hours} h {rest // 60:02d} min (first notice sent {_when(first_notice)})"
    return SectionContent(
        facts=[
            ("Time from awareness to the first breach notice", elapsed),
            (
                "Letter batches",
                f"{letters['batches']} batches, {letters['letter_count'] or 0:,} letters, "
                f"{letters['posted'] or 0:,} posted",
            ),
        ],
        tables=[
            Table(
                columns=[
                    "Communication",
                    "Kind",
                    "People",
                    "Sent",
                    "Failed",
                    "Bounced",
                    "By letter",
                    "Pending / skipped",
                    "First sent",
                ],
                rows=rows,
                empty="No breach message has been sent.",
            ),
            Table(
                columns=[
                    "Wave",
                    "Sent",
                    "Delivered (opened)",
                    "Bounced hard / soft",
                    "Complained",
                    "Letters owed / posted",
                ],
                rows=outcome_rows,
                caption="What became of each wave, by the email provider's reports and the "
                "letter queue",
                empty="No breach message has been sent.",
            ),
        ],
    )


def _letter_text(*, subject: str, body: str, language: str, reference: str, authority: str) -> str:
    """The letter's words as the batch prints them (letters.html), without the address."""
    profile = company_profile()
    labels = frame_labels(language)
    return "\n".join(
        [
            f"{profile.legal_name}",
            f"{labels['reference']}: {reference}",
            "",
            subject,
            "",
            body.strip(),
            "",
            labels["genuine"],
            f"{labels['genuine_text'].format(url=profile.genuine_check_url, reference=reference)}"
            f" {profile.genuine_check_url}",
            "",
            labels["complaint"],
            labels["complaint_text"].format(authority=authority or labels["complaint_default"]),
            "",
            profile.dpo_name,
            f"{labels['dpo']}, {profile.legal_name}",
        ]
    )


def words_sent_section(incident_id: int) -> SectionContent:
    """Each approved version of each signed-off communication, rendered as an email (its
    plain-text part) and as a letter for a made-up person, with the incident's facts."""
    incident = Incident.objects.get(pk=incident_id)
    communications = (
        Communication.objects.filter(
            incident_id=incident_id, status=Communication.Status.SIGNED_OFF
        )
        .prefetch_related("versions__template")
        .order_by("name", "pk")
    )
    profile = company_profile()
    authority = complaint_authorities(incident_id=incident_id).get(profile.country.upper(), "")
    deliveries = dict(
        Delivery.objects.filter(communication__incident_id=incident_id).values_list(
            "communication_id", "started_at"
        )
    )
    samples: list[Sample] = []
    notes: list[str] = []
    for communication in communications:
        approved = TemplateVersion.Status.APPROVED
        versions = sorted(
            (v for v in communication.versions.all() if v.status == approved),
            key=lambda v: (v.template.name, v.number),
        )
        letter_languages = {v.language for v in versions if v.channel == Channel.LETTER}
        started = deliveries.get(communication.pk)
        sent_on = (started or incident.awareness_at).date()
        for version in versions:
            name = f"{communication.name}: {version.template.name} v{version.number}"
            try:
                rendered = message_render(
                    subject=version.subject,
                    text_body=version.text_body,
                    html_body=version.html_body,
                    context=message_context(
                        incident=incident,
                        customer=_sample_person(),
                        data_categories=version.data_categories,
                        reset_link=PREVIEW_RESET_LINK,
                        remediation_code=SAMPLE_CODE,
                        redemption_link=PREVIEW_REDEMPTION_LINK,
                        language=version.language,
                    ),
                )
            except RenderError as error:
                notes.append(f"{name} cannot be rendered: {error}")
                continue
            heading = f"{name} ({version.language}, hash {version.content_hash[:16]}…)"
            if version.channel == Channel.EMAIL:
                email = breach_email_compose(
                    rendered=rendered,
                    language=version.language,
                    reference=incident.reference,
                    sent_on=sent_on,
                    data_categories=version.data_categories,
                    code=None,
                    authority=authority,
                    profile=profile,
                )
                samples.append(
                    Sample(
                        title=f"Email: {heading}",
                        text=f"Subject: {email.subject}\n\n{email.text.strip()}",
                    )
                )
            # A language with no letter version is posted in the email's words.
            if version.channel == Channel.LETTER or version.language not in letter_languages:
                samples.append(
                    Sample(
                        title=f"Letter: {heading}",
                        text=_letter_text(
                            subject=rendered.subject,
                            body=rendered.text,
                            language=version.language,
                            reference=incident.reference,
                            authority=authority,
                        ),
                    )
                )
    notes.insert(
        0,
        "Each approved version of each signed-off communication, rendered for a made-up "
        "person, Alex Sample, with this incident's facts. Each person's own links and code "
        f"appear as {PREVIEW_RESET_LINK}, {PREVIEW_REDEMPTION_LINK} and {SAMPLE_CODE}; the "
        "email's HTML part says the same as the text shown.",
    )
    if not samples:
        notes.append("No signed-off communication.")
    return SectionContent(notes=notes, samples=samples)


# The best outcome first: a person counts as told if any of their messages reached them.
_RANK: dict[str, int] = {
    status: rank
    for rank, status in enumerate(
        [
            Notification.Status.SENT,
            Notification.Status.LETTER,
            Notification.Status.BOUNCED,
            Notification.Status.FAILED,
            Notification.Status.CLAIMED,
            Notification.Status.PENDING,
            Notification.Status.SKIPPED,
        ]
    )
}


def customer_notice_statuses(incident_id: int) -> Iterator[tuple[int, str]]:
    """One (customer id, best status) per notified person, in customer id order, streamed."""
    rows = (
        Notification.objects.filter(communication__incident_id=incident_id)
        .order_by("customer_id")
        .values_list("customer_id", "status")
        .iterator(chunk_size=20_000)
    )
    for customer_id, group in itertools.groupby(rows, key=lambda row: row[0]):
        best = min((status for _, status in group), key=lambda s: _RANK.get(s, len(_RANK)))
        yield customer_id, best


def register() -> None:
    evidence_section_register(
        key="templates",
        title="Message templates and legal approvals",
        order=70,
        provider=templates_section,
    )
    evidence_section_register(
        key="sign_offs", title="Sign-offs", order=80, provider=sign_offs_section
    )
    evidence_section_register(
        key="words_sent",
        title="The words sent",
        order=85,
        provider=words_sent_section,
    )
    evidence_section_register(
        key="delivery", title="Delivery statistics", order=90, provider=delivery_section
    )
    evidence_customer_status_register(provider=customer_notice_statuses)
    from .reach import sections

    sections.register()
    from .recovery import sections as recovery_sections

    recovery_sections.register()
