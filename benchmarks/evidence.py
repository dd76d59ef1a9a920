"""The evidence pack of an incident with N affected people, beside WeasyPrint alone.

    DATABASE_URL=postgres://... python -m benchmarks evidence [--customers 1000000]

Customers, the scope and one breach notice per person are generated with set-based SQL
under a run tag and removed afterwards (the incident and its pack stay: the timeline is
append-only). The pack is built by `evidence_pack_build` in a fresh process, whose peak
memory is its own; then another fresh process has WeasyPrint render the very HTML the
pack laid out, with no annexes and no database. Targets: the pack in under 60 s with a
peak under 500 MB.
"""

import argparse
import json
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connection

from benchmarks import child_run

TARGET_SECONDS = 60
TARGET_MB = 500


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(tag: str, count: int) -> int:
    from incidents.models import Incident
    from incidents.services import timeline_append
    from notifications.models import Communication

    start = datetime.now(UTC)
    incident = Incident.objects.create(
        title=f"Benchmark {tag}",
        nature="Generated for the evidence benchmark.",
        awareness_at=start - timedelta(hours=40),
        data_categories=["contact", "credentials"],
    )
    for kind in ("incident.opened", "scope.set", "campaign.hold_placed"):
        timeline_append(incident_id=incident.pk, kind=kind, actor=None, payload={"tag": tag})
    communication = Communication.objects.create(
        incident=incident,
        name=f"Breach notice {tag}",
        channels=["email"],
        send_window_start=start,
        send_window_end=start + timedelta(hours=8),
        fallback_language="en",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (
                first_name, last_name, email, email_normalized, email_status, phone, street,
                postal_code, city, region, country, country_raw, language, marketing_consent,
                consent_source, lifecycle_stage, created_at, updated_at)
            SELECT 'Bench', 'Person ' || i, 'e' || i || '-' || %s || '@bench.invalid',
                   'e' || i || '-' || %s || '@bench.invalid', 'valid', '', '', '', '',
                   CASE WHEN i %% 10 = 0 THEN 'TX' ELSE '' END,
                   CASE WHEN i %% 10 = 0 THEN 'US' WHEN i %% 3 = 0 THEN 'FR' ELSE 'DE' END,
                   '', 'en', 'granted', '', '', now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [tag, tag, count],
        )
        cursor.execute(
            """
            INSERT INTO incidents_affectedcustomer
                (incident_id, customer_id, data_categories, found_by, added_at)
            SELECT %s, id,
                   CASE WHEN id %% 2 = 0 THEN '["contact", "credentials"]'::jsonb
                        ELSE '["contact"]'::jsonb END,
                   'segment', now()
            FROM customers_customer WHERE email_normalized LIKE %s
            """,
            [incident.pk, f"%-{tag}@bench.invalid"],
        )
        # Most were reached, some bounced or went by letter, a tenth were never written.
        cursor.execute(
            """
            INSERT INTO notifications_notification
                (communication_id, customer_id, channel, status, skip_reason, email, attempts,
                 sent_at, last_error)
            SELECT %s, customer_id, 'email',
                   CASE WHEN customer_id %% 20 = 0 THEN 'bounced'
                        WHEN customer_id %% 20 = 1 THEN 'letter' ELSE 'sent' END,
                   '', '', 1, now(), ''
            FROM incidents_affectedcustomer
            WHERE incident_id = %s AND customer_id %% 10 <> 5
            """,
            [communication.pk, incident.pk],
        )
        cursor.execute("ANALYZE incidents_affectedcustomer")
        cursor.execute("ANALYZE notifications_notification")
    return incident.pk


def _cleanup(tag: str, incident_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM notifications_notification WHERE communication_id IN "
            "(SELECT id FROM notifications_communication WHERE incident_id = %s)",
            [incident_id],
        )
        cursor.execute(
            "DELETE FROM notifications_communication WHERE incident_id = %s", [incident_id]
        )
        cursor.execute(
            "DELETE FROM incidents_affectedcustomer WHERE incident_id = %s", [incident_id]
        )
        cursor.execute(
            "DELETE FROM customers_customer WHERE email_normalized LIKE %s",
            [f"%-{tag}@bench.invalid"],
        )


def _child_build(incident_id: int, html_out: Path) -> dict[str, Any]:
    """Build the pack as the task does, keeping the HTML it laid out for the baseline."""
    from incidents.evidence import services
    from incidents.models import EvidencePack

    render = services.pdf_render

    def keeping_html(*, html: str, **kwargs: Any) -> bytes:
        html_out.write_text(html)
        return render(html=html, **kwargs)

    services.pdf_render = keeping_html
    pack = EvidencePack.objects.create(incident_id=incident_id)
    start = time.perf_counter()
    pack = services.evidence_pack_build(pack_id=pack.pk)
    seconds = time.perf_counter() - start
    if pack.status != EvidencePack.Status.READY:
        raise SystemExit(f"pack failed: {pack.error}")
    return {
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "size_mb": (pack.size or 0) / 1e6,
        "affected": pack.affected,
        "timings": pack.timings,
    }


def _child_weasyprint(html_in: Path) -> dict[str, Any]:
    from weasyprint import HTML

    html = html_in.read_text()
    start = time.perf_counter()
    pdf = HTML(string=html).write_pdf()
    return {
        "seconds": time.perf_counter() - start,
        "peak_mb": _peak_mb(),
        "size_mb": len(pdf) / 1e6,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks evidence")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--child-build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-weasyprint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--html", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        print(json.dumps(_child_build(args.child_build, args.html)))
        return
    if args.child_weasyprint:
        print(json.dumps(_child_weasyprint(args.html)))
        return
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")

    tag = uuid.uuid4().hex[:8]
    print(f"Generating {args.customers:,} affected customers (tag {tag})...")
    start = time.perf_counter()
    incident_id = _generate(tag, args.customers)
    print(f"  generated in {time.perf_counter() - start:.1f} s")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            html = Path(tmp) / "pack.html"
            pack = child_run("evidence", "--child-build", str(incident_id), "--html", str(html))
            alone = child_run("evidence", "--child-weasyprint", "--html", str(html))
    finally:
        _cleanup(tag, incident_id)

    print()
    print(f"{'':34}{'seconds':>10}{'peak MB':>10}{'PDF MB':>10}")
    for name, result in (
        (f"evidence pack ({pack['affected']:,} people)", pack),
        ("WeasyPrint alone, same HTML", alone),
    ):
        print(
            f"{name:34}{result['seconds']:>10.2f}{result['peak_mb']:>10.0f}"
            f"{result['size_mb']:>10.1f}"
        )
    print(f"  pack stages: {pack['timings']}")
    print(
        f"ratio pack / WeasyPrint alone: time {pack['seconds'] / alone['seconds']:.1f}x, "
        f"peak memory {pack['peak_mb'] / alone['peak_mb']:.1f}x"
    )
    ok = pack["seconds"] < TARGET_SECONDS and pack["peak_mb"] < TARGET_MB
    verdict = "meets" if ok else "MISSES"
    print(f"{verdict} the target: under {TARGET_SECONDS} s and {TARGET_MB} MB")
