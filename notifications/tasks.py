"""Task-queue entry points: each takes ids and calls one service; safe to run twice."""

import time
from dataclasses import asdict

from django.conf import settings
from django_q.tasks import async_task

from incidents.selectors import scope_kept_incidents

from .models import RecoveryPlan
from .reach.unreached import unreached_figures_count
from .recovery.cohorts import recovery_figures_refresh
from .recovery.plans import recovery_plans_run
from .services.delivery import delivery_send_batch
from .services.letters import letter_batch_build
from .services.provider_events import delivery_events_apply
from .services.wave_figures import wave_figures_count, wave_figures_waves_to_count

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

    A full batch means a backlog: the next one follows at once. After a part batch the
    task waits that second too, so that events trickling in are applied a second's worth
    at a time rather than a few at a time back to back: each batch has fixed costs (and a
    timeline entry per wave) that would otherwise load the database the webhook requests
    write to.
    """
    from .webhooks import APPLY_ENQUEUE_INTERVAL

    started = time.monotonic()
    total = 0
    looked_again = False
    while time.monotonic() - started < APPLY_TASK_SECONDS:
        applied = delivery_events_apply()
        total += applied
        if applied >= settings.DELIVERY_EVENTS_BATCH_SIZE:
            looked_again = False
            continue
        if applied:
            looked_again = False
        elif looked_again:
            return total
        else:
            looked_again = True
        time.sleep(APPLY_ENQUEUE_INTERVAL + 0.5)
    async_task("notifications.tasks.delivery_events_apply_task")
    return total


def wave_figures_count_task() -> int:
    """Count every wave that may still change again, and the unreached of every large
    scope of an open incident (a schedule, every minute); small ones are counted by the
    pages themselves."""
    kept = 0
    for communication_id in wave_figures_waves_to_count():
        kept += wave_figures_count(communication_id=communication_id) is not None
    for incident_id in scope_kept_incidents():
        unreached_figures_count(incident_id=incident_id)
    return kept


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
