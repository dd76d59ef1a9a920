"""Background work for readiness: the daily snapshot and the recount of the customer
figures (every few minutes by schedule, and after imports, merges and bounces)."""

from datetime import UTC, datetime

from .models import CustomerFigures
from .services import customer_figures_refresh, readiness_snapshot_take


def readiness_snapshot_task() -> str:
    snapshot = readiness_snapshot_take()
    return f"readiness snapshot {snapshot.day:%Y-%m-%d}"


def customer_figures_refresh_task(changed_at_us: int | None = None) -> str:
    """Recount; with `changed_at_us` (the change's commit, in microseconds since the epoch)
    skip when a recount began after it: a burst of bounces queues many, one counts."""
    if changed_at_us is not None:
        changed_at = datetime.fromtimestamp(changed_at_us / 1_000_000, tz=UTC)
        if CustomerFigures.objects.filter(pk=1, computed_at__gte=changed_at).exists():
            return "readiness customer figures already counted after the change"
    figures = customer_figures_refresh()
    return f"readiness customer figures as of {figures.computed_at:%Y-%m-%d %H:%M}"
