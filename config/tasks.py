"""Housekeeping tasks of the task queue itself."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Failure, Schedule

FAILED_TASKS_PURGE = "Purge failed tasks"
IMPORT_FILES_PURGE = "Delete old import files"
EXPORT_FILES_PURGE = "Delete old customer export files"
READINESS_SNAPSHOT = "Take the daily readiness snapshot"
# Daily housekeeping: schedule name -> task.
HOUSEKEEPING = {
    FAILED_TASKS_PURGE: "config.tasks.failed_tasks_purge",
    IMPORT_FILES_PURGE: "customers.tasks.import_files_purge_task",
    EXPORT_FILES_PURGE: "customers.tasks.export_files_purge_task",
    READINESS_SNAPSHOT: "config.readiness.tasks.readiness_snapshot_task",
}
RECOVERY_PLANS_RUN = "Start the recovery steps that are due"
# Hourly: a recovery step is due by the day, and should not wait most of one.
HOURLY = {RECOVERY_PLANS_RUN: "notifications.tasks.recovery_plans_run_task"}


def failed_tasks_purge() -> int:
    """Delete failed task records older than FAILED_TASK_RETENTION_DAYS; return how many.

    A failed task keeps its arguments and the exception text, which may name a person;
    they are kept only as long as someone needs them to investigate.
    """
    cutoff = timezone.now() - timedelta(days=settings.FAILED_TASK_RETENTION_DAYS)
    deleted, _ = Failure.objects.filter(stopped__lt=cutoff).delete()
    return deleted


@transaction.atomic
def housekeeping_schedule() -> None:
    """Make sure each daily purge and each hourly run is scheduled, once (idempotent, run
    after migrate)."""
    for schedules, schedule_type in ((HOUSEKEEPING, Schedule.DAILY), (HOURLY, Schedule.HOURLY)):
        for name, func in schedules.items():
            Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": schedule_type, "repeats": -1},
            )
