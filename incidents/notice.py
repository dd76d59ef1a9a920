"""The Art. 33 notice to the supervisory authority: drafted from the incident record in the
layout of the ICO's breach report form, filed in phases, each filing meeting its obligation.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from .evidence.render import pdf_render
from .models import (
    AffectedCustomer,
    DataCategory,
    Filing,
    Incident,
    Obligation,
    Regime,
    RegulatorNotice,
)
from .services import ObligationError, obligation_meet, timeline_append
from .services.obligations import FUTURE_TOLERANCE

# A filing recorded later than this after it happened needs the reason it was not at once.
BACKDATE_TOLERANCE = timedelta(hours=24)

Actor = User | AnonymousUser | None
PERMISSION = "incidents.file_regulatornotice"
NOT_YET_KNOWN = "Not yet known; to follow in a later phase (Art. 33(4))."


class NoticeError(ValueError):
    """The notice cannot be drafted or filed as asked; the message says why."""


def _user(actor: Actor, what: str) -> User:
    if not isinstance(actor, User) or not actor.has_perm(PERMISSION):
        raise NoticeError(f"{actor or 'Nobody'} may not {what}: that is for the DPO or the CISO.")
    return actor


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else NOT_YET_KNOWN


def _text(value: str) -> str:
    return value.strip() or NOT_YET_KNOWN


def notice_content(
    *, incident: Incident, number: int, phase: str, additional_information: str = ""
) -> dict[str, Any]:
    """The form's answers from the incident record, Art. 33(3)(a)-(d) in the ICO's order."""
    labels = dict(DataCategory.choices)
    people = AffectedCustomer.objects.filter(incident=incident).count()
    earlier = [
        f"Notice {n.number} filed {_when(n.filing.filed_at)}, reference {n.filing.reference}"
        for n in incident.notices.filter(number__lt=number, filing__isnull=False)
        .select_related("filing")
        .order_by("number")
    ]
    sections: list[dict[str, Any]] = [
        {
            "title": "1. Report type",
            "fields": [
                ["Initial report or follow-up", RegulatorNotice.Phase(phase).label],
                ["Earlier reports of this breach", "; ".join(earlier) or "None"],
                ["Our reference", f"Incident {incident.pk}, notice {number}"],
            ],
        },
        {
            "title": "2. About the breach (Art. 33(3)(a))",
            "fields": [
                ["What has happened", _text(incident.nature)],
                ["When did the breach happen", _when(incident.occurred_at)],
                ["When did you discover the breach", _when(incident.awareness_at)],
                ["When was it contained", _when(incident.contained_at)],
                ["Systems involved", ", ".join(incident.systems) or NOT_YET_KNOWN],
            ],
        },
        {
            "title": "3. Personal data and people (Art. 33(3)(a))",
            "fields": [
                [
                    "Categories of personal data",
                    ", ".join(labels.get(c, c) for c in incident.data_categories) or NOT_YET_KNOWN,
                ],
                ["Approximate number of people affected", f"{people:,}"],
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
            "title": "4. Contact point (Art. 33(3)(b))",
            "fields": [["Data protection officer or other contact", _text(incident.contact_point)]],
        },
        {
            "title": "5. Likely consequences (Art. 33(3)(c))",
            "fields": [["Likely consequences for the people", _text(incident.likely_consequences)]],
        },
        {
            "title": "6. Measures taken or proposed (Art. 33(3)(d))",
            "fields": [
                ["Measures taken", _text(incident.measures_taken)],
                [
                    "Measures proposed, including to mitigate adverse effects",
                    _text(incident.measures_proposed),
                ],
            ],
        },
        {
            "title": "7. Telling the people affected (Art. 34)",
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
                "title": "8. Further information",
                "fields": [["Information added in this phase", additional_information.strip()]],
            }
        )
    return {"sections": sections}


def _default_obligation(incident: Incident) -> Obligation | None:
    return (
        incident.obligations.filter(
            status=Obligation.Status.OPEN, terms__waived_by=Regime.WaivedBy.ART33
        )
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
    """Draft the next notice: the initial one first, follow-ups once the one before is filed.
    The initial notice meets the open Art. 33 filing obligation unless another is named."""
    user = _user(actor, "draft regulator notices")
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    if incident.art33_decision == Incident.Art33Decision.NOT_REQUIRED:
        raise NoticeError(
            f"{incident}: the Art. 33 decision is that notifying the authority is not required."
        )
    if incident.status == Incident.Status.CLOSED:
        raise NoticeError(f"{incident} is closed.")
    last = incident.notices.order_by("-number").select_related("filing").first()
    if last is not None and not Filing.objects.filter(notice=last).exists():
        raise NoticeError(f"Notice {last.number} of {incident} is not filed yet; file it first.")
    number = (incident.notices.aggregate(n=Max("number"))["n"] or 0) + 1
    phase = RegulatorNotice.Phase.INITIAL if number == 1 else RegulatorNotice.Phase.FOLLOW_UP
    obligation = None
    if obligation_id is not None:
        obligation = incident.obligations.filter(pk=obligation_id).first()
        if obligation is None:
            raise NoticeError(f"Obligation {obligation_id} is not one of {incident}'s.")
        if obligation.status != Obligation.Status.OPEN:
            raise NoticeError(f"{obligation.name} is already {obligation.get_status_display()}.")
    elif phase == RegulatorNotice.Phase.INITIAL:
        obligation = _default_obligation(incident)
    notice = RegulatorNotice.objects.create(
        incident=incident,
        number=number,
        phase=phase,
        obligation=obligation,
        content=notice_content(
            incident=incident,
            number=number,
            phase=phase,
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
            "obligation": obligation.pk if obligation else None,
        },
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
