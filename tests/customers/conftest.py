import io
import json
from pathlib import Path

import pytest

from customers.models import ImportJob, ImportMapping
from customers.services import import_job_create, import_job_run

# The samples travel with the tests, so a fresh clone needs nothing beside it.
SAMPLES = Path(__file__).resolve().parent / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))
SHOP_MAPPING = json.loads((SAMPLES / "shop_kunden.mapping.json").read_text(encoding="utf-8"))


def run_import(
    data: bytes | Path,
    *,
    source: str,
    name: str = "contacts.csv",
    layout: str = "",
    mapping_columns: dict[str, str] | None = None,
    mapping: ImportMapping | None = None,
    dry_run: bool = False,
) -> ImportJob:
    """Import through the same services the command and the admin use."""
    if isinstance(data, Path):
        name, data = data.name, data.read_bytes()
    stream = io.BytesIO(data)
    job = import_job_create(
        stream=stream,
        file_name=name,
        source=source,
        layout=layout,
        mapping=mapping,
        mapping_columns=mapping_columns,
        dry_run=dry_run,
        keep_file=False,
    )
    return import_job_run(job_id=job.pk, stream=stream)


def import_sample(name: str, **kwargs) -> ImportJob:
    source = TRUTH["files"][name]["source"]
    if name == "shop_kunden.csv":
        kwargs.setdefault("mapping_columns", SHOP_MAPPING)
    return run_import(SAMPLES / name, source=source, **kwargs)


@pytest.fixture
def small_batches(settings):
    """Several staging batches even for small files, so batch boundaries are exercised."""
    settings.CUSTOMERS_IMPORT_BATCH_ROWS = 4
