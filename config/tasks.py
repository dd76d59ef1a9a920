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
CUSTOMER_FIGURES_REFRESH = "Recount the readiness customer figures"
# Every few minutes (READINESS_RECOUNT_MINUTES): schedule name -> task.
FREQUENT = {
    CUSTOMER_FIGURES_REFRESH: "config.readiness.tasks.customer_figures_refresh_task",
}


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
    """Make sure each daily purge and each frequent recount is scheduled, once (idempotent,
    run after migrate)."""
    for name, func in HOUSEKEEPING.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.DAILY, "repeats": -1},
        )
    for name, func in FREQUENT.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": settings.READINESS_RECOUNT_MINUTES,
                "repeats": -1,
            },
        )
