"""Background CSV exports of the customer list: requested in the admin, built by a task,
downloaded by the person who asked, deleted after CUSTOMERS_EXPORT_FILE_RETENTION_DAYS.

Memory stays flat whatever the number of customers: rows are read a chunk at a time and
written to a temporary file on disk, which is then streamed to the storage.
"""

import datetime
import hashlib
import io
import logging
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from functools import partial
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.csv_safe import csv_writer
from config.db import connection_lost
from config.services import ServiceError, enqueue_on_commit

from ..models import Customer, CustomerExport, PiiAccess, Segment
from ..pii import CONTACT_FIELDS, can_view_pii, mask_field, mask_text
from ..resources import EXPORT_FIELDS, cell_escape
from .records import pii_access_record

logger = logging.getLogger(__name__)

EXPORT_PERMISSION = "customers.export_customer"
EXPORTS_DIR = "exports"
# Rows read per query; progress is saved after each chunk.
CHUNK_ROWS = 5000


class ExportError(ServiceError, ValueError):
    """The export cannot be requested or handed out as asked; the message says why."""


@transaction.atomic
def customer_export_request(
    *, user: Any, fields: Sequence[str], segment_id: int | None = None
) -> CustomerExport:
    """Record an export of all customers (or of one segment) and build it after the commit.

    Contact data is in full only if `user` holds customers.view_pii now; nothing the
    request carries can ask for it.
    """
    if user is None or not user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("Exporting customers needs the export permission.")
    unknown = sorted(set(fields) - set(EXPORT_FIELDS))
    if unknown:
        raise ExportError(f"These fields cannot be exported: {', '.join(unknown)}.")
    chosen = [name for name in EXPORT_FIELDS if name in set(fields)]
    if not chosen:
        raise ExportError("Choose at least one field to export.")
    segment = None
    if segment_id is not None:
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None:
            raise ExportError("That segment no longer exists.")
    export = CustomerExport.objects.create(
        requested_by=user,
        fields=chosen,
        contact_in_full=can_view_pii(user),
        scope=CustomerExport.Scope.SEGMENT if segment else CustomerExport.Scope.ALL,
        segment=segment,
        segment_name=segment.name if segment else "",
    )
    customer_export_enqueue(export_id=export.pk)
    return export


def customer_export_enqueue(*, export_id: int) -> None:
    """Build the export in the task cluster once the transaction that made it commits."""
    enqueue_on_commit(
        "customers.tasks.customer_export_build_task", export_id, group="customer-export"
    )


def customer_export_build(*, export_id: int) -> CustomerExport:
    """Write the export's CSV and store it. Safe to run twice: only the run that moves the
    export from waiting to running does the work. A run older than the task timeout was
    killed with its worker, so the queue's redelivery takes it over.

    On failure the export says why (contact data masked, since the reason may quote a
    row) and no file is kept.
    """
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.Q_CLUSTER["timeout"])
    claimable = Q(status=CustomerExport.Status.WAITING) | Q(
        status=CustomerExport.Status.RUNNING, started_at__lt=stale
    )
    claimed = CustomerExport.objects.filter(claimable, pk=export_id).update(
        status=CustomerExport.Status.RUNNING,
        started_at=now,
        progress=0,
        rows_written=0,
        error="",
    )
    export = CustomerExport.objects.select_related("requested_by").get(pk=export_id)
    if not claimed:
        return export
    # Every later write names this run: a run that was taken over writes nothing more.
    mine = CustomerExport.objects.filter(
        pk=export_id, status=CustomerExport.Status.RUNNING, started_at=now
    )
    name = ""
    try:
        _build_guard(export)
        with tempfile.TemporaryFile() as local:
            rows = _csv_write(export, local, mine)
            digest, size = _digest(local)
            name = default_storage.save(
                f"{EXPORTS_DIR}/customers-{export.pk}-{secrets.token_hex(8)}.csv",
                File(local, name=f"customers-{export.pk}.csv"),
            )
        _export_ready_record(export, mine, name=name, digest=digest, size=size, rows=rows)
    except Exception as error:
        if connection_lost(error):
            # Nothing can be written on a dropped connection: the queue hands the task out
            # again after Q_RETRY, and that run takes this one over. A file stored before
            # the loss may belong to a committed record, so it stays; the purge sweeps it.
            logger.warning("Customer export %s: database connection lost; will retry", export_id)
            raise
        if name:
            default_storage.delete(name)
        if not isinstance(error, ExportError):
            logger.exception("Customer export %s failed", export_id)
        reason = (
            str(error) if isinstance(error, ExportError) else f"{type(error).__name__}: {error}"
        )
        mine.update(
            status=CustomerExport.Status.FAILED,
            error=mask_text(f"The export failed and no file was kept. {reason}"),
            progress=0,
            finished_at=timezone.now(),
        )
    export.refresh_from_db()
    return export


def _build_guard(export: CustomerExport) -> None:
    """What the request settled must still hold when the file is written."""
    user = export.requested_by
    if user is None or not user.has_perm(EXPORT_PERMISSION):
        raise ExportError("Its requester may no longer export customers.")
    if export.contact_in_full and not can_view_pii(user):
        raise ExportError("Its requester may no longer see contact data in full.")
    if export.scope == CustomerExport.Scope.SEGMENT and export.segment_id is None:
        raise ExportError(f"The segment {export.segment_name} was deleted.")


def _selected(export: CustomerExport) -> Any:
    # A record merged into another is not a person of its own: its survivor stands for it.
    customers = Customer.objects.filter(merged_into__isnull=True)
    if export.scope == CustomerExport.Scope.SEGMENT:
        # Unique per (segment, customer): the join repeats nobody.
        customers = customers.filter(memberships__segment=export.segment)
    return customers


def _chunks(export: CustomerExport) -> Iterator[list[tuple[Any, ...]]]:
    """The selected customers in id order, CHUNK_ROWS at a time.

    Keyset pages rather than one cursor: each page is a short query of its own, so no
    transaction stays open for minutes, PostgreSQL does not materialise the whole result
    for a WITH HOLD cursor, and the progress saved between pages is seen at once.
    """
    pages = _selected(export).order_by("pk").values_list("pk", *export.fields)
    last = 0
    while True:
        rows = list(pages.filter(pk__gt=last)[:CHUNK_ROWS])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _csv_write(export: CustomerExport, local: IO[bytes], mine: Any) -> int:
    """The CSV as the admin's export writes it (UTF-8 with BOM), into `local`."""
    total = _selected(export).count()
    mine.update(total=total)
    masked = [name in CONTACT_FIELDS and not export.contact_in_full for name in export.fields]
    text = io.TextIOWrapper(local, encoding="utf-8-sig", newline="")
    writer = csv_writer(text)
    writer.writerow(export.fields)
    rows = 0
    for chunk in _chunks(export):
        for row in chunk:
            writer.writerow(
                [
                    _cell(name, value, mask)
                    for name, value, mask in zip(export.fields, row[1:], masked, strict=True)
                ]
            )
        rows += len(chunk)
        text.flush()
        if not mine.update(rows_written=rows, progress=min(99, rows * 100 // max(total, 1))):
            raise ExportError("Another run took this export over.")
    text.flush()
    # The file stays open for the caller: the wrapper lets go of it without closing it.
    text.detach()
    return rows


def _cell(name: str, value: Any, mask: bool) -> Any:
    if value is None:
        return ""
    if mask:
        value = mask_field(name, str(value))
    return cell_escape(value)


def _digest(local: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    local.seek(0)
    while block := local.read(1 << 20):
        digest.update(block)
    size = local.tell()
    local.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def _export_ready_record(
    export: CustomerExport, mine: Any, *, name: str, digest: str, size: int, rows: int
) -> None:
    done = mine.update(
        status=CustomerExport.Status.READY,
        progress=100,
        rows_written=rows,
        total=rows,
        file=name,
        sha256=digest,
        size=size,
        finished_at=timezone.now(),
    )
    if done != 1:
        raise ExportError("Another run took this export over.")
    if export.contact_in_full:
        pii_access_record(
            user=export.requested_by,
            kind=PiiAccess.Kind.EXPORT,
            detail=f"{rows} customers exported with contact data in full "
            f"(background export {export.pk})",
        )


@transaction.atomic
def customer_export_download(*, export_id: int, user: Any) -> CustomerExport:
    """Hand a ready file to the person who asked for it; every download is recorded.

    Nobody else gets it, whatever they hold: the file is one person's copy. A file with
    contact data in full also needs its requester to still hold view_pii.
    """
    if user is None or not user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("Downloading an export needs the export permission.")
    export = CustomerExport.objects.select_for_update().get(pk=export_id)
    if export.status != CustomerExport.Status.READY:
        raise ExportError(f"{export} is {export.get_status_display().lower()}: no file yet.")
    if not export.file:
        days = settings.CUSTOMERS_EXPORT_FILE_RETENTION_DAYS
        raise ExportError(
            f"{export}: its file was deleted {days} day(s) after it was built; "
            "request a new export."
        )
    if export.requested_by_id != user.pk:
        raise PermissionDenied("Only the person who requested an export may download it.")
    if export.contact_in_full and not can_view_pii(user):
        raise PermissionDenied("This export holds contact data in full.")
    CustomerExport.objects.filter(pk=export.pk).update(
        download_count=F("download_count") + 1, downloaded_at=timezone.now()
    )
    if export.contact_in_full:
        pii_access_record(
            user=user,
            kind=PiiAccess.Kind.EXPORT,
            detail=f"downloaded background export {export.pk} "
            f"({export.rows_written} customers, contact data in full)",
        )
    logger.info("Customer export %s downloaded by user %s", export.pk, user.pk)
    export.refresh_from_db()
    return export


def customer_export_files_purge() -> int:
    """Delete the files of exports built over the retention period ago; return how many
    exports were swept.

    With each export go any files a crashed run of it left behind (they carry its id).
    """
    cutoff = timezone.now() - datetime.timedelta(days=settings.CUSTOMERS_EXPORT_FILE_RETENTION_DAYS)
    due = CustomerExport.objects.filter(purged_at__isnull=True, finished_at__lt=cutoff)
    try:
        stored = default_storage.listdir(EXPORTS_DIR)[1]
    except FileNotFoundError:
        stored = []
    purged = 0
    for export_id in due.values_list("pk", flat=True).order_by("pk"):
        prefix = f"customers-{export_id}-"
        names = {f"{EXPORTS_DIR}/{n}" for n in stored if n.startswith(prefix)}
        with transaction.atomic():
            export = due.select_for_update().filter(pk=export_id).first()
            if export is None:
                continue
            if export.file:
                names.add(export.file.name)
            CustomerExport.objects.filter(pk=export_id).update(file="", purged_at=timezone.now())
            # After the commit: a rollback must not leave an export naming a deleted file.
            for name in sorted(names):
                transaction.on_commit(partial(default_storage.delete, name))
        purged += 1
    return purged
