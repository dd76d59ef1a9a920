"""A failed import runs again from its kept file; old files are deleted on a schedule."""

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from config import roles
from customers.models import Customer, ImportJob, ImportRejection
from customers.services import (
    import_files_purge,
    import_job_create,
    import_job_run,
)

pytestmark = pytest.mark.django_db

CSV = (
    b"Id,FirstName,LastName,Email\n"
    b"003A,Ada,Lovelace,ada@example.org\n"
    b"003B,Alan,Turing,not-an-email\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CUSTOMERS_IMPORT_FILE_RETENTION_DAYS = 30


def _job(*, status=ImportJob.Status.FAILED, ended_days_ago: int | None = 1, **kwargs) -> ImportJob:
    job = import_job_create(
        stream=io.BytesIO(CSV), file_name="contacts.csv", source="salesforce", **kwargs
    )
    finished = None if ended_days_ago is None else timezone.now() - timedelta(ended_days_ago)
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, finished_at=finished, error="Unexpected error, nothing was imported"
    )
    job.refresh_from_db()
    return job


@pytest.fixture
def operator(client, make_user):
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    return client


def _run_again(client, *jobs: ImportJob):
    return client.post(
        reverse("admin:customers_importjob_changelist"),
        {"action": "run_again", "_selected_action": [job.pk for job in jobs]},
        follow=True,
    )


def test_a_failed_import_runs_again_from_its_kept_file(
    operator, django_capture_on_commit_callbacks
):
    failed = _job()
    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        page = _run_again(operator, failed).content.decode()

    again = ImportJob.objects.exclude(pk=failed.pk).get()
    assert f"runs again as import {again.pk}" in page
    assert len(enqueued) == 1
    assert (again.status, again.file.name, again.source) == (
        ImportJob.Status.PENDING,
        failed.file.name,
        "salesforce",
    )
    # What the task cluster then does with it.
    import_job_run(job_id=again.pk)
    again.refresh_from_db()
    assert (again.status, again.created, again.rejected) == (ImportJob.Status.SUCCEEDED, 2, 0)
    assert Customer.objects.count() == 2
    # The failed run stays on record as it ended.
    failed.refresh_from_db()
    assert failed.status == ImportJob.Status.FAILED


def test_only_a_failed_or_cancelled_import_runs_again(operator):
    done = _job(status=ImportJob.Status.SUCCEEDED)
    page = _run_again(operator, done).content.decode()
    assert "only a failed or cancelled import runs again" in page
    assert ImportJob.objects.count() == 1


def test_files_are_deleted_after_the_retention_with_the_values_their_report_quotes(
    operator, django_capture_on_commit_callbacks
):
    old = _job(ended_days_ago=31)
    ImportRejection.objects.create(
        job=old, row=2, line=3, field="email", reason="not an email", value="not-an-email"
    )
    recent = _job(ended_days_ago=2)
    running = _job(status=ImportJob.Status.RUNNING, ended_days_ago=None)
    # An old preview whose file a confirmed import, still waiting, uses too.
    preview = _job(status=ImportJob.Status.SUCCEEDED, ended_days_ago=40, dry_run=True)
    ImportJob.objects.create(file=preview.file.name, file_name="contacts.csv", source="salesforce")
    old_file = old.file.name

    with django_capture_on_commit_callbacks(execute=True):
        assert import_files_purge() == 1

    old.refresh_from_db()
    assert old.file.name == "" and not default_storage.exists(old_file)
    assert ImportRejection.objects.get().value == ""
    assert ImportRejection.objects.get().reason == "not an email"
    for kept in (recent, running, preview):
        kept.refresh_from_db()
        assert kept.file and default_storage.exists(kept.file.name)
    page = operator.get(reverse("admin:customers_importjob_change", args=[old.pk]))
    assert "Not kept (files are deleted 30 days after their import ended)." in page.content.decode()
    page = operator.get(reverse("admin:customers_importjob_change", args=[recent.pk]))
    assert recent.finished_at is not None
    until = recent.finished_at + timedelta(days=30)
    assert f"Kept until {until:%Y-%m-%d} UTC, then deleted." in page.content.decode()
    assert "its file is no longer kept" in _run_again(operator, old).content.decode()
