"""Customer import speed: ours against the raw floor and django-import-export, one run.

    python -m benchmarks import --rows 1000000

Needs PostgreSQL (DATABASE_URL) and EMPTIES the customer tables of that database. It
writes a Salesforce-layout CSV of --rows rows, then measures, each in a child process
of its own (so peak memory is that measurement's alone):

  ours fresh      import_customers' service on empty tables
  ours update     the same file again with 10% of the rows changed
  floor fresh     raw COPY of the file into a staging table + INSERT ... ON CONFLICT into
                  the same two tables (customer, source record), no validation at all
  floor update    the same with the changed file
  import-export   django-import-export's default ModelResource, first --slice rows
"""

import argparse
import csv
import json
import random
import resource
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from benchmarks import child_run

HEADER = [
    "Contact ID", "First Name", "Last Name", "Email", "Phone", "Mailing Street",
    "Mailing City", "Mailing State/Province", "Mailing Zip/Postal Code", "Mailing Country",
    "Email Opt Out", "Created Date", "Account Name",
]  # fmt: skip
FIRST = ["Anna", "Ben", "Chloé", "David", "Emre", "Fatima", "Gustav", "Hana", "Ivan", "Júlia"]
LAST = ["Müller", "Smith", "García", "Rossi", "Dubois", "de Vries", "Nowak", "O'Brien", "Kim"]
CITIES = {
    "DE": ("Berlin", "+49 30 {n:08d}", "030 {n:08d}"),
    "GB": ("London", "+44 20 7{n:07d}", "020 7{n:07d}"),
    "US": ("Austin", "+1 512-{a:03d}-{b:04d}", "(512) {a:03d}-{b:04d}"),
    "FR": ("Lyon", "+33 4 {n:08d}", "04 {n:08d}"),
    "NL": ("Utrecht", "+31 30 {n:07d}", "030 {n:07d}"),
}


def _row(i: int, changed: bool) -> list[str]:
    rng = random.Random(i)
    country = rng.choice(list(CITIES))
    city, international, national = CITIES[country]
    n = rng.randrange(10**7)
    phone_format = rng.choice((international, national, "+{cc}{n}"))
    phone = phone_format.format(n=n, a=200 + n % 700, b=n % 10000, cc="49", cc2="")
    street = f"{rng.randrange(1, 300)} Example Street" + ("\nBuilding B" if i % 50 == 0 else "")
    if changed:
        city = f"{city} Nord"
    return [
        f"003{i:015d}",
        rng.choice(FIRST),
        rng.choice(LAST),
        f"person{i}@example.com",
        phone,
        street,
        city,
        "TX" if country == "US" else "",
        f"{n % 100000:05d}",
        country,
        "true" if i % 7 == 0 else "false",
        f"{1 + i % 28:02d}/{1 + i % 12:02d}/2023",
        "Acme Retail",
    ]


def generate(path: Path, rows: int, *, changed_every: int = 0, first: int = 0) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for i in range(first, rows):
            writer.writerow(_row(i, bool(changed_every) and i % changed_every == 0))


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_customer, customers_sourcerecord, customers_segmentmembership, "
            "customers_touchpoint, customers_importrejection, customers_importjob CASCADE"
        )


def measure_ours(path: Path) -> int:
    from customers.services import import_job_create, import_job_run

    with path.open("rb") as stream:
        job = import_job_create(
            stream=stream, file_name=path.name, source="salesforce", keep_file=False
        )
        job = import_job_run(job_id=job.pk, stream=stream)
    if job.status != "succeeded":
        raise SystemExit(f"import failed: {job.error}")
    return job.rows_read


FLOOR_COLUMNS = [f"c{i}" for i in range(len(HEADER))]


def measure_floor(path: Path) -> int:
    """The least any import into these tables can do: no parsing in Python, no checks."""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute("BEGIN")
        raw.execute(
            "CREATE TEMP TABLE floor_stage ("
            + ", ".join(f"{c} text" for c in FLOOR_COLUMNS)
            + ") ON COMMIT DROP"
        )
        with (
            path.open("rb") as stream,
            raw.copy(
                "COPY floor_stage FROM STDIN (FORMAT csv, HEADER true, "
                f"FORCE_NOT_NULL ({', '.join(FLOOR_COLUMNS)}))"
            ) as copy,
        ):
            # Strip the BOM the way COPY cannot.
            head = stream.read(3)
            copy.write(head if head != b"\xef\xbb\xbf" else b"")
            while chunk := stream.read(1024 * 1024):
                copy.write(chunk)
        raw.execute("ANALYZE floor_stage")
        raw.execute(
            "INSERT INTO customers_customer (first_name, last_name, email, email_normalized, "
            "email_status, phone, street, postal_code, city, region, country, country_raw, "
            "language, marketing_consent, consent_source, lifecycle_stage, created_at, "
            "updated_at) SELECT c1, c2, c3, lower(c3), 'valid', c4, c5, c8, c6, c7, c9, '', "
            "'', 'unknown', '', '', now(), now() FROM floor_stage "
            "ON CONFLICT (email_normalized) WHERE email_normalized <> '' DO UPDATE SET "
            "first_name = excluded.first_name, last_name = excluded.last_name, "
            "phone = excluded.phone, street = excluded.street, city = excluded.city, "
            "postal_code = excluded.postal_code, updated_at = excluded.updated_at"
        )
        raw.execute(
            "INSERT INTO customers_sourcerecord (customer_id, source, external_id, row_hash, "
            "first_seen_at, last_seen_at) SELECT c.id, 'salesforce', s.c0, '', now(), now() "
            "FROM floor_stage s JOIN customers_customer c ON c.email_normalized = lower(s.c3) "
            "ON CONFLICT (source, external_id) DO UPDATE SET last_seen_at = excluded.last_seen_at"
        )
        raw.execute("SELECT count(*) FROM floor_stage")
        rows = raw.fetchone()[0]
        raw.execute("COMMIT")
    return rows


def measure_import_export(path: Path, slice_rows: int) -> int:
    import tablib
    from import_export import resources

    from customers.models import Customer

    class CustomerResource(resources.ModelResource):
        class Meta:
            model = Customer

    names = {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone": "phone",
        "Mailing Street": "street",
        "Mailing City": "city",
        "Mailing State/Province": "region",
        "Mailing Zip/Postal Code": "postal_code",
        "Mailing Country": "country",
    }
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        dataset = tablib.Dataset(headers=list(names.values()))
        for i, row in enumerate(reader):
            if i >= slice_rows:
                break
            dataset.append([row[k] for k in names])
    result = CustomerResource().import_data(dataset, dry_run=False, raise_errors=True)
    return result.totals["new"] + result.totals["update"]


def child(kind: str, path: Path, slice_rows: int) -> None:
    settings.DEBUG = False
    started = time.perf_counter()
    if kind in ("ours",):
        rows = measure_ours(path)
    elif kind == "floor":
        rows = measure_floor(path)
    else:
        rows = measure_import_export(path, slice_rows)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb}))


def run_child(kind: str, path: Path, slice_rows: int) -> dict[str, float]:
    return child_run("import", "--child", kind, "--file", str(path), "--slice", str(slice_rows))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks import")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--slice", type=int, default=10_000)
    parser.add_argument("--child", choices=("ours", "floor", "import-export"))
    parser.add_argument("--file", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.file, args.slice)
        return
    if connection.vendor != "postgresql":
        raise SystemExit("The import benchmark runs on PostgreSQL: set DATABASE_URL.")
    with tempfile.TemporaryDirectory(prefix="bd-import-bench-") as tmp:
        fresh, changed = Path(tmp) / "contacts.csv", Path(tmp) / "contacts-changed.csv"
        started = time.perf_counter()
        generate(fresh, args.rows)
        generate(changed, args.rows, changed_every=10)
        print(
            f"generated 2 Salesforce-layout files of {args.rows:,} rows "
            f"({fresh.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s"
        )
        results: dict[str, dict[str, float]] = {}
        _truncate()
        results["ours fresh"] = run_child("ours", fresh, args.slice)
        results["ours update (10% changed)"] = run_child("ours", changed, args.slice)
        _truncate()
        results["floor fresh"] = run_child("floor", fresh, args.slice)
        results["floor update (same file)"] = run_child("floor", changed, args.slice)
        _truncate()
        results[f"import-export default, {args.slice:,} rows"] = run_child(
            "import-export", fresh, args.slice
        )
        _truncate()
    print(f"\n{'measurement':<40} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'peak MB':>8}")
    rate = {}
    for name, r in results.items():
        rate[name] = r["rows"] / r["seconds"]
        print(
            f"{name:<40} {r['rows']:>10,.0f} {r['seconds']:>9.1f} {rate[name]:>10,.0f} "
            f"{r['peak_mb']:>8.0f}"
        )
    ie = rate[f"import-export default, {args.slice:,} rows"]
    print(
        f"\nours / floor, fresh:  {rate['ours fresh'] / rate['floor fresh']:.2f}  (target >= 0.6)"
        f"\nours / floor, update: "
        f"{rate['ours update (10% changed)'] / rate['floor update (same file)']:.2f}  "
        "(target >= 0.6)"
        f"\nours / import-export: {rate['ours fresh'] / ie:.0f}x fresh"
    )
