"""Task-queue entry points: each takes ids and calls one service; safe to run twice."""

import time
from dataclasses import asdict

from django_q.tasks import async_task

from .models import RecoveryPlan
from .recovery.cohorts import recovery_figures_refresh
from .recovery.plans import recovery_plans_run
from .services.delivery import delivery_send_batch
from .services.letters import letter_batch_build
from .services.provider_events import delivery_events_apply

# How long one apply task goes on before it hands over to a fresh one.
APPLY_TASK_SECONDS = 60.0

# A chain never holds a worker longer than this while it waits for a lease or the rate
# limit; it hands itself back to the queue instead.
MAX_WAIT_SECONDS = 5.0


def delivery_send_batch_task(delivery_id: int) -> dict[str, int | float | bool]:
    """Send one batch, then hand the next batch of this chain to the queue."""
    result = delivery_send_batch(delivery_id=delivery_id)
    if result.more:
        if result.wait:
            time.sleep(min(result.wait, MAX_WAIT_SECONDS))
        async_task("notifications.tasks.delivery_send_batch_task", delivery_id)
    return asdict(result)


def letter_batch_build_task(batch_id: int) -> None:
    letter_batch_build(batch_id=batch_id)


def delivery_events_apply_task() -> int:
    """Apply stored provider events in batches until none is left (several may run).

    Webhook requests ask for this task at most once a second per process; so that an
    event stored just after a request was told "one is on its way" does not wait for the
    next request, the task looks once more after that second before it stops.
    """
    from .webhooks import APPLY_ENQUEUE_INTERVAL

    started = time.monotonic()
    total = 0
    looked_again = False
    while time.monotonic() - started < APPLY_TASK_SECONDS:
        applied = delivery_events_apply()
        total += applied
        if applied:
            looked_again = False
            continue
        if looked_again:
            return total
        time.sleep(APPLY_ENQUEUE_INTERVAL + 0.5)
        looked_again = True
    async_task("notifications.tasks.delivery_events_apply_task")
    return total


def recovery_plans_run_task() -> int:
    """Start the recovery steps that are due (hourly; two runs at once start each once),
    then bring the figures of every plan not stopped up to date."""
    started = recovery_plans_run()
    for incident_id in (
        RecoveryPlan.objects.exclude(status=RecoveryPlan.Status.STOPPED)
        .filter(incident__people_notified_at__isnull=False)
        .values_list("incident_id", flat=True)
    ):
        recovery_figures_refresh(incident_id=incident_id)
    return started


def recovery_figures_refresh_task(incident_id: int) -> None:
    recovery_figures_refresh(incident_id=incident_id)
