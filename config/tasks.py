"""The project's own housekeeping tasks, and the registration of every app's schedules."""

import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Failure, Schedule

from config.housekeeping import Housekeeping

FAILED_TASKS_PURGE = "Purge failed tasks"
STALLED_WORK_SWEEP = "Mark stalled work failed, resume stalled sending"
# The project's own; each app declares the rest in its AppConfig.housekeeping.
HOUSEKEEPING = (
    Housekeeping(FAILED_TASKS_PURGE, "config.tasks.failed_tasks_purge", "daily"),
    Housekeeping(STALLED_WORK_SWEEP, "config.tasks.stalled_work_sweep", "hourly"),
)


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


def housekeeping_declared() -> list[Housekeeping]:
    """Every app's declared schedules, the project's own first."""
    declared = list(HOUSEKEEPING)
    for app_config in apps.get_app_configs():
        declared.extend(getattr(app_config, "housekeeping", ()))
    return declared


@transaction.atomic
def housekeeping_schedule() -> None:
    """Make sure each declared schedule exists, once, as declared (idempotent, run after
    migrate)."""
    kinds = {"daily": Schedule.DAILY, "hourly": Schedule.HOURLY}
    for job in housekeeping_declared():
        defaults: dict[str, object] = {"func": job.task, "repeats": -1}
        if job.minutes_setting or isinstance(job.every, int):
            minutes = getattr(settings, job.minutes_setting) if job.minutes_setting else job.every
            defaults.update(schedule_type=Schedule.MINUTES, minutes=minutes)
        else:
            defaults["schedule_type"] = kinds[job.every]
        Schedule.objects.update_or_create(name=job.name, defaults=defaults)
