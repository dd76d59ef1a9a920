"""Fan-out of one notification per affected person, against raw INSERT ... SELECT.

    python -m benchmarks fanout [--customers N] [--repeat N] [--rebuild]

Runs on PostgreSQL (DATABASE_URL=.../bd_delivery). The people are built once with
generate_series and kept, tagged "bench-fanout". Each round writes the notifications of
one communication with `notifications_fan_out` (the service the send uses: audience
filters, the email-or-letter choice, ON CONFLICT DO NOTHING) and, for another
communication, with a hand-written INSERT ... SELECT of the same rows into the same table;
rows are deleted between rounds, outside the timing. Target: at most 1.5x the raw time.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from incidents.models import AffectedCustomer, Incident
from notifications.models import Communication, Notification
from notifications.services.delivery import notifications_fan_out

TAG = "bench-fanout"

RAW_SQL = """
INSERT INTO notifications_notification
    (communication_id, customer_id, channel, status, skip_reason, email, attempts, last_error)
SELECT %s, a.customer_id, 'email', 'pending', '', c.email, 0, ''
FROM incidents_affectedcustomer a JOIN customers_customer c ON c.id = a.customer_id
WHERE a.incident_id = %s
"""


def build(customers: int) -> Incident:
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_customer (first_name, last_name, email, email_normalized, "
            "email_status, phone, street, postal_code, city, region, country, country_raw, "
            "language, marketing_consent, consent_source, lifecycle_stage, created_at, "
            "updated_at) SELECT 'Bench', 'Person ' || n, %s || n || '@example.invalid', "
            "%s || n || '@example.invalid', CASE WHEN n %% 50 = 0 THEN 'missing' ELSE 'valid' "
            "END, '', '', '', '', '', 'DE', '', 'en', 'granted', '', '', now(), now() "
            "FROM generate_series(1, %s) n",
            [f"{TAG}-", f"{TAG}-", customers],
        )
        incident = Incident.objects.create(
            title=f"{TAG} incident",
            nature="benchmark",
            awareness_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        cursor.execute(
            "INSERT INTO incidents_affectedcustomer "
            "(incident_id, customer_id, data_categories, found_by, added_at) "
            "SELECT %s, id, '[\"credentials\"]'::jsonb, 'forensic_list', now() "
            "FROM customers_customer WHERE email_normalized LIKE %s",
            [incident.pk, f"{TAG}-%"],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built {customers:,} affected people in {time.perf_counter() - started:.1f}s")
    return incident


def communication_for(incident: Incident, name: str) -> Communication:
    start = datetime(2026, 1, 2, tzinfo=UTC)
    communication, _ = Communication.objects.get_or_create(
        incident=incident,
        name=name,
        defaults={
            "channels": ["email", "letter"],
            "send_window_start": start,
            "send_window_end": start + timedelta(days=1),
            "fallback_language": "en",
        },
    )
    return communication


def clear(*communications: Communication) -> None:
    Notification.objects.filter(communication__in=communications)._raw_delete("default")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE notifications_notification")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fanout")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    incident = Incident.objects.filter(title=f"{TAG} incident").first()
    if incident is not None and args.rebuild:
        Notification.objects.filter(communication__incident=incident)._raw_delete("default")
        Communication.objects.filter(incident=incident).delete()
        AffectedCustomer.objects.filter(incident=incident).delete()
        incident.delete()
        incident = None
    if incident is None:
        incident = build(args.customers)
    people = AffectedCustomer.objects.filter(incident=incident).count()
    ours_communication = communication_for(incident, "bench ours")
    raw_communication = communication_for(incident, "bench raw")
    clear(ours_communication, raw_communication)
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(args.repeat):
        with transaction.atomic():
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(RAW_SQL, [raw_communication.pk, incident.pk])
            raw.append(time.perf_counter() - started)
        with transaction.atomic():
            started = time.perf_counter()
            written = notifications_fan_out(communication=ours_communication)
            ours.append(time.perf_counter() - started)
        if written != people:
            raise SystemExit(f"fan-out wrote {written:,} rows for {people:,} people")
        # A second click adds nothing, and costs little.
        with transaction.atomic():
            started = time.perf_counter()
            again = notifications_fan_out(communication=ours_communication)
            rerun = time.perf_counter() - started
        if again:
            raise SystemExit(f"the second fan-out added {again:,} rows")
        clear(ours_communication, raw_communication)
    ratio = statistics.median(ours) / statistics.median(raw)
    print(f"people {people:,}")
    for label, times in (("raw INSERT ... SELECT", raw), ("notifications_fan_out", ours)):
        runs = [round(t, 2) for t in times]
        print(f"{label}  median {statistics.median(times):.2f}s  runs {runs}")
    print(f"second click (adds 0)  {rerun:.2f}s")
    print(f"ratio fan-out/raw {ratio:.2f} (target <= 1.50): {'OK' if ratio <= 1.5 else 'MISSED'}")
