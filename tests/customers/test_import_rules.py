"""Row rules: matching, sticky consent and bounces, all-or-none, dry runs."""

import datetime
import io

import pytest
from django.utils import timezone

from customers.models import Customer, ImportJob, SourceRecord
from customers.services import import_job_cancel, import_job_create, import_job_run

from .conftest import run_import
from .factories import CustomerFactory, SegmentFactory, SourceRecordFactory

pytestmark = pytest.mark.django_db

HEADER = "Contact ID,First Name,Last Name,Email,Phone,Mailing Country,Email Opt Out\r\n"


def sf(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\r\n" for r in rows)).encode()


HUBSPOT_HEADER = "Record ID,First Name,Last Name,Email,Country/Region,Marketing contact status\n"


def hubspot(*rows: str) -> bytes:
    return (HUBSPOT_HEADER + "".join(r + "\n" for r in rows)).encode()


def test_match_by_source_and_external_id_comes_before_email():
    run_import(sf("A1,Ann,Old,ann@example.com,,DE,false"), source="salesforce")
    job = run_import(sf("A1,Ann,New,ann.new@example.com,,DE,false"), source="salesforce")

    assert job.updated == 1 and job.created == 0
    ann = Customer.objects.get()
    assert (ann.last_name, ann.email_normalized) == ("New", "ann.new@example.com")


def test_unknown_external_id_with_known_email_is_merged_not_duplicated():
    existing = CustomerFactory(email="ann@example.com")
    job = run_import(sf("A1,Ann,Lee, ANN@Example.com ,,DE,false"), source="salesforce")

    assert (job.created, job.merged) == (0, 1)
    assert Customer.objects.get() == existing
    assert SourceRecord.objects.get().customer == existing


def test_opt_out_is_never_undone_by_a_later_import():
    opted_out = hubspot("1,Ann,Lee,ann@example.com,Germany,Non-marketing contact")
    run_import(opted_out, source="hubspot")
    run_import(hubspot("1,Ann,Lee,ann@example.com,Germany,Marketing contact"), source="hubspot")
    run_import(sf("A1,Ann,Lee,ann@example.com,,DE,false"), source="salesforce")

    ann = Customer.objects.get()
    assert ann.marketing_consent == Customer.Consent.WITHDRAWN
    assert ann.consent_source == "hubspot"


def test_later_opt_out_withdraws_consent():
    run_import(hubspot("1,Ann,Lee,ann@example.com,Germany,Marketing contact"), source="hubspot")
    run_import(sf("A1,Ann,Lee,ann@example.com,,DE,true"), source="salesforce")

    ann = Customer.objects.get()
    assert ann.marketing_consent == Customer.Consent.WITHDRAWN
    assert ann.consent_source == "salesforce"


def test_bounce_is_never_undone_by_an_import_of_the_same_address():
    bounced = CustomerFactory.create(
        email="ann@example.com", email_status=Customer.EmailStatus.BOUNCED
    )
    run_import(sf("A1,Ann,Lee,ann@example.com,,DE,false"), source="salesforce")
    run_import(sf("A1,Ann,Lee2,ann@example.com,,DE,false"), source="salesforce")

    bounced.refresh_from_db()
    assert bounced.email_status == Customer.EmailStatus.BOUNCED
    assert bounced.last_name == "Lee2"


def test_empty_cells_do_not_erase_what_another_source_said():
    run_import(sf("A1,Ann,Lee,ann@example.com,+49 30 1234567,DE,false"), source="salesforce")
    run_import(hubspot("9,,,ann@example.com,,"), source="hubspot")

    ann = Customer.objects.get()
    assert (ann.first_name, ann.phone, ann.country) == ("Ann", "+49301234567", "DE")


def test_unknown_country_is_kept_and_flagged():
    run_import(sf("A1,Ann,Lee,ann@example.com,,Atlantis,false"), source="salesforce")
    ann = Customer.objects.get()
    assert (ann.country, ann.country_raw, ann.country_unknown) == ("", "Atlantis", True)


def test_row_without_id_but_with_email_is_kept():
    job = run_import(sf(",Ann,Lee,ann@example.com,,DE,false"), source="salesforce")
    assert (job.created, job.rejected) == (1, 0)
    assert SourceRecord.objects.get().external_id == "email:ann@example.com"


def test_one_email_under_two_ids_of_one_source_is_shared_and_joins_nobody(small_batches):
    # Until issue 19 these two rows made one customer: one source holding two records
    # for one address means the address is shared (a couple, an office), not one person.
    job = run_import(
        sf(
            "A1,Ann,Lee,ann@example.com,,DE,true",
            "A2,Bo,Lee,ANN@example.com,,DE,false",
        ),
        source="salesforce",
    )
    assert (job.created, job.merged, job.email_shared) == (2, 0, 2)
    assert sorted(Customer.objects.values_list("first_name", "email_status")) == [
        ("Ann", "shared"),
        ("Bo", "shared"),
    ]


def test_backslashes_tabs_and_line_breaks_in_values_arrive_as_written(small_batches):
    # On PostgreSQL the rows reach the staging table as COPY text, which gives "\\",
    # tab and line breaks meanings of their own.
    names = [("C:\\new\\table", "Lee\tTab"), ("Ann\r\nMarie", "O\\'Brien\\N"), ("\\.", "\\")]
    rows = [
        f'A{i},"{first}","{last}",p{i}@example.com,,DE,false'
        for i, (first, last) in enumerate(names)
    ]
    job = run_import(sf(*rows), source="salesforce")

    assert job.created == 3
    assert [(c.first_name, c.last_name) for c in Customer.objects.order_by("email")] == names


def test_repeated_line_counts_as_duplicate():
    job = run_import(
        sf("A1,Ann,Lee,ann@example.com,,DE,false", "A1,Ann,Lee,ann@example.com,,DE,false"),
        source="salesforce",
    )
    assert (job.created, job.duplicate) == (1, 1)


def test_a_file_failing_halfway_writes_nothing(settings):
    settings.CUSTOMERS_IMPORT_BATCH_ROWS = 100
    # Valid UTF-8 well past the part the encoding is guessed from, then a broken byte.
    good = sf(*[f"A{i},Ann,Lee,ann.lee.{i:06d}@example.com,,DE,false" for i in range(1500)])
    broken = good + "A99,Bad,Bytes,bad@example.com,,DE,false\r\n".encode("cp1252")
    broken += "A100,Zoë,Weiß,zoe@example.com,,DE,false\r\n".encode("cp1252")
    job = run_import(broken, source="salesforce")

    assert job.status == ImportJob.Status.FAILED
    assert "not valid utf-8 (line 1503)" in job.error.lower()
    assert "nothing was imported" in job.error.lower()
    assert not Customer.objects.exists() and not SourceRecord.objects.exists()


def test_rejected_rows_do_not_block_accepted_ones():
    job = run_import(
        sf(",No,Contact,,,DE,false", "A1,Ann,Lee,ann@example.com,,DE,false"), source="x"
    )
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created, job.rejected) == (1, 1)


def test_unreadable_consent_value_rejects_only_that_row():
    job = run_import(sf("A1,Ann,Lee,ann@example.com,,DE,maybe"), source="salesforce")
    rejection = job.rejections.get()
    assert (rejection.row, rejection.field, rejection.value) == (1, "email_opt_out", "maybe")


def test_dry_run_reports_counts_and_writes_nothing():
    job = run_import(
        sf(",No,Contact,,,DE,false", "A1,Ann,Lee,ann@example.com,,DE,false"),
        source="x",
        dry_run=True,
    )

    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created, job.rejected) == (1, 1)
    assert job.rejections.count() == 1
    assert not Customer.objects.exists()


def test_import_into_segment_adds_every_customer_once():
    segment = SegmentFactory.create()
    stream_rows = sf("A1,Ann,Lee,ann@example.com,,DE,false", "A2,Bo,Ek,bo@example.com,,SE,false")
    for _ in range(2):
        stream = io.BytesIO(stream_rows)
        job = import_job_create(
            stream=stream, file_name="x.csv", source="sf", segment=segment, keep_file=False
        )
        import_job_run(job_id=job.pk, stream=stream)
    assert segment.memberships.count() == 2


def test_email_taken_by_another_customer_is_not_moved():
    run_import(sf("A1,Ann,Lee,ann@example.com,,DE,false"), source="salesforce")
    other = CustomerFactory(email="bo@example.com")
    run_import(sf("A1,Ann,Lee,bo@example.com,,DE,false"), source="salesforce")

    ann = SourceRecord.objects.get(external_id="A1").customer
    assert ann.email_normalized == "ann@example.com"
    assert Customer.objects.filter(email_normalized="bo@example.com").get() == other


def test_running_a_job_twice_imports_once():
    stream = io.BytesIO(sf("A1,Ann,Lee,ann@example.com,,DE,false"))
    job = import_job_create(stream=stream, file_name="x.csv", source="sf", keep_file=False)
    import_job_run(job_id=job.pk, stream=stream)
    again = import_job_run(job_id=job.pk, stream=stream)

    assert again.created == 1
    assert ImportJob.objects.count() == 1 and Customer.objects.count() == 1


def test_cancelled_waiting_job_never_runs():
    stream = io.BytesIO(sf("A1,Ann,Lee,ann@example.com,,DE,false"))
    job = import_job_create(stream=stream, file_name="x.csv", source="sf", keep_file=False)
    assert import_job_cancel(job=job)
    job = import_job_run(job_id=job.pk, stream=stream)

    assert job.status == ImportJob.Status.CANCELLED
    assert not Customer.objects.exists()
    assert not import_job_cancel(job=job)


def test_existing_source_record_for_other_source_does_not_match():
    SourceRecordFactory(source="hubspot", external_id="A1")
    job = run_import(sf("A1,Ann,Lee,ann@example.com,,DE,false"), source="salesforce")
    assert job.created == 1


def test_job_left_running_by_a_dead_worker_runs_again():
    stream = io.BytesIO(sf("A1,Ann,Lee,ann@example.com,,DE,false"))
    job = import_job_create(stream=stream, file_name="x.csv", source="sf", keep_file=False)
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=long_ago)

    job = import_job_run(job_id=job.pk, stream=stream)

    assert job.status == ImportJob.Status.SUCCEEDED and job.created == 1


def test_job_running_now_is_not_run_twice():
    stream = io.BytesIO(sf("A1,Ann,Lee,ann@example.com,,DE,false"))
    job = import_job_create(stream=stream, file_name="x.csv", source="sf", keep_file=False)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )

    job = import_job_run(job_id=job.pk, stream=stream)

    assert job.status == ImportJob.Status.RUNNING
    assert not Customer.objects.exists()
