from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Failure, Schedule

from config.tasks import FAILED_TASKS_PURGE, failed_tasks_purge
from customers.apps import EXPORT_FILES_PURGE, IMPORT_FILES_PURGE


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
@pytest.mark.parametrize(
    ("name", "func"),
    [
        (FAILED_TASKS_PURGE, "config.tasks.failed_tasks_purge"),
        (IMPORT_FILES_PURGE, "customers.tasks.import_files_purge_task"),
        (EXPORT_FILES_PURGE, "customers.tasks.export_files_purge_task"),
    ],
)
def test_migrate_schedules_each_purge_daily_once(name, func):
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    (schedule,) = Schedule.objects.filter(name=name)
    assert schedule.func == func
    assert schedule.schedule_type == Schedule.DAILY


@pytest.mark.django_db
def test_every_app_declares_its_own_schedules_and_each_exists_once_after_migrate():
    from django.apps import apps
    from django.core.management import call_command

    from config.tasks import housekeeping_declared

    call_command("migrate", verbosity=0)
    declared = housekeeping_declared()
    owners = {app.label for app in apps.get_app_configs() if getattr(app, "housekeeping", ())}
    # Each domain app schedules its own work; none is listed for it elsewhere.
    assert {"customers", "incidents", "notifications", "readiness"} <= owners
    names = [job.name for job in declared]
    assert len(names) == len(set(names)), "two schedules share a name"
    kept = dict(Schedule.objects.filter(name__in=names).values_list("name", "func"))
    assert kept == {job.name: job.task for job in declared}
