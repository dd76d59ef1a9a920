"""CRM imports: the jobs and their reports, saved column mappings, rejected rows."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_pii import PiiListRule
from config.admin_views import ReadOnlyAdmin, admin_view_permissions
from config.csv_safe import csv_writer
from config.services import ServiceError

from ..forms import ImportMappingForm
from ..models import (
    ImportJob,
    ImportMapping,
    ImportRejection,
    PiiAccess,
)
from ..pii import can_view_pii, mask_field
from ..resources import cell_escape
from ..services import (
    import_job_cancel,
    import_job_retry,
    pii_access_record,
)
from .common import (
    IMPORT_PERMISSION,
    job_summary,
)


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "file_name",
        "source",
        "status",
        "progress_bar",
        "created",
        "updated",
        "merged",
        "unchanged",
        "rejected",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "source", "dry_run"]
    list_select_related = ["created_by"]
    search_fields = ["file_name", "=file_sha256"]
    actions = ["cancel", "run_again"]
    fields = (
        "status",
        "progress_bar",
        "error",
        "summary",
        "file_name",
        "file_sha256",
        "file_size",
        "file_kept",
        "source",
        "layout",
        "mapping",
        "mapping_columns",
        "segment",
        "dry_run",
        "rows_read",
        "created",
        "updated",
        "merged",
        "unchanged",
        "duplicate",
        "rejected",
        "email_malformed",
        "email_placeholder",
        "email_shared",
        "error_report",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    change_form_template = "admin/customers/importjob/change_form.html"

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    @admin.action(description="Cancel the selected imports", permissions=["import"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[ImportJob]) -> None:
        cancelled = sum(import_job_cancel(job=job) for job in queryset)
        self.message_user(request, f"{cancelled} import(s) cancelled; they import nothing.")

    @admin.action(description="Run the selected failed imports again", permissions=["import"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[ImportJob]) -> None:
        for job in queryset.order_by("pk"):
            try:
                again = import_job_retry(job_id=job.pk, created_by=request.user)
            except ServiceError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request, f"{job} runs again as import {again.pk}.", messages.SUCCESS
                )

    @admin.display(description="stored file")
    def file_kept(self, obj: ImportJob) -> str:
        days = settings.CUSTOMERS_IMPORT_FILE_RETENTION_DAYS
        if not obj.file:
            return f"Not kept (files are deleted {days} days after their import ended)."
        if obj.finished_at is None:
            return "Kept while the import runs."
        until = obj.finished_at + timedelta(days=days)
        return f"Kept until {until:%Y-%m-%d} UTC, then deleted."

    @admin.display(description="progress")
    def progress_bar(self, obj: ImportJob) -> str:
        return format_html(
            '<progress max="100" value="{}">{} %</progress> {} %',
            obj.progress,
            obj.progress,
            obj.progress,
        )

    @admin.display(description="summary")
    def summary(self, obj: ImportJob) -> str:
        return job_summary(obj) if obj.is_finished else "Running…"

    @admin.display(description="error report")
    def error_report(self, obj: ImportJob) -> str:
        if not obj.rejected:
            return "No rejected rows"
        url = reverse("admin:customers_importjob_errors", args=[obj.pk])
        return format_html(
            '<a href="{}">Download the {} rejected rows (CSV)</a>', url, obj.rejected
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:job_id>/errors.csv",
                self.admin_site.admin_view(self.errors_view),
                name="customers_importjob_errors",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions("view")
    def errors_view(self, request: HttpRequest, job_id: int) -> StreamingHttpResponse:
        job = get_object_or_404(ImportJob, pk=job_id)

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv_writer(Echo())
        show_pii = can_view_pii(request.user)

        def lines() -> Iterator[str]:
            yield writer.writerow(["row", "line", "field", "reason", "value"])
            for r in job.rejections.order_by("row").iterator(chunk_size=2000):
                value = r.value if show_pii else mask_field(r.field, r.value)
                yield writer.writerow([r.row, r.line, r.field, r.reason, cell_escape(value)])

        if show_pii:
            pii_access_record(
                user=request.user,
                kind=PiiAccess.Kind.EXPORT,
                detail=f"import {job.pk}: error report downloaded with rejected values in full",
            )
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    form = ImportMappingForm
    list_display = ["name", "source", "updated_at"]
    search_fields = ["name", "source"]


@admin.register(ImportRejection)
class ImportRejectionAdmin(PiiListRule, ReadOnlyAdmin):
    list_display = ["job", "row", "line", "field", "reason", "value"]
    list_select_related = ["job"]
    list_filter = ["field"]
    readonly_fields = ["job", "row", "line", "field", "reason", "value"]
    show_full_result_count = False

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        if can_view_pii(request.user):
            return list(self.list_display)
        return ["masked_value" if f == "value" else f for f in self.list_display]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self.get_readonly_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if can_view_pii(request.user):
            return list(self.readonly_fields)
        return ["masked_value" if f == "value" else f for f in self.readonly_fields]

    @admin.display(description="value")
    def masked_value(self, obj: ImportRejection) -> str:
        return mask_field(obj.field, obj.value)
