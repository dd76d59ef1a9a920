"""Exactly once through crashes: a real task cluster, killed mid-wave, against a real SMTP
server on loopback."""

import os
import signal

import pytest
from django.db import connection
from django_q.models import OrmQ

from customers.models import Customer
from incidents.models import AffectedCustomer
from notifications.models import Delivery, Notification, notification_message_id
from notifications.services.delivery import communication_send
from tests.conftest import wait_until

from .delivery_helpers import signed_off_by_new_people
from .factories import IncidentFactory, approved

PEOPLE = 2000


def affected_people(incident, count):
    Customer.objects.bulk_create(
        Customer(
            first_name=f"P{i}",
            email=f"p{i}@example.com",
            email_normalized=f"p{i}@example.com",
            email_status=Customer.EmailStatus.VALID,
            language="en",
            country="DE",
        )
        for i in range(count)
    )
    customers = list(Customer.objects.filter(email__startswith="p").order_by("pk"))
    AffectedCustomer.objects.bulk_create(
        AffectedCustomer(
            incident=incident,
            customer=c,
            data_categories=["credentials"],
            found_by=AffectedCustomer.FoundBy.FORENSIC_LIST,
        )
        for c in customers
    )
    return customers


@pytest.mark.slow
def test_two_clusters_on_one_database_send_each_message_exactly_once(
    smtp_server, task_cluster, make_user
):
    from config import roles

    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    customers = affected_people(incident, 600)
    communication = signed_off_by_new_people(incident, [version], make_user)
    task_cluster.env.update(DELIVERY_BATCH_SIZE="25", DELIVERY_PARALLEL_BATCHES="6")
    task_cluster.start(workers=2)
    # A second cluster on the same queue, as on a second machine.
    task_cluster.start(workers=2)
    delivery = communication_send(
        communication_id=communication.pk, actor=make_user("boss", roles.CISO)
    )
    wait_until(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.COMPLETED,
        timeout=90,
        message="the wave never completed",
    )
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in customers)


@pytest.mark.slow
def test_two_clusters_on_the_redis_broker_send_each_message_exactly_once(
    smtp_server, task_cluster, make_user, monkeypatch
):
    import redis
    from django_q.conf import Conf

    from config import roles

    # One Redis database per test database, so the PostgreSQL and SQLite runs of CI can
    # share the server side by side.
    url = f"redis://127.0.0.1:6379/{14 if connection.vendor == 'postgresql' else 15}"
    queue = redis.Redis.from_url(url)
    try:
        queue.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    queue.flushdb()
    # This process enqueues through Redis too, as a web server with REDIS_URL set would.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    customers = affected_people(incident, 400)
    communication = signed_off_by_new_people(incident, [version], make_user)
    task_cluster.env.update(REDIS_URL=url, DELIVERY_BATCH_SIZE="25", DELIVERY_PARALLEL_BATCHES="6")
    try:
        delivery = communication_send(
            communication_id=communication.pk, actor=make_user("boss", roles.CISO)
        )
        # The batches wait in Redis, not in the database, until the clusters start.
        assert queue.llen(f"django_q:{Conf.CLUSTER_NAME}:q") > 0
        assert not OrmQ.objects.exists()
        task_cluster.start(workers=2)
        task_cluster.start(workers=2)
        wait_until(
            lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.COMPLETED,
            timeout=90,
            message="the wave never completed over Redis",
        )
        assert sorted(smtp_server.recipients()) == sorted(c.email for c in customers)
    finally:
        task_cluster.stop()
        queue.flushdb()


@pytest.mark.slow
def test_every_person_is_told_through_three_sigkills_and_a_resend_keeps_its_message_id(
    smtp_server, task_cluster, make_user
):
    from config import roles

    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    customers = affected_people(incident, PEOPLE)
    communication = signed_off_by_new_people(incident, [version], make_user)
    # Short lease and task retry, so that work a killed cluster held comes back quickly.
    task_cluster.env.update(
        Q_TIMEOUT="8",
        Q_RETRY="10",
        DELIVERY_LEASE_SECONDS="6",
        CAMPAIGNS_LEASE_SECONDS="5",
        DELIVERY_BATCH_SIZE="40",
        DELIVERY_PARALLEL_BATCHES="4",
    )
    cluster = task_cluster.start(workers=2)
    delivery = communication_send(
        communication_id=communication.pk, actor=make_user("boss", roles.CISO)
    )
    for threshold in (300, 900, 1500):
        wait_until(
            lambda t=threshold: len(smtp_server.messages) >= t,
            timeout=60,
            message=f"fewer than {threshold} messages arrived",
        )
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
        cluster = task_cluster.start(workers=2)
    wait_until(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.COMPLETED,
        timeout=120,
        message="the wave never completed",
    )
    expected = {
        c.email: notification_message_id(communication_id=communication.pk, customer_id=c.pk)
        for c in customers
    }
    received = smtp_server.recipients()
    # Everyone got it; nobody was missed.
    assert set(received) == set(expected)
    # A message sent again after a kill carries the first one's Message-ID.
    for message in smtp_server.messages:
        assert message["Message-ID"] == expected[message["X-Envelope-To"]]
    assert len(received) - len(expected) <= 3 * 2 * 40
    assert set(
        Notification.objects.filter(communication=communication).values_list("status", flat=True)
    ) == {Notification.Status.SENT}
