"""Reads of the customer record that take more than one query."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from .models import Customer, CustomerMerge, SourceRecord, Touchpoint


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


# A phone the import could place is stored in E.164; anything else was kept as written.
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


def customers_unplaced_regions() -> list[tuple[str, str, int]]:
    """(country, region as written, customers) for regions that name no subdivision.

    One GROUP BY over the (country, region) index gives the few thousand distinct pairs;
    whether each names a subdivision is pycountry's to say, not SQL's.
    """
    from .regions import region_is_placed

    rows = (
        Customer.objects.filter(merged_into__isnull=True)
        .exclude(region="")
        .values_list("country", "region")
        .annotate(n=Count("pk"))
        .order_by("country", "region")
    )
    return [(c, r, n) for c, r, n in rows if not region_is_placed(r, c)]


def customers_needing_fixes(queryset: QuerySet[Customer], what: str) -> QuerySet[Customer]:
    """The customers whose `what` ("email", "phone", "region", "country") the import could
    not normalise and kept as written, for a person to correct."""
    if what == "email":
        return queryset.filter(email_status=Customer.EmailStatus.UNDELIVERABLE)
    if what == "phone":
        return queryset.exclude(phone="").exclude(phone__regex=E164_PATTERN)
    if what == "country":
        return queryset.filter(country="").exclude(country_raw="")
    if what == "region":
        unplaced = Q(pk__in=[])
        for country, region, _ in customers_unplaced_regions():
            unplaced |= Q(country=country, region=region)
        return queryset.filter(unplaced)
    raise ValueError(f"nothing to fix called {what!r}")
