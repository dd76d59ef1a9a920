"""Customer exports built in the background, downloaded by the person who asked."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import BooleanField, Q, QuerySet, Value
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_views import ReadOnlyAdmin, admin_view_permissions
from config.services import ServiceError

from ..models import (
    CustomerExport,
)
from ..pii import can_view_pii
from ..services import (
    customer_export_download,
)
from .common import (
    EXPORT_PERMISSION,
)


@admin.register(CustomerExport)
class CustomerExportAdmin(ReadOnlyAdmin):
    """Background exports: who asked for what, how far it got, and the file for its owner."""

    list_display = [
        "__str__",
        "requested_by",
        "requested_at",
        "selection",
        "contact_in_full",
        "status",
        "progress_bar",
        "rows_written",
        "download",
    ]
    list_filter = ["status", "contact_in_full"]
    list_select_related = ["requested_by"]
    search_fields = ["=id", "requested_by__username"]
    fields = (
        "status",
        "progress_bar",
        "error",
        "download",
        "requested_by",
        "requested_at",
        "selection",
        "fields",
        "contact_in_full",
        "rows_written",
        "total",
        "sha256",
        "size",
        "file_kept",
        "started_at",
        "finished_at",
        "download_count",
        "downloaded_at",
    )
    readonly_fields = fields
    change_form_template = "admin/customers/customerexport/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerExport]:
        # Whether this person may download each row, worked out per request (the admin
        # object is shared between requests, so it cannot hold the user).
        may_see_full = can_view_pii(request.user)
        return (
            super()
            .get_queryset(request)
            .annotate(
                downloadable=Q(requested_by_id=request.user.pk)
                & (Q(contact_in_full=False) | Value(may_see_full, output_field=BooleanField()))
            )
        )

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.display(description="progress")
    def progress_bar(self, obj: CustomerExport) -> str:
        return format_html(
            '<progress max="100" value="{}">{} %</progress> {} % ({} of {} rows)',
            obj.progress,
            obj.progress,
            obj.progress,
            obj.rows_written,
            obj.total,
        )

    @admin.display(description="file")
    def download(self, obj: CustomerExport) -> str:
        if obj.status != CustomerExport.Status.READY:
            return obj.get_status_display()
        if not obj.file:
            return "Deleted"
        if not getattr(obj, "downloadable", False):
            return "Ready (only its requester may download it)"
        url = reverse("admin:customers_customerexport_download", args=[obj.pk])
        return format_html('<a href="{}">Download the CSV</a>', url)

    @admin.display(description="stored file")
    def file_kept(self, obj: CustomerExport) -> str:
        days = settings.CUSTOMERS_EXPORT_FILE_RETENTION_DAYS
        if obj.purged_at is not None:
            return f"Deleted at {obj.purged_at:%Y-%m-%d %H:%M} UTC."
        if obj.finished_at is None or not obj.file:
            return "None."
        until = obj.finished_at + timedelta(days=days)
        return f"Kept until {until:%Y-%m-%d %H:%M} UTC, then deleted."

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="customers_customerexport_download",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions("export")
    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        get_object_or_404(CustomerExport, pk=pk)
        try:
            export = customer_export_download(export_id=pk, user=request.user)
        except ServiceError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:customers_customerexport_change", args=[pk]))
        return FileResponse(
            export.file.open("rb"),
            as_attachment=True,
            filename=f"customers-{export.pk}.csv",
            content_type="text/csv; charset=utf-8",
        )
