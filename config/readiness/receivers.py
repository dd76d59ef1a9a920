"""Readiness hears that many customers changed and has the task cluster recount."""

from typing import Any

from django.db import transaction
from django.utils import timezone


def customer_figures_recount_on_change(sender: Any, reason: str = "", **kwargs: Any) -> None:
    """Runs inside the change's transaction: the recount is queued only once it commits,
    stamped with that moment, so a recount that began later (and so saw it) makes this
    one unnecessary (see customer_figures_refresh_task)."""

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task(
            "config.readiness.tasks.customer_figures_refresh_task",
            int(timezone.now().timestamp() * 1_000_000),
            group="readiness-recount",
        )

    transaction.on_commit(enqueue)
