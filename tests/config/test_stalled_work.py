"""Work whose every attempt failed does not stay Running, Building or Sending for ever."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_q.models import Schedule

from config.tasks import stalled_work_sweep
from customers.models import CustomerExport, ImportJob
from customers.services import import_job_retry
from incidents.models import EvidencePack, TimelineEvent
from incidents.selectors import timeline_verify
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def hours_ago(n: float):
    return timezone.now() - timedelta(hours=n)


def an_import(started_at) -> ImportJob:
    job = ImportJob.objects.create(
        file_name="contacts.csv",
        file_sha256="0" * 64,
        source="salesforce",
        status=ImportJob.Status.RUNNING,
        started_at=started_at,
    )
    job.file.save("contacts.csv", ContentFile(b"Email\nann@example.org\n"))
    return job


def test_an_import_running_past_every_attempt_is_failed_and_can_run_again():
    stalled, live = an_import(hours_ago(3)), an_import(hours_ago(0.1))

    swept = stalled_work_sweep()

    stalled.refresh_from_db()
    live.refresh_from_db()
    assert swept["imports_failed"] == [stalled.pk]
    assert stalled.status == ImportJob.Status.FAILED and stalled.error.startswith("Stalled")
    assert live.status == ImportJob.Status.RUNNING
    again = import_job_retry(job_id=stalled.pk)
    assert again.pk != stalled.pk and again.status == ImportJob.Status.PENDING


def test_an_export_running_past_every_attempt_is_failed():
    stalled = CustomerExport.objects.create(
        fields=["email"], status=CustomerExport.Status.RUNNING, started_at=hours_ago(2)
    )

    stalled_work_sweep()

    stalled.refresh_from_db()
    assert stalled.status == CustomerExport.Status.FAILED and "Request a new export" in (
        stalled.error
    )


def test_a_stalled_evidence_pack_is_failed_on_its_incidents_timeline():
    incident = IncidentFactory.create()
    pack = EvidencePack.objects.create(
        incident=incident, status=EvidencePack.Status.BUILDING, started_at=hours_ago(2)
    )
    building = EvidencePack.objects.create(
        incident=incident, status=EvidencePack.Status.BUILDING, started_at=hours_ago(0.05)
    )

    stalled_work_sweep()
    stalled_work_sweep()  # the next hour finds nothing more to say

    pack.refresh_from_db()
    building.refresh_from_db()
    assert (pack.status, pack.stage) == (EvidencePack.Status.FAILED, "Stalled")
    assert building.status == EvidencePack.Status.BUILDING
    events = TimelineEvent.objects.filter(incident=incident, kind="evidence.stalled")
    assert [e.payload["pack"] for e in events] == [pack.pk]
    assert timeline_verify(incident_id=incident.pk).ok


def test_the_sweep_runs_every_hour():
    schedule = Schedule.objects.get(func="config.tasks.stalled_work_sweep")
    assert schedule.schedule_type == Schedule.HOURLY


def test_a_threshold_within_the_clusters_own_retries_is_refused():
    from tests.config.test_settings import run_manage

    result = run_manage("check", DEBUG="true", STALLED_WORK_MINUTES="30")

    assert result.returncode != 0
    assert "STALLED_WORK_MINUTES must exceed" in result.stderr


def test_stalled_work_waits_on_the_dashboard_until_it_runs_again(make_user):
    from config import roles
    from config.dashboard import dashboard_waiting

    job = an_import(hours_ago(3))
    incident = IncidentFactory.create(title="Shop breach")
    EvidencePack.objects.create(
        incident=incident, status=EvidencePack.Status.BUILDING, started_at=hours_ago(2)
    )
    stalled_work_sweep()
    operator = make_user("mo", roles.MARKETING_OPERATOR)
    ciso = make_user("ciso", roles.CISO)

    def stalled(user) -> list[str]:
        return [w.label for w in dashboard_waiting(user=user) if w.what.startswith("Stalled")]

    assert stalled(operator) == [
        "contacts.csv from salesforce stalled and imported nothing: run it again"
    ]
    assert stalled(ciso) == ["Shop breach: the pack stalled; request a new one"]
    assert stalled(make_user("legal", roles.LEGAL_REVIEWER)) == []

    import_job_retry(job_id=job.pk)
    EvidencePack.objects.create(incident=incident)
    assert stalled(operator) == [] and stalled(ciso) == []
