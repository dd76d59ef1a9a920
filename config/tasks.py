"""Housekeeping tasks of the task queue itself."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Failure, Schedule

FAILED_TASKS_PURGE = "Purge failed tasks"
IMPORT_FILES_PURGE = "Delete old import files"
EXPORT_FILES_PURGE = "Delete old customer export files"
READINESS_SNAPSHOT = "Take the daily readiness snapshot"
DUPLICATES_SEARCH = "Search for suspected duplicate customers"
# Daily housekeeping: schedule name -> task.
HOUSEKEEPING = {
    FAILED_TASKS_PURGE: "config.tasks.failed_tasks_purge",
    IMPORT_FILES_PURGE: "customers.tasks.import_files_purge_task",
    EXPORT_FILES_PURGE: "customers.tasks.export_files_purge_task",
    READINESS_SNAPSHOT: "config.readiness.tasks.readiness_snapshot_task",
    DUPLICATES_SEARCH: "customers.tasks.duplicates_search_daily_task",
}
TIMELINE_CHECKPOINT = "Checkpoint the timeline heads outside the database"
STALLED_WORK_SWEEP = "Mark stalled work failed, resume stalled sending"
# Hourly housekeeping: schedule name -> task.
RECOVERY_PLANS_RUN = "Start the recovery steps that are due"
HOURLY = {
    TIMELINE_CHECKPOINT: "incidents.tasks.timeline_checkpoint_task",
    STALLED_WORK_SWEEP: "config.tasks.stalled_work_sweep",
    # A recovery step is due by the day, and should not wait most of one.
    RECOVERY_PLANS_RUN: "notifications.tasks.recovery_plans_run_task",
}
CUSTOMER_FIGURES_REFRESH = "Recount the readiness customer figures"


def frequent() -> dict[str, tuple[str, int]]:
    """Counts kept for pages that must not count a million rows per view, counted again
    this often (schedule name -> (task, minutes)): pages show them with their time."""
    return {
        CUSTOMER_FIGURES_REFRESH: (
            "config.readiness.tasks.customer_figures_refresh_task",
            settings.READINESS_RECOUNT_MINUTES,
        ),
        "Count large scopes again": ("incidents.tasks.scope_figures_recount_task", 10),
        "Count large waves again": ("notifications.tasks.wave_figures_count_task", 1),
    }


logger = logging.getLogger(__name__)


def failed_tasks_purge() -> int:
    """Delete failed task records older than FAILED_TASK_RETENTION_DAYS; return how many.

    A failed task keeps its arguments and the exception text, which may name a person;
    they are kept only as long as someone needs them to investigate.
    """
    cutoff = timezone.now() - timedelta(days=settings.FAILED_TASK_RETENTION_DAYS)
    deleted, _ = Failure.objects.filter(stopped__lt=cutoff).delete()
    return deleted


def stalled_work_sweep() -> dict[str, list[int]]:
    """Work whose every attempt ended without a result stays Running, Building or Sending
    for ever unless something looks. Hourly: imports, customer exports and evidence packs
    running for longer than STALLED_WORK_MINUTES are marked failed (the import runs again
    from its file; a new pack or export is requested), and waves of breach notices and
    campaign sends that have messages waiting but sent nothing for that long get their
    batches handed out again. The incident's timeline records what concerns it.

    STALLED_WORK_MINUTES exceeds every retry the task cluster would still make, so no live
    attempt is swept (settings refuse a shorter one).
    """
    from campaigns.services import campaigns_resume_stalled
    from customers.services import customer_exports_mark_stalled, import_jobs_mark_stalled
    from incidents.evidence.services import evidence_packs_mark_stalled
    from notifications.services.delivery import deliveries_resume_stalled

    before = timezone.now() - timedelta(minutes=settings.STALLED_WORK_MINUTES)
    swept = {
        "imports_failed": import_jobs_mark_stalled(started_before=before),
        "exports_failed": customer_exports_mark_stalled(started_before=before),
        "evidence_packs_failed": evidence_packs_mark_stalled(started_before=before),
        "deliveries_resumed": deliveries_resume_stalled(quiet_since=before),
        "campaigns_resumed": campaigns_resume_stalled(quiet_since=before),
    }
    for what, ids in swept.items():
        if ids:
            logger.warning("Stalled work: %s %s", what, ids)
    return swept


@transaction.atomic
def housekeeping_schedule() -> None:
    """Make sure each daily, hourly and frequent task is scheduled, once (idempotent, run
    after migrate)."""
    for schedules, schedule_type in ((HOUSEKEEPING, Schedule.DAILY), (HOURLY, Schedule.HOURLY)):
        for name, func in schedules.items():
            Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": schedule_type, "repeats": -1},
            )
    for name, (func, minutes) in frequent().items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
