"""Finding suspected duplicates: ours against the blocking query alone, one run.

    python -m benchmarks duplicates --rows 1000000

Needs PostgreSQL (DATABASE_URL) and EMPTIES the customer tables of that database. It
writes --rows customers with SQL (one in a hundred the same person as the row before:
same last name, postal code, phone and street, the first name in capitals), then
measures, each in a child process of its own (so peak memory is that measurement's).
Names, postal codes and phones are hashed from the row, so strangers also collide now
and then, as in life:

  blocking   the blocking query alone, every candidate pair fetched and dropped
  ours       duplicates_find(): the same query, rapidfuzz scoring, the queue written
"""

import argparse
import json
import resource
import time

from django.conf import settings
from django.db import connection, transaction

from benchmarks import child_run

FIRST = "ARRAY['Anna','Ben','Chloé','David','Emre','Fatima','Gustav','Hana','Ivan','Júlia']"


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_customer, customers_sourcerecord, customers_segmentmembership, "
            "customers_touchpoint, customers_duplicatecandidate, customers_customermerge, "
            "customers_importrejection, customers_importjob CASCADE"
        )


def generate(rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_customer (first_name, last_name, email, email_normalized, "
            "email_status, phone, street, postal_code, city, region, country, country_raw, "
            "language, marketing_consent, consent_source, lifecycle_stage, created_at, "
            "updated_at) SELECT CASE WHEN i %% 100 = 0 THEN upper(f) ELSE f END, "
            "'Name' || (abs(hashtext('n' || b)) %% 5000), 'p' || i || '@example.com', "
            "'p' || i || '@example.com', 'valid', "
            "'+4930' || lpad((abs(hashtext('p' || b)) %% 100000000)::text, 8, '0'), "
            "(b %% 300) || ' Example Street', "
            "lpad((abs(hashtext('z' || b)) %% 100000)::text, 5, '0'), "
            "'Berlin', '', 'DE', '', 'de', 'unknown', '', '', now(), now() "
            f"FROM (SELECT i, CASE WHEN i %% 100 = 0 THEN i - 1 ELSE i END AS b, "
            f"({FIRST})[1 + (CASE WHEN i %% 100 = 0 THEN i - 1 ELSE i END) %% 10] AS f "
            "FROM generate_series(1::bigint, %s::bigint) AS i) AS g",
            [rows],
        )
        cursor.execute("ANALYZE customers_customer")


def measure_blocking() -> int:
    from customers.services.duplicates import BLOCKING_SQL

    pairs = 0
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(BLOCKING_SQL, [])
        while rows := cursor.fetchmany(5000):
            pairs += len(rows)
    return pairs


def measure_ours() -> int:
    from customers.services import duplicates_find

    return duplicates_find()


def child(kind: str) -> None:
    settings.DEBUG = False
    started = time.perf_counter()
    found = measure_blocking() if kind == "blocking" else measure_ours()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pairs": found, "seconds": seconds, "peak_mb": peak_mb}))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks duplicates")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", choices=("blocking", "ours"))
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    if connection.vendor != "postgresql":
        raise SystemExit("The duplicates benchmark runs on PostgreSQL: set DATABASE_URL.")
    _truncate()
    started = time.perf_counter()
    generate(args.rows)
    print(f"generated {args.rows:,} customers in {time.perf_counter() - started:.0f} s")
    results = {
        # Twice each, alternating, so the cache warms for both alike; the second counts.
        "blocking query alone": child_run("duplicates", "--child", "blocking"),
        "ours (find, score, queue)": child_run("duplicates", "--child", "ours"),
    }
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_duplicatecandidate CASCADE")
    results["blocking query alone"] = child_run("duplicates", "--child", "blocking")
    results["ours (find, score, queue)"] = child_run("duplicates", "--child", "ours")
    _truncate()
    print(f"\n{'measurement':<30} {'pairs':>10} {'seconds':>9} {'peak MB':>8}")
    for name, r in results.items():
        print(f"{name:<30} {r['pairs']:>10,} {r['seconds']:>9.1f} {r['peak_mb']:>8.0f}")
    ratio = (
        results["ours (find, score, queue)"]["seconds"] / results["blocking query alone"]["seconds"]
    )
    print(f"\nours / blocking query: {ratio:.2f}x the time  (target <= 3x, < 300 MB)")
