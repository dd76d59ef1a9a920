import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.imports import ImportFileError
from customers.imports.layouts import LAYOUTS
from customers.models import ImportJob, ImportMapping, Segment
from customers.services import import_job_create, import_job_run


class Command(BaseCommand):
    help = (
        "Import a CRM export (CSV or XLSX) into the customer record. All accepted rows "
        "commit or none; rejected rows are listed with their line, field and reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", required=True, help="Source system, e.g. salesforce.")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--layout", choices=sorted(LAYOUTS), default="")
        group.add_argument(
            "--mapping",
            help="A JSON file {our field: column header}, or the name of a saved mapping.",
        )
        parser.add_argument("--segment", help="Add every imported customer to this segment.")
        parser.add_argument("--dry-run", action="store_true", help="Report, write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        mapping, columns = None, None
        if options["mapping"]:
            mapping_path = Path(options["mapping"])
            if mapping_path.is_file():
                try:
                    columns = json.loads(mapping_path.read_text(encoding="utf-8"))
                except ValueError as exc:
                    raise CommandError(f"{mapping_path}: not valid JSON ({exc})") from exc
                if not isinstance(columns, dict):
                    raise CommandError(f"{mapping_path}: must be a JSON object")
            else:
                mapping = ImportMapping.objects.filter(name=options["mapping"]).first()
                if mapping is None:
                    raise CommandError(f"{options['mapping']}: no such file or saved mapping")
        segment = None
        if options["segment"]:
            segment, _ = Segment.objects.get_or_create(name=options["segment"])
        with path.open("rb") as stream:
            try:
                job = import_job_create(
                    stream=stream,
                    file_name=path.name,
                    source=options["source"],
                    layout=options["layout"],
                    mapping=mapping,
                    mapping_columns=columns,
                    segment=segment,
                    dry_run=options["dry_run"],
                    keep_file=False,
                )
            except ImportFileError as exc:
                raise CommandError(str(exc)) from exc
            job = import_job_run(job_id=job.pk, stream=stream)
        self._report(job)

    def _report(self, job: ImportJob) -> None:
        for rejection in job.rejections.all()[:1000]:
            self.stderr.write(
                f"row {rejection.row} (line {rejection.line}), {rejection.field}: "
                f"{rejection.reason}" + (f" [{rejection.value}]" if rejection.value else "")
            )
        if job.status != ImportJob.Status.SUCCEEDED:
            raise CommandError(f"import {job.pk} {job.get_status_display()}: {job.error}")
        prefix = "dry run, nothing written: " if job.dry_run else ""
        self.stdout.write(
            f"{prefix}import {job.pk} ({job.layout or 'mapping'}): {job.rows_read} rows, "
            f"{job.created} created, {job.updated} updated, {job.merged} merged, "
            f"{job.unchanged} unchanged, {job.duplicate} duplicate, {job.rejected} rejected"
        )
        if job.changed_nothing:
            self.stdout.write("Nothing changed: every row was already imported as it is.")
