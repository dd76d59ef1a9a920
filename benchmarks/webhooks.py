"""Applying the email provider's tracking events, against a raw UPDATE ... FROM; and the
webhook endpoint's latency while the task cluster applies them.

    python -m benchmarks webhooks [--events N] [--requests N] [--workers N]

Runs on PostgreSQL. A signed-off communication is fanned out to N/2 people and marked
sent with a provider id each; N stored events (delivered for everyone, then opens, soft
and hard bounces, complaints, in shuffled order, with repeats of the newest states) are
applied

1. by a raw `UPDATE notification ... FROM (SELECT ... GROUP BY)` of the same states and
   bounced statuses (the floor: what the states cost with nothing else), then
2. by `delivery_events_apply` in its batches (resolving messages, the letter queue,
   addresses, opt-outs, touchpoints, timeline), after resetting the states.

Both must leave the same states; the ratio is reported (target <= 2x). Then the events are
marked unapplied again, a task cluster and a web server (the project's WSGI application
on loopback) are started, and a loop bounded in count and time posts Postmark webhooks
(basic auth) to it over HTTP while the cluster applies the queue: p50/p99 per request,
for the requests sent before the queue first ran empty and for all (target p99 < 50 ms).
"""

import argparse
import base64
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from benchmarks.common import process_stop
from benchmarks.send import build
from notifications.models import DeliveryEvent, Notification, PendingDeliveryEvent
from notifications.services.delivery import communication_send
from notifications.services.provider_events import _rank_sql, _state_for_rank_sql
from notifications.services.provider_events import delivery_events_apply_all as apply_all

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench:webhook-secret"
# Per person after "delivered": what else the provider says (shares of people).
EXTRA = [("opened", 0.80), ("soft_bounce", 0.07), ("hard_bounce", 0.05), ("complained", 0.02)]


def _event_rows(notifications: list[tuple[int, str, str]], total: int) -> list[DeliveryEvent]:
    rng = random.Random(20)
    now = datetime.now(UTC)
    rows = []

    def add(provider_id: str, email: str, kind: str, at: datetime) -> None:
        rows.append(
            DeliveryEvent(
                provider="postmark",
                event_type={"hard_bounce": "bounced", "soft_bounce": "deferred"}.get(kind, kind),
                kind=kind,
                provider_message_id=provider_id,
                recipient=email,
                occurred_at=at,
                dedupe_key=uuid.uuid4().hex,
                received_at=now,
            )
        )

    for _pk, provider_id, email in notifications:
        add(provider_id, email, "delivered", now - timedelta(minutes=30))
    while len(rows) < total:
        _pk, provider_id, email = rng.choice(notifications)
        draw, kind = rng.random(), "opened"
        for name, share in EXTRA:
            if draw < share:
                kind = name
                break
            draw -= share
        add(provider_id, email, kind, now - timedelta(minutes=rng.randint(0, 29)))
    rng.shuffle(rows)
    return rows[:total]


def _states(communication_id: int) -> dict[tuple[str, str], int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT delivery_state, status, COUNT(*) FROM notifications_notification "
            "WHERE communication_id = %s GROUP BY 1, 2",
            [communication_id],
        )
        return {(state, status): n for state, status, n in cursor.fetchall()}


def _reset(communication_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notifications_notification SET delivery_state = '', delivery_state_at = NULL, "
            "status = 'sent', bounced_at = NULL WHERE communication_id = %s",
            [communication_id],
        )
        # The people as they were before any run: each pair of runs does the same work.
        cursor.execute(
            "UPDATE customers_customer SET email_status = 'valid', marketing_consent = "
            "'granted', consent_source = '' WHERE id IN (SELECT customer_id FROM "
            "notifications_notification WHERE communication_id = %s) AND (email_status <> "
            "'valid' OR marketing_consent <> 'granted')",
            [communication_id],
        )
        cursor.execute("DELETE FROM customers_touchpoint WHERE reference LIKE 'postmark: %%'")
        cursor.execute("UPDATE notifications_deliveryevent SET outcome = '' WHERE outcome <> ''")
        cursor.execute("DELETE FROM notifications_pendingdeliveryevent")
        cursor.execute(
            "INSERT INTO notifications_pendingdeliveryevent (event_id) "
            "SELECT id FROM notifications_deliveryevent WHERE provider = 'postmark'"
        )
    # Both runs start from the same table state: no dead rows left by the one before.
    with connection.cursor() as cursor:
        for table in (
            "notifications_notification",
            "notifications_deliveryevent",
            "customers_customer",
            "customers_touchpoint",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("VACUUM ANALYZE notifications_pendingdeliveryevent")


def _raw_floor(communication_id: int) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notifications_notification AS n SET "
            f"delivery_state = {_state_for_rank_sql('b.rank')}, delivery_state_at = b.at "
            f"FROM (SELECT m.id, MAX({_rank_sql('e.kind')}) AS rank, MAX(e.occurred_at) AS at "
            "FROM notifications_deliveryevent e JOIN notifications_notification m "
            "ON m.provider_message_id = e.provider_message_id WHERE m.communication_id = %s "
            "GROUP BY m.id) b WHERE n.id = b.id",
            [communication_id],
        )
        cursor.execute(
            "UPDATE notifications_notification AS n SET status = 'bounced', bounced_at = now() "
            "FROM (SELECT DISTINCT provider_message_id FROM notifications_deliveryevent "
            "WHERE kind = 'hard_bounce') b WHERE n.communication_id = %s AND n.status = 'sent' "
            "AND n.provider_message_id = b.provider_message_id",
            [communication_id],
        )
    return time.perf_counter() - started


def _postmark(row: tuple[int, str, str], n: int) -> str:
    _pk, provider_id, email = row
    return json.dumps(
        {
            "RecordType": "Open",
            "MessageStream": "outbound",
            "FirstOpen": n == 0,
            "Recipient": email,
            "MessageID": provider_id,
            "ReceivedAt": (datetime.now(UTC) + timedelta(seconds=n)).isoformat(),
            "Platform": "WebMail",
            "UserAgent": "Mozilla/5.0",
            "Tag": "breach-notice",
            "Metadata": {},
        }
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks webhooks")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=settings.DELIVERY_EVENTS_BATCH_SIZE)
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="bound on the request loop's time"
    )
    parser.add_argument("--repeat", type=int, default=3, help="pairs of apply runs")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return
    settings.DELIVERY_EVENTS_BATCH_SIZE = args.batch
    if connection.vendor != "postgresql":
        raise SystemExit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    people = max(1, args.events // 2)
    communication = build(people)
    cmo = get_user_model().objects.get(username="bench-send-cmo")
    communication_send(communication_id=communication.pk, actor=cmo)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notifications_notification SET status = 'sent', sent_at = now(), "
            "provider_message_id = 'pm-' || id WHERE communication_id = %s",
            [communication.pk],
        )
        cursor.execute("DELETE FROM notifications_pendingdeliveryevent")
        cursor.execute("DELETE FROM notifications_deliveryevent WHERE provider = 'postmark'")
    notifications = list(
        Notification.objects.filter(communication=communication).values_list(
            "pk", "provider_message_id", "email"
        )
    )
    rows = _event_rows(notifications, args.events)
    DeliveryEvent.objects.bulk_create(rows, batch_size=5000)
    _reset(communication.pk)
    print(f"{people:,} people sent to, {len(rows):,} stored events to apply")

    # Pairs, the floor then ours, each from the same reset state; the machine is shared
    # and its load moves, so the best of each side is compared, and every pair is shown.
    floors, ours, same = [], [], True
    for n in range(args.repeat):
        floors.append(_raw_floor(communication.pk))
        floor_states = _states(communication.pk)
        _reset(communication.pk)
        started = time.perf_counter()
        applied = apply_all()
        ours.append(time.perf_counter() - started)
        same = same and _states(communication.pk) == floor_states
        print(
            f"run {n + 1}: raw UPDATE ... FROM {floors[-1]:6.2f}s, delivery_events_apply "
            f"({settings.DELIVERY_EVENTS_BATCH_SIZE:,} a batch) {ours[-1]:6.2f}s "
            f"({applied / ours[-1]:,.0f} events/s): {ours[-1] / floors[-1]:.2f}x"
        )
        _reset(communication.pk)
    print(f"same states as the floor: {'yes' if same else 'NO'}")
    ratio = min(ours) / min(floors)
    print(
        f"ratio apply/raw, best of {args.repeat} each: {ratio:.2f} (median of the pairs "
        f"{statistics.median(o / f for o, f in zip(ours, floors, strict=True)):.2f}; "
        f"target <= 2.0): {'OK' if ratio <= 2 else 'MISSED'}"
    )

    # The endpoint under load while a task cluster applies the stored events.
    env = {
        **os.environ,
        "Q_WORKERS": str(args.workers),
        "PYTHONPATH": str(ROOT),
        "ANYMAIL_WEBHOOK_SECRET": SECRET,
    }
    env.pop("REDIS_URL", None)
    from django_q.tasks import async_task

    port = _free_port()
    server = _start([sys.executable, "-m", "benchmarks", "webhooks", "--serve", str(port)], env)
    cluster: subprocess.Popen[bytes] | None = None
    watch: _QueueWatch | None = None
    try:
        _wait_for(port)
        # The same loop first with no cluster running (the backlog waits), then while it
        # applies the backlog: the difference is what applying costs the endpoint.
        idle = _load_loop(port, notifications, args.requests, args.max_seconds, offset=0)
        for _ in range(args.workers):
            async_task("notifications.tasks.delivery_events_apply_task")
        cluster = _start([sys.executable, "manage.py", "qcluster"], env)
        watch = _QueueWatch()
        _wait_for_first_batch(args.max_seconds)
        watch.start()
        pending_before = PendingDeliveryEvent.objects.filter(
            event_id__lte=watch.backlog_last
        ).count()
        busy = _load_loop(
            port, notifications, args.requests, args.max_seconds, offset=args.requests
        )
        pending_after = PendingDeliveryEvent.objects.filter(
            event_id__lte=watch.backlog_last
        ).count()
    finally:
        if watch is not None:
            watch.stop()
        for process in (cluster, server):
            if process is not None:
                process_stop(process)
    emptied_at = watch.emptied_at if watch else None
    during = [t for began, t in busy if emptied_at is None or began < emptied_at]
    print(
        f"endpoint over HTTP (a WSGI server on loopback, one request at a time), "
        f"{args.requests:,} requests with no cluster, then {len(busy):,} while the cluster "
        f"applied the backlog ({pending_before:,} -> {pending_after:,} of it waiting; "
        f"{len(during):,} requests sent before it was all applied)"
    )
    idle_p99 = _percentile([t for _b, t in idle], 99)
    for label, sample in (
        ("no cluster", [t for _b, t in idle]),
        ("while applying", during),
        ("cluster running", [t for _b, t in busy]),
    ):
        if not sample:
            continue
        p50, p99 = _percentile(sample, 50), _percentile(sample, 99)
        print(
            f"  {label:15} p50 {p50:5.1f} ms, p99 {p99:5.1f} ms ({p99 / idle_p99:.2f}x the idle "
            f"p99), max {max(sample) * 1000:6.1f} ms; target p99 < 50 ms: "
            f"{'OK' if p99 < 50 else 'MISSED'}"
        )


def _load_loop(
    port: int,
    notifications: list[tuple[int, str, str]],
    requests: int,
    max_seconds: float,
    *,
    offset: int,
) -> list[tuple[float, float]]:
    """Post Postmark open events one after another, at most `requests` of them and for at
    most `max_seconds`; returns (started, seconds) per request."""
    headers = {
        "Authorization": "Basic " + base64.b64encode(SECRET.encode()).decode(),
        "Content-Type": "application/json",
    }
    timings = []
    deadline = time.monotonic() + max_seconds
    for n in range(offset, offset + requests):
        if time.monotonic() > deadline:
            break
        body = _postmark(notifications[n % len(notifications)], n).encode()
        began = time.monotonic()
        status = _post(port, "/webhooks/postmark/tracking/", body, headers)
        timings.append((began, time.monotonic() - began))
        if status != 200:
            raise SystemExit(f"the endpoint answered {status}")
    return timings


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _percentile(sample: list[float], pct: int) -> float:
    ordered = sorted(sample)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * pct // 100) - 1))] * 1000


class _QueueWatch:
    """Notes when the backlog (the events queued before the loop) has been applied, in a
    thread with its own connection; the loop's own events keep the queue from emptying."""

    def __init__(self) -> None:
        self.emptied_at: float | None = None
        self.backlog_last = (
            PendingDeliveryEvent.objects.order_by("-event_id")
            .values_list("event_id", flat=True)
            .first()
        ) or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(0.2):
                backlog = PendingDeliveryEvent.objects.filter(event_id__lte=self.backlog_last)
                if not backlog.exists():
                    self.emptied_at = time.monotonic()
                    return
        finally:
            connection.close()


def _wait_for_first_batch(seconds: float) -> None:
    """Until the cluster has started and is applying its first batch (its rows leave the
    queue only when the batch commits, so the database's activity tells it first)."""
    deadline = time.monotonic() + seconds
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND state = 'active' AND query LIKE %s",
                ["%delivery\\_event\\_batch\\_%"],
            )
            if cursor.fetchone()[0]:
                return
        if time.monotonic() > deadline:
            raise SystemExit("the task cluster applied nothing")
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the web server on 127.0.0.1:{port} did not start")


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    http = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        http.request("POST", path, body=body, headers=headers)
        response = http.getresponse()
        response.read()
        return response.status
    finally:
        http.close()


def _serve(port: int) -> None:
    """The project's WSGI application behind the standard library's WSGI server, on
    loopback: one thread, so its database connection persists as a production worker's."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from config.wsgi import application

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with make_server("127.0.0.1", port, application, handler_class=Quiet) as server:
        server.serve_forever()
