"""The Art. 33 notice to the supervisory authority: drafted from the incident record in the
layout of the ICO's breach report form, filed in phases, each filing meeting its obligation.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Max
from django.template.loader import render_to_string
from django.utils import timezone

from config.models import company_profile as kernel_company_profile
from config.services import Actor, ServiceError

from ..evidence.render import pdf_render
from ..models import (
    AffectedCustomer,
    DataCategory,
    Filing,
    Incident,
    Obligation,
    Regime,
    RegulatorNotice,
)
from .obligations import FUTURE_TOLERANCE, ObligationError, obligation_meet
from .timeline import timeline_append

# A filing recorded later than this after it happened needs the reason it was not at once.
BACKDATE_TOLERANCE = timedelta(hours=24)

PERMISSION = "incidents.file_regulatornotice"
NOT_YET_KNOWN = "Not yet known; to follow in a later phase (Art. 33(4))."


class NoticeError(ServiceError, ValueError):
    """The notice cannot be drafted or filed as asked; the message says why."""


def _user(actor: Actor, what: str) -> User:
    if not isinstance(actor, User) or not actor.has_perm(PERMISSION):
        raise NoticeError(f"{actor or 'Nobody'} may not {what}: that is for the DPO or the CISO.")
    return actor


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else NOT_YET_KNOWN


def _text(value: str) -> str:
    return value.strip() or NOT_YET_KNOWN


def _jurisdiction(regime: Regime | None) -> tuple[list[str], list[str]]:
    if regime is None:
        return [], []
    return [c.upper() for c in regime.countries or []], [r.upper() for r in regime.regions or []]


def notice_counts(*, incident: Incident, regime: Regime | None) -> list[tuple[str, int]]:
    """People affected in this authority's jurisdiction, per country (one grouped query).
    A regime without countries (an establishment rule) counts everyone."""
    countries, regions = _jurisdiction(regime)
    people = AffectedCustomer.objects.filter(incident=incident)
    if countries:
        people = people.filter(customer__country__in=countries)
    if regions:
        people = people.filter(customer__region__in=regions)
    rows = people.values("customer__country").annotate(n=Count("pk")).order_by("customer__country")
    return [(r["customer__country"] or "unknown", r["n"]) for r in rows]


def _country(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return str(getattr(country, "common_name", None) or getattr(country, "name", code))


def notice_content(
    *,
    incident: Incident,
    number: int,
    phase: str,
    authority: str,
    regime: Regime | None,
    earlier: list[RegulatorNotice],
    additional_information: str = "",
) -> dict[str, Any]:
    """One authority's form, from the incident record: its own counts, its own references,
    Art. 33(3)(a)-(d) in the order of the ICO's form (which the EU authorities' follow)."""
    labels = dict(DataCategory.choices)
    profile = kernel_company_profile()
    counts = notice_counts(incident=incident, regime=regime)
    people = sum(n for _c, n in counts)
    assessment = incident.assessments.order_by("-version").first()
    chain = len(earlier) + 1
    slug = (regime.code if regime else "authority").upper()
    sections: list[dict[str, Any]] = [
        {
            "title": "1. Report type",
            "fields": [
                ["Addressed to", authority or "The competent supervisory authority"],
                ["Legal basis", regime.source if regime else "Art. 33 GDPR"],
                ["Initial report or follow-up", RegulatorNotice.Phase(phase).label],
                [
                    "Earlier reports of this breach to this authority",
                    "; ".join(
                        f"Notice {n.number} filed {_when(n.filing.filed_at)}, "
                        f"reference {n.filing.reference}"
                        for n in earlier
                        if hasattr(n, "filing")
                    )
                    or "None",
                ],
                ["Our reference", f"{incident.reference}/{slug}/{chain}"],
            ],
        },
        {
            "title": "2. The controller",
            "fields": [
                ["Organisation", profile.legal_name],
                ["Address", ", ".join([*profile.address_block, _country(profile.country)])],
                ["Registration", profile.registration or "-"],
                [
                    "Data protection officer",
                    ", ".join(
                        p for p in (profile.dpo_name, profile.dpo_email, profile.dpo_phone) if p
                    ),
                ],
            ],
        },
        {
            "title": "3. About the breach (Art. 33(3)(a))",
            "fields": [
                ["What has happened", _text(incident.nature)],
                ["When did the breach happen", _when(incident.occurred_at)],
                ["When did you discover the breach", _when(incident.awareness_at)],
                ["When was it contained", _when(incident.contained_at)],
                ["Systems involved", ", ".join(incident.systems) or NOT_YET_KNOWN],
                ["Was the data encrypted", _text(incident.encryption)],
                ["Was a processor involved", _text(incident.processor_involvement)],
            ],
        },
        {
            "title": "4. Personal data and people (Art. 33(3)(a))",
            "fields": [
                [
                    "Categories of personal data",
                    ", ".join(labels.get(c, c) for c in incident.data_categories) or NOT_YET_KNOWN,
                ],
                ["Approximate number of people affected in this jurisdiction", f"{people:,}"],
                [
                    "People affected per country" if len(counts) > 1 else "Country",
                    "; ".join(f"{_country(c)}: {n:,}" for c, n in counts) or "None",
                ],
                [
                    "Approximate number of records",
                    f"{incident.approximate_records:,}"
                    if incident.approximate_records is not None
                    else NOT_YET_KNOWN,
                ],
                ["Categories of people", "Customers"],
            ],
        },
        {
            "title": "5. Severity (ENISA methodology)",
            "fields": [
                [
                    "Assessment",
                    f"{assessment.get_level_display()}: {assessment.arithmetic}"
                    if assessment
                    else NOT_YET_KNOWN,
                ]
            ],
        },
        {
            "title": "6. Contact point (Art. 33(3)(b))",
            "fields": [["Data protection officer or other contact", _text(incident.contact_point)]],
        },
        {
            "title": "7. Likely consequences (Art. 33(3)(c))",
            "fields": [["Likely consequences for the people", _text(incident.likely_consequences)]],
        },
        {
            "title": "8. Measures taken or proposed (Art. 33(3)(d))",
            "fields": [
                # Written for the authority; the customer text ("...with the code in this
                # message") says nothing to a regulator.
                ["Measures taken and proposed", _text(incident.measures_for_authority)],
            ],
        },
        {
            "title": "9. Telling the people affected (Art. 34)",
            "fields": [
                ["Decision", incident.get_art34_decision_display()],
                ["Reason", incident.art34_reason or "-"],
                ["People notified at", _when(incident.people_notified_at)],
            ],
        },
    ]
    if additional_information.strip():
        sections.append(
            {
                "title": "10. Further information",
                "fields": [["Information added in this phase", additional_information.strip()]],
            }
        )
    title = (
        f"Personal data breach report to {authority}"
        if authority
        else "Personal data breach report"
    )
    return {"title": title, "regime": regime.name if regime else "", "sections": sections}


def _default_obligation(incident: Incident) -> Obligation | None:
    """The next authority owed a first notice: an open Art. 33-type obligation that has
    none yet, the earliest due first."""
    return (
        incident.obligations.filter(
            status=Obligation.Status.OPEN, terms__waived_by=Regime.WaivedBy.ART33
        )
        .exclude(notices__isnull=False)
        .order_by("due_at", "pk")
        .first()
    )


@transaction.atomic
def notice_draft(
    *,
    incident_id: int,
    actor: Actor,
    obligation_id: int | None = None,
    additional_information: str = "",
) -> RegulatorNotice:
    """Draft a notice to one authority, on its own: its counts, its references, its phases.

    With an obligation, to that obligation's authority; without one, the first notice to
    the next authority owed one, else a follow-up to the authority last written to. A
    follow-up comes only once that authority's previous notice is filed.
    """
    user = _user(actor, "draft regulator notices")
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if incident.art33_decision == Incident.Art33Decision.NOT_REQUIRED:
        raise NoticeError(
            f"{incident}: the Art. 33 decision is that notifying the authority is not required."
        )
    if incident.status == Incident.Status.CLOSED:
        raise NoticeError(f"{incident} is closed.")
    obligation = None
    if obligation_id is not None:
        obligation = incident.obligations.select_related("regime").filter(pk=obligation_id).first()
        if obligation is None:
            raise NoticeError(f"Obligation {obligation_id} is not one of {incident}'s.")
        if obligation.status != Obligation.Status.OPEN:
            raise NoticeError(f"{obligation.name} is already {obligation.get_status_display()}.")
    else:
        obligation = _default_obligation(incident)
    regime: Regime | None
    if obligation is not None:
        authority, regime = obligation.recipient, obligation.regime
    else:
        latest = incident.notices.select_related("obligation__regime").order_by("-number").first()
        if latest is None:
            raise NoticeError(f"{incident} owes no authority a notice.")
        authority = latest.authority
        regime = latest.obligation.regime if latest.obligation else None
        if regime is None:
            first = incident.notices.filter(authority=authority, obligation__isnull=False).first()
            regime = first.obligation.regime if first and first.obligation else None
    earlier = list(
        incident.notices.filter(authority=authority).select_related("filing").order_by("number")
    )
    if earlier and not Filing.objects.filter(notice=earlier[-1]).exists():
        raise NoticeError(
            f"Notice {earlier[-1].number} of {incident} to {authority or 'the authority'} "
            "is not filed yet; file it first."
        )
    if earlier and obligation is not None and obligation_id is None:
        obligation = None  # a follow-up meets no new obligation unless one is named
    number = (incident.notices.aggregate(n=Max("number"))["n"] or 0) + 1
    phase = RegulatorNotice.Phase.FOLLOW_UP if earlier else RegulatorNotice.Phase.INITIAL
    notice = RegulatorNotice.objects.create(
        incident=incident,
        number=number,
        phase=phase,
        authority=authority,
        obligation=obligation,
        content=notice_content(
            incident=incident,
            number=number,
            phase=phase,
            authority=authority,
            regime=regime,
            earlier=earlier,
            additional_information=additional_information,
        ),
        created_by=user,
    )
    timeline_append(
        incident_id=incident.pk,
        kind="notice.drafted",
        actor=user,
        payload={
            "notice": notice.pk,
            "number": number,
            "phase": phase,
            "authority": authority,
            "obligation": obligation.pk if obligation else None,
        },
    )
    return notice


@transaction.atomic
def notice_update(*, notice_id: int, actor: Actor, answers: dict[str, str]) -> RegulatorNotice:
    """The DPO edits the draft's answers (by their labels); a filed notice is frozen."""
    user = _user(actor, "edit regulator notices")
    notice = RegulatorNotice.objects.select_for_update().get(pk=notice_id)
    if Filing.objects.filter(notice=notice).exists():
        raise NoticeError(f"{notice} is filed: what was sent is kept as it was.")
    content = notice.content
    known = {label for s in content["sections"] for label, _v in s["fields"]}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise NoticeError(f"{notice} has no question {', '.join(map(repr, unknown))}.")
    changed = []
    for section in content["sections"]:
        for field in section["fields"]:
            new = answers.get(field[0])
            if new is not None and new.strip() != field[1]:
                if not new.strip():
                    raise NoticeError(f"'{field[0]}' cannot be left empty.")
                field[1] = new.strip()
                changed.append(field[0])
    if changed:
        RegulatorNotice.objects.filter(pk=notice.pk).update(content=content)
        notice.content = content
        timeline_append(
            incident_id=notice.incident_id,
            kind="notice.edited",
            actor=user,
            payload={"notice": notice.pk, "changed": changed},
        )
    return notice


def notice_html(*, notice: RegulatorNotice, filing: dict[str, Any] | None = None) -> str:
    return render_to_string(
        "incidents/notice.html",
        {"notice": notice, "incident": notice.incident, "filing": filing},
    )


def notice_pdf(*, notice: RegulatorNotice, filing: dict[str, Any] | None = None) -> bytes:
    """The notice as a PDF/A; with `filing`, as it was sent (time, authority, delay reason)."""
    return pdf_render(html=notice_html(notice=notice, filing=filing))


@transaction.atomic
def filing_record(
    *,
    notice_id: int,
    actor: Actor,
    authority: str,
    filed_at: datetime,
    reference: str,
    delay_reason: str = "",
    backdate_reason: str = "",
) -> Filing:
    """Record that the notice was submitted: the PDF sent is stored with its SHA-256 and
    the obligation it serves is met, on time or late with the reason for the delay.

    The submission time cannot precede the notice it submits, and one further back than
    BACKDATE_TOLERANCE needs its reason: a filing time decides whether a deadline was met.
    """
    user = _user(actor, "record filings")
    authority, reference, delay_reason = authority.strip(), reference.strip(), delay_reason.strip()
    if not authority:
        raise NoticeError("Name the authority the notice was filed with.")
    if not reference:
        raise NoticeError("Give the authority's reference for the filing.")
    if timezone.is_naive(filed_at):
        raise NoticeError("Give the submission time with its time zone.")
    if filed_at > timezone.now() + FUTURE_TOLERANCE:
        raise NoticeError(f"The submission time {filed_at.isoformat()} is in the future.")
    try:
        notice = (
            RegulatorNotice.objects.select_for_update(of=("self",))
            .select_related("incident", "obligation")
            .get(pk=notice_id)
        )
    except RegulatorNotice.DoesNotExist:
        raise NoticeError(f"Notice {notice_id} does not exist.") from None
    if Filing.objects.filter(notice=notice).exists():
        raise NoticeError(f"{notice} is already filed.")
    if filed_at < notice.created_at - FUTURE_TOLERANCE:
        raise NoticeError(
            f"The submission time {filed_at:%Y-%m-%d %H:%M} UTC is before {notice} was drafted "
            f"({notice.created_at:%Y-%m-%d %H:%M} UTC): a notice is filed after it exists."
        )
    backdate_reason = backdate_reason.strip()
    if filed_at < timezone.now() - BACKDATE_TOLERANCE and not backdate_reason:
        raise NoticeError(
            f"The submission time {filed_at:%Y-%m-%d %H:%M} UTC is more than "
            f"{int(BACKDATE_TOLERANCE.total_seconds() // 3600)} hours ago: say why it is "
            "recorded only now."
        )
    obligation = notice.obligation
    if obligation is not None and obligation.status == Obligation.Status.OPEN:
        try:
            obligation = obligation_meet(
                obligation_id=obligation.pk,
                actor=user,
                met_at=filed_at,
                delay_reason=delay_reason,
            )
        except ObligationError as error:
            raise NoticeError(str(error)) from error
    details = {
        "authority": authority,
        "filed_at": filed_at,
        "reference": reference,
        "delay_reason": delay_reason,
        "late": bool(obligation and obligation.status == Obligation.Status.LATE),
    }
    pdf = notice_pdf(notice=notice, filing=details)
    digest = hashlib.sha256(pdf).hexdigest()
    filing = Filing(
        notice=notice,
        authority=authority,
        filed_at=filed_at,
        reference=reference,
        file_sha256=digest,
        delay_reason=delay_reason,
        recorded_by=user,
    )
    filing.file.save(
        f"incident-{notice.incident_id}-notice-{notice.number}.pdf", ContentFile(pdf), save=False
    )
    filing.save()
    timeline_append(
        incident_id=notice.incident_id,
        kind="notice.filed",
        actor=user,
        payload={
            "notice": notice.pk,
            "number": notice.number,
            "phase": notice.phase,
            "authority": authority,
            "reference": reference,
            "filed_at": filed_at,
            "file_sha256": digest,
            "obligation": obligation.pk if obligation else None,
            "obligation_status": obligation.status if obligation else None,
            "delay_reason": delay_reason,
            **({"backdate_reason": backdate_reason} if backdate_reason else {}),
        },
    )
    return filing
