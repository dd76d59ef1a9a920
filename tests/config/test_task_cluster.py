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
