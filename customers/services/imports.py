"""Imports into the customer record (all three doors: admin upload, command, task)."""

import datetime
import hashlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from queue import Empty, Full, Queue
from typing import IO, Any, TypeVar

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from config.services import enqueue_on_commit

from ..imports import ImportFileError
from ..imports.layouts import placement_for
from ..imports.merge import Batch, Merger, StageRow
from ..imports.normalize import Placeholders, RowRejected, row_normalize
from ..imports.readers import Row, table_open
from ..models import ImportJob, ImportMapping, ImportRejection, PlaceholderEmail, Segment
from ..pii import mask_text
from ..signals import customers_changed

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# Rejections kept per job in the error report; the count stays exact beyond it.
MAX_REJECTIONS_KEPT = 100_000


class ImportCancelled(Exception):
    pass


class _DryRunDone(Exception):
    """Raised inside the job's transaction so that a dry run writes nothing."""


def _sha256(stream: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def import_job_create(
    *,
    stream: IO[bytes],
    file_name: str,
    source: str,
    layout: str = "",
    mapping: ImportMapping | None = None,
    mapping_columns: Mapping[str, str] | None = None,
    segment: Segment | None = None,
    dry_run: bool = False,
    created_by: Any = None,
    keep_file: bool = True,
) -> ImportJob:
    """Record an import of `stream`; with keep_file the file is stored for a background run."""
    source = source.strip()
    if not source:
        raise ImportFileError("Name the source system the file comes from.")
    if layout and (mapping is not None or mapping_columns is not None):
        raise ImportFileError("Give a layout or a column mapping, not both.")
    sha256, size = _sha256(stream)
    job = ImportJob(
        created_by=created_by,
        file_name=file_name[:255],
        file_sha256=sha256,
        file_size=size,
        source=source[:64],
        layout=layout,
        mapping=mapping,
        mapping_columns=dict(mapping.columns if mapping is not None else mapping_columns or {})
        or None,
        segment=segment,
        dry_run=dry_run,
    )
    if keep_file:
        job.file.save(file_name, File(stream), save=False)
    job.save()
    return job


@transaction.atomic
def import_job_cancel(*, job: ImportJob) -> bool:
    """Ask a waiting or running job to stop; it then commits nothing."""
    if ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.CANCELLED, finished_at=timezone.now()
    ):
        return True
    return bool(
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.CANCEL_REQUESTED
        )
    )


class _SideChannel:
    """A second connection for progress and cancel checks, seen while the import's own
    transaction is still open. SQLite has one writer, so there it only reads."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        self.writes = connection.vendor == "postgresql"

    def report(self, *, progress: int, rows_read: int) -> None:
        with self.connection.cursor() as cursor:
            if self.writes:
                cursor.execute(
                    "UPDATE customers_importjob SET progress = %s, rows_read = %s "
                    "WHERE id = %s AND status = %s",
                    [progress, rows_read, self.job_id, ImportJob.Status.RUNNING],
                )
            cursor.execute("SELECT status FROM customers_importjob WHERE id = %s", [self.job_id])
            found = cursor.fetchone()
        if found and found[0] == ImportJob.Status.CANCEL_REQUESTED:
            raise ImportCancelled

    def close(self) -> None:
        self.connection.close()


def _batches(
    job: ImportJob,
    rows: Iterable[Row],
    indexes: list[tuple[str, int]],
    batch_rows: int,
    placeholders: Placeholders,
    prepare: Callable[[list[StageRow]], Batch | None],
) -> Iterator[tuple[Batch | None, list[ImportRejection], int]]:
    """Normalise rows into batches ready for the staging table, with the rows rejected on
    the way."""
    batch: list[StageRow] = []
    rejections: list[ImportRejection] = []
    row_no = 0
    for row_no, line, values in rows:
        width = len(values)
        raw = {f: values[i] if i < width else "" for f, i in indexes}
        try:
            row = row_normalize(raw, placeholders=placeholders)
        except RowRejected as rejected:
            rejections.append(
                ImportRejection(
                    job=job,
                    row=row_no,
                    line=line,
                    field=rejected.field,
                    reason=rejected.reason,
                    value=rejected.value[:255],
                )
            )
            continue
        batch.append((row_no, line, *row))
        if len(batch) >= batch_rows:
            yield prepare(batch), rejections, row_no
            batch, rejections = [], []
    yield prepare(batch), rejections, row_no


def _prefetched(batches: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """Produce the next batches in a thread while the database merges the current one.

    Normalising is Python work and merging is database work, so on two cores they
    overlap; psycopg releases the GIL while it waits for the server.
    """
    queue: Queue[tuple[bool, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        queue.put((True, item), timeout=0.5)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((False, None))
        except BaseException as exc:
            queue.put((False, exc))

    thread = threading.Thread(target=produce, name="import-normalise", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = queue.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with suppress(Empty):
                queue.get(timeout=0.1)
        thread.join()


def _import_rows(job: ImportJob, stream: IO[bytes]) -> None:
    """Read, normalise and merge every row of `stream` in one transaction."""
    rejections: list[ImportRejection] = []
    with table_open(stream, name=job.file_name) as table:
        # The layout is settled from the header before any row is read or written.
        placement = placement_for(table.headers, layout=job.layout, mapping=job.mapping_columns)
        if not job.layout and not job.mapping_columns:
            job.layout = placement.layout
        # Read once per job, here: the batches are made in another thread, on another
        # connection. The list an admin edits applies from the next import on.
        placeholders = Placeholders(PlaceholderEmail.objects.values_list("pattern", flat=True))
        side = _SideChannel(job.pk)
        try:
            with transaction.atomic():
                merger = Merger(source=job.source, segment_id=job.segment_id, now=timezone.now())
                merger.start()
                batches = _batches(
                    job,
                    table.rows,
                    list(placement.indexes.items()),
                    settings.CUSTOMERS_IMPORT_BATCH_ROWS,
                    placeholders,
                    merger.prepare,
                )
                for batch, rejected, rows_read in _prefetched(batches):
                    merger.merge(batch)
                    job.rejected += len(rejected)
                    rejections.extend(rejected[: MAX_REJECTIONS_KEPT - len(rejections)])
                    job.rows_read = rows_read
                    side.report(progress=table.progress(), rows_read=rows_read)
                merger.finish()
                if job.rows_read == 0:
                    raise ImportFileError("The file has a header but no data rows.")
                for name, count in merger.counts.items():
                    setattr(job, name, count)
                if job.dry_run:
                    raise _DryRunDone
                ImportRejection.objects.bulk_create(rejections, batch_size=5000)
                _job_finish(job, ImportJob.Status.SUCCEEDED)
                customers_changed.send(sender=ImportJob, reason="import")
        except _DryRunDone:
            # Everything above rolled back; the preview keeps its counts and error report.
            with transaction.atomic():
                ImportRejection.objects.bulk_create(rejections, batch_size=5000)
                _job_finish(job, ImportJob.Status.SUCCEEDED)
        finally:
            side.close()


_COUNT_FIELDS = (
    "rows_read",
    "created",
    "updated",
    "unchanged",
    "merged",
    "duplicate",
    "rejected",
    "email_malformed",
    "email_placeholder",
    "email_shared",
)


def _job_finish(job: ImportJob, status: str, error: str = "") -> None:
    """Move a running job to its end state; a cancel that came first wins."""
    job.finished_at = timezone.now()
    fields = {name: getattr(job, name) for name in _COUNT_FIELDS}
    finished = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=status,
        progress=100,
        error=error,
        finished_at=job.finished_at,
        layout=job.layout,
        **fields,
    )
    if not finished:
        raise ImportCancelled
    job.status, job.error, job.progress = status, error, 100


@contextmanager
def _job_stream(job: ImportJob, stream: IO[bytes] | None) -> Iterator[IO[bytes]]:
    if stream is not None:
        yield stream
        return
    if not job.file:
        raise ImportFileError("The job has no stored file to import.")
    # A local copy: storages that are not files on disk cannot seek cheaply.
    with job.file.open("rb") as stored, tempfile.TemporaryFile() as local:
        shutil.copyfileobj(stored, local, 1024 * 1024)
        local.seek(0)
        yield local


def import_job_run(*, job_id: int, stream: IO[bytes] | None = None) -> ImportJob:
    """Run a waiting job: all accepted rows commit with the job's counts, or nothing does.

    Safe to call twice: only a job still waiting is claimed. A job that fails or is
    cancelled leaves the customer record exactly as it was and says why.
    """
    now = timezone.now()
    # A job still "running" long after the task queue would have killed its worker died
    # with it (its transaction rolled back, so nothing of it was written): run it again.
    stale = now - datetime.timedelta(seconds=settings.Q_CLUSTER["retry"])
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ImportJob.Status.PENDING)
            | Q(status=ImportJob.Status.RUNNING, started_at__lt=stale)
        )
        .update(status=ImportJob.Status.RUNNING, started_at=now, progress=0)
    )
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    try:
        with _job_stream(job, stream) as opened:
            _import_rows(job, opened)
    except ImportFileError as exc:
        _job_fail(job, ImportJob.Status.FAILED, str(exc))
    except ImportCancelled:
        _job_fail(job, ImportJob.Status.CANCELLED, "Cancelled; nothing was imported.")
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        # The database's message may quote a row (an email in a duplicate key): masked,
        # since auditors without view_pii read the job.
        _job_fail(
            job,
            ImportJob.Status.FAILED,
            mask_text(f"Unexpected error, nothing was imported: {exc}"),
        )
    return job


def _job_fail(job: ImportJob, status: str, error: str) -> None:
    job.finished_at = timezone.now()
    ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportJob.Status.RUNNING, ImportJob.Status.CANCEL_REQUESTED]
    ).update(status=status, error=error, finished_at=job.finished_at, progress=0)
    job.status, job.error = status, error


def import_job_enqueue(*, job: ImportJob) -> None:
    """Run the job in the task cluster once the transaction that created it has committed."""
    enqueue_on_commit("customers.tasks.import_job_run_task", job.pk, group="customer-import")


def _job_again(job: ImportJob, *, created_by: Any, dry_run: bool) -> ImportJob:
    """A new job on the stored file of `job`, with its source, layout or mapping, segment."""
    return ImportJob.objects.create(
        created_by=created_by,
        file=job.file.name,
        file_name=job.file_name,
        file_sha256=job.file_sha256,
        file_size=job.file_size,
        source=job.source,
        layout=job.layout,
        mapping=job.mapping,
        mapping_columns=job.mapping_columns,
        segment=job.segment,
        dry_run=dry_run,
    )


def import_job_confirm(*, preview: ImportJob, created_by: Any = None) -> ImportJob:
    """Import for real the file a dry run previewed; the preview job stays as it was."""
    if not preview.dry_run or preview.status != ImportJob.Status.SUCCEEDED or not preview.file:
        raise ImportFileError("Only a finished preview with its file can be confirmed.")
    with transaction.atomic():
        job = _job_again(preview, created_by=created_by, dry_run=False)
    return import_job_run(job_id=job.pk)


@transaction.atomic
def import_job_retry(*, job_id: int, created_by: Any = None) -> ImportJob:
    """Run a failed or cancelled import again, as a new background job on the same file.

    The old job stays as it ended: it is the record of what happened to that run.
    """
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.status not in (ImportJob.Status.FAILED, ImportJob.Status.CANCELLED):
        raise ImportFileError(
            f"{job} is {job.get_status_display().lower()}; only a failed or "
            "cancelled import runs again."
        )
    if not job.file:
        raise ImportFileError(
            f"{job}: its file is no longer kept (deleted "
            f"{settings.CUSTOMERS_IMPORT_FILE_RETENTION_DAYS} days after the import ended); "
            "upload it again."
        )
    again = _job_again(job, created_by=created_by, dry_run=job.dry_run)
    import_job_enqueue(job=again)
    return again


def import_files_purge() -> int:
    """Delete the stored files of imports that ended over the retention period ago.

    With each file go the values its error report quotes; the counts, reasons and row
    numbers stay. A file still used by a job that is waiting, running or recent is kept.
    Returns how many files were deleted.
    """
    cutoff = timezone.now() - datetime.timedelta(days=settings.CUSTOMERS_IMPORT_FILE_RETENTION_DAYS)
    ended = Q(
        status__in=[
            ImportJob.Status.SUCCEEDED,
            ImportJob.Status.FAILED,
            ImportJob.Status.CANCELLED,
        ],
        finished_at__lt=cutoff,
    )
    with_file = ImportJob.objects.exclude(file="")
    still_needed = with_file.exclude(ended).values_list("file", flat=True)
    names = set(
        with_file.filter(ended).exclude(file__in=still_needed).values_list("file", flat=True)
    )
    purged = 0
    for name in sorted(names):
        with transaction.atomic():
            jobs = list(ImportJob.objects.select_for_update().filter(ended, file=name))
            # Looked at again under the locks: a run started on this file meanwhile keeps it.
            if ImportJob.objects.filter(file=name).exclude(pk__in=[j.pk for j in jobs]).exists():
                continue
            ImportRejection.objects.filter(job__in=jobs).exclude(value="").update(value="")
            ImportJob.objects.filter(pk__in=[j.pk for j in jobs]).update(file="")
            # After the commit: a rollback must not leave jobs naming a deleted file.
            transaction.on_commit(partial(default_storage.delete, name))
            purged += 1
    return purged
