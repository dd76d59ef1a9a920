"""Reads that need more than a filter: audiences, overlaps with a scope, holds, counts."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat, StrIndex
from django.db.models.lookups import Exact, GreaterThan

from customers.models import Customer, SegmentMembership
from incidents.models import AffectedCustomer, Incident
from incidents.selectors import quiet_period_end

from .models import (
    Campaign,
    CampaignExclusion,
    CampaignHold,
    CampaignSend,
    Withholding,
)

OPEN_STATUSES = (
    Campaign.Status.DRAFT,
    Campaign.Status.SCHEDULED,
    Campaign.Status.SENDING,
    Campaign.Status.PAUSED,
)
RUNNING_STATUSES = (Campaign.Status.SCHEDULED, Campaign.Status.SENDING)


def _code_listed(codes: F | OuterRef, code: F) -> Q:
    """`code` is one of the comma-separated `codes`, or `codes` is empty (no narrowing).

    STRPOS/INSTR over ",a,b," runs the same on PostgreSQL and SQLite.
    """
    return Q(Exact(codes, Value(""))) | Q(
        GreaterThan(
            StrIndex(Concat(Value(","), codes, Value(",")), Concat(Value(","), code, Value(","))),
            0,
        )
    )


def campaign_audience(*, campaign: Campaign) -> QuerySet[Customer]:
    """The customers a campaign is aimed at: its segments, narrowed by country and language."""
    segment_ids = Campaign.segments.through.objects.filter(campaign=campaign).values("segment_id")
    # A record merged into another is not a second person: its segments went to the
    # survivor with the merge.
    audience = Customer.objects.filter(
        Exists(
            SegmentMembership.objects.filter(customer_id=OuterRef("pk"), segment_id__in=segment_ids)
        ),
        merged_into__isnull=True,
    )
    if campaign.country_list:
        audience = audience.filter(country__in=campaign.country_list)
    if campaign.language_list:
        audience = audience.filter(language__in=campaign.language_list)
    return audience


def campaign_overlap_counts(
    *, incident_id: int, statuses: Iterable[str] = OPEN_STATUSES
) -> dict[int, int]:
    """Campaign id -> how many of its audience are in the incident's scope (overlap > 0 only).

    One grouped join in SQL: scope -> memberships -> campaign segments -> campaign, with the
    country and language narrowing tested per row; nothing is counted in Python.
    """
    statuses = list(statuses)
    if not Campaign.objects.filter(status__in=statuses).exists():
        # No campaign to overlap: spare the join over the whole scope.
        return {}
    path = "customer__memberships__segment__campaigns"
    # Every column is named in one annotate() so all of them share a single join chain.
    rows = (
        AffectedCustomer.objects.filter(incident_id=incident_id)
        .annotate(
            overlap_campaign=F(f"{path}__id"),
            overlap_status=F(f"{path}__status"),
            overlap_countries=F(f"{path}__countries"),
            overlap_languages=F(f"{path}__languages"),
            overlap_country=F("customer__country"),
            overlap_language=F("customer__language"),
        )
        .filter(
            _code_listed(F("overlap_countries"), F("overlap_country")),
            _code_listed(F("overlap_languages"), F("overlap_language")),
            overlap_status__in=statuses,
        )
        .values("overlap_campaign")
        .annotate(overlap=Count("customer_id", distinct=True))
        .values_list("overlap_campaign", "overlap")
    )
    return dict(rows)


def held_customer_incidents(
    *, campaign_id: int, customer_ids: Iterable[int]
) -> list[tuple[int, int]]:
    """(customer, incident) pairs keeping these customers from this campaign right now.

    A customer is held by every incident with an active hold whose scope holds them, and by
    every incident this campaign was resumed "excluding affected" for.
    """
    # A drill's hold only shows what it would hold: its customers still get their mail.
    holding_incidents = CampaignHold.objects.filter(
        released_at__isnull=True, incident__is_drill=False
    ).values("incident_id")
    excluded_incidents = CampaignExclusion.objects.filter(campaign_id=campaign_id).values(
        "incident_id"
    )
    return list(
        AffectedCustomer.objects.filter(customer_id__in=list(customer_ids))
        .filter(Q(incident_id__in=holding_incidents) | Q(incident_id__in=excluded_incidents))
        .values_list("customer_id", "incident_id")
    )


def campaign_list_annotated(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Campaigns with audience_count, sent_count and withheld_count: a subquery per column.

    Subqueries rather than joined Counts, because three one-to-many joins would multiply
    each other's rows.
    """
    segment_ids = Campaign.segments.through.objects.filter(
        campaign_id=OuterRef(OuterRef("pk"))
    ).values("segment_id")
    audience = SegmentMembership.objects.filter(
        _code_listed(OuterRef("countries"), F("customer__country")),
        _code_listed(OuterRef("languages"), F("customer__language")),
        segment_id__in=segment_ids,
    )
    withheld = (
        Withholding.objects.filter(campaign_id=OuterRef("pk"))
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("customer_id", distinct=True))
        .values("n")
    )
    return queryset.annotate(
        # Drafts only: a started campaign keeps the size counted when its sends were written.
        audience_count=Coalesce(
            "audience_size",
            Subquery(
                audience.order_by()
                .annotate(g=Value(1))
                .values("g")
                .annotate(n=Count("customer_id", distinct=True))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
        sent_count=_count(
            CampaignSend.objects.filter(campaign_id=OuterRef("pk"), status=CampaignSend.Status.SENT)
            .order_by()
            .values("campaign_id")
        ),
        withheld_count=Coalesce(Subquery(withheld, output_field=IntegerField()), 0),
    )


def _count(grouped: QuerySet) -> Coalesce:
    """COUNT(*) of a correlated subquery grouped on one constant key, 0 when empty."""
    return Coalesce(
        Subquery(grouped.annotate(n=Count("*")).values("n"), output_field=IntegerField()), 0
    )


def withheld_count(*, campaign_id: int, incident_id: int) -> int:
    """Messages of this campaign withheld because of this incident."""
    return Withholding.objects.filter(campaign_id=campaign_id, incident_id=incident_id).count()


@dataclass(frozen=True)
class HeldCampaign:
    """A campaign an incident paused, with the messages it withheld from affected people."""

    campaign_id: int
    name: str
    withheld: int
    quiet_until: datetime | None


def campaigns_held(*, incidents: list[Incident]) -> dict[int, list[HeldCampaign]]:
    """Per incident, the campaigns it keeps paused: one query, withholdings counted in it."""
    withheld = (
        Withholding.objects.filter(
            campaign_id=OuterRef("pk"), incident_id=OuterRef("paused_by_incident_id")
        )
        .order_by()
        .values("campaign_id")
    )
    campaigns = (
        Campaign.objects.filter(
            status=Campaign.Status.PAUSED, paused_by_incident__in=[i.pk for i in incidents]
        )
        .annotate(withheld_count=_count(withheld))
        .order_by("name")
    )
    quiet = {incident.pk: quiet_period_end(incident=incident) for incident in incidents}
    held: dict[int, list[HeldCampaign]] = {incident.pk: [] for incident in incidents}
    for campaign in campaigns:
        incident_id = cast(int, campaign.paused_by_incident_id)  # filtered on it above
        held[incident_id].append(
            HeldCampaign(
                campaign_id=campaign.pk,
                name=campaign.name,
                withheld=campaign.withheld_count,
                quiet_until=quiet[incident_id],
            )
        )
    return held


def campaign_start_withheld(*, campaign: Campaign) -> tuple[int, int, list[tuple[str, int]]]:
    """What starting this campaign now would hold back, before anyone confirms it.

    (audience, people withheld by a breach hold, [(incident, people it holds)]), counted in
    SQL over the audience: the same holds `held_customer_incidents` applies per batch.
    """
    audience = campaign_audience(campaign=campaign)
    holding = Q(
        incident_id__in=CampaignHold.objects.filter(
            released_at__isnull=True, incident__is_drill=False
        ).values("incident_id")
    ) | Q(
        incident_id__in=CampaignExclusion.objects.filter(campaign_id=campaign.pk).values(
            "incident_id"
        )
    )
    held = AffectedCustomer.objects.filter(holding, customer_id__in=audience.values("pk"))
    per_incident = list(
        held.values("incident__title")
        .annotate(n=Count("customer_id", distinct=True))
        .order_by("-n", "incident__title")
        .values_list("incident__title", "n")
    )
    withheld = held.values("customer_id").distinct().count()
    return audience.count(), withheld, per_incident
