"""Customer export: the background CSV export against django-import-export's, one run.

    python -m benchmarks export --rows 200000

Needs PostgreSQL (DATABASE_URL) and EMPTIES the customer tables of that database. It
seeds --rows customers with one INSERT ... SELECT, then measures, each in a child
process of its own (so peak memory is that measurement's alone), contact data masked
on both sides:

  background      customer_export_build: keyset pages of rows into a CSV on the storage
  import-export   what the admin's Export does in the request: CustomerExportResource
                  builds a tablib Dataset of every row, then the CSV text, then bytes
"""

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from benchmarks import child_run

FIELDS = [
    "id", "first_name", "last_name", "email", "email_status", "phone", "street",
    "postal_code", "city", "region", "country", "language", "marketing_consent",
    "lifecycle_stage",
]  # fmt: skip


def _seed(rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_customer, customers_sourcerecord, customers_segmentmembership, "
            "customers_touchpoint, customers_customerexport CASCADE"
        )
        cursor.execute(
            "INSERT INTO customers_customer (first_name, last_name, email, email_normalized, "
            "email_status, phone, street, postal_code, city, region, country, country_raw, "
            "language, marketing_consent, consent_source, lifecycle_stage, created_at, "
            "updated_at) SELECT 'Anna', CASE WHEN i %% 100 = 0 THEN '=cmd' ELSE 'Müller' END, "
            "'person' || i || '@example.com', 'person' || i || '@example.com', 'valid', "
            "'+4930' || lpad(i::text, 8, '0'), i %% 300 || ' Example Street', "
            "lpad((i %% 100000)::text, 5, '0'), 'Berlin', '', 'DE', '', 'de', 'granted', '', "
            "'customer', now(), now() FROM generate_series(1, %s) AS i",
            [rows],
        )
        cursor.execute("ANALYZE customers_customer")


def _exporter() -> int:
    """A CMO (export permission, no view_pii): contact data masked, as on the other side."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from config import roles
    from config.roles import roles_sync

    roles_sync()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-export-cmo", defaults={"is_staff": True}
    )
    user.groups.set(Group.objects.filter(name=roles.CMO))
    return int(user.pk)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def measure_background(user_id: int, out: Path) -> tuple[int, int]:
    from django.contrib.auth import get_user_model

    from customers.services import customer_export_build, customer_export_request

    settings.MEDIA_ROOT = str(out)
    user = get_user_model().objects.get(pk=user_id)
    export = customer_export_request(user=user, fields=FIELDS)
    export = customer_export_build(export_id=export.pk)
    if export.status != "ready":
        raise SystemExit(f"export failed: {export.error}")
    return export.rows_written, export.size


def measure_import_export(out: Path) -> tuple[int, int]:
    from import_export.formats.base_formats import CSV

    from customers.models import Customer
    from customers.resources import CustomerExportResource

    dataset = CustomerExportResource(show_pii=False).export(queryset=Customer.objects.all())
    # As ExportMixin answers: the whole text, encoded (with BOM) into the response.
    content = CSV().export_data(dataset).encode("utf-8-sig")
    (out / "import-export.csv").write_bytes(content)
    return len(dataset), len(content)


def child(kind: str, user_id: int, out: Path) -> None:
    settings.DEBUG = False
    connection.ensure_connection()
    before = _rss_mb()
    started = time.perf_counter()
    if kind == "background":
        rows, size = measure_background(user_id, out)
    else:
        rows, size = measure_import_export(out)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "rows": rows,
                "bytes": size,
                "seconds": seconds,
                "peak_mb": peak_mb,
                "grown_mb": peak_mb - before,
            }
        )
    )


def run_child(kind: str, user_id: int, out: Path) -> dict[str, float]:
    return child_run("export", "--child", kind, "--user", str(user_id), "--out", str(out))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks export")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--child", choices=("background", "import-export"))
    parser.add_argument("--user", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.user, args.out)
        return
    if connection.vendor != "postgresql":
        raise SystemExit("The export benchmark runs on PostgreSQL: set DATABASE_URL.")
    started = time.perf_counter()
    _seed(args.rows)
    user_id = _exporter()
    print(f"seeded {args.rows:,} customers in {time.perf_counter() - started:.0f} s")
    with tempfile.TemporaryDirectory(prefix="bd-export-bench-") as tmp:
        results = {
            "background export": run_child("background", user_id, Path(tmp)),
            "import-export (admin Export)": run_child("import-export", user_id, Path(tmp)),
        }
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_customer, customers_customerexport CASCADE")
    print(
        f"\n{'measurement':<30} {'rows':>9} {'MB out':>7} {'seconds':>8} {'rows/s':>9} "
        f"{'peak MB':>8} {'grown MB':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<30} {r['rows']:>9,.0f} {r['bytes'] / 1e6:>7.0f} {r['seconds']:>8.1f} "
            f"{r['rows'] / r['seconds']:>9,.0f} {r['peak_mb']:>8.0f} {r['grown_mb']:>9.0f}"
        )
    ours, theirs = results["background export"], results["import-export (admin Export)"]
    print(
        f"\ntime, background / import-export:        {ours['seconds'] / theirs['seconds']:.2f}"
        f"\npeak memory, background / import-export: {ours['peak_mb'] / theirs['peak_mb']:.2f}"
        f"\nmemory grown, background / import-export: "
        f"{ours['grown_mb'] / max(theirs['grown_mb'], 1):.2f}"
    )
