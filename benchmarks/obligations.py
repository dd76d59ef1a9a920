"""Building an incident's obligations for a scope of a million people across every US
state (regions written as codes, names and left empty with a ZIP code) and eight EU
countries, against the raw grouped count of residents per jurisdiction.

    python -m benchmarks obligations [--customers N] [--repeat N]

Runs on PostgreSQL. The customers are built once with INSERT ... SELECT over
generate_series and kept, tagged "bench-obligations"; every run opens a fresh incident
with all of them in scope, then VACUUM ANALYZEs the tables, so that neither side pays for
setting the hint bits of freshly inserted rows. `obligations_sync` (which regimes apply,
per-jurisdiction thresholds, every clock) is timed on its first build (every obligation
and its timeline events created) and on rebuilds, each against a bare GROUP BY of the
scope by country and region measured in the same state of the tables just before it;
target: at most 1.5x the raw count for both.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from customers.models import Customer
from customers.regions import _ZIP3_RANGES
from incidents.models import AffectedCustomer, Incident, Obligation, Regime, TimelineEvent
from incidents.regime_data import STATES
from incidents.rules import calendar_holidays
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


def build(customers: int) -> None:
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
        print(f"built {customers:,} customers in {time.perf_counter() - started:.1f}s")


def new_incident() -> Incident:
    """A fresh incident with every benchmark customer in scope, its tables vacuumed."""
    started = time.perf_counter()
    with transaction.atomic():
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
    # Reading freshly inserted rows the first time sets their hint bits (a write of every
    # page): whichever side read them first would pay for it. Vacuum them now.
    with connection.cursor() as cursor:
        for table in (
            "customers_customer",
            "incidents_affectedcustomer",
            "incidents_timelineevent",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"scope and vacuum in {time.perf_counter() - started:.1f}s")
    return incident


def raw_counts(incident_id: int) -> list[tuple[str, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL, [incident_id])
        return cursor.fetchall()


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks obligations")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")

    if not Customer.objects.filter(email_normalized__startswith=f"{TAG}-").exists():
        build(args.customers)
    incident = new_incident()
    scope = AffectedCustomer.objects.filter(incident=incident).count()
    print(f"scope {scope:,} affected")

    def raw() -> object:
        return raw_counts(incident.pk)

    def sync() -> object:
        return obligations_sync(incident_id=incident.pk, actor=None)

    # A worker process loads each holiday calendar, time zone and subdivision table once
    # (imports and lru_caches, ~0.3 s) the first time it needs it; pay that here, on a
    # one-person incident and every regime's business-day calendar, so that the first
    # build measured is the incident's, not the process's.
    warm = Incident.objects.create(
        title=f"{TAG} warm-up",
        nature="benchmark",
        awareness_at=incident.awareness_at,
        data_categories=["contact"],
    )
    person = AffectedCustomer.objects.filter(incident=incident).first()
    assert person is not None
    AffectedCustomer.objects.create(
        incident=warm,
        customer_id=person.customer_id,
        data_categories=["contact"],
        found_by="forensic_list",
    )
    obligations_sync(incident_id=warm.pk, actor=None)
    year = incident.awareness_at.year
    for regime in Regime.objects.filter(active=True):
        ZoneInfo(regime.due_timezone or "UTC")
        if regime.deadline_unit in (Regime.Unit.BUSINESS_DAYS, Regime.Unit.US_BUSINESS_DAYS):
            for y in (year, year + 1):
                calendar_holidays(regime.holiday_calendar or "US", y)
    cold = _timed(raw)
    # The baseline of the first build: the raw count in the same (vacuumed, cached) state.
    raw_first = [_timed(raw) for _ in range(args.repeat)]
    first = _timed(sync)
    owed = Obligation.objects.filter(incident=incident).count()
    events = TimelineEvent.objects.filter(incident=incident).count()
    raw_again: list[float] = []
    rebuilds: list[float] = []
    for _ in range(args.repeat):
        raw_again.append(_timed(raw))
        rebuilds.append(_timed(sync))
    base_first, base_again = statistics.median(raw_first), statistics.median(raw_again)
    first_ratio = first / base_first
    ratio = statistics.median(rebuilds) / base_again
    print(f"raw GROUP BY  first read after vacuum {cold:.2f}s")
    print(f"raw GROUP BY  before first build median {base_first:.2f}s  runs {_r(raw_first)}")
    print(f"first build   {first:.2f}s ({owed} obligations, {events} timeline events)")
    print(f"raw GROUP BY  alternating with rebuilds median {base_again:.2f}s  runs {_r(raw_again)}")
    print(f"rebuild       median {statistics.median(rebuilds):.2f}s  runs {_r(rebuilds)}")
    for label, value in (("first build/raw", first_ratio), ("rebuild/raw", ratio)):
        print(f"ratio {label} {value:.2f} (target <= 1.50): {'OK' if value <= 1.5 else 'MISSED'}")


def _r(runs: list[float]) -> list[float]:
    return [round(t, 2) for t in runs]
