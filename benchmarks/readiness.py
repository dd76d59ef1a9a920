"""The readiness page with a million customers, against the raw aggregate queries it needs.

    python -m benchmarks readiness [--customers N] [--repeat N] [--rebuild] [--drop]

Runs on the configured PostgreSQL database. The data are built once with INSERT ...
SELECT over generate_series and kept, tagged "bench-ready", so later runs only measure:
customers in 12 countries (a quarter in the US, across 10 states) and 6 languages, 8% with
no valid email, 6% with no street, one source record each (3% last seen two years ago),
and a million segment memberships. Alternates three things and reports medians:

- raw: hand-written SQL computing the same aggregates (the floor);
- queries: everything counted afresh, as the task cluster's recount and the page's live
  reads do it (`customer_figures_refresh()` then `readiness_report()` on its figures);
- page: the whole admin page over HTTP (Django's test client, signed in as a CMO), which
  reads the last recount of the customer figures and the rest live.

Targets: queries at most 1.5x the raw SQL; the page under 300 ms median.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.test import Client
from django.urls import reverse

from config import roles
from config.readiness.selectors import stale_cutoff
from config.readiness.services import customer_figures_refresh, readiness_report
from customers.models import Customer, Segment

TAG = "bench-ready"
COUNTRIES = ("US", "DE", "FR", "AT", "IT", "ES", "NL", "PL", "SE", "GB", "IE", "BE")
STATES = ("CA", "NY", "TX", "FL", "WA", "CO", "DE", "MA", "IL", "GA")
LANGUAGES = ("en", "de", "fr", "it", "es", "nl")
SEGMENTS = 5

RAW = [
    # Reachability by country, US state and language.
    """
    SELECT country, CASE WHEN country = 'US' THEN upper(region) ELSE '' END AS state, language,
           count(*),
           count(*) FILTER (WHERE email_status = 'valid'),
           count(*) FILTER (WHERE street <> '' AND city <> '' AND country <> ''),
           count(*) FILTER (WHERE email_status <> 'valid'
                            AND NOT (street <> '' AND city <> '' AND country <> ''))
    FROM customers_customer GROUP BY 1, 2, 3
    """,
    # Stale contact data.
    """
    SELECT count(*) FROM customers_customer c WHERE NOT EXISTS (
        SELECT 1 FROM customers_sourcerecord s
        WHERE s.customer_id = c.id AND s.last_seen_at >= %(cutoff)s)
    """,
    # The largest segment.
    """
    SELECT segment_id, count(*) FROM customers_segmentmembership
    GROUP BY segment_id ORDER BY 2 DESC LIMIT 1
    """,
    # Active people per role, and those who are both CMO and CISO.
    """
    SELECT g.name, count(u.id) FILTER (WHERE u.is_active)
    FROM auth_group g LEFT JOIN auth_user_groups ug ON ug.group_id = g.id
    LEFT JOIN auth_user u ON u.id = ug.user_id GROUP BY g.name
    """,
    """
    SELECT count(*) FROM auth_user u WHERE u.is_active
      AND EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                  WHERE ug.user_id = u.id AND g.name = 'CMO')
      AND EXISTS (SELECT 1 FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                  WHERE ug.user_id = u.id AND g.name = 'CISO')
    """,
    # Approved words, regimes, drills and their steps, codes left.
    """
    SELECT language, data_categories, reviewed_at FROM notifications_templateversion
    WHERE status = 'approved' AND reviewed_at IS NOT NULL
    """,
    "SELECT code, countries, regions, active FROM incidents_regime",
    """
    SELECT t.incident_id, t.kind, min(t.occurred_at) FROM incidents_timelineevent t
    WHERE t.incident_id IN (SELECT id FROM incidents_incident WHERE is_drill
                            ORDER BY awareness_at DESC LIMIT 8)
      AND t.kind IN ('scope.set', 'communication.approved', 'delivery.started', 'notice.filed')
    GROUP BY 1, 2
    """,
    """
    SELECT count(*) FROM notifications_remediationcode
    WHERE notification_id IS NULL AND expires_on >= current_date
    """,
]


def _value(field: models.Field) -> str:
    named = {
        "first_name": "'Bench'",
        "last_name": "'Ready ' || n",
        "email": f"CASE WHEN mod(n, 25) < 2 THEN '' ELSE '{TAG}-' || n || '@example.invalid' END",
        "email_normalized": f"CASE WHEN mod(n, 25) < 2 THEN '' "
        f"ELSE '{TAG}-' || n || '@example.invalid' END",
        "email_status": "CASE WHEN mod(n, 25) < 2 THEN 'missing' ELSE 'valid' END",
        "street": "CASE WHEN mod(n, 50) < 3 THEN '' ELSE 'Main Street ' || n END",
        "postal_code": "'10115'",
        "city": "'Springfield'",
        "country": f"CASE WHEN mod(n, 4) = 0 THEN 'US' "
        f"ELSE (ARRAY{list(COUNTRIES[1:])!r})[1 + mod(n / 4, {len(COUNTRIES) - 1})] END",
        "region": f"(ARRAY{list(STATES)!r})[1 + mod(n / 7, {len(STATES)})]",
        "language": f"(ARRAY{list(LANGUAGES)!r})[1 + mod(n / 3, {len(LANGUAGES)})]",
        "marketing_consent": "'granted'",
    }
    if field.column in named:
        return named[field.column]
    if field.null:
        return "NULL"
    if isinstance(field, models.DateTimeField):
        return "now()"
    return "''"


def build(customers: int) -> None:
    started = time.perf_counter()
    with transaction.atomic():
        fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        values = ", ".join(_value(f) for f in fields)
        segments = [Segment.objects.create(name=f"{TAG} {i}").pk for i in range(SEGMENTS)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO customers_customer ({columns}) SELECT {values} "
                f"FROM generate_series(1, %s) n",
                [customers],
            )
            cursor.execute(
                "SELECT min(id), max(id) FROM customers_customer WHERE last_name LIKE 'Ready %%'"
            )
            low, high = cursor.fetchone()
            old = datetime.now(UTC) - timedelta(days=730)
            cursor.execute(
                "INSERT INTO customers_sourcerecord "
                "(customer_id, source, external_id, row_hash, first_seen_at, last_seen_at) "
                "SELECT id, %s, 'R' || id, '', now(), "
                "CASE WHEN mod(id, 100) < 3 THEN %s ELSE now() END "
                "FROM customers_customer WHERE id BETWEEN %s AND %s",
                [TAG, old, low, high],
            )
            # Segments of 40%, 25%, 15%, 12% and 8%: the largest is the one to stock for.
            cursor.execute(
                "INSERT INTO customers_segmentmembership (segment_id, customer_id, added_at) "
                "SELECT (ARRAY[%s, %s, %s, %s, %s])[CASE WHEN mod(id, 100) < 40 THEN 1 "
                "WHEN mod(id, 100) < 65 THEN 2 WHEN mod(id, 100) < 80 THEN 3 "
                "WHEN mod(id, 100) < 92 THEN 4 ELSE 5 END], id, now() "
                "FROM customers_customer WHERE id BETWEEN %s AND %s",
                [*segments, low, high],
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE customers_customer")
        cursor.execute("VACUUM ANALYZE customers_sourcerecord")
        cursor.execute("VACUUM ANALYZE customers_segmentmembership")
    print(f"built {customers:,} customers in {time.perf_counter() - started:.1f}s")


def drop() -> None:
    # Plain DELETEs: the ORM's delete() would collect a million customers' related rows
    # in Python first. Nothing else refers to the benchmark's customers.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM customers_segmentmembership WHERE segment_id IN "
            "(SELECT id FROM customers_segment WHERE name LIKE %s)",
            [f"{TAG} %"],
        )
        cursor.execute("DELETE FROM customers_sourcerecord WHERE source = %s", [TAG])
        cursor.execute(
            "DELETE FROM customers_customer WHERE first_name = 'Bench' AND last_name LIKE %s",
            ["Ready %"],
        )
        cursor.execute("DELETE FROM customers_segment WHERE name LIKE %s", [f"{TAG} %"])


def raw_queries() -> None:
    with connection.cursor() as cursor:
        for sql in RAW:
            cursor.execute(sql, {"cutoff": stale_cutoff()})
            cursor.fetchall()


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks readiness")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data")
    parser.add_argument("--drop", action="store_true", help="drop the data and stop")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    built = Segment.objects.filter(name__startswith=TAG).exists()
    if built and (args.rebuild or args.drop):
        drop()
        built = False
    if args.drop:
        return
    if not built:
        build(args.customers)
    print(f"{Customer.objects.count():,} customers")

    cmo, _ = get_user_model().objects.get_or_create(username=f"{TAG}-cmo", is_staff=True)
    cmo.groups.set([Group.objects.get(name=roles.CMO)])
    client = Client(HTTP_HOST="localhost")
    client.force_login(cmo)
    url = reverse("admin:readiness_page")
    if client.get(url).status_code != 200:
        raise SystemExit("the readiness page did not open")

    raw: list[float] = []
    ours: list[float] = []
    page: list[float] = []
    for _ in range(args.repeat):
        raw.append(timed(raw_queries))
        ours.append(timed(lambda: readiness_report(figures=customer_figures_refresh())))
        page.append(timed(lambda: client.get(url)))

    def line(name: str, runs: list[float]) -> str:
        return f"{name:<8} median {statistics.median(runs) * 1000:6.0f} ms  runs " + str(
            [round(t * 1000) for t in runs]
        )

    print(line("raw SQL", raw))
    print(line("queries", ours))
    print(line("page", page))
    ratio = statistics.median(ours) / statistics.median(raw)
    page_ms = statistics.median(page) * 1000
    print(f"ratio queries/raw {ratio:.2f} (target <= 1.50): {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"page median {page_ms:.0f} ms (target < 300): {'OK' if page_ms < 300 else 'MISSED'}")
