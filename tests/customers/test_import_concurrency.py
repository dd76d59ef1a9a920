"""Two imports of overlapping files at the same time never create duplicates."""

import threading

import pytest
from django.db import connection

from customers.models import Customer, ImportJob, SourceRecord

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
