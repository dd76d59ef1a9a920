"""Who no channel reaches: no usable email (missing, malformed or bounced) and no usable
postal address (none on record, or a letter to it came back). Counted in one GROUP BY over
the scope, so the figure is current whenever it is read: a bounce or a returned letter
recorded a moment ago is in it. For a large scope the incident page reads the counts the
task cluster keeps (every minute, with their time); the evidence pack always counts."""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone

from customers.models import Customer

from ..models import ReachFigures, ReturnedLetter

# A letter needs a street, a town and a country; a postal code is not used everywhere.
NO_ADDRESS = Q(street="") | Q(city="") | Q(country="")
NO_EMAIL = ~Q(email_status=Customer.EmailStatus.VALID) | Q(email="")


def _returned_to_current_address() -> Exists:
    # Correlated on the customer row, so that PostgreSQL tests it while it scans the
    # customers, before the join to the scope.
    return Exists(
        ReturnedLetter.objects.filter(
            customer_id=OuterRef("pk"),
            street=OuterRef("street"),
            postal_code=OuterRef("postal_code"),
            city=OuterRef("city"),
        )
    )


def unreached_customers(*, incident_id: int) -> "QuerySet[Customer]":
    """The affected people of an incident whom neither email nor post reaches."""
    return (
        Customer.objects.filter(incidents__incident_id=incident_id)
        .annotate(returned=_returned_to_current_address())
        .filter(NO_EMAIL & (NO_ADDRESS | Q(returned=True)))
    )


def jurisdiction_label(country: str, region: str) -> str:
    if not country:
        return "unknown country"
    return f"{country}-{region}" if country == "US" and region else country


@dataclass(frozen=True)
class UnreachedRow:
    jurisdiction: str
    country: str
    region: str
    unreached: int
    email_missing: int
    email_undeliverable: int
    email_bounced: int
    no_address: int
    letter_returned: int


@dataclass(frozen=True)
class UnreachedCounts:
    total: int
    rows: list[UnreachedRow] = field(default_factory=list)
    # When the task cluster counted a large scope's (None: counted just now).
    counted_at: datetime | None = None

    def for_country(self, countries: set[str]) -> int:
        return sum(r.unreached for r in self.rows if r.country in countries)

    def for_region(self, country: str, region: str) -> int:
        return sum(r.unreached for r in self.rows if (r.country, r.region) == (country, region))


def unreached_counts(*, incident_id: int) -> UnreachedCounts:
    """The unreached per jurisdiction (country, and US state) with why, in one query."""
    status = Customer.EmailStatus
    no_address = NO_ADDRESS
    grouped = (
        unreached_customers(incident_id=incident_id)
        .values("country", region_upper=Upper("region"))
        .annotate(
            n=Count("pk"),
            email_missing=Count("pk", filter=Q(email_status=status.MISSING) | Q(email="")),
            email_undeliverable=Count(
                "pk", filter=Q(email_status=status.UNDELIVERABLE) & ~Q(email="")
            ),
            email_bounced=Count("pk", filter=Q(email_status=status.BOUNCED) & ~Q(email="")),
            no_address=Count("pk", filter=no_address),
            # Unreached with an address means a letter to it came back: no second EXISTS.
            letter_returned=Count("pk", filter=~no_address),
        )
        .order_by()
    )
    merged: dict[tuple[str, str], list[int]] = {}
    keys = ("n", "email_missing", "email_undeliverable", "email_bounced", "no_address")
    for g in grouped:
        country = g["country"] or ""
        # Regions count as jurisdictions only in the US (state breach laws).
        region = (g["region_upper"] or "") if country == "US" else ""
        figures = [g[k] for k in (*keys, "letter_returned")]
        into = merged.setdefault((country, region), [0] * len(figures))
        for i, n in enumerate(figures):
            into[i] += n
    rows = [
        UnreachedRow(jurisdiction_label(country, region), country, region, *figures)
        for (country, region), figures in merged.items()
    ]
    rows.sort(key=lambda r: (-r.unreached, r.jurisdiction))
    return UnreachedCounts(total=sum(r.unreached for r in rows), rows=rows)


def unreached_counts_kept(*, incident_id: int) -> UnreachedCounts:
    """What the incident page shows: the counts the task cluster keeps for a large scope,
    else counted now."""
    figures = ReachFigures.objects.filter(incident_id=incident_id).first()
    if figures is None:
        return unreached_counts(incident_id=incident_id)
    rows = [UnreachedRow(**row) for row in figures.rows]
    return UnreachedCounts(
        total=sum(r.unreached for r in rows), rows=rows, counted_at=figures.counted_at
    )


def unreached_figures_count(*, incident_id: int) -> ReachFigures:
    """Count the unreached of a scope and keep them (run by the task cluster)."""
    counts = unreached_counts(incident_id=incident_id)
    figures, _ = ReachFigures.objects.update_or_create(
        incident_id=incident_id,
        defaults={"rows": [asdict(row) for row in counts.rows], "counted_at": timezone.now()},
    )
    return figures
