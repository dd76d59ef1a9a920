"""Background work for readiness: the daily snapshot and the frequent recount of the
customer figures (the housekeeping schedules run both)."""

from .services import customer_figures_refresh, readiness_snapshot_take


def readiness_snapshot_task() -> str:
    snapshot = readiness_snapshot_take()
    return f"readiness snapshot {snapshot.day:%Y-%m-%d}"


def customer_figures_refresh_task() -> str:
    figures = customer_figures_refresh()
    return f"readiness customer figures as of {figures.computed_at:%Y-%m-%d %H:%M}"
