import time

import pytest
from django_q.tasks import async_task

from tests.conftest import wait_until


@pytest.mark.slow
def test_a_task_runs_in_a_real_cluster_and_its_mail_reaches_smtp(smtp_server, task_cluster):
    task_cluster.start(workers=1)
    async_task(
        "django.core.mail.send_mail",
        "Cluster check",
        "Sent from a task.",
        "breachdesk@localhost",
        ["ops@example.org"],
    )
    wait_until(lambda: smtp_server.recipients() == ["ops@example.org"], timeout=60)
    assert smtp_server.messages[0]["Subject"] == "Cluster check"


@pytest.mark.slow
def test_a_task_that_always_fails_runs_exactly_max_attempts_times(task_cluster, tmp_path):
    from django_q.models import Task

    log = tmp_path / "attempts.log"
    task_cluster.start(
        workers=1,
        Q_TIMEOUT="1",
        Q_RETRY="2",
        Q_MAX_ATTEMPTS="3",
        CAMPAIGNS_LEASE_SECONDS="1",
        DELIVERY_LEASE_SECONDS="1",
    )
    task_id = async_task("tests.config.probes.always_fail", str(log))

    def attempts() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    wait_until(lambda: attempts() >= 3, timeout=60, message="the task was not retried")
    time.sleep(5)  # two more retry periods: a fourth attempt would have started by now
    assert attempts() == 3
    task = Task.objects.get(id=task_id)
    assert (task.success, task.attempt_count) == (False, 3)
