"""A large admin upload runs in a real task cluster and reports its progress."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config import roles
from customers.models import Customer, ImportJob
from tests.conftest import wait_until

from .conftest import SAMPLES


@pytest.mark.slow
def test_large_upload_is_imported_by_the_task_cluster(task_cluster, client, make_user, settings):
    settings.CUSTOMERS_IMPORT_PREVIEW_MAX_KB = 1
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    upload = SimpleUploadedFile(
        "salesforce_contacts.csv", (SAMPLES / "salesforce_contacts.csv").read_bytes()
    )
    response = client.post(
        reverse("admin:customers_customer_import"), {"file": upload, "source": "salesforce"}
    )
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:customers_importjob_change", args=[job.pk])

    task_cluster.start(workers=1)
    wait_until(
        lambda: ImportJob.objects.get(pk=job.pk).is_finished,
        timeout=90,
        message="the task cluster did not finish the import",
    )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert (job.created, job.progress) == (30, 100)
    assert Customer.objects.count() == 30
    page = client.get(reverse("admin:customers_importjob_change", args=[job.pk]))
    assert b"30 created" in page.content and b'http-equiv="refresh"' not in page.content
