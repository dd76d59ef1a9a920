"""The kept counts of a large wave (`WaveFigures`), counted by the task cluster.

A wave's notifications change in batches of the send, in provider events, bounce files
and letter batches, across several task clusters: keeping counters right in all of those
transactions would put one hot row in the way of every one of them. A wave of
`KEPT_FIGURES_FROM` people or more is instead counted again by the cluster every minute
(a single pass over its rows), and pages show the figures with their time.
"""

from dataclasses import asdict, fields
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.models import Delivery, Notification, WaveFigures
from notifications.selectors import (
    DeliveryOutcomes,
    wave_outcomes_count,
    wave_status_counts,
)

OUTCOME_FIELDS = [f.name for f in fields(DeliveryOutcomes) if f.name != "counted_at"]


def wave_is_large(*, communication_id: int) -> bool:
    """Whether the wave has `KEPT_FIGURES_FROM` notifications, counting no further."""
    limit = settings.KEPT_FIGURES_FROM
    rows = Notification.objects.filter(communication_id=communication_id)
    return rows.values("pk")[:limit].count() >= limit


def wave_figures_count(*, communication_id: int) -> WaveFigures | None:
    """Count a large wave again and keep the figures (a small one's are dropped)."""
    if not wave_is_large(communication_id=communication_id):
        WaveFigures.objects.filter(communication_id=communication_id).delete()
        return None
    status = wave_status_counts(communication_id=communication_id)
    outcomes = asdict(wave_outcomes_count(communication_id=communication_id))
    counts = {
        "status": status,
        "outcomes": {name: outcomes[name] for name in OUTCOME_FIELDS},
    }
    now = timezone.now()
    with transaction.atomic():
        figures = (
            WaveFigures.objects.select_for_update()
            .filter(communication_id=communication_id)
            .first()
        )
        if figures is None:
            return WaveFigures.objects.create(
                communication_id=communication_id, counts=counts, counted_at=now
            )
        figures.previous_sent = figures.counts["outcomes"]["sent"]
        figures.previous_counted_at = figures.counted_at
        figures.counts = counts
        figures.counted_at = now
        figures.save()
        return figures


def wave_figures_waves_to_count() -> list[int]:
    """Communications whose wave may still change: not yet completed, or completed in the
    last week (provider events and letters keep coming); older ones keep their last count."""
    recent = timezone.now() - timedelta(days=7)
    waves = Delivery.objects.exclude(status=Delivery.Status.COMPLETED) | Delivery.objects.filter(
        completed_at__gte=recent
    )
    return sorted(set(waves.values_list("communication_id", flat=True)))
