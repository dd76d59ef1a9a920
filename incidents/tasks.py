"""Tasks of the incidents app itself (the evidence pack's are in `incidents.evidence.tasks`):
each takes ids and calls one service; safe to run twice."""

from incidents.models import Incident, ScopeFigures
from incidents.services.checkpoints import timeline_checkpoint_write

from .services.scope_figures import scope_figures_count


def timeline_checkpoint_task() -> int:
    """Hourly: write each timeline head that moved to the checkpoint file, outside the
    database. Safe to run twice (an unmoved head is not written again) and on several
    machines at once (each appends its own lines)."""
    return timeline_checkpoint_write()


def scope_figures_count_task(incident_id: int) -> int | None:
    figures = scope_figures_count(incident_id=incident_id)
    return figures.total if figures else None


def scope_figures_recount_task() -> int:
    """Count every kept scope of an open incident again (a schedule: imports move people)."""
    kept = ScopeFigures.objects.exclude(incident__status=Incident.Status.CLOSED)
    incident_ids = list(kept.values_list("incident_id", flat=True))
    for incident_id in incident_ids:
        scope_figures_count(incident_id=incident_id)
    return len(incident_ids)
