"""The unreached count of a one-million-person scope against hand-written SQL.

    python -m benchmarks unreached [--customers N] [--repeat N] [--rebuild]

Runs on the configured database (PostgreSQL). The data are built once with INSERT ...
SELECT over generate_series and kept, tagged "bench-unreached": a third of the people
without a street, 30 % without a usable email (missing, malformed, bounced), a letter to
everyone whom email misses, and one in five of those letters returned. Compares
`unreached_counts` (what the incident page and the evidence pack read) with one raw
GROUP BY counting the same figures, alternating the two; reports medians and their ratio.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.db import connection, models, transaction

from benchmarks.common import column_value
from customers.models import Customer
from incidents.models import Incident
from notifications.models import Communication
from notifications.reach.unreached import unreached_counts

TAG = "bench-unreached"
COUNTRIES = ("US", "US", "US", "DE", "FR", "GB")
REGIONS = ("CA", "TX", "NY", "FL", "WA")

RAW_SQL = """
SELECT country, region, count(*),
       count(*) FILTER (WHERE email_status = 'missing' OR email = ''),
       count(*) FILTER (WHERE email_status = 'undeliverable' AND email <> ''),
       count(*) FILTER (WHERE email_status = 'bounced' AND email <> ''),
       count(*) FILTER (WHERE no_address),
       count(*) FILTER (WHERE NOT no_address)
FROM (
  SELECT cu.country, upper(cu.region) AS region, cu.email_status, cu.email,
         (cu.street = '' OR cu.city = '' OR cu.country = '') AS no_address
  FROM incidents_affectedcustomer ac
  JOIN customers_customer cu ON cu.id = ac.customer_id
  WHERE ac.incident_id = %s
    AND (cu.email_status <> 'valid' OR cu.email = '')
    AND (cu.street = '' OR cu.city = '' OR cu.country = ''
         OR EXISTS (SELECT 1 FROM notifications_returnedletter r
                    WHERE r.customer_id = cu.id AND r.street = cu.street
                      AND r.postal_code = cu.postal_code AND r.city = cu.city))
) unreached
GROUP BY country, region
"""


def _column_value(field: models.Field) -> str:
    named = {
        "first_name": "'Bench'",
        "last_name": "'Customer ' || n",
        "email": f"CASE WHEN mod(n, 10) = 7 THEN '' ELSE '{TAG}-' || n || '@example.invalid' END",
        "email_normalized": f"'{TAG}-' || n || '@example.invalid'",
        "email_status": "(ARRAY['valid','valid','valid','valid','valid','valid','valid',"
        "'missing','bounced','undeliverable'])[1 + mod(n, 10)]",
        "street": "CASE WHEN mod(n, 3) = 0 THEN '' ELSE n || ' Main St' END",
        "city": "'Springfield'",
        "postal_code": "'90001'",
        "country": f"(ARRAY{list(COUNTRIES)!r})[1 + mod(n / 11, {len(COUNTRIES)})]",
        "region": f"(ARRAY{list(REGIONS)!r})[1 + mod(n / 13, {len(REGIONS)})]",
        "marketing_consent": "'unknown'",
    }
    return column_value(field, named)


def build(customers: int) -> Incident:
    with transaction.atomic():
        fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        values = ", ".join(_column_value(f) for f in fields)
        incident = Incident.objects.create(
            title=f"{TAG} incident", nature="benchmark", awareness_at=datetime.now(UTC)
        )
        start = datetime.now(UTC)
        communication = Communication.objects.create(
            incident=incident,
            name=f"{TAG} notice",
            channels=["email", "letter"],
            send_window_start=start,
            send_window_end=start + timedelta(days=1),
            fallback_language="en",
        )
        batch_sql = (
            "INSERT INTO notifications_letterbatch (communication_id, paper_size, status, "
            "letters, built, pdf, manifest, error, created_at) "
            "VALUES (%s, 'A4', 'posted', 0, 0, '', '', '', now()) RETURNING id"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO customers_customer ({columns}) SELECT {values} "
                "FROM generate_series(1, %s) n",
                [customers],
            )
            cursor.execute(
                "SELECT min(id), max(id) FROM customers_customer WHERE email_normalized LIKE %s",
                [f"{TAG}-%"],
            )
            low, high = cursor.fetchone()
            cursor.execute(
                "INSERT INTO incidents_affectedcustomer "
                "(incident_id, customer_id, data_categories, found_by, added_at) "
                "SELECT %s, id, '[\"contact\"]'::jsonb, 'forensic_list', now() "
                "FROM customers_customer WHERE id BETWEEN %s AND %s",
                [incident.pk, low, high],
            )
            cursor.execute(batch_sql, [communication.pk])
            batch = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO notifications_notification (communication_id, customer_id, "
                "channel, status, skip_reason, email, attempts, last_error, letter_batch_id) "
                "SELECT %s, id, 'letter', 'letter', '', '', 0, '', %s FROM customers_customer "
                "WHERE id BETWEEN %s AND %s AND email_status <> 'valid' AND street <> ''",
                [communication.pk, batch, low, high],
            )
            cursor.execute(
                "INSERT INTO notifications_returnedletter (notification_id, customer_id, "
                "street, postal_code, city, returned_on, reason, source, recorded_at) "
                "SELECT n.id, c.id, c.street, c.postal_code, c.city, current_date, "
                "'unknown', 'bench', now() FROM notifications_notification n "
                "JOIN customers_customer c ON c.id = n.customer_id "
                "WHERE n.communication_id = %s AND mod(n.id, 5) = 0",
                [communication.pk],
            )
            cursor.execute("ANALYZE")
        return incident


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks unreached")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    incident = Incident.objects.filter(title=f"{TAG} incident").first()
    if incident is None or args.rebuild:
        started = time.perf_counter()
        incident = build(args.customers)
        print(f"built {args.customers:,} people in {time.perf_counter() - started:.1f} s")
    ours, raw = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        counts = unreached_counts(incident_id=incident.pk)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(RAW_SQL, [incident.pk])
            rows = cursor.fetchall()
        raw.append(time.perf_counter() - started)
    expected = sum(row[2] for row in rows)
    assert counts.total == expected, (counts.total, expected)
    mine, base = statistics.median(ours), statistics.median(raw)
    print(f"unreached: {counts.total:,} of the scope, {len(counts.rows)} jurisdictions")
    print(f"unreached_counts {mine * 1000:.0f} ms, raw SQL {base * 1000:.0f} ms")
    print(f"ratio {mine / base:.2f}x the raw GROUP BY")
