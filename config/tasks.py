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
# Counts kept for large scopes and waves, counted again this often (schedule name -> task,
# minutes): pages show them with their time, so they must not grow old.
KEPT_FIGURES = {
    "Count large scopes again": ("incidents.tasks.scope_figures_recount_task", 10),
    "Count large waves again": ("notifications.tasks.wave_figures_count_task", 1),
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
    """Make sure each daily purge and each recount is scheduled, once (idempotent, run after
    migrate)."""
    for name, func in HOUSEKEEPING.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.DAILY, "repeats": -1},
        )
    for name, (func, minutes) in KEPT_FIGURES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
