"""What the incident room shows of the breach messages: per wave, how far it has gone and
what became of it (the communication page's own figures, kept or counted the same way)."""

from django.urls import reverse

from incidents.evidence.registry import (
    Bar,
    BarPart,
    SectionContent,
    incident_page_section_register,
)
from incidents.selectors import scope_totals

from .models import Delivery
from .selectors import DeliveryOutcomes, wave_counts


def _bar(name: str, outcomes: DeliveryOutcomes) -> Bar:
    return Bar(
        label=f"{name}: of {outcomes.sent:,} sent",
        parts=[
            BarPart(label, value, percent, colour)
            for label, value, percent, colour in outcomes.bars
        ],
    )


def waves_section(incident_id: int) -> SectionContent:
    """One bar and one line of counts per wave: a few aggregates per wave (read from the
    figures the task cluster keeps for a large wave), never a query per person."""
    deliveries = list(
        Delivery.objects.filter(communication__incident_id=incident_id)
        .select_related("communication")
        .order_by("started_at")
    )
    affected = scope_totals(incident_ids=[incident_id])[incident_id]
    counts = wave_counts(communication_ids=[d.communication_id for d in deliveries])
    facts, bars, notes, links = [], [], [], []
    for delivery in deliveries:
        communication = delivery.communication
        outcomes, pending = counts[communication.pk]
        share = f"{100 * outcomes.told / affected:.1f}%" if affected else "—"
        facts.append(
            (
                f"{communication.name} ({delivery.get_kind_display().lower()}, "
                f"{delivery.get_status_display().lower()})",
                f"{outcomes.told:,} of {affected:,} affected told ({share}); "
                f"sent {outcomes.sent:,}, delivered {outcomes.delivered:,}, "
                f"bounced {outcomes.hard_bounced:,} hard and {outcomes.soft_bounced:,} soft, "
                f"complained {outcomes.complained:,}; letters owed {outcomes.letters_owed:,}, "
                f"posted {outcomes.letters_posted:,}; {pending:,} still to send",
            )
        )
        if outcomes.sent:
            bars.append(_bar(communication.name, outcomes))
        if outcomes.counted_at:
            notes.append(
                f"{communication.name}: counted by the task cluster at "
                f"{outcomes.counted_at:%Y-%m-%d %H:%M:%S} UTC."
            )
        links.append(
            (
                f"{communication.name}: progress and bounces",
                reverse("admin:notifications_communication_change", args=[communication.pk]),
            )
        )
    if not facts:
        notes.append("No breach message has been sent yet.")
    return SectionContent(facts=facts, bars=bars, notes=notes, links=links)


def register() -> None:
    incident_page_section_register(
        key="waves",
        title="How far the breach messages have gone",
        order=60,
        provider=waves_section,
    )
