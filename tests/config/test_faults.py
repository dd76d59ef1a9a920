"""Imports and campaign sends survive a killed worker and a dropped database connection.

Each test stalls the work at a known point (a table lock the import waits on, an SMTP
server that holds a message), injects the fault into the real task cluster, then starts
a new cluster and checks that the work resumed or failed cleanly, never half-done, and
that the page a user reads says which. Faults injected and what they showed are listed
in README.md (Trust section).
"""

import io
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.urls import reverse

from campaigns.models import Campaign, CampaignSend
from campaigns.services import campaign_start
from config import roles
from customers.models import Customer, ImportJob
from customers.services import import_job_create, import_job_enqueue
from incidents.evidence.services import evidence_pack_request
from incidents.models import EvidencePack
from incidents.services import incident_open
from notifications.models import Delivery, Notification, notification_message_id
from notifications.services.delivery import communication_send
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with
from tests.conftest import HoldingInbox, wait_until
from tests.notifications.delivery_helpers import signed_off_by_new_people
from tests.notifications.factories import IncidentFactory, affected, approved

from .canary import HEADER

pytestmark = pytest.mark.slow
ROWS = 40
# The ORM broker leases a task it hands out for Q_RETRY seconds (set by the cluster that
# took it); after a SIGKILL any cluster takes it again once the lease is over, and the
# import claims a job left "running" for longer than that. Short, so the test is too.
RESUMING = {
    "Q_TIMEOUT": "8",
    "Q_RETRY": "10",
    "CAMPAIGNS_LEASE_SECONDS": "3",
    "DELIVERY_LEASE_SECONDS": "3",
}
# A claim outlasts the held SMTP reply and the reconnect, so no other batch takes it over.
LEASED = {**RESUMING, "CAMPAIGNS_LEASE_SECONDS": "8", "DELIVERY_LEASE_SECONDS": "8"}
postgresql_only = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres") is False,
    reason="stalls the import on a PostgreSQL table lock and drops connections with "
    "pg_terminate_backend; SQLite has neither",
)


def _enqueued_import() -> ImportJob:
    lines = "".join(
        f"003FAULT{n:06d},Ada{n},Lovelace,ada{n}@fault.example.org,,,,,,GB,false,,\n"
        for n in range(ROWS)
    )
    job = import_job_create(
        stream=io.BytesIO((HEADER + lines).encode()), file_name="fault.csv", source="salesforce"
    )
    import_job_enqueue(job=job)
    return job


@contextmanager
def customers_locked() -> Iterator[None]:
    """Hold a lock that makes the import's writes to customers wait until released."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE customers_customer IN SHARE ROW EXCLUSIVE MODE")
        yield


def _waiting_backends() -> list[int]:
    with connection.cursor() as cursor:
        # Statistics are read once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _cluster_connections_terminate() -> int:
    """Terminate every connection to the test database but ours, as a restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    return terminated


def _job_page(client, job: ImportJob) -> str:
    return client.get(reverse("admin:customers_importjob_change", args=[job.pk])).content.decode()


@pytest.fixture
def operator(client, make_user):
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    return client


@postgresql_only
def test_import_survives_a_sigkill_of_its_worker_mid_import(
    task_cluster, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _enqueued_import()
    with customers_locked():
        first = task_cluster.start(workers=1, **RESUMING)
        wait_until(_waiting_backends, timeout=60, message="the import never reached its writes")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # Fault: SIGKILL of the whole cluster while its worker was inside the import.
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING
    assert Customer.objects.filter(email__endswith="@fault.example.org").count() == 0
    assert "Running" in _job_page(operator, job)

    task_cluster.start(workers=1, **RESUMING)
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).is_finished, timeout=90)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert Customer.objects.filter(email__endswith="@fault.example.org").count() == ROWS
    assert f"{ROWS} created" in _job_page(operator, job)


@postgresql_only
def test_import_survives_its_database_connection_being_terminated(
    task_cluster, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _enqueued_import()
    with customers_locked():
        task_cluster.start(workers=1, **RESUMING)
        wait_until(_waiting_backends, timeout=60, message="the import never reached its writes")
        # Fault: every connection of the cluster (worker, monitor, broker) is terminated
        # by the server, as a database restart or failover would.
        _cluster_connections_terminate()
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).is_finished, timeout=90)

    job.refresh_from_db()
    imported = Customer.objects.filter(email__endswith="@fault.example.org").count()
    # Either outcome is clean: all rows with a success, or none with the reason shown.
    if job.status == ImportJob.Status.SUCCEEDED:
        assert imported == ROWS
        assert f"{ROWS} created" in _job_page(operator, job)
    else:
        assert (job.status, imported) == (ImportJob.Status.FAILED, 0)
        assert "nothing was imported" in _job_page(operator, job)


def _connections_dropped_mid_reply(inbox: HoldingInbox) -> None:
    """Fault: once a message is held, the database server drops every connection of the
    cluster; then the reply goes out, so the batch has left and recording it fails."""
    wait_until(inbox.holding.is_set, timeout=60, message="no message reached SMTP")
    assert _cluster_connections_terminate() >= 1
    inbox.release.set()


def _one_message_id_per_recipient(messages: list[Message]) -> None:
    """A message sent again after a fault carries the first one's Message-ID."""
    by_id: dict[str, set[str]] = {}
    for message in messages:
        by_id.setdefault(message["Message-ID"], set()).add(message["To"])
    assert all(len(recipients) == 1 for recipients in by_id.values())


def test_campaign_send_survives_a_sigkill_of_its_worker_mid_batch(
    holding_smtp, task_cluster, client, make_user, django_capture_on_commit_callbacks
):
    customers = CustomerFactory.create_batch(12, marketing_consent=Customer.Consent.GRANTED)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    with django_capture_on_commit_callbacks(execute=True):
        campaign_start(campaign_id=campaign.pk, actor=None)
    first = task_cluster.start(workers=1, CAMPAIGNS_PARALLEL_BATCHES="1", **RESUMING)
    wait_until(holding_smtp.holding.is_set, timeout=60, message="no message reached SMTP")
    # Fault: SIGKILL of the cluster while its worker waits for the SMTP server's reply.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    holding_smtp.release.set()
    time.sleep(0.5)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    client.force_login(make_user("cmo", roles.CMO))
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "Sending" in page.content.decode()

    task_cluster.start(workers=1, **RESUMING)
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=120,
        message="the campaign did not complete after the restart",
    )

    sends = CampaignSend.objects.filter(campaign=campaign)
    assert sends.filter(status="sent").count() == len(customers)
    received = [m["To"] for m in holding_smtp.messages]
    assert set(received) == {c.email for c in customers}
    # The message in flight at the kill may arrive twice: with the same Message-ID, so
    # the resend is recognisable; nobody else gets two.
    _one_message_id_per_recipient(holding_smtp.messages)
    assert len(received) - len(set(received)) <= 1


@postgresql_only
def test_campaign_send_survives_its_database_connection_being_terminated(
    holding_smtp, task_cluster, client, make_user, django_capture_on_commit_callbacks
):
    customers = CustomerFactory.create_batch(12, marketing_consent=Customer.Consent.GRANTED)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    with django_capture_on_commit_callbacks(execute=True):
        campaign_start(campaign_id=campaign.pk, actor=None)
    task_cluster.start(workers=1, CAMPAIGNS_PARALLEL_BATCHES="1", **LEASED)
    _connections_dropped_mid_reply(holding_smtp)

    # The same cluster goes on by itself: no restart.
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=120,
        message="the campaign did not complete after its connections were dropped",
    )
    sends = CampaignSend.objects.filter(campaign=campaign)
    assert sends.filter(status="sent").count() == len(customers)
    # The worker reconnected to record the batch it had mailed: nobody got it twice.
    received = [m["To"] for m in holding_smtp.messages]
    assert sorted(received) == sorted(c.email for c in customers)
    client.force_login(make_user("cmo", roles.CMO))
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "Completed" in page.content.decode()


@postgresql_only
def test_breach_notice_survives_its_database_connection_being_terminated(
    holding_smtp, task_cluster, client, make_user
):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    people = [affected(incident, "en", ["credentials"]) for _ in range(12)]
    communication = signed_off_by_new_people(incident, [version], make_user)
    task_cluster.start(workers=1, DELIVERY_PARALLEL_BATCHES="1", **LEASED)
    ciso = make_user("boss", roles.CISO)
    delivery = communication_send(communication_id=communication.pk, actor=ciso)
    _connections_dropped_mid_reply(holding_smtp)

    wait_until(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.COMPLETED,
        timeout=120,
        message="the notice wave did not complete after its connections were dropped",
    )
    notifications = Notification.objects.filter(communication=communication)
    assert set(notifications.values_list("status", flat=True)) == {Notification.Status.SENT}
    expected = {
        person.email: notification_message_id(
            communication_id=communication.pk, customer_id=person.pk
        )
        for person in people
    }
    # The worker reconnected to record the batch it had mailed: nobody got it twice.
    assert sorted(m["To"] for m in holding_smtp.messages) == sorted(expected)
    for message in holding_smtp.messages:
        assert message["Message-ID"] == expected[message["To"]]
    client.force_login(ciso)
    page = client.get(reverse("admin:notifications_communication_change", args=[communication.pk]))
    assert "Completed" in page.content.decode()
    assert "Sent: 12 (100" in page.content.decode()


def _pack_requested(make_user) -> tuple[User, EvidencePack]:
    ciso = make_user("ciso", roles.CISO)
    incident = incident_open(
        actor=ciso,
        title="Portal breach",
        nature="Credential stuffing",
        awareness_at=datetime.now(UTC) - timedelta(hours=5),
        data_categories=["contact"],
    )
    with transaction.atomic():
        pack = evidence_pack_request(incident_id=incident.pk, actor=ciso)
    return ciso, pack


def _building(pack: EvidencePack) -> bool:
    return EvidencePack.objects.get(pk=pack.pk).status == EvidencePack.Status.BUILDING


def _finished(pack: EvidencePack) -> bool:
    finished = (EvidencePack.Status.READY, EvidencePack.Status.FAILED)
    return EvidencePack.objects.get(pk=pack.pk).status in finished


# The build may take a while on a busy machine: a longer timeout than the other tests.
SLOW = {**RESUMING, "Q_TIMEOUT": "30", "Q_RETRY": "32"}


@postgresql_only
def test_evidence_build_survives_its_database_connection_being_terminated(
    task_cluster, client, make_user
):
    ciso, pack = _pack_requested(make_user)
    task_cluster.start(workers=1, **SLOW)
    wait_until(lambda: _building(pack), timeout=60, message="the build never started")
    # Fault: the server drops every connection of the cluster while its worker renders.
    assert _cluster_connections_terminate() >= 1
    wait_until(lambda: _finished(pack), timeout=180, message="the build was never finished")

    pack.refresh_from_db()
    assert pack.status == EvidencePack.Status.READY, pack.error
    assert pack.file and pack.chain_ok is True
    assert EvidencePack.objects.filter(incident=pack.incident).count() == 1
    client.force_login(ciso)
    page = client.get(reverse("admin:incidents_evidencepack_change", args=[pack.pk]))
    assert "Ready" in page.content.decode()


def test_evidence_build_survives_a_sigkill_of_its_worker_mid_build(task_cluster, client, make_user):
    ciso, pack = _pack_requested(make_user)
    first = task_cluster.start(workers=1, **SLOW)
    wait_until(lambda: _building(pack), timeout=60, message="the build never started")
    # Fault: SIGKILL of the cluster while its worker renders the pack.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    pack.refresh_from_db()
    assert (pack.status, bool(pack.file)) == (EvidencePack.Status.BUILDING, False)
    client.force_login(ciso)
    page = client.get(reverse("admin:incidents_evidencepack_change", args=[pack.pk]))
    assert "Building" in page.content.decode()

    task_cluster.start(workers=1, **SLOW)
    wait_until(
        lambda: (
            EvidencePack.objects.get(pk=pack.pk).status
            in (EvidencePack.Status.READY, EvidencePack.Status.FAILED)
        ),
        timeout=180,
        message="the build was not taken over after the restart",
    )

    pack.refresh_from_db()
    assert pack.status == EvidencePack.Status.READY, pack.error
    assert pack.file and pack.chain_ok is True
    assert EvidencePack.objects.filter(incident=pack.incident).count() == 1
