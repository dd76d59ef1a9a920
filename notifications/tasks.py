"""Task-queue entry points: each takes ids and calls one service; safe to run twice."""

import time
from dataclasses import asdict

from django_q.tasks import async_task

from .services.delivery import delivery_send_batch
from .services.letters import letter_batch_build

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
