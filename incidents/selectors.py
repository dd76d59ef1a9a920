"""Reads that take more than one query or some thought: counts, regimes, chain checks."""

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from customers.regions import region_is_placed, region_normalize

from .models import (
    AffectedCustomer,
    DataCategory,
    Incident,
    Obligation,
    Regime,
    ScopeFigures,
    ScopeGroup,
    TimelineEvent,
)
from .rules import regime_applies
from .services.checkpoints import Checkpoint, checkpoints_read
from .services.timeline import GENESIS_HASH, timeline_canonical, timeline_digest, timeline_key
from .services.timestamps import checkpoint_timestamp_check

PROFILE_SETTINGS = {
    Regime.ProfileFlag.EU_ESTABLISHMENT: "COMPANY_EU_ESTABLISHMENT",
    Regime.ProfileFlag.UK_ESTABLISHMENT: "COMPANY_UK_ESTABLISHMENT",
    Regime.ProfileFlag.NIS2_ENTITY: "COMPANY_NIS2_ENTITY",
    Regime.ProfileFlag.HIPAA_COVERED: "COMPANY_HIPAA_COVERED",
    Regime.ProfileFlag.SEC_REGISTRANT: "COMPANY_SEC_REGISTRANT",
    Regime.ProfileFlag.NYDFS_COVERED: "COMPANY_NYDFS_COVERED",
    Regime.ProfileFlag.FTC_SAFEGUARDS: "COMPANY_FTC_SAFEGUARDS",
    Regime.ProfileFlag.BROKER_DEALER: "COMPANY_BROKER_DEALER",
    Regime.ProfileFlag.US_BANK: "COMPANY_US_BANK",
    Regime.ProfileFlag.DORA_ENTITY: "COMPANY_DORA_ENTITY",
    Regime.ProfileFlag.TELECOM_PROVIDER: "COMPANY_TELECOM_PROVIDER",
}


def company_profile() -> dict[str, bool]:
    """The company's profile from settings, keyed like `Regime.profile_flag`."""
    return {flag: bool(getattr(settings, name)) for flag, name in PROFILE_SETTINGS.items()}


def scope_kept_figures(*, incident_id: int) -> ScopeFigures | None:
    """The kept counts of a large scope (see services.scope_figures), or None: count live."""
    return ScopeFigures.objects.filter(incident_id=incident_id).first()


def scope_kept_incidents() -> list[int]:
    """Open incidents whose scope is large enough to have its counts kept."""
    return list(
        ScopeFigures.objects.exclude(incident__status=Incident.Status.CLOSED).values_list(
            "incident_id", flat=True
        )
    )


def _kept_groups(incident_id: int, *fields: str) -> list[dict]:
    return list(
        ScopeGroup.objects.filter(incident_id=incident_id)
        .values(*fields)
        .annotate(n=Sum("people"), sample=Min("sample_customer_id"))
        .order_by()
    )


def _kept(incident_id: int, kept: bool | None) -> bool:
    """Whether to read the kept counts: as the caller found, else looked up."""
    return scope_kept_figures(incident_id=incident_id) is not None if kept is None else kept


def _scope_residence_groups(*, incident_id: int, kept: bool | None = None) -> list[dict]:
    """Affected people grouped by country, region as stored and (where no region is
    given) the first five characters of the postal code: one GROUP BY in the database,
    over the kept groups of a large scope."""
    if _kept(incident_id, kept):
        return [
            {
                "customer__country": row["country"],
                "customer__region": row["region"],
                "zip5": row["zip5"],
                "n": row["n"],
            }
            for row in _kept_groups(incident_id, "country", "region", "zip5")
        ]
    return list(
        AffectedCustomer.objects.filter(incident_id=incident_id)
        .values(
            "customer__country",
            "customer__region",
            zip5=Case(
                When(customer__region="", then=Substr("customer__postal_code", 1, 5)),
                default=Value(""),
            ),
        )
        .annotate(n=Count("*"))
        .order_by()
    )


def _residence_tally(
    groups: list[dict],
) -> tuple[dict[tuple[str, str], int], list[tuple[str, str, int]]]:
    counts: dict[tuple[str, str], int] = {}
    unplaced: dict[tuple[str, str], int] = {}
    for row in groups:
        country = row["customer__country"] or ""
        region = region_normalize(row["customer__region"] or "", country, row["zip5"] or "")
        placed = region_is_placed(region, country)
        key = (country, region.upper() if placed else "")
        counts[key] = counts.get(key, 0) + row["n"]
        # Countries whose regimes are national need no region; a US one does.
        if country and not placed and (region or country == "US"):
            where = (country, region or row["zip5"] or "")
            unplaced[where] = unplaced.get(where, 0) + row["n"]
    listed = sorted(((c, r, n) for (c, r), n in unplaced.items()), key=lambda i: (-i[2], i))
    return counts, listed


def residence_last_sent(*, sent: QuerySet) -> dict[tuple[str, str], datetime]:
    """The last `sent_at` per residence (country, subdivision) over rows with a
    `customer`: one GROUP BY, regions normalised per group."""
    rows = (
        sent.exclude(sent_at=None)
        .values(
            "customer__country",
            "customer__region",
            zip5=Case(
                When(customer__region="", then=Substr("customer__postal_code", 1, 5)),
                default=Value(""),
            ),
        )
        .annotate(last=Max("sent_at"))
        .order_by()
    )
    last: dict[tuple[str, str], datetime] = {}
    for row in rows:
        country = row["customer__country"] or ""
        region = region_normalize(row["customer__region"] or "", country, row["zip5"] or "")
        key = (country, region.upper() if region_is_placed(region, country) else "")
        if key not in last or row["last"] > last[key]:
            last[key] = row["last"]
    return last


def scope_jurisdiction_counts(*, incident_id: int) -> dict[tuple[str, str], int]:
    """Affected people by (country, ISO 3166-2 subdivision's own code or ""). Regions are
    normalised per group, not per person: "Texas", "tx" and a Texas ZIP count as TX even
    on rows imported before the import normalised them."""
    return _residence_tally(_scope_residence_groups(incident_id=incident_id))[0]


def scope_unplaced_regions(*, incident_id: int) -> list[tuple[str, str, int]]:
    """(country, region as written, people) for residences no subdivision was found for,
    so that a person can place them; the largest first."""
    return _residence_tally(_scope_residence_groups(incident_id=incident_id))[1]


@dataclass(frozen=True)
class ScopeSummary:
    total: int
    by_category: list[tuple[str, int]]
    by_country: list[tuple[str, int]]
    by_us_state: list[tuple[str, int]]
    regimes: list[tuple[Regime, str]] = field(default_factory=list)
    unplaced: list[tuple[str, str, int]] = field(default_factory=list)
    # When the kept counts of a large scope were counted from the customer records (None:
    # counted just now).
    counted_at: datetime | None = None


def scope_summary(*, incident_id: int, live: bool = False) -> ScopeSummary:
    """What the incident page shows: counts by category, country and US state, and the
    regimes those counts (with the company profile) trigger. `live` counts from the rows
    even a large scope whose counts are kept (the evidence pack's figures are exact)."""
    figures = None if live else scope_kept_figures(incident_id=incident_id)
    counts, unplaced = _residence_tally(
        _scope_residence_groups(incident_id=incident_id, kept=figures is not None)
    )
    by_country: dict[str, int] = {}
    by_state: dict[str, int] = {}
    for (country, region), n in counts.items():
        by_country[country or "unknown"] = by_country.get(country or "unknown", 0) + n
        if country == "US":
            by_state[region or "unknown"] = by_state.get(region or "unknown", 0) + n
    per_category = scope_category_counts(incident_id=incident_id, kept=figures is not None)
    labels = dict(DataCategory.choices)
    return ScopeSummary(
        total=sum(counts.values()),
        by_category=[(labels[c], n) for c, n in per_category.items() if n],
        by_country=sorted(by_country.items(), key=lambda item: (-item[1], item[0])),
        by_us_state=sorted(by_state.items(), key=lambda item: (-item[1], item[0])),
        regimes=regimes_triggered(counts=counts),
        unplaced=unplaced,
        counted_at=figures.counted_at if figures else None,
    )


def scope_totals(*, incident_ids: list[int]) -> dict[int, int]:
    """Affected people per incident: kept totals, one GROUP BY for the others."""
    totals = dict(
        ScopeFigures.objects.filter(incident_id__in=incident_ids).values_list(
            "incident_id", "total"
        )
    )
    rest = [pk for pk in incident_ids if pk not in totals]
    if rest:
        totals.update(
            AffectedCustomer.objects.filter(incident_id__in=rest)
            .values_list("incident_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
    return {pk: totals.get(pk, 0) for pk in incident_ids}


@dataclass(frozen=True)
class AudienceGroup:
    language: str
    country: str
    data_categories: tuple[str, ...]
    people: int
    sample_customer_id: int


def scope_audience_groups(
    *, incident_id: int, countries: list[str] | None = None
) -> list[AudienceGroup]:
    """Affected people by language, country and data categories, each group with its
    lowest customer id as a sample: one GROUP BY (over the kept groups of a large scope)."""
    if scope_kept_figures(incident_id=incident_id) is not None:
        kept = ScopeGroup.objects.filter(incident_id=incident_id)
        if countries:
            kept = kept.filter(country__in=countries)
        return [
            AudienceGroup(
                language=row["language"],
                country=row["country"],
                data_categories=tuple(filter(None, row["categories"].split(","))),
                people=row["n"],
                sample_customer_id=row["sample"],
            )
            for row in kept.values("language", "country", "categories")
            .annotate(n=Sum("people"), sample=Min("sample_customer_id"))
            .order_by()
        ]
    affected = AffectedCustomer.objects.filter(incident_id=incident_id)
    if countries:
        affected = affected.filter(customer__country__in=countries)
    return [
        AudienceGroup(
            language=row["customer__language"] or "",
            country=row["customer__country"] or "",
            data_categories=tuple(row["data_categories"] or []),
            people=row["people"],
            sample_customer_id=row["sample"],
        )
        for row in affected.values("customer__language", "customer__country", "data_categories")
        .annotate(people=Count("pk"), sample=Min("customer_id"))
        .order_by()
    ]


def scope_category_counts(*, incident_id: int, kept: bool | None = None) -> dict[str, int]:
    """Affected people per data category. A scope holds few distinct category lists, so
    grouping by the list (portable, unlike JSON containment on SQLite) is one cheap query
    (over the kept groups of a large scope; `kept` says whether the caller found them)."""
    totals = dict.fromkeys(DataCategory.values, 0)
    if _kept(incident_id, kept):
        for row in _kept_groups(incident_id, "categories"):
            for category in filter(None, row["categories"].split(",")):
                totals[category] = totals.get(category, 0) + row["n"]
        return totals
    rows = AffectedCustomer.objects.filter(incident_id=incident_id)
    for row in rows.values("data_categories").annotate(n=Count("pk")).order_by():
        for category in row["data_categories"]:
            totals[category] = totals.get(category, 0) + row["n"]
    return totals


def regimes_triggered(*, counts: dict[tuple[str, str], int]) -> list[tuple[Regime, str]]:
    """Active regimes that apply to a scope with these counts, each with the reason."""
    profile = company_profile()
    triggered = []
    for regime in Regime.objects.filter(active=True).order_by("code"):
        if regime.max_affected is not None and sum(counts.values()) >= regime.max_affected:
            continue
        why = regime_applies(
            profile_flag=regime.profile_flag,
            countries=regime.countries,
            regions=regime.regions,
            min_affected=regime.min_affected,
            profile=profile,
            counts=counts,
            per_subdivision=regime.threshold_per_subdivision,
        )
        if why:
            triggered.append((regime, why))
    return triggered


@dataclass(frozen=True)
class ChainCheck:
    incident_id: int
    events: int
    head_hash: str
    first_broken_seq: int | None = None
    problem: str = ""
    # Checkpoints outside the database the chain was held against, and the latest of them.
    checkpoints: int = 0
    latest_checkpoint: Checkpoint | None = None
    # Checkpoints carrying a valid RFC 3161 token, the latest TSA time, and those without.
    timestamped: int = 0
    latest_timestamp: datetime | None = None
    untimestamped: int = 0

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def timeline_verify(*, incident_id: int, checkpoints: list[Checkpoint] | None = None) -> ChainCheck:
    """Recompute the incident's keyed hash chain, hold it against the checkpoints kept
    outside the database, and name the first sequence number that breaks it.

    Streams the events in order so that an incident with a long timeline does not load
    it all at once; the evidence export prints `head_hash` when the chain holds. A chain
    re-hashed without the timeline key, an event dated before the one it follows, an
    event that differs from what a checkpoint saw, and a tail deleted after a checkpoint
    are each a break.
    """
    if checkpoints is None:
        checkpoints = checkpoints_read(incident_id=incident_id)
    checkpoints = [c for c in checkpoints if c.incident_id == incident_id]
    forged = next((c for c in checkpoints if not c.signed), None)
    seen_at = {c.seq: c for c in checkpoints if c.signed}
    key = timeline_key()
    expected_seq, prev_hash, prev_at, count = 1, GENESIS_HASH, None, 0
    events = (
        TimelineEvent.objects.filter(incident_id=incident_id)
        .order_by("seq")
        .values_list("seq", "occurred_at", "actor_label", "kind", "payload", "prev_hash", "hash")
    )

    def broken(seq: int, problem: str) -> ChainCheck:
        return ChainCheck(
            incident_id=incident_id,
            events=count,
            head_hash=prev_hash,
            first_broken_seq=seq,
            problem=problem,
            checkpoints=len(checkpoints),
            latest_checkpoint=checkpoints[-1] if checkpoints else None,
        )

    for seq, occurred_at, actor_label, kind, payload, stored_prev, stored_hash in events.iterator(
        chunk_size=2000
    ):
        count += 1
        problem = ""
        if seq != expected_seq:
            problem = f"sequence jumps from {expected_seq - 1} to {seq}"
            seq = expected_seq
        elif stored_prev != prev_hash:
            problem = "its previous hash is not the hash of the event before it"
        elif prev_at is not None and occurred_at < prev_at:
            problem = "it is dated before the event it follows"
        else:
            digest = timeline_digest(
                timeline_canonical(
                    incident_id=incident_id,
                    seq=seq,
                    occurred_at=occurred_at,
                    actor_label=actor_label,
                    kind=kind,
                    payload=payload,
                    prev_hash=stored_prev,
                ),
                key=key,
            )
            if not hmac.compare_digest(digest, stored_hash):
                problem = "its content does not match its keyed hash"
            elif seq in seen_at and seen_at[seq].hash != stored_hash:
                problem = (
                    f"it is not the event the checkpoint of {seen_at[seq].written_at} recorded"
                )
        if problem:
            return broken(seq, problem)
        expected_seq, prev_hash, prev_at = seq + 1, stored_hash, occurred_at
    beyond = max(seen_at, default=0)
    if beyond >= expected_seq:
        return broken(
            expected_seq,
            f"events {expected_seq} to {beyond} are missing: the checkpoint of "
            f"{seen_at[beyond].written_at} recorded the chain up to {beyond}",
        )
    if forged is not None:
        return broken(
            forged.seq,
            f"the checkpoint of {forged.written_at} does not carry a valid signature",
        )
    timestamped, latest_timestamp = 0, None
    for checkpoint in checkpoints:
        if not checkpoint.timestamp:
            continue
        stamp = checkpoint_timestamp_check(
            token=checkpoint.timestamp,
            digest=checkpoint.digest,
            written_at=datetime.fromisoformat(checkpoint.written_at),
        )
        if not stamp.ok:
            return broken(
                checkpoint.seq, f"the checkpoint of {checkpoint.written_at}: {stamp.problem}"
            )
        timestamped += 1
        if stamp.gen_time and (latest_timestamp is None or stamp.gen_time > latest_timestamp):
            latest_timestamp = stamp.gen_time
    return ChainCheck(
        incident_id=incident_id,
        events=count,
        head_hash=prev_hash,
        checkpoints=len(checkpoints),
        latest_checkpoint=checkpoints[-1] if checkpoints else None,
        timestamped=timestamped,
        latest_timestamp=latest_timestamp,
        untimestamped=len(checkpoints) - timestamped,
    )


@dataclass(frozen=True)
class DashboardRow:
    incident: Incident
    next_due_at: datetime | None
    next_obligation: str
    open_obligations: int
    overdue_obligations: int = 0

    @property
    def remaining(self) -> timedelta | None:
        return None if self.next_due_at is None else self.next_due_at - timezone.now()

    @property
    def is_late(self) -> bool:
        return self.remaining is not None and self.remaining.total_seconds() < 0


def dashboard_incidents() -> list[DashboardRow]:
    """Incidents not closed, the one with the nearest (or most overdue) deadline first."""
    open_obligations = Q(obligations__status=Obligation.Status.OPEN)
    overdue = open_obligations & Q(obligations__due_at__lt=timezone.now())
    incidents = list(
        Incident.objects.exclude(status=Incident.Status.CLOSED)
        .annotate(
            next_due_at=Min("obligations__due_at", filter=open_obligations),
            open_count=Count("obligations", filter=open_obligations),
            overdue_count=Count("obligations", filter=overdue),
        )
        .order_by("next_due_at", "-awareness_at")
    )
    # Nulls (no clock running) sort last on PostgreSQL but first on SQLite: be explicit.
    incidents.sort(key=lambda i: (i.next_due_at is None, i.next_due_at or timezone.now()))
    names = {
        (o.incident_id, o.due_at): o.name
        for o in Obligation.objects.filter(
            incident__in=[i.pk for i in incidents],
            status=Obligation.Status.OPEN,
            due_at__isnull=False,
        ).only("incident_id", "due_at", "name")
    }
    return [
        DashboardRow(
            incident=incident,
            next_due_at=incident.next_due_at,
            next_obligation=names.get((incident.pk, incident.next_due_at), ""),
            open_obligations=incident.open_count,
            overdue_obligations=incident.overdue_count,
        )
        for incident in incidents
    ]


def quiet_period_end(*, incident: Incident) -> datetime | None:
    """Until when promotions and recovery offers wait after the breach notice (None: no
    notice yet): CAMPAIGNS_QUIET_PERIOD_DAYS from the day the people were told."""
    if incident.people_notified_at is None:
        return None
    return incident.people_notified_at + timedelta(days=settings.CAMPAIGNS_QUIET_PERIOD_DAYS)
