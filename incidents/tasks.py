"""Tasks of the incidents app itself (the evidence pack's are in `incidents.evidence.tasks`)."""

from incidents.services.checkpoints import timeline_checkpoint_write


def timeline_checkpoint_task() -> int:
    """Hourly: write each timeline head that moved to the checkpoint file, outside the
    database. Safe to run twice (an unmoved head is not written again) and on several
    machines at once (each appends its own lines)."""
    return timeline_checkpoint_write()
