"""Reads of the customer record that take more than one query."""

import datetime
from dataclasses import dataclass

from django.db.models import Q

from .models import CustomerMerge, SourceRecord, Touchpoint


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    what: str
    detail: str = ""


def customer_timeline(*, customer_id: int, limit: int = 100) -> list[TimelineEntry]:
    """The person's history in one list, newest first: what other apps recorded as
    touchpoints (sends, notices, letters, bounces...), each source's imports of the
    record, and merges. Three bounded queries, whatever the history's length.

    No contact data: touchpoint references and external ids only.
    """
    entries = [
        TimelineEntry(
            t.occurred_at,
            f"{t.get_kind_display()} by {t.get_channel_display()}",
            t.reference,
        )
        for t in Touchpoint.objects.filter(customer_id=customer_id).order_by("-occurred_at")[:limit]
    ]
    for source, external_id, first, last in SourceRecord.objects.filter(
        customer_id=customer_id
    ).values_list("source", "external_id", "first_seen_at", "last_seen_at")[:limit]:
        entries.append(TimelineEntry(first, f"First imported from {source}", external_id))
        # Rewritten only when an import brought a change (an unchanged row writes nothing).
        if last - first > datetime.timedelta(seconds=1):
            entries.append(TimelineEntry(last, f"Changed by an import from {source}", external_id))
    merges = CustomerMerge.objects.filter(
        Q(survivor_id=customer_id) | Q(merged_id=customer_id)
    ).order_by("-merged_at")[:limit]
    for m in merges:
        entries.append(
            TimelineEntry(m.merged_at, f"Customer {m.merged_id} merged into {m.survivor_id}")
        )
        if m.unmerged_at:
            entries.append(TimelineEntry(m.unmerged_at, f"Merge of {m.merged_id} undone"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
