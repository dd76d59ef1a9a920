"""The recovery page's cohort figures over a million customers.

    python -m benchmarks cohorts [--customers N] [--affected-share F] [--touchpoints K]
                                 [--repeat N] [--rebuild]

Runs on the configured database (PostgreSQL). Builds once, tagged "bench-cohorts", and
keeps: N customers in four segments, a share of them affected by one incident whose notice
went out thirteen weeks ago (so the other share is the unaffected cohort of the same
segments), and K touchpoints per customer spread over the twelve weeks after the notice
(every response kind, plus promotional sends the figures must ignore).

Measures, alternating and side by side with a hand-written raw SQL aggregate of the same
figures (checked equal first): the refresh that computes and stores them
(`recovery_figures_refresh`, hourly in the task cluster) and the page's queries that read
them (`recovery_cohorts`); target at most 1.5x the raw aggregate. Then the whole recovery
page as the CMO opens it (charts and table rendered), target under a second.
"""

import argparse
import statistics
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from benchmarks.common import column_value
from customers.models import Customer, Segment, SegmentMembership, Touchpoint
from incidents.models import AffectedCustomer, Incident
from notifications.models import RecoveryPlan
from notifications.recovery.cohorts import (
    AFFECTED,
    METRICS,
    UNAFFECTED,
    recovery_cohorts,
    recovery_figures_refresh,
)

TAG = "bench-cohorts"
SEGMENTS = 4
# Every response kind the figures count, and two they must leave out.
KINDS = [*METRICS, Touchpoint.Kind.PROMOTIONAL, Touchpoint.Kind.FOLLOW_UP]

# The same figures, written by hand: the cohorts as two plain subqueries.
RAW_SQL = """
WITH affected AS (
    SELECT customer_id FROM incidents_affectedcustomer WHERE incident_id = %(incident)s
), unaffected AS (
    SELECT DISTINCT m.customer_id FROM customers_segmentmembership m
    WHERE m.segment_id IN (
        SELECT DISTINCT segment_id FROM customers_segmentmembership
        WHERE customer_id IN (SELECT customer_id FROM affected))
    AND NOT EXISTS (SELECT 1 FROM affected a WHERE a.customer_id = m.customer_id)
)
SELECT 'affected', NULL::int, NULL, COUNT(*) FROM affected
UNION ALL SELECT 'unaffected', NULL, NULL, COUNT(*) FROM unaffected
UNION ALL
SELECT cohort, week, kind, COUNT(DISTINCT customer_id) FROM (
    SELECT CASE WHEN a.customer_id IS NOT NULL THEN 'affected' ELSE 'unaffected' END AS cohort,
           FLOOR(EXTRACT(EPOCH FROM t.occurred_at - %(notice)s) / 604800)::int AS week,
           t.kind, t.customer_id
    FROM customers_touchpoint t
    LEFT JOIN affected a ON a.customer_id = t.customer_id
    LEFT JOIN unaffected u ON u.customer_id = t.customer_id
    WHERE (a.customer_id IS NOT NULL OR u.customer_id IS NOT NULL)
      AND t.kind = ANY(%(kinds)s)
      AND t.occurred_at >= %(notice)s AND t.occurred_at < %(end)s
) r GROUP BY cohort, week, kind
"""


# The generated customers: n is the series value.
NAMED = {
    "first_name": "'Bench'",
    "last_name": "'Cohort ' || n",
    "email": f"'{TAG}-' || n || '@example.invalid'",
    "email_normalized": f"'{TAG}-' || n || '@example.invalid'",
    "email_status": "'valid'",
    "marketing_consent": "'granted'",
    "country": "'DE'",
    "language": "'de'",
}


def build(customers: int, affected_share: float, touchpoints: int) -> Incident:
    notice = timezone.now() - timedelta(weeks=13)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        segments = [Segment.objects.get_or_create(name=f"{TAG} {i}")[0].pk for i in range(4)]
        fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
        cursor.execute(
            f"INSERT INTO customers_customer "
            f"({', '.join(connection.ops.quote_name(f.column) for f in fields)}) "
            f"SELECT {', '.join(column_value(f, NAMED) for f in fields)} "
            "FROM generate_series(1, %s) n",
            [customers],
        )
        cursor.execute(
            "SELECT min(id), max(id) FROM customers_customer WHERE email_normalized LIKE %s",
            [f"{TAG}-%"],
        )
        low, high = cursor.fetchone()
        cursor.execute(
            "INSERT INTO customers_segmentmembership (segment_id, customer_id, added_at) "
            "SELECT (%s::bigint[])[1 + id %% 4], id, now() FROM customers_customer "
            "WHERE id BETWEEN %s AND %s",
            [segments, low, high],
        )
        incident = Incident.objects.create(
            title=f"{TAG} incident",
            nature="benchmark",
            awareness_at=notice - timedelta(days=3),
            people_notified_at=notice,
        )
        # Every k-th customer is affected, across all four segments.
        every = max(1, round(1 / affected_share))
        cursor.execute(
            "INSERT INTO incidents_affectedcustomer "
            "(incident_id, customer_id, data_categories, found_by, added_at) "
            "SELECT %s, id, '[\"credentials\"]'::jsonb, 'forensic_list', now() "
            "FROM customers_customer WHERE id BETWEEN %s AND %s AND id %% %s = 0",
            [incident.pk, low, high, every],
        )
        # Deterministic spread: kind and time from the id and k, over the twelve weeks.
        cursor.execute(
            "INSERT INTO customers_touchpoint (customer_id, channel, kind, occurred_at, reference) "
            "SELECT c.id, 'email', (%s::text[])[1 + ((c.id * 7919 + k * 104729) %% %s)], "
            "%s + make_interval(secs => ((c.id * 31 + k * 7777) %% (84 * 86400))), '' "
            "FROM customers_customer c, generate_series(1, %s) k "
            "WHERE c.id BETWEEN %s AND %s",
            [list(KINDS), len(KINDS), notice, touchpoints, low, high],
        )
        owner, _ = get_user_model().objects.get_or_create(
            username=f"{TAG}-cmo", defaults={"is_staff": True}
        )
        owner.groups.add(Group.objects.get(name="CMO"))
        RecoveryPlan.objects.create(incident=incident, created_by=owner)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE customers_touchpoint")
        cursor.execute("VACUUM ANALYZE customers_segmentmembership")
        cursor.execute("VACUUM ANALYZE incidents_affectedcustomer")
    print(f"built {customers:,} customers in {time.perf_counter() - started:.1f}s")
    return incident


def drop(incident: Incident | None) -> None:
    with transaction.atomic():
        if incident is not None:
            RecoveryPlan.objects.filter(incident=incident).delete()
            AffectedCustomer.objects.filter(incident=incident).delete()
            incident.delete()
        Touchpoint.objects.filter(customer__email_normalized__startswith=f"{TAG}-").delete()
        SegmentMembership.objects.filter(segment__name__startswith=TAG).delete()
        Customer.objects.filter(email_normalized__startswith=f"{TAG}-").delete()


def raw_figures(incident: Incident) -> tuple[dict[str, int], dict[tuple[str, str, int], int]]:
    notice = incident.people_notified_at
    assert notice is not None
    with connection.cursor() as cursor:
        cursor.execute(
            RAW_SQL,
            {
                "incident": incident.pk,
                "notice": notice,
                "end": notice + timedelta(weeks=12),
                "kinds": list(METRICS),
            },
        )
        sizes, counts = {}, {}
        for cohort, week, kind, n in cursor.fetchall():
            if week is None:
                sizes[cohort] = n
            else:
                counts[(cohort, kind, week)] = n
    return sizes, counts


def ours(incident: Incident) -> tuple[dict[str, int], dict[tuple[str, str, int], int]]:
    cohorts = recovery_cohorts(incident=incident)
    assert cohorts is not None
    counts = {
        (cohort, metric, week): n
        for cohort in (AFFECTED, UNAFFECTED)
        for metric, weeks in cohorts.counts[cohort].items()
        for week, n in enumerate(weeks)
        if n
    }
    return cohorts.size, counts


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cohorts")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--affected-share", type=float, default=0.3)
    parser.add_argument("--touchpoints", type=int, default=3, help="per customer")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")

    incident = Incident.objects.filter(title=f"{TAG} incident").first()
    if args.rebuild or incident is None:
        drop(incident)
        incident = build(args.customers, args.affected_share, args.touchpoints)
    sizes, counts = raw_figures(incident)
    print(
        f"cohorts: {sizes.get('affected', 0):,} affected, {sizes.get('unaffected', 0):,} "
        f"unaffected; {sum(counts.values()):,} (person, week, response) figures counted"
    )

    recovery_figures_refresh(incident_id=incident.pk)
    if ours(incident) != raw_figures(incident):
        raise SystemExit("the page's figures and the raw SQL disagree")
    raw: list[float] = []
    refresh: list[float] = []
    read: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        raw_figures(incident)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        recovery_figures_refresh(incident_id=incident.pk)
        refresh.append(time.perf_counter() - started)
        started = time.perf_counter()
        ours(incident)
        read.append(time.perf_counter() - started)
    base = statistics.median(raw)
    for name, runs, target in (
        ("raw SQL aggregate", raw, None),
        ("refresh (compute + store)", refresh, 1.5),
        ("page's queries (read)", read, 1.5),
    ):
        line = (
            f"{name:27} median {statistics.median(runs):.3f}s  runs {[round(t, 3) for t in runs]}"
        )
        if target:
            ratio = statistics.median(runs) / base
            line += (
                f"  ratio {ratio:.3f} (target <= {target}): {'OK' if ratio <= target else 'MISSED'}"
            )
        print(line)

    # The whole page as the CMO opens it: plan, steps, six charts and the table.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(get_user_model().objects.get(username=f"{TAG}-cmo"))
    plan = RecoveryPlan.objects.get(incident=incident)
    url = reverse("admin:notifications_recoveryplan_change", args=[plan.pk])
    client.get(url)  # templates compiled and caches warm, as on a running server
    pages: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        response = client.get(url)
        pages.append(time.perf_counter() - started)
        if response.status_code != 200 or response.content.count(b'class="bd-chart"') != len(
            METRICS
        ):
            raise SystemExit(f"the recovery page did not render: {response.status_code}")
    page = statistics.median(pages)
    print(
        f"recovery page  median {page:.3f}s  runs {[round(t, 3) for t in pages]} "
        f"(target < 1 s): {'OK' if page < 1 else 'MISSED'}"
    )
