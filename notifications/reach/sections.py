"""What the incident page and the evidence pack say about reaching everyone."""

from datetime import UTC, datetime

from django.urls import reverse

from incidents.evidence.registry import SectionContent, Table, evidence_section_register

from ..models import CallCentrePack, ReturnedLetter, SubstituteNotice
from .substitute import substitute_notice_current_sign_offs
from .unreached import unreached_counts, unreached_counts_kept


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else "-"


def _texts(decision: SubstituteNotice) -> str:
    texts = [
        f"{what}: {version.get_status_display().lower()}"
        for what, version in (("web", decision.web_version), ("media", decision.media_version))
        if version is not None
    ]
    return "; ".join(texts) or "-"


def _signed(decision: SubstituteNotice) -> str:
    if decision.outcome == SubstituteNotice.Outcome.NOT_MET:
        return "-"
    sign_offs = substitute_notice_current_sign_offs(notice=decision)
    return (
        "; ".join(f"{s.role}: {s.user} at {_when(s.signed_at)}" for s in sign_offs) or "not signed"
    )


def unreached_page_section(incident_id: int) -> SectionContent:
    """The section as the incident page shows it: a large scope's counts as kept."""
    return unreached_section(incident_id, kept=True)


def unreached_section(incident_id: int, *, kept: bool = False) -> SectionContent:
    counts = (unreached_counts_kept if kept else unreached_counts)(incident_id=incident_id)
    returned = ReturnedLetter.objects.filter(
        notification__communication__incident_id=incident_id
    ).count()
    decisions = SubstituteNotice.objects.filter(incident_id=incident_id).select_related(
        "decided_by", "web_version", "media_version"
    )
    return SectionContent(
        facts=[
            ("People no channel reaches", f"{counts.total:,}"),
            ("Letters returned by the post", f"{returned:,}"),
        ],
        tables=[
            Table(
                columns=[
                    "Jurisdiction",
                    "Unreached",
                    "No email",
                    "Email malformed",
                    "Email bounced",
                    "No usable address",
                    "Letter returned",
                ],
                rows=[
                    [
                        r.jurisdiction,
                        *(
                            f"{n:,}"
                            for n in (
                                r.unreached,
                                r.email_missing,
                                r.email_undeliverable,
                                r.email_bounced,
                                r.no_address,
                                r.letter_returned,
                            )
                        ),
                    ]
                    for r in counts.rows
                ],
                empty="Every affected person has an email or a postal address that works.",
            ),
            Table(
                columns=[
                    "Regime",
                    "Decision",
                    "Condition",
                    "Toll-free number",
                    "Texts (legal review)",
                    "CMO and CISO sign-off",
                    "Who, when",
                ],
                rows=[
                    [
                        d.get_regime_display() + (f" ({d.region})" if d.region else ""),
                        d.get_outcome_display() + (f": {d.reason}" if d.reason else ""),
                        d.condition,
                        d.toll_free_number,
                        _texts(d),
                        _signed(d),
                        f"{d.decided_by} at {_when(d.decided_at)}",
                    ]
                    for d in decisions
                ],
                empty="No substitute-notice decision recorded.",
            ),
        ],
        links=[
            ("Import returned letters", reverse("admin:notifications_returnedletter_import")),
            (
                "Decide on substitute notice",
                reverse("admin:notifications_substitutenotice_decide", args=[incident_id]),
            ),
            (
                "Sign off the substitute notice (CMO, CISO)",
                reverse("admin:notifications_substitutenotice_sign_off", args=[incident_id]),
            ),
        ],
        notes=[
            f"A large scope: the unreached as the task cluster counted them at "
            f"{_when(counts.counted_at)}."
        ]
        if counts.counted_at
        else [],
    )


def call_centre_section(incident_id: int) -> SectionContent:
    packs = CallCentrePack.objects.filter(communication__incident_id=incident_id).select_related(
        "communication", "created_by"
    )
    return SectionContent(
        tables=[
            Table(
                columns=["Communication", "Pack", "Notice hash", "Pack hash", "Made", "Standing"],
                rows=[
                    [
                        p.communication.name,
                        f"v{p.number}",
                        p.notice_hash,
                        p.content_hash,
                        f"{p.created_by or 'system'} at {_when(p.created_at)}",
                        f"voided {_when(p.voided_at)}: {p.void_reason}"
                        if p.voided_at
                        else "current",
                    ]
                    for p in packs
                ],
                empty="No call-centre pack made.",
            )
        ]
    )


def register() -> None:
    evidence_section_register(
        key="unreached",
        title="People no channel reaches, and substitute notice",
        order=95,
        provider=unreached_section,
        on_incident_page=True,
        page_provider=unreached_page_section,
    )
    evidence_section_register(
        key="call_centre", title="Call-centre packs", order=96, provider=call_centre_section
    )
