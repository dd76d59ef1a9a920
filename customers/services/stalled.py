"""Background work on the customer record that stopped without saying so."""

import datetime

from django.db import transaction
from django.utils import timezone

from customers.models import CustomerExport, ImportJob


def _stalled_note(started_at: datetime.datetime | None) -> str:
    since = started_at.isoformat(timespec="minutes") if started_at else "an unknown time"
    return (
        f"Stalled: running since {since} with no result; every attempt of the task cluster "
        "ended without one."
    )


@transaction.atomic
def import_jobs_mark_stalled(*, started_before: datetime.datetime) -> list[int]:
    """Mark imports still running since before `started_before` as failed, and return them.

    An import commits all its rows or none, so a stalled one imported nothing: as failed,
    it runs again from its stored file (*Run the selected failed imports again*). Every
    live attempt restarted its clock (`import_job_run` claims with `started_at=now`), so
    one older than the threshold has no worker left.
    """
    stalled = list(
        ImportJob.objects.select_for_update(skip_locked=True)
        .filter(status=ImportJob.Status.RUNNING, started_at__lt=started_before)
        .values_list("pk", "started_at")
    )
    for pk, started_at in stalled:
        ImportJob.objects.filter(pk=pk, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.FAILED,
            error=_stalled_note(started_at),
            finished_at=timezone.now(),
        )
    return [pk for pk, _started in stalled]


@transaction.atomic
def customer_exports_mark_stalled(*, started_before: datetime.datetime) -> list[int]:
    """Mark exports still running since before `started_before` as failed (no file is
    handed out); the person who asked requests a new one."""
    stalled = list(
        CustomerExport.objects.select_for_update(skip_locked=True)
        .filter(status=CustomerExport.Status.RUNNING, started_at__lt=started_before)
        .values_list("pk", "started_at")
    )
    for pk, started_at in stalled:
        CustomerExport.objects.filter(pk=pk, status=CustomerExport.Status.RUNNING).update(
            status=CustomerExport.Status.FAILED,
            error=_stalled_note(started_at) + " Request a new export.",
            finished_at=timezone.now(),
        )
    return [pk for pk, _started in stalled]
