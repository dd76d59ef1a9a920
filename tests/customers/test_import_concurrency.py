"""Two imports of overlapping files at the same time never create duplicates."""

import io
import threading
from typing import Any

import pytest
from django.db import connection

from customers.models import Customer, ImportJob, SourceRecord
from customers.services import import_job_create, import_job_run

from .conftest import run_import


def _file(source: str, ids: range) -> bytes:
    lines = ["Contact ID,First Name,Last Name,Email"]
    lines += [f"{source}-{i},Person,{i},person{i}@example.com" for i in ids]
    return "\r\n".join(lines).encode()


@pytest.mark.django_db(transaction=True)
def test_overlapping_imports_at_once_make_one_customer_per_person(settings):
    settings.CUSTOMERS_IMPORT_BATCH_ROWS = 50
    files = {"crm": _file("crm", range(0, 600)), "shop": _file("shop", range(300, 900))}
    start = threading.Barrier(len(files))
    jobs: dict[str, ImportJob] = {}
    errors: list[BaseException] = []

    def work(source: str) -> None:
        try:
            start.wait()
            jobs[source] = run_import(files[source], source=source)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(source,)) for source in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert {job.status for job in jobs.values()} == {ImportJob.Status.SUCCEEDED}, [
        job.error for job in jobs.values()
    ]
    assert Customer.objects.count() == 900
    assert SourceRecord.objects.count() == 1200
    assert sum(job.created for job in jobs.values()) == 900
    assert sum(job.merged for job in jobs.values()) == 300
    shared = Customer.objects.get(email_normalized="person450@example.com")
    assert set(shared.sources.values_list("source", flat=True)) == {"crm", "shop"}


class _CancelWhileReading:
    """A file that, once half read, has its job cancelled from another connection."""

    def __init__(self, data: bytes, job_id_holder: list[int]) -> None:
        self.stream = io.BytesIO(data)
        self.half = len(data) // 2
        self.job_id_holder = job_id_holder
        self.cancelled = False

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def read(self, *args):
        return self._after(self.stream.read(*args))

    def read1(self, *args):
        return self._after(self.stream.read1(*args))

    def _after(self, chunk: bytes) -> bytes:
        if not self.cancelled and self.job_id_holder and self.stream.tell() > self.half:
            self.cancelled = True
            # The reading runs in its own thread, so this is its own connection: the
            # request is committed while the import's transaction is still open.
            ImportJob.objects.filter(pk=self.job_id_holder[0]).update(
                status=ImportJob.Status.CANCEL_REQUESTED
            )
            connection.close()
        return chunk


@pytest.mark.django_db(transaction=True)
def test_cancel_during_a_run_imports_nothing(settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: a cancel waits until the import ends")
    settings.CUSTOMERS_IMPORT_BATCH_ROWS = 500
    data = _file("crm", range(0, 20000))
    holder: list[int] = []
    stream: Any = _CancelWhileReading(data, holder)
    job = import_job_create(stream=stream, file_name="big.csv", source="crm", keep_file=False)
    holder.append(job.pk)
    stream.seek(0)

    job = import_job_run(job_id=job.pk, stream=stream)

    assert stream.cancelled
    assert job.status == ImportJob.Status.CANCELLED
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.CANCELLED
    assert not Customer.objects.exists() and not SourceRecord.objects.exists()
