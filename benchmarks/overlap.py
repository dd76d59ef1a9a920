"""Overlap counts of 50 campaigns against a one-million-customer scope.

    python -m benchmarks overlap [--customers N] [--campaigns N] [--repeat N] [--rebuild]

Runs on the configured database (PostgreSQL: DATABASE_URL=.../bd_campaigns). The data are
built once with INSERT ... SELECT over generate_series and kept, tagged "bench-overlap", so
later runs only measure. Compares `campaign_overlap_counts` (the ORM selector the overlap
screen and the automatic pause use) with hand-written SQL counting the same, alternating
the two and reporting medians and their ratio; target: at most 1.5x the raw SQL.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction

from benchmarks.common import column_value
from campaigns.models import Campaign
from campaigns.selectors import OPEN_STATUSES, campaign_overlap_counts
from customers.models import Customer, Segment, SegmentMembership
from incidents.models import AffectedCustomer, Incident

TAG = "bench-overlap"
SEGMENTS = 20
COUNTRIES = ("DE", "FR", "AT", "IT", "ES", "NL", "PL", "SE")
LANGUAGES = ("de", "fr", "en", "it", "es", "nl", "pl", "sv")

RAW_SQL = """
SELECT cs.campaign_id, COUNT(DISTINCT ac.customer_id)
FROM incidents_affectedcustomer ac
JOIN customers_customer cu ON cu.id = ac.customer_id
JOIN customers_segmentmembership sm ON sm.customer_id = ac.customer_id
JOIN campaigns_campaign_segments cs ON cs.segment_id = sm.segment_id
JOIN campaigns_campaign c ON c.id = cs.campaign_id
WHERE ac.incident_id = %s
  AND c.status = ANY(%s)
  AND (c.countries = '' OR strpos(',' || c.countries || ',', ',' || cu.country || ',') > 0)
  AND (c.languages = '' OR strpos(',' || c.languages || ',', ',' || cu.language || ',') > 0)
GROUP BY cs.campaign_id
"""


def _column_value(field: models.Field) -> str:
    """SQL for a generated customer row (n = the series value), by field."""
    named = {
        "first_name": "'Bench'",
        "last_name": "'Customer ' || n",
        "email": f"'{TAG}-' || n || '@example.invalid'",
        "email_normalized": f"'{TAG}-' || n || '@example.invalid'",
        "email_status": "'valid'",
        "marketing_consent": "'granted'",
        "country": f"(ARRAY{list(COUNTRIES)!r})[1 + mod(n, {len(COUNTRIES)})]",
        "language": f"(ARRAY{list(LANGUAGES)!r})[1 + mod(n / 7, {len(LANGUAGES)})]",
    }
    return column_value(field, named)


def build(customers: int, campaigns: int, stdout_write=print) -> Incident:
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=TAG)
        segments = [
            Segment.objects.get_or_create(name=f"{TAG} {i:02d}")[0] for i in range(SEGMENTS)
        ]
        first_segment = segments[0].pk
        fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        values = ", ".join(_column_value(f) for f in fields)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO customers_customer ({columns}) SELECT {values} "
                f"FROM generate_series(1, %s) n",
                [customers],
            )
            cursor.execute(
                "SELECT min(id), max(id) FROM customers_customer WHERE email_normalized LIKE %s",
                [f"{TAG}-%"],
            )
            low, high = cursor.fetchone()
            # Every customer in two segments, so per-campaign counts must be DISTINCT.
            for offset in (0, 7):
                cursor.execute(
                    "INSERT INTO customers_segmentmembership (segment_id, customer_id, added_at) "
                    "SELECT %s + (id + %s) %% %s, id, now() FROM customers_customer "
                    "WHERE id BETWEEN %s AND %s ON CONFLICT DO NOTHING",
                    [first_segment, offset, SEGMENTS, low, high],
                )
        incident = Incident.objects.create(
            title=f"{TAG} incident",
            nature="benchmark",
            awareness_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO incidents_affectedcustomer "
                "(incident_id, customer_id, data_categories, found_by, added_at) "
                "SELECT %s, id, '[\"contact\"]'::jsonb, 'forensic_list', now() "
                "FROM customers_customer WHERE id BETWEEN %s AND %s",
                [incident.pk, low, high],
            )
        for i in range(campaigns):
            campaign = Campaign.objects.create(
                name=f"{TAG} campaign {i:02d}",
                owner=user,
                subject="Hello",
                body="Hello",
                status=Campaign.Status.SENDING,
                countries="DE,FR" if i % 3 == 0 else "",
                languages="de,en" if i % 5 == 0 else "",
            )
            campaign.segments.set([segments[i % SEGMENTS], segments[(i * 7 + 3) % SEGMENTS]])
        stdout_write(f"built {customers:,} customers in {time.perf_counter() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return incident


def raw_counts(incident_id: int) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL, [incident_id, list(OPEN_STATUSES)])
        return dict(cursor.fetchall())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks overlap")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")

    incident = Incident.objects.filter(title=f"{TAG} incident").first()
    if incident is not None and args.rebuild:
        Campaign.objects.filter(name__startswith=TAG).delete()
        AffectedCustomer.objects.filter(incident=incident).delete()
        incident.delete()
        SegmentMembership.objects.filter(segment__name__startswith=TAG).delete()
        Customer.objects.filter(email_normalized__startswith=f"{TAG}-").delete()
        incident = None
    if incident is None:
        incident = build(args.customers, args.campaigns)
    scope = AffectedCustomer.objects.filter(incident=incident).count()
    campaigns = Campaign.objects.filter(name__startswith=TAG).count()
    print(f"scope {scope:,} customers, {campaigns} campaigns")

    expected = raw_counts(incident.pk)
    got = campaign_overlap_counts(incident_id=incident.pk)
    if got != expected:
        raise SystemExit(f"selector and raw SQL disagree: {got} != {expected}")
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        raw_counts(incident.pk)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        campaign_overlap_counts(incident_id=incident.pk)
        ours.append(time.perf_counter() - started)
    ratio = statistics.median(ours) / statistics.median(raw)
    print(f"raw SQL   median {statistics.median(raw):.2f}s  runs {[round(t, 2) for t in raw]}")
    print(f"selector  median {statistics.median(ours):.2f}s  runs {[round(t, 2) for t in ours]}")
    print(f"ratio selector/raw {ratio:.2f} (target <= 1.50): {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"overlaps: {len(got)} campaigns, total {sum(got.values()):,}")
