"""Sending breach messages through a task cluster, against a bare smtplib loop.

    python -m benchmarks send [--messages N] [--workers N]

Runs on PostgreSQL (DATABASE_URL=.../bd_delivery). An aiosmtpd server on loopback receives.
A signed-off communication is fanned out to N people; the same messages are rendered once
and sent by a bare `smtplib` loop over one connection (the baseline); then one task
cluster (`manage.py qcluster`, two workers) sends the wave for real: claims, leases,
rendering, the shared rate limit, recording and touchpoints included. Target: the cluster
reaches at least half the bare loop's rate.
"""

import argparse
import os
import smtplib
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.utils import timezone

from benchmarks.common import process_stop
from incidents.models import Incident
from notifications.models import (
    Communication,
    CommunicationSignOff,
    CommunicationVersion,
    Delivery,
    MessageTemplate,
    Notification,
    TemplateVersion,
)
from notifications.selectors import communication_content_hash
from notifications.services.delivery import _messages_build, communication_send, message_bytes

ROOT = Path(__file__).resolve().parent.parent
TAG = "bench-send"
TEXT = (
    "Dear {{ customer.full_name }},\n\n{{ incident.nature }}\n{{ incident.likely_consequences }}"
    "\n{{ incident.measures_taken }}\n{{ incident.measures_proposed }}\n"
    "Reset: {{ reset_link }}\nQuestions? {{ contact_point }}\n"
)


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def build(messages: int) -> Communication:
    """A signed-off communication to `messages` people (sign-offs written directly)."""
    User = get_user_model()
    with transaction.atomic():
        run = timezone.now().strftime("%Y%m%d%H%M%S")
        incident = Incident.objects.create(
            title=f"{TAG} {run}",
            nature="Someone copied our customer database.",
            awareness_at=datetime(2026, 1, 1, tzinfo=UTC),
            contact_point="privacy@example.com",
            likely_consequences="Phishing.",
            measures_taken="Closed the hole.",
            measures_proposed="Change your password.",
            # Told because they are at high risk: the send waits for this decision.
            art34_decision=Incident.Art34Decision.NOTIFY,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO customers_customer (first_name, last_name, email, email_normalized, "
                "email_status, phone, street, postal_code, city, region, country, country_raw, "
                "language, marketing_consent, consent_source, lifecycle_stage, created_at, "
                "updated_at) SELECT 'Bench', 'Person ' || n, %s || n || '@example.com', "
                "%s || n || '@example.com', 'valid', '', '', '', '', '', 'DE', '', 'en', "
                "'granted', '', '', now(), now() FROM generate_series(1, %s) n",
                [f"{TAG}-{run}-", f"{TAG}-{run}-", messages],
            )
            cursor.execute(
                "INSERT INTO incidents_affectedcustomer "
                "(incident_id, customer_id, data_categories, found_by, added_at) "
                "SELECT %s, id, '[\"credentials\"]'::jsonb, 'forensic_list', now() "
                "FROM customers_customer WHERE email_normalized LIKE %s",
                [incident.pk, f"{TAG}-{run}-%"],
            )
        cmo, _ = User.objects.get_or_create(username=f"{TAG}-cmo")
        ciso, _ = User.objects.get_or_create(username=f"{TAG}-ciso")
        template = MessageTemplate.objects.create(incident=incident, name="notice")
        version = TemplateVersion(
            template=template,
            number=1,
            channel="email",
            language="en",
            data_categories=["credentials"],
            subject="About your data, {{ customer.first_name }}",
            text_body=TEXT,
            html_body="<p>" + TEXT + "</p>",
            status=TemplateVersion.Status.APPROVED,
            reviewed_by=cmo,
            reviewed_at=timezone.now(),
        )
        version.content_hash = version.compute_content_hash()
        version.save()
        start = timezone.now()
        communication = Communication.objects.create(
            incident=incident,
            name=f"{TAG} {run}",
            channels=["email"],
            send_window_start=start,
            send_window_end=start + timedelta(days=1),
            fallback_language="en",
            status=Communication.Status.SIGNED_OFF,
        )
        CommunicationVersion.objects.create(communication=communication, version=version)
        content_hash = communication_content_hash(communication=communication)
        for user, role in ((cmo, "CMO"), (ciso, "CISO")):
            CommunicationSignOff.objects.create(
                communication=communication,
                role=role,
                user=user,
                content_hash=content_hash,
                signed_at=timezone.now(),
            )
        cmo.user_permissions.add(Permission.objects.get(codename="send_communication"))
    return communication


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks send")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    counter = Counter()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        communication = build(args.messages)
        cmo = get_user_model().objects.get(username=f"{TAG}-cmo")
        delivery = communication_send(communication_id=communication.pk, actor=cmo)
        rows = list(Notification.objects.filter(communication=communication).order_by("pk"))
        messages, malformed, broken = _messages_build(communication, rows)
        if malformed or broken or len(messages) != args.messages:
            raise SystemExit(f"could not render: {malformed} {broken}")
        payloads = [(m.from_email, m.to, message_bytes(m)) for _pk, m in messages]

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for sender, to, payload in payloads:
                smtp.sendmail(sender, to, payload)
        bare = time.perf_counter() - started
        bare_rate = len(payloads) / bare
        baseline_received = counter.count

        env = {
            **os.environ,
            "Q_WORKERS": str(args.workers),
            "EMAIL_URL": f"smtp://127.0.0.1:{port}",
            "DELIVERY_RATE_PER_MINUTE": str(10 * args.messages),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        started = time.perf_counter()
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        first_at = None
        try:
            while Delivery.objects.get(pk=delivery.pk).status != Delivery.Status.COMPLETED:
                if first_at is None and counter.count > baseline_received:
                    first_at = time.perf_counter()
                if time.perf_counter() - started > 600:
                    raise SystemExit("the wave did not finish in 10 minutes")
                time.sleep(0.05)
            cluster_time = time.perf_counter() - started
        finally:
            process_stop(cluster)
        received = counter.count - baseline_received
        sent = Notification.objects.filter(communication=communication, status="sent").count()
        cluster_rate = sent / cluster_time
        sending_rate = sent / (cluster_time - ((first_at or started) - started))
        print(f"messages {args.messages:,}; the server received {received:,} from the cluster")
        print(f"bare smtplib loop, one connection   {bare:.2f}s  {bare_rate:,.0f} msg/s")
        print(
            f"task cluster, {args.workers} workers (incl. start-up) "
            f"{cluster_time:.2f}s  {cluster_rate:,.0f} msg/s"
        )
        print(f"task cluster, from its first message  {sending_rate:,.0f} msg/s")
        ratio = cluster_rate / bare_rate
        print(
            f"ratio cluster/bare {ratio:.2f} (target >= 0.50): {'OK' if ratio >= 0.5 else 'MISSED'}"
        )
    finally:
        controller.stop()
