"""Tasks carry ids, never personal data: a canary customer goes through the import, a
background export, a campaign send, a breach notice and an evidence pack, queued and run,
and the task tables hold none of its contact data."""

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from campaigns.services import campaign_schedule, campaign_start
from customers.models import Customer, CustomerExport, ImportJob, SourceRecord
from customers.services import customer_export_request, import_job_create, import_job_enqueue
from tests.campaigns.factories import CampaignFactory, segment_with

from .canary import HEADER, Canary, canary_seed

pytestmark = pytest.mark.django_db


def task_rows() -> list[tuple[str, str, Any, Any, Any]]:
    """(table, function, args, kwargs, result) of every task queued, run or scheduled."""
    rows: list[tuple[str, str, Any, Any, Any]] = []
    for queued in OrmQ.objects.all():
        task = SignedPackage.loads(queued.payload)
        rows.append(("OrmQ", task["func"], task["args"], task["kwargs"], None))
    for done in Task.objects.all():
        rows.append(("Task", done.func, done.args, done.kwargs, done.result))
    for scheduled in Schedule.objects.all():
        rows.append(("Schedule", scheduled.func, scheduled.args, scheduled.kwargs, None))
    return rows


def ids_only(args: Any, kwargs: Any) -> bool:
    if isinstance(args, str):  # a Schedule keeps its arguments as the text of a tuple
        args = args.strip("()").split(",") if args else []
        return all(a.strip().isdigit() for a in args if a.strip()) and kwargs in ("", "{}", None)
    values = [*(args or ()), *(kwargs or {}).values()]
    return all(isinstance(v, int) or v is None for v in values)


def _import_export_and_campaign(canary: Canary, exporter: Any) -> None:
    # The canary's own CRM id: the same email under a second id of one source would mark
    # it shared (a placeholder-like inbox) and nobody would mail it.
    external_id = SourceRecord.objects.get(
        customer=canary.customer, source="salesforce"
    ).external_id
    content = (
        HEADER + f"{external_id},Cora,Finch,{canary.email},+44 7700 900 417,x,y,,z,GB,false,,\n"
    )
    job = import_job_create(
        stream=io.BytesIO(content.encode()), file_name="again.csv", source="salesforce"
    )
    import_job_enqueue(job=job)
    customer_export_request(user=exporter, fields=["id", "email", "phone", "street"])
    Customer.objects.filter(pk=canary.customer.pk).update(
        marketing_consent=Customer.Consent.GRANTED
    )
    campaign = CampaignFactory.create(segments=[segment_with([canary.customer])])
    campaign_start(campaign_id=campaign.pk, actor=None)
    later = CampaignFactory.create(
        segments=[segment_with([canary.customer])],
        scheduled_at=datetime.now(UTC) + timedelta(days=1),
    )
    campaign_schedule(campaign_id=later.pk, actor=None)


def test_queued_run_and_scheduled_tasks_carry_ids_and_no_contact_data(
    django_capture_on_commit_callbacks, monkeypatch, mailoutbox, make_user, settings, tmp_path
):
    from config import roles

    settings.MEDIA_ROOT = tmp_path
    canary = canary_seed()
    # Holds view_pii: the export's file has the canary in full, its task must not.
    exporter = make_user("mo", roles.MARKETING_OPERATOR)
    with django_capture_on_commit_callbacks(execute=True):
        _import_export_and_campaign(canary, exporter)
    queued = {row[1] for row in task_rows() if row[0] == "OrmQ"}
    assert {
        "customers.tasks.import_job_run_task",
        "customers.tasks.customer_export_build_task",
        "campaigns.tasks.campaign_send_batch_task",
    } <= queued
    # The same paths once more with the tasks run on the spot, so their records are kept.
    monkeypatch.setattr(Conf, "SYNC", True)
    with django_capture_on_commit_callbacks(execute=True):
        _import_export_and_campaign(canary, exporter)
    assert ImportJob.objects.filter(file_name="again.csv", status="succeeded").exists()
    assert CustomerExport.objects.filter(status=CustomerExport.Status.READY).count() == 1
    assert canary.email in [m.to[0] for m in mailoutbox]

    rows = task_rows()
    assert {row[0] for row in rows} == {"OrmQ", "Task", "Schedule"}
    for table, func, args, kwargs, result in rows:
        assert ids_only(args, kwargs), (table, func, args, kwargs)
        assert canary.leaks(repr((args, kwargs, result))) == [], (table, func)


def test_breach_notice_and_evidence_tasks_carry_ids_and_no_contact_data(
    django_capture_on_commit_callbacks, monkeypatch, mailoutbox, make_user
):
    from config import roles
    from incidents.evidence.services import evidence_pack_request
    from incidents.models import AffectedCustomer
    from notifications.services.delivery import communication_send
    from tests.notifications.delivery_helpers import signed_off_by_new_people
    from tests.notifications.factories import IncidentFactory, approved

    canary = canary_seed()
    Customer.objects.filter(pk=canary.customer.pk).update(language="en")
    incident = IncidentFactory.create()
    AffectedCustomer.objects.create(
        incident=incident,
        customer=canary.customer,
        data_categories=["credentials"],
        found_by="segment",
    )
    ciso = make_user("sven", roles.CISO)
    communication = signed_off_by_new_people(
        incident, [approved(incident, "en", ["credentials"])], make_user, ciso=ciso
    )
    with django_capture_on_commit_callbacks(execute=True):
        communication_send(communication_id=communication.pk, actor=ciso)
        evidence_pack_request(incident_id=incident.pk, actor=ciso)
    queued = {row[1] for row in task_rows() if row[0] == "OrmQ"}
    assert any(func.startswith("notifications.") for func in queued), queued
    assert any(func.startswith("incidents.") for func in queued), queued
    # Run them on the spot too, so the finished task records are checked as well.
    monkeypatch.setattr(Conf, "SYNC", True)
    for queued_task in OrmQ.objects.all():
        task = SignedPackage.loads(queued_task.payload)
        with django_capture_on_commit_callbacks(execute=True):
            async_task(task["func"], *task["args"], **task["kwargs"])
    assert canary.email in [m.to[0] for m in mailoutbox]
    for table, func, args, kwargs, result in task_rows():
        assert ids_only(args, kwargs), (table, func, args, kwargs)
        assert canary.leaks(repr((args, kwargs, result))) == [], (table, func)
