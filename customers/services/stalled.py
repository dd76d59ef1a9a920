"""Background work on the customer record that stopped without saying so."""

import datetime

from django.db import models, transaction
from django.utils import timezone

from customers.models import CustomerExport, ImportJob


def _mark_stalled(
    model: type[ImportJob] | type[CustomerExport],
    *,
    running: str,
    failed: str,
    started_before: datetime.datetime,
    advice: str,
) -> list[int]:
    """Fail each row of `model` still `running` since before `started_before`, saying so.

    Every live attempt restarted its clock (the runs claim with `started_at=now`), so one
    older than the threshold has no worker left; rows another sweep holds are skipped.
    """
    manager: models.Manager = model._default_manager
    stalled = list(
        manager.select_for_update(skip_locked=True)
        .filter(status=running, started_at__lt=started_before)
        .values_list("pk", "started_at")
    )
    for pk, started_at in stalled:
        manager.filter(pk=pk, status=running).update(
            status=failed,
            error=(
                f"Stalled: running since {started_at:%Y-%m-%d %H:%M} UTC with no result; "
                f"every attempt of the task cluster ended without one. {advice}"
            ),
            finished_at=timezone.now(),
        )
    return [pk for pk, _started in stalled]


@transaction.atomic
def import_jobs_mark_stalled(*, started_before: datetime.datetime) -> list[int]:
    """Mark imports still running since before `started_before` as failed; return them.

    An import commits all its rows or none, so a stalled one imported nothing: as failed,
    it runs again from its stored file (*Run the selected failed imports again*).
    """
    return _mark_stalled(
        ImportJob,
        running=ImportJob.Status.RUNNING,
        failed=ImportJob.Status.FAILED,
        started_before=started_before,
        advice="Nothing was imported; run it again.",
    )


@transaction.atomic
def customer_exports_mark_stalled(*, started_before: datetime.datetime) -> list[int]:
    """Mark exports still running since before `started_before` as failed (no file is
    handed out); the person who asked requests a new one."""
    return _mark_stalled(
        CustomerExport,
        running=CustomerExport.Status.RUNNING,
        failed=CustomerExport.Status.FAILED,
        started_before=started_before,
        advice="Request a new export.",
    )
