"""The campaigns section of the incident evidence pack: the hold, the campaigns it paused
and resumed, and how many promotional messages it withheld."""

from datetime import UTC, datetime

from django.db.models import Count

from incidents.evidence.registry import SectionContent, Table, evidence_section_register
from incidents.models import TimelineEvent

from .models import Campaign, CampaignHold, Withholding


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value else "-"


def campaign_holds_section(incident_id: int) -> SectionContent:
    hold = (
        CampaignHold.objects.filter(incident_id=incident_id).select_related("released_by").first()
    )
    withheld = dict(
        Withholding.objects.filter(incident_id=incident_id)
        .values_list("campaign_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("campaign_id", "n")
    )
    events = TimelineEvent.objects.filter(
        incident_id=incident_id, kind__in=["campaign.paused", "campaign.resumed"]
    ).order_by("seq")
    history: dict[int, list[str]] = {}
    for event in events:
        campaign_id = event.payload.get("campaign")
        verb = "paused" if event.kind == "campaign.paused" else "resumed"
        if event.payload.get("exclude_affected"):
            verb += " excluding the affected"
        history.setdefault(campaign_id, []).append(
            f"{verb} {_when(event.occurred_at)} by {event.actor_label} (seq {event.seq})"
        )
    ids = sorted(set(history) | set(withheld))
    campaigns = Campaign.objects.in_bulk(ids)
    rows = [
        [
            campaigns[cid].name if cid in campaigns else f"campaign {cid}",
            campaigns[cid].get_status_display() if cid in campaigns else "-",
            "; ".join(history.get(cid, [])) or "not paused",
            f"{withheld.get(cid, 0):,}",
        ]
        for cid in ids
    ]
    facts = [
        ("Hold placed", _when(hold.placed_at) if hold else "No hold was placed"),
        (
            "Hold released",
            f"{_when(hold.released_at)} by {hold.released_by}"
            if hold and hold.released_at
            else ("Still active" if hold else "-"),
        ),
        ("Promotional messages withheld", f"{sum(withheld.values()):,}"),
    ]
    return SectionContent(
        facts=facts,
        tables=[
            Table(
                columns=["Campaign", "Status now", "Paused and resumed", "Messages withheld"],
                rows=rows,
                empty="No campaign reached anyone in scope.",
            )
        ],
    )


def register() -> None:
    evidence_section_register(
        key="campaign_holds", title="Campaign holds", order=60, provider=campaign_holds_section
    )
