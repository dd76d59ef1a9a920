"""Background work for readiness: the daily snapshot (the housekeeping schedule runs it)."""

from .services import readiness_snapshot_take


def readiness_snapshot_task() -> str:
    snapshot = readiness_snapshot_take()
    return f"readiness snapshot {snapshot.day:%Y-%m-%d}"
