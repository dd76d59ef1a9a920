"""The daily readiness snapshot is taken by a real task cluster, as its schedule runs it."""

import pytest
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from config.readiness.models import ReadinessSnapshot
from config.tasks import READINESS_SNAPSHOT, housekeeping_schedule
from tests.conftest import wait_until
from tests.customers.factories import CustomerFactory


@pytest.mark.slow
def test_the_task_cluster_takes_the_days_snapshot(task_cluster):
    CustomerFactory.create(email="", email_status="missing", street="")
    CustomerFactory.create_batch(3, street="Hauptstr. 1", city="Berlin")
    housekeeping_schedule()
    func = Schedule.objects.get(name=READINESS_SNAPSHOT).func
    task_cluster.start(workers=1)

    async_task(func)

    wait_until(ReadinessSnapshot.objects.exists, timeout=60, message="no snapshot was taken")
    snapshot = ReadinessSnapshot.objects.get()
    assert snapshot.day == timezone.localdate()
    unreachable = snapshot.figures["dimensions"]["reachable"]["checks"]["unreachable"]
    assert unreachable["figure"] == "25.0% (1 of 4)"
