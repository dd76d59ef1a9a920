"""Scope N customers by segment with `scope_set`, side by side with the raw INSERT ... SELECT.

    DATABASE_URL=postgres://... python -m benchmarks scope [--customers 1000000] [--rounds 2]

Customers and their segment membership are generated with set-based SQL under a run
tag, and removed afterwards (the benchmark incidents stay: their timeline is
append-only). Each round times the raw statement and the service on the same rows, in
alternating order (ABBA) so that cache warmth favours neither. Target: the service
within 1.5x of the raw insert.
"""

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.management import call_command
from django.db import connection

from customers.models import Segment
from incidents.models import AffectedCustomer, Incident
from incidents.services import scope_set

TARGET = 1.5


def _generate(tag: str, count: int) -> int:
    segment = Segment.objects.create(name=f"benchmark {tag}")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (
                first_name, last_name, email, email_normalized, email_status, phone, street,
                postal_code, city, region, country, country_raw, language, marketing_consent,
                consent_source, lifecycle_stage, created_at, updated_at)
            SELECT 'Bench', 'Person ' || i, 'b' || i || '-' || %s || '@bench.invalid',
                   'b' || i || '-' || %s || '@bench.invalid', 'valid', '', '', '', '',
                   CASE WHEN i %% 10 = 0 THEN 'CA' ELSE '' END,
                   CASE WHEN i %% 10 = 0 THEN 'US' WHEN i %% 3 = 0 THEN 'FR' ELSE 'DE' END,
                   '', 'en', 'granted', '', '', now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [tag, tag, count],
        )
        cursor.execute(
            """
            INSERT INTO customers_segmentmembership (segment_id, customer_id, added_at)
            SELECT %s, id, now() FROM customers_customer WHERE email_normalized LIKE %s
            """,
            [segment.pk, f"%-{tag}@bench.invalid"],
        )
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE customers_segmentmembership")
    return segment.pk


def _clear(incident_ids: list[int]) -> None:
    AffectedCustomer.objects.filter(incident_id__in=incident_ids).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents_affectedcustomer")


def _cleanup(tag: str, segment_id: int, incident_ids: list[int]) -> None:
    _clear(incident_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM customers_segmentmembership WHERE segment_id = %s", [segment_id]
        )
        cursor.execute(
            "DELETE FROM customers_customer WHERE email_normalized LIKE %s",
            [f"%-{tag}@bench.invalid"],
        )
    Segment.objects.filter(pk=segment_id).delete()


def _timed(work: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    rows = work()
    return time.perf_counter() - start, rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scope")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark runs on PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0)

    tag = uuid.uuid4().hex[:8]
    print(f"generating {args.customers:,} customers in one segment (run {tag})...")
    started = time.perf_counter()
    segment_id = _generate(tag, args.customers)
    print(f"  generated in {time.perf_counter() - started:.1f} s")
    aware = datetime.now(UTC)
    raw_incident = Incident.objects.create(
        title=f"benchmark raw {tag}", nature="benchmark", awareness_at=aware, is_drill=True
    )
    service_incident = Incident.objects.create(
        title=f"benchmark scope_set {tag}",
        nature="benchmark",
        awareness_at=aware,
        is_drill=True,
        data_categories=["contact"],
    )
    incidents = [raw_incident.pk, service_incident.pk]

    def raw() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO incidents_affectedcustomer
                    (incident_id, customer_id, data_categories, found_by, added_at)
                SELECT %s, m.customer_id, '["contact"]'::jsonb, 'segment', now()
                FROM customers_segmentmembership m WHERE m.segment_id = %s
                """,
                [raw_incident.pk, segment_id],
            )
            return cursor.rowcount

    def service() -> int:
        change = scope_set(incident_id=service_incident.pk, actor=None, segment_ids=[segment_id])
        return change.added

    timings: dict[str, list[float]] = {"raw INSERT ... SELECT": [], "scope_set": []}
    try:
        for round_number in range(args.rounds):
            order = [("raw INSERT ... SELECT", raw), ("scope_set", service)]
            if round_number % 2:
                order.reverse()
            for name, work in order:
                _clear(incidents)
                seconds, rows = _timed(work)
                if rows != args.customers:
                    raise SystemExit(f"{name} wrote {rows:,} rows, expected {args.customers:,}")
                timings[name].append(seconds)
                rate = rows / seconds
                print(f"  round {round_number + 1} {name}: {seconds:.2f} s, {rate:,.0f} rows/s")
        # For information: the same scope set again changes nothing (the ON CONFLICT path).
        _clear(incidents)
        service()
        seconds, rows = _timed(service)
        print(f"  scope_set again, unchanged: {seconds:.2f} s ({rows} added)")
    finally:
        _cleanup(tag, segment_id, incidents)

    raw_s = statistics.median(timings["raw INSERT ... SELECT"])
    service_s = statistics.median(timings["scope_set"])
    ratio = service_s / raw_s
    print()
    print(f"{'':24}{'median s':>10}{'rows/s':>12}")
    for name, seconds in (("raw INSERT ... SELECT", raw_s), ("scope_set", service_s)):
        print(f"{name:24}{seconds:>10.2f}{args.customers / seconds:>12,.0f}")
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"ratio scope_set / raw: {ratio:.2f}x ({verdict} the {TARGET}x target)")
