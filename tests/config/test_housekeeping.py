from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Failure, Schedule

from config.tasks import FAILED_TASKS_PURGE, failed_tasks_purge


def failure(name: str, days_ago: int) -> Failure:
    stopped = timezone.now() - timedelta(days=days_ago)
    return Failure.objects.create(
        id=name, name=name, func="x.y", started=stopped, stopped=stopped, success=False
    )


@pytest.mark.django_db
def test_failed_tasks_older_than_the_retention_are_purged(settings):
    settings.FAILED_TASK_RETENTION_DAYS = 14
    failure("old", days_ago=15)
    failure("recent", days_ago=2)
    assert failed_tasks_purge() == 1
    assert list(Failure.objects.values_list("name", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_migrate_schedules_the_purge_daily_once():
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    (schedule,) = Schedule.objects.filter(name=FAILED_TASKS_PURGE)
    assert schedule.func == "config.tasks.failed_tasks_purge"
    assert schedule.schedule_type == Schedule.DAILY
