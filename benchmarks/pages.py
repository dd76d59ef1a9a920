"""Every page of the breach journey, with a million people affected by one incident.

    DATABASE_URL=postgres://.../breachdesk_x_bench python -m benchmarks pages \
        [--customers 1000000] [--repeat 7] [--rebuild]

How it measures: Django's test `Client` with a signed-in session (a CISO who is also a
security analyst), so every request goes through the whole middleware stack, the admin,
the templates and the database, as over HTTP, without a socket. Each page's request is
alternated with the baseline's (the admin's bare password-change page: same session,
middleware and base template, no data), so machine load weighs on both; it reports each
page's median and its ratio to the baseline's median in the same run.

The world is built once with INSERT ... SELECT over generate_series and kept, tagged
"bench-pages": one incident, everyone affected (scoped by `scope_set`, so obligations,
holds and the timeline are the real ones), a communication in three languages with its
approved versions, and a wave of one notification per person already under way (sent,
delivered, bounced, complained, owed a letter, pending). Target: every page under 300 ms.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from benchmarks.common import customers_insert_sql
from config import roles
from customers.models import Customer, Segment
from incidents.models import AffectedCustomer, Incident
from incidents.services import scope_set
from incidents.services.scope_figures import scope_figures_count
from notifications.models import (
    Communication,
    Delivery,
    MessageTemplate,
    Notification,
    TemplateVersion,
)
from notifications.tasks import wave_figures_count_task

TAG = "bench-pages"
TARGET_MS = 300
COUNTRIES = ("US", "US", "DE", "FR", "GB", "DE")
REGIONS = ("CA", "TX", "NY", "FL", "WA")
LANGUAGES = ("en", "de", "fr")
BODY = (
    "Dear {{ customer.first_name }},\n\nWe write about a breach of your data. "
    "{{ incident.nature }}\n\nWhat we do: {{ incident.measures_taken }}\n"
)


CUSTOMER_COLUMNS = {
    "first_name": "'Bench'",
    "last_name": "'Person ' || n",
    "email": f"'{TAG}-' || n || '@example.invalid'",
    "email_normalized": f"'{TAG}-' || n || '@example.invalid'",
    "email_status": "CASE WHEN mod(n, 40) = 0 THEN 'missing' ELSE 'valid' END",
    "street": "n || ' Main St'",
    "city": "'Springfield'",
    "postal_code": "'90001'",
    "country": f"(ARRAY{list(COUNTRIES)!r})[1 + mod(n / 7, {len(COUNTRIES)})]",
    "region": f"(ARRAY{list(REGIONS)!r})[1 + mod(n / 13, {len(REGIONS)})]",
    "language": f"(ARRAY{list(LANGUAGES)!r})[1 + mod(n, {len(LANGUAGES)})]",
    "marketing_consent": "'granted'",
}


# One notification per person, in proportions a wave half a day in shows: most sent and
# delivered, some bounced hard or soft, a few complaints, letters owed, some still pending.
NOTIFICATION_SQL = """
INSERT INTO notifications_notification (
    communication_id, customer_id, channel, status, skip_reason, email, attempts, last_error,
    sent_at, bounced_at, provider_message_id, delivery_state, delivery_state_at, reference)
SELECT %(communication)s, c.id,
       CASE WHEN c.email_status = 'valid' THEN 'email' ELSE 'letter' END,
       CASE WHEN c.email_status <> 'valid' THEN 'letter'
            WHEN mod(c.id, 100) < 3 THEN 'pending'
            WHEN mod(c.id, 100) < 5 THEN 'bounced'
            ELSE 'sent' END,
       '', c.email, 1, '',
       CASE WHEN c.email_status = 'valid' AND mod(c.id, 100) >= 3 THEN now() END,
       CASE WHEN c.email_status = 'valid' AND mod(c.id, 100) BETWEEN 3 AND 4 THEN now() END,
       '', CASE WHEN c.email_status <> 'valid' OR mod(c.id, 100) < 3 THEN ''
                WHEN mod(c.id, 100) < 5 THEN 'hard_bounce'
                WHEN mod(c.id, 100) < 7 THEN 'soft_bounce'
                WHEN mod(c.id, 100) = 7 THEN 'complained'
                WHEN mod(c.id, 100) < 40 THEN 'opened'
                ELSE 'delivered' END,
       now(), 'BP-' || c.id
FROM customers_customer c WHERE c.email_normalized LIKE %(tag)s
"""


def _user(username: str, *group_names: str) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    user.groups.set(Group.objects.filter(name__in=group_names))
    return user


def build(customers: int) -> Incident:
    started = time.perf_counter()
    call_command("setup_roles", verbosity=0)
    ciso = _user(f"{TAG}-ciso", roles.CISO, roles.SECURITY_ANALYST)
    legal = _user(f"{TAG}-legal", roles.LEGAL_REVIEWER)
    with connection.cursor() as cursor:
        cursor.execute(customers_insert_sql(CUSTOMER_COLUMNS), [customers])
        segment = Segment.objects.create(name=f"{TAG} everyone")
        cursor.execute(
            "INSERT INTO customers_segmentmembership (segment_id, customer_id, added_at) "
            "SELECT %s, id, now() FROM customers_customer WHERE email_normalized LIKE %s",
            [segment.pk, f"{TAG}-%"],
        )
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE customers_segmentmembership")
    print(f"  {customers:,} customers in {time.perf_counter() - started:.1f} s")
    incident = Incident.objects.create(
        title=f"{TAG} incident",
        nature="A copy of the customer database was taken from a backup server.",
        likely_consequences="Phishing in your name.",
        measures_taken="We closed the server and reset every password.",
        measures_proposed="Change your password.",
        contact_point="privacy@example.invalid",
        awareness_at=datetime.now(UTC) - timedelta(hours=30),
        data_categories=["contact", "credentials"],
        created_by=ciso,
    )
    scope_set(incident_id=incident.pk, actor=ciso, segment_ids=[segment.pk])
    print(f"  scoped by scope_set at {time.perf_counter() - started:.1f} s")
    template = MessageTemplate.objects.create(incident=incident, name=f"{TAG} notice")
    versions = []
    for number, language in enumerate(LANGUAGES, start=1):
        version = TemplateVersion(
            template=template,
            number=number,
            channel="email",
            language=language,
            data_categories=["contact", "credentials"],
            subject="About your data, {{ customer.first_name }}",
            text_body=BODY,
            html_body="",
            status=TemplateVersion.Status.APPROVED,
            created_by=ciso,
            reviewed_by=legal,
            reviewed_at=datetime.now(UTC),
        )
        version.content_hash = version.compute_content_hash()
        version.save()
        versions.append(version)
    start = datetime.now(UTC) - timedelta(hours=6)
    communication = Communication.objects.create(
        incident=incident,
        name=f"{TAG} notice",
        channels=["email", "letter"],
        send_window_start=start,
        send_window_end=start + timedelta(days=2),
        fallback_language="en",
        created_by=legal,
    )
    communication.versions.set(versions)
    Delivery.objects.create(
        communication=communication,
        kind=Delivery.Kind.BREACH_NOTICE,
        content_hash="0" * 64,
        started_by=ciso,
        started_at=start,
    )
    with connection.cursor() as cursor:
        cursor.execute(NOTIFICATION_SQL, {"communication": communication.pk, "tag": f"{TAG}-%"})
    print(
        f"  wave of {Notification.objects.filter(communication=communication).count():,} "
        f"notifications; built in {time.perf_counter() - started:.1f} s"
    )
    return incident


def _client(username: str) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _pages(incident: Incident) -> list[tuple[str, Callable[[Client], Any]]]:
    communication = Communication.objects.get(incident=incident)
    admin = "admin:"
    room = reverse(f"{admin}incidents_incident_change", args=[incident.pk])
    scope = reverse(f"{admin}incidents_incident_scope", args=[incident.pk])
    comm = reverse(f"{admin}notifications_communication_change", args=[communication.pk])
    sign = reverse(f"{admin}notifications_communication_sign", args=[communication.pk])
    customers = reverse(f"{admin}customers_customer_changelist")
    listed = list(
        Customer.objects.filter(email_normalized__startswith=f"{TAG}-").values_list(
            "email", flat=True
        )[:5]
    )

    def preview(client: Client) -> Any:
        forensic = SimpleUploadedFile(
            "accounts.csv", ("email\n" + "\n".join(listed) + "\n").encode(), "text/csv"
        )
        return client.post(scope, {"forensic_list": forensic, "mode": "add"})

    return [
        ("dashboard", lambda c: c.get(reverse(f"{admin}index"))),
        ("incident room", lambda c: c.get(room)),
        ("scope preview", preview),
        ("communication", lambda c: c.get(comm)),
        ("sign page", lambda c: c.get(sign)),
        ("customer list", lambda c: c.get(customers)),
    ]


def _timed(client: Client, request: Callable[[Client], Any], name: str) -> float:
    started = time.perf_counter()
    response = request(client)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{name} answered {response.status_code}")
    return seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pages")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--pages", nargs="*", help="only these pages (by name, quoted)")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark runs on PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0)
    incident = Incident.objects.filter(title=f"{TAG} incident").first()
    if incident is not None and (args.rebuild or incident.affected.count() != args.customers):
        raise SystemExit(
            f"A {TAG} world of another size is in this database: point DATABASE_URL at a "
            "fresh database (the timeline is append-only, so the world is never deleted)."
        )
    if incident is None:
        print(f"building {args.customers:,} affected people (kept for the next runs)...")
        with transaction.atomic():
            incident = build(args.customers)
        with connection.cursor() as cursor:
            for model in (Customer, AffectedCustomer, Notification):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    # What the task cluster does in the background: count the scope (once; then each scope
    # change keeps it) and the wave (every minute). Timed for information.
    started = time.perf_counter()
    scope_figures_count(incident_id=incident.pk)
    print(f"the cluster's scope count: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    wave_figures_count_task()
    print(f"the cluster's wave count: {time.perf_counter() - started:.2f} s")
    client = _client(f"{TAG}-ciso")
    baseline_url = reverse("admin:password_change")

    def baseline(c: Client) -> Any:
        return c.get(baseline_url)

    print(f"{'page':16}{'median ms':>10}{'min ms':>8}{'x baseline':>11}  verdict")
    for name, request in _pages(incident):
        if args.pages and name not in args.pages:
            continue
        _timed(client, request, name)  # warm: templates compiled, caches filled
        _timed(client, baseline, "baseline")
        ours: list[float] = []
        base: list[float] = []
        for round_number in range(args.repeat):
            order = [(ours, request, name), (base, baseline, "baseline")]
            if round_number % 2:
                order.reverse()
            for times, work, label in order:
                times.append(_timed(client, work, label))
        mine, floor = statistics.median(ours), statistics.median(base)
        verdict = "meets" if mine * 1000 < TARGET_MS else "MISSES"
        print(
            f"{name:16}{mine * 1000:>10.0f}{min(ours) * 1000:>8.0f}{mine / floor:>11.1f}"
            f"  {verdict} {TARGET_MS} ms (baseline {floor * 1000:.0f} ms)"
        )
