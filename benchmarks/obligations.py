"""Building an incident's obligations for a scope of a million people across every US
state (regions written as codes, names and left empty with a ZIP code) and eight EU
countries, against the raw grouped count of residents per jurisdiction.

    python -m benchmarks obligations [--customers N] [--repeat N] [--rebuild]

Runs on PostgreSQL. The data are built once with INSERT ... SELECT over generate_series and
kept, tagged "bench-obligations". `obligations_sync` (which regimes apply, per-jurisdiction
thresholds, every clock) is timed against a bare GROUP BY of the scope by country and
region, alternating; target: at most 1.5x the raw count.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from django.db import connection, transaction

from customers.models import Customer
from customers.regions import _ZIP3_RANGES
from incidents.models import AffectedCustomer, Incident, Obligation
from incidents.regime_data import STATES
from incidents.services import obligations_sync

from .overlap import _column_value

TAG = "bench-obligations"
EU = ("DE", "FR", "AT", "IT", "ES", "NL", "PL", "SE")

RAW_SQL = """
SELECT cu.country, cu.region, count(*)
FROM incidents_affectedcustomer ac
JOIN customers_customer cu ON cu.id = ac.customer_id
WHERE ac.incident_id = %s
GROUP BY cu.country, cu.region
"""


def _zip_for(code: str) -> str:
    low = next(low for low, _high, state in _ZIP3_RANGES if state == code)
    return f"{low:03d}01"


def build(customers: int) -> Incident:
    codes = [s.code for s in STATES]
    names = [s.name for s in STATES]
    zips = [_zip_for(c) if c not in ("GU",) else "" for c in codes]
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    k = len(codes)
    overrides = {
        "email": f"'{TAG}-' || n || '@example.invalid'",
        "email_normalized": f"'{TAG}-' || n || '@example.invalid'",
        # Nine in ten in the US, one in ten in the EU.
        "country": f"CASE WHEN mod(n, 10) = 0 THEN (ARRAY{list(EU)!r})[1 + mod(n / 10, 8)] "
        "ELSE 'US' END",
        "region": f"CASE WHEN mod(n, 10) = 0 THEN '' ELSE (CASE mod(n / {k}, 3) "
        f"WHEN 0 THEN (%(codes)s::text[])[1 + mod(n, {k})] "
        f"WHEN 1 THEN (%(names)s::text[])[1 + mod(n, {k})] ELSE '' END) END",
        "postal_code": f"(%(zips)s::text[])[1 + mod(n, {k})]",
    }
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join(overrides.get(f.column) or _column_value(f) for f in fields)
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO customers_customer ({columns}) SELECT {values} "
                "FROM generate_series(1, %(customers)s) n",
                {"codes": codes, "names": names, "zips": zips, "customers": customers},
            )
        incident = Incident.objects.create(
            title=f"{TAG} incident",
            nature="benchmark",
            awareness_at=datetime(2026, 11, 1, tzinfo=UTC),
            data_categories=["contact"],
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO incidents_affectedcustomer "
                "(incident_id, customer_id, data_categories, found_by, added_at) "
                "SELECT %s, id, '[\"contact\"]'::jsonb, 'forensic_list', now() "
                "FROM customers_customer WHERE email_normalized LIKE %s",
                [incident.pk, f"{TAG}-%"],
            )
        print(f"built {customers:,} affected in {time.perf_counter() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return incident


def raw_counts(incident_id: int) -> list[tuple[str, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL, [incident_id])
        return cursor.fetchall()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks obligations")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")

    incident = Incident.objects.filter(title=f"{TAG} incident").first()
    if incident is not None and args.rebuild:
        raise SystemExit("The timeline is append-only: drop the benchmark database instead.")
    if incident is None:
        incident = build(args.customers)
    scope = AffectedCustomer.objects.filter(incident=incident).count()
    print(f"scope {scope:,} affected")

    started = time.perf_counter()
    obligations_sync(incident_id=incident.pk, actor=None)
    first = time.perf_counter() - started
    owed = Obligation.objects.filter(incident=incident).count()
    print(f"first build: {owed} obligations in {first:.2f}s")

    ours: list[float] = []
    raw: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        raw_counts(incident.pk)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        obligations_sync(incident_id=incident.pk, actor=None)
        ours.append(time.perf_counter() - started)
    ratio = statistics.median(ours) / statistics.median(raw)
    first_ratio = first / statistics.median(raw)
    print(f"raw GROUP BY  median {statistics.median(raw):.2f}s  runs {[round(t, 2) for t in raw]}")
    print(
        f"obligations   median {statistics.median(ours):.2f}s  runs {[round(t, 2) for t in ours]}"
    )
    print(f"first build / raw {first_ratio:.2f}")
    print(
        f"ratio obligations/raw {ratio:.2f} (target <= 1.50): {'OK' if ratio <= 1.5 else 'MISSED'}"
    )
