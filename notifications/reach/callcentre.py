"""The call-centre pack of a communication: what agents say, per segment and language,
written from the approved versions and the incident facts and bound to them by hash."""

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from config.csv_safe import csv_writer
from customers.models import SegmentMembership
from incidents.evidence.render import BASE_URL, StaticOnlyFetcher
from incidents.models import DataCategory
from incidents.services import timeline_append

from .. import events
from ..models import (
    CallCentrePack,
    Communication,
    RemediationCode,
    TemplateVersion,
    canonical_sha256,
)
from ..services.common import Actor, acting_user

PACK_MADE = events.CALL_CENTRE_PACK_MADE
PACK_VOIDED = events.CALL_CENTRE_PACK_VOIDED
# A pack for a few dozen segments stays readable; the rest are "everyone else".
MAX_SEGMENTS = 20
ADVICE = {
    DataCategory.CREDENTIALS: "Change the password of the account, and anywhere the same "
    "password was used. We have already reset it.",
    DataCategory.PAYMENT_CARD: "Check card statements and tell the bank of any payment you do "
    "not recognise; the bank can replace the card.",
}
ESCALATION = [
    "A journalist or anyone speaking for the media: take a number, promise nothing, pass it "
    "to communications the same day.",
    "A lawyer, a regulator or a threat of legal action: take the details and pass them to "
    "legal; do not discuss the incident further.",
    "A caller reporting fraud or identity theft they link to the breach: open a case for "
    "security and give the case number.",
    "A caller in distress or who says they are at risk: stay on the line and follow the "
    "vulnerable-caller procedure.",
    "A caller who believes they are affected but whose reference is not found: take the "
    "reference as read and pass it to the DPO; do not guess.",
]
NEVER_SAY = [
    "Never ask for a password, a full card number, a PIN or a security code.",
    "Never confirm or deny that anyone is affected without their reference number.",
    "Never speculate about who did it, how, or how many people are affected.",
    "Never promise compensation or say the company is not to blame.",
    "Never read out an address, email or other contact data; the lookup does not show it.",
    "Never say the incident is over or that nothing was taken beyond what the notice says.",
]


def _approved(communication: Communication) -> list[TemplateVersion]:
    versions = list(communication.versions.order_by("language", "channel", "pk"))
    if not versions:
        raise ValidationError(f"'{communication}' has no template versions to write a pack from.")
    draft = [v for v in versions if v.status != TemplateVersion.Status.APPROVED]
    if draft:
        raise ValidationError(
            f"'{communication}' uses versions legal has not approved: "
            + ", ".join(str(v) for v in draft)
        )
    return versions


def notice_hash(*, communication: Communication) -> str:
    """The approved words and incident facts a pack is bound to; it changes with either."""
    incident = communication.incident
    return canonical_sha256(
        {
            "versions": sorted(v.content_hash for v in _approved(communication)),
            "nature": incident.nature,
            "consequences": incident.likely_consequences,
            "measures": incident.measures_taken,
            "proposed": incident.measures_proposed,
            "contact": incident.contact_point,
        }
    )


def _segments(communication: Communication) -> list[tuple[str, str, int]]:
    """(segment, language, people) of the incident's affected, one GROUP BY."""
    rows = (
        SegmentMembership.objects.filter(customer__incidents__incident=communication.incident)
        .values("segment__name", "customer__language")
        .annotate(n=Count("pk"))
        .order_by("-n", "segment__name")
    )
    return [(r["segment__name"], (r["customer__language"] or "")[:2].lower(), r["n"]) for r in rows]


def _section(
    communication: Communication, version: TemplateVersion, segment: str, people: int
) -> dict[str, Any]:
    incident = communication.incident
    categories = version.data_categories or list(incident.data_categories)
    labels = dict(DataCategory.choices)
    advice = [ADVICE[c] for c in categories if c in ADVICE]
    codes = (
        RemediationCode.objects.filter(incident=incident)
        .values("vendor")
        .annotate(expires=Max("expires_on"))
        .order_by("vendor")
    )
    code_answer = (
        " ".join(
            f"The code from {c['vendor']} is in the letter or email; enter it on the vendor's "
            f"site to start the service before {c['expires']:%Y-%m-%d}."
            for c in codes
        )
        or "This notice offers no code."
    )
    sender = getattr(settings, "DEFAULT_FROM_EMAIL", "")
    faq = [
        ("What happened?", incident.nature),
        (
            "Was my data in it?",
            "Ask for the reference number printed on the letter or email and look it up. If "
            "the lookup shows the caller as affected, the data involved was: "
            + (", ".join(labels.get(c, c) for c in categories) or "as the notice says")
            + ".",
        ),
        (
            "What should I do?",
            " ".join([*advice, incident.measures_proposed]).strip()
            or "Follow the steps in the notice.",
        ),
        ("How do I use the code?", code_answer),
        (
            "How do I know this call or email is genuine?",
            f"Our notices come from {sender or 'our usual address'}; we never ask for a "
            "password, a card number or a payment, and we never call to ask for them. The "
            "caller can call back on the number on our web site.",
        ),
        (
            "How do I complain?",
            f"Write to our data protection officer: {incident.contact_point or 'see the notice'}. "
            "The caller may also complain to the data protection authority.",
        ),
    ]
    return {
        "segment": segment,
        "language": version.language,
        "people": people,
        "version": f"{version.template.name} v{version.number}",
        "version_hash": version.content_hash,
        "script": [
            f'Thank you for calling about our notice "{version.subject}".',
            "May I have the reference number printed on your letter or email?",
            "[Look the reference up. Read out only what the lookup shows.]",
            *[p.strip() for p in version.text_body.split("\n\n") if p.strip()][:6],
            "Is there anything else I can help with about this notice?",
        ],
        "faq": [{"question": q, "answer": a} for q, a in faq],
        "escalation": ESCALATION,
        "never_say": NEVER_SAY,
    }


def pack_content(*, communication: Communication) -> dict[str, Any]:
    versions = _approved(communication)
    by_language: dict[str, TemplateVersion] = {}
    for version in versions:
        # Email words first: they are what most callers have in front of them.
        if version.language not in by_language or version.channel == "email":
            by_language[version.language] = version
    fallback = by_language.get(communication.fallback_language) or next(iter(by_language.values()))
    sections = [_section(communication, v, "All affected people", 0) for v in by_language.values()]
    for segment, language, people in _segments(communication)[:MAX_SEGMENTS]:
        sections.append(
            _section(communication, by_language.get(language, fallback), segment, people)
        )
    return {
        "communication": communication.name,
        "incident": communication.incident.title,
        "sections": sections,
    }


@transaction.atomic
def call_centre_pack_make(*, communication_id: int, actor: Actor) -> CallCentrePack:
    """The current pack of the communication: the last one while the approved words and
    facts are unchanged, otherwise a new version that voids the last."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.add_callcentrepack"):
        raise ValidationError(f"{actor} may not make call-centre packs.")
    communication = (
        Communication.objects.select_for_update()
        .select_related("incident")
        .get(pk=communication_id)
    )
    bound = notice_hash(communication=communication)
    last = communication.call_centre_packs.order_by("-number").first()
    if last is not None and last.voided_at is None and last.notice_hash == bound:
        return last
    if last is not None and last.voided_at is None:
        call_centre_pack_void(pack=last, reason="the approved notice or the incident facts changed")
    content = pack_content(communication=communication)
    pack = CallCentrePack.objects.create(
        communication=communication,
        number=(last.number + 1) if last else 1,
        notice_hash=bound,
        content=content,
        content_hash=canonical_sha256({"notice_hash": bound, "content": content}),
        created_by=user,
    )
    timeline_append(
        incident_id=communication.incident_id,
        kind=PACK_MADE,
        actor=user,
        payload={"pack": pack.pk, "number": pack.number, "content_hash": pack.content_hash},
    )
    return pack


def call_centre_pack_void(*, pack: CallCentrePack, reason: str) -> None:
    updated = CallCentrePack.objects.filter(pk=pack.pk, voided_at__isnull=True).update(
        voided_at=timezone.now(), void_reason=reason
    )
    if updated == 1:
        timeline_append(
            incident_id=pack.communication.incident_id,
            kind=PACK_VOIDED,
            actor=None,
            payload={"pack": pack.pk, "reason": reason},
        )


def call_centre_packs_void(*, communication_id: int, reason: str) -> None:
    """Void the communication's pack in force: the words it was written from changed."""
    for pack in CallCentrePack.objects.filter(
        communication_id=communication_id, voided_at__isnull=True
    ).select_related("communication"):
        call_centre_pack_void(pack=pack, reason=reason)


def call_centre_pack_current(*, pack: CallCentrePack) -> bool:
    """Still bound to the words now approved: a pack read later is checked, not trusted."""
    return pack.voided_at is None and pack.notice_hash == notice_hash(
        communication=pack.communication
    )


def call_centre_pack_pdf(*, pack: CallCentrePack) -> bytes:
    html = render_to_string("notifications/call_centre_pack.html", {"pack": pack})
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyFetcher())
    return bytes(document.write_pdf())


def call_centre_pack_csv(*, pack: CallCentrePack) -> str:
    """One row per entry, for the call centre's knowledge base import."""
    out = io.StringIO()
    # A knowledge base opened in a spreadsheet must not run a cell as a formula.
    writer = csv_writer(out)
    writer.writerow(["pack", "segment", "language", "kind", "question", "answer"])
    name = f"v{pack.number} {pack.content_hash[:12]}"
    for section in pack.content["sections"]:
        key = [name, section["segment"], section["language"]]
        rows = [("script", "", line) for line in section["script"]]
        rows += [("faq", item["question"], item["answer"]) for item in section["faq"]]
        rows += [("escalation", "", line) for line in section["escalation"]]
        rows += [("never_say", "", line) for line in section["never_say"]]
        for kind, question, answer in rows:
            writer.writerow([*key, kind, question, answer])
    return out.getvalue()
