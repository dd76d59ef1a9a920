from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import connection
from django.db.models import BooleanField, Count, Q, QuerySet, Value
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from config.admin_pii import PiiListRule
from config.admin_views import ReadOnlyAdmin, admin_view_permissions, each_object_run
from config.csv_safe import csv_writer
from config.services import ServiceError

from .forms import CustomerExportForm, CustomerForm, ImportMappingForm, ImportUploadForm
from .models import (
    Customer,
    CustomerExport,
    CustomerMerge,
    DuplicateCandidate,
    DuplicateSearch,
    ImportJob,
    ImportMapping,
    ImportRejection,
    PiiAccess,
    PlaceholderEmail,
    Segment,
    SegmentMembership,
    SharedEmail,
    SourcePriority,
    SourceRecord,
    Touchpoint,
)
from .pii import can_view_pii, mask_email, mask_field, mask_phone, mask_text
from .resources import CustomerExportResource, cell_escape
from .selectors import customer_timeline, customers_needing_fixes
from .services import (
    customer_export_download,
    customer_export_request,
    customer_merge,
    customer_save,
    customer_unmerge,
    duplicate_dismiss,
    duplicates_search_enqueue,
    import_job_cancel,
    import_job_confirm,
    import_job_create,
    import_job_enqueue,
    import_job_retry,
    import_job_run,
    pii_access_record,
)

IMPORT_PERMISSION = "customers.import_customer"
# What a user without customers.view_pii sees in place of each contact field.
MASKED_FIELDS = {
    "email": "masked_email",
    "phone": "masked_phone",
    "street": "masked_street",
    "postal_code": "masked_postal_code",
    "city": "masked_city",
}
EXPORT_PERMISSION = "customers.export_customer"
# A record imported without an id gets "email:<address>": masked like any address.
MASKED_EXTERNAL_ID = "masked_external_id"
TIMELINE_LIMIT = 100


_HELD = ("email", "phone", "street", "postal_code", "city", "region", "country")
_GROUPS = (("email", "email"), ("phone", "phone"), ("address", "postal address"))


def _held_values(record: SourceRecord, *, in_full: bool) -> str:
    parts = [
        (name.replace("_", " "), value if in_full else mask_field(name, value))
        for name in _HELD
        if (value := getattr(record, name))
    ]
    if not parts:
        return "-"
    return format_html_join(format_html("<br>"), "{}: {}", parts)


class SourceRecordInline(admin.TabularInline):
    """Every value each source holds, and which of them the customer record kept."""

    model = SourceRecord
    extra = 0
    can_delete = False
    fields = ("source", "external_id", "held_values", "kept", "first_seen_at", "last_seen_at")
    readonly_fields = fields
    verbose_name = "source record"
    verbose_name_plural = "Source records: what each source holds, and which value was kept"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if can_view_pii(request.user):
            return self.fields
        masked = {"held_values": "held_values_masked", "external_id": MASKED_EXTERNAL_ID}
        return [masked.get(f, f) for f in self.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="values it holds")
    def held_values(self, obj: SourceRecord) -> str:
        return _held_values(obj, in_full=True)

    @admin.display(description="values it holds")
    def held_values_masked(self, obj: SourceRecord) -> str:
        return _held_values(obj, in_full=False)

    @admin.display(description="external id")
    def masked_external_id(self, obj: SourceRecord) -> str:
        return mask_text(obj.external_id)

    @admin.display(description="kept from it")
    def kept(self, obj: SourceRecord) -> str:
        customer = obj.customer
        won = [
            label
            for group, label in _GROUPS
            if getattr(customer, f"{group}_source") == obj.source
            and getattr(customer, f"{group}_source_id") == obj.external_id
        ]
        return ", ".join(won) or "-"


class SegmentMembershipInline(admin.TabularInline):
    model = SegmentMembership
    extra = 0
    autocomplete_fields = ["segment"]
    readonly_fields = ["added_at"]


class SegmentFilter(admin.SimpleListFilter):
    title = "segment"
    parameter_name = "segment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Segment.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        segment = self.value()
        if segment:
            # A subquery, not a join: no duplicate rows and no DISTINCT over a million.
            members = SegmentMembership.objects.filter(segment_id=segment)
            return queryset.filter(pk__in=members.values("customer_id"))
        return queryset


class CountryFilter(admin.SimpleListFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # DISTINCT would read a million rows; hopping from one country to the next along
        # the (country, region) index reads one entry per country.
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH RECURSIVE c(code) AS ("
                "SELECT min(country) FROM customers_customer WHERE country > '' "
                "UNION ALL SELECT (SELECT min(country) FROM customers_customer "
                "WHERE country > c.code) FROM c WHERE c.code IS NOT NULL) "
                "SELECT code FROM c WHERE code IS NOT NULL"
            )
            codes = [code for (code,) in cursor.fetchall()]
        return [(code, code) for code in codes] + [("?", "unrecognised")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "?":
            return queryset.filter(country="").exclude(country_raw="")
        if self.value():
            return queryset.filter(country=self.value())
        return queryset


class NeedsFixingFilter(admin.SimpleListFilter):
    """Values the import could not normalise and kept as written: a person corrects them."""

    title = "kept as written (to fix)"
    parameter_name = "fix"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [
            ("email", "Malformed email"),
            ("region", "Region / state not recognised"),
            ("country", "Country not recognised"),
        ]
        # Narrowing by phone is narrowing by contact data (config.admin_pii).
        if can_view_pii(request.user):
            choices.insert(1, ("phone", "Phone not in international format"))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if value not in {v for v, _ in self.lookup_choices}:
            raise IncorrectLookupParameters(f"Nothing to fix called {value!r}.")
        return customers_needing_fixes(queryset, value)


@admin.register(Customer)
class CustomerAdmin(PiiListRule, ExportMixin, admin.ModelAdmin):
    form = CustomerForm
    resource_classes = [CustomerExportResource]
    formats = [CSV, XLSX]
    list_display = [
        "__str__",
        "email",
        "email_status",
        "country",
        "marketing_consent",
        "updated_at",
    ]
    list_filter = [
        CountryFilter,
        SegmentFilter,
        "email_status",
        "marketing_consent",
        NeedsFixingFilter,
    ]
    search_fields = ["email_normalized"]
    search_help_text = (
        "Email (whole or its beginning), external id (exact), or last name (its beginning)."
    )
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    inlines = [SourceRecordInline, SegmentMembershipInline]
    readonly_fields = [
        "email_normalized",
        "consent_updated_at",
        "consent_source",
        "created_at",
        "updated_at",
        "touchpoint_timeline",
        "incidents_touching",
        "provenance",
    ]
    fieldsets = [
        (None, {"fields": ["first_name", "last_name", "language", "lifecycle_stage"]}),
        ("Email and phone", {"fields": ["email", "email_normalized", "email_status", "phone"]}),
        (
            "Postal address",
            {"fields": ["street", "postal_code", "city", "region", "country", "country_raw"]},
        ),
        (
            "Marketing consent",
            {"fields": ["marketing_consent", "consent_updated_at", "consent_source"]},
        ),
        ("Where the kept contact values come from", {"fields": ["provenance"]}),
        ("Journey", {"fields": ["touchpoint_timeline", "incidents_touching"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    change_list_template = "admin/customers/customer/change_list.html"
    # import-export wraps the list in a template that shows its buttons (and ours) only to
    # those who may add customers: nobody may, so nobody saw Import or Export. Ours shows
    # each button to whoever holds its own permission.
    import_export_change_list_template = change_list_template

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Each branch is an index lookup: the email prefix index (text_pattern_ops), the
        # source record's external id index, the name index. No LIKE '%x%' on a million.
        folded = term.casefold()
        # Searching by email is for those who may see emails: for anyone else a hit or a
        # miss would tell whether that address is a customer.
        if can_view_pii(request.user):
            by_email = queryset.filter(email_normalized__startswith=folded)
        else:
            by_email = queryset.none()
        if "@" in term:
            return by_email, False
        # Resolved first, so the OR below stays a union of index scans (a subquery in
        # an OR would make PostgreSQL filter every customer row through it).
        owners = list(
            SourceRecord.objects.filter(external_id=term).values_list("customer_id", flat=True)[
                :1000
            ]
        )
        by_external_id = queryset.filter(pk__in=owners)
        by_name = queryset.filter(last_name__startswith=term) | queryset.filter(
            last_name__startswith=term[:1].upper() + term[1:]
        )
        return by_email | by_external_id | by_name, False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        customer_save(customer=obj)

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        if can_view_pii(request.user):
            return list(self.list_display)
        return [MASKED_FIELDS.get(str(name), name) for name in self.list_display]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if can_view_pii(request.user):
            return self.fieldsets
        return [
            (
                name,
                {
                    **opts,
                    "fields": [
                        MASKED_FIELDS.get(str(f), str(f))
                        for f in opts["fields"]
                        if f != "email_normalized"
                    ],
                },
            )
            for name, opts in self.fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(self.readonly_fields)
        return fields if can_view_pii(request.user) else [*fields, *MASKED_FIELDS.values()]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        if can_view_pii(request.user):
            return super().get_exclude(request, obj)
        # The form must not carry the values either, even for someone who may edit.
        return [*(super().get_exclude(request, obj) or []), *MASKED_FIELDS]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if (
            request.method == "GET"
            and response.status_code == 200
            and can_view_pii(request.user)
            and str(object_id).isdigit()
        ):
            pii_access_record(
                user=request.user, kind=PiiAccess.Kind.RECORD, customer_id=int(object_id)
            )
        return response

    @admin.display(description="email")
    def masked_email(self, obj: Customer) -> str:
        return mask_email(obj.email)

    @admin.display(description="phone")
    def masked_phone(self, obj: Customer) -> str:
        return mask_phone(obj.phone)

    @admin.display(description="street")
    def masked_street(self, obj: Customer) -> str:
        return mask_field("street", obj.street)

    @admin.display(description="postal code")
    def masked_postal_code(self, obj: Customer) -> str:
        return mask_field("postal_code", obj.postal_code)

    @admin.display(description="city")
    def masked_city(self, obj: Customer) -> str:
        return mask_field("city", obj.city)

    def get_export_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_export_resource_kwargs(request, **kwargs),
            "show_pii": can_view_pii(request.user),
        }

    def get_data_for_export(self, request: HttpRequest, queryset: Any, **kwargs: Any) -> Any:
        data = super().get_data_for_export(request, queryset, **kwargs)
        if can_view_pii(request.user):
            pii_access_record(
                user=request.user,
                kind=PiiAccess.Kind.EXPORT,
                detail=f"{len(data)} customers exported with contact data in full",
            )
        return data

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin_view_permissions("export")
    def export_action(self, request: HttpRequest) -> HttpResponse:
        return super().export_action(request)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra_context = {
            **(extra_context or {}),
            "can_import": self.has_import_permission(request),
            "can_review_duplicates": request.user.has_perm("customers.view_duplicatecandidate"),
            "can_export_background": self.has_export_permission(request),
            # The segment the list is filtered by becomes the export's, if the user keeps it.
            "export_segment": request.GET.get(SegmentFilter.parameter_name, ""),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="Kept from")
    def provenance(self, obj: Customer) -> str:
        rows = [
            (
                label,
                getattr(obj, f"{group}_source"),
                getattr(obj, f"{group}_source_id"),
                seen.strftime("%Y-%m-%d %H:%M UTC")
                if (seen := getattr(obj, f"{group}_seen_at"))
                else "-",
            )
            for group, label in _GROUPS
            if getattr(obj, f"{group}_source")
        ]
        if not rows:
            return "Typed by hand or imported before sources were recorded"
        items = format_html_join("", "<li>{}: {} record {}, last brought {}</li>", rows)
        return format_html("<ul>{}</ul>", items)

    @admin.display(description="History (newest first)")
    def touchpoint_timeline(self, obj: Customer) -> str:
        if not obj.pk:
            return "-"
        items = format_html_join(
            "",
            "<li><time>{}</time> — {}{}</li>",
            (
                (
                    e.at.strftime("%Y-%m-%d %H:%M UTC"),
                    e.what,
                    # A synthetic id (email:<address>) is contact data; the source records
                    # above show it in full to those who may see it.
                    f" ({mask_text(e.detail)})" if e.detail else "",
                )
                for e in customer_timeline(customer_id=obj.pk, limit=TIMELINE_LIMIT)
            ),
        )
        return format_html('<ol class="timeline">{}</ol>', items) if items else "None yet"

    @admin.display(description="Incidents touching this person")
    def incidents_touching(self, obj: Customer) -> str:
        # The incidents app builds on customers, not the other way round: read the reverse
        # relation it declares (AffectedCustomer.customer, related_name="incidents").
        affected = getattr(obj, "incidents", None) if obj.pk else None
        if affected is None:
            return "-"
        rows = affected.select_related("incident").order_by("-incident__awareness_at")
        items = format_html_join(
            "",
            "<li>{} — data: {}</li>",
            (
                (str(a.incident), ", ".join(a.data_categories) or "not recorded")
                for a in rows[:TIMELINE_LIMIT]
            ),
        )
        return format_html("<ul>{}</ul>", items) if items else "None"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="customers_customer_import"),
            path(
                "import/<int:job_id>/preview/",
                view(self.import_preview_view),
                name="customers_customer_import_preview",
            ),
            path(
                "export/background/",
                view(self.export_background_view),
                name="customers_customer_export_background",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions("import")
    def import_view(self, request: HttpRequest) -> HttpResponse:
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            small = upload.size <= settings.CUSTOMERS_IMPORT_PREVIEW_MAX_KB * 1024
            try:
                job = import_job_create(
                    stream=upload,
                    file_name=upload.name,
                    source=form.cleaned_data["source"],
                    layout=form.cleaned_data["layout"],
                    mapping=form.cleaned_data["mapping"],
                    segment=form.cleaned_data["segment"],
                    dry_run=small,
                    created_by=request.user,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                if small:
                    import_job_run(job_id=job.pk)
                    return HttpResponseRedirect(
                        reverse("admin:customers_customer_import_preview", args=[job.pk])
                    )
                import_job_enqueue(job=job)
                self.message_user(request, f"{job.file_name} is being imported in the background.")
                return HttpResponseRedirect(
                    reverse("admin:customers_importjob_change", args=[job.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import customers",
            "form": form,
            "max_upload_mb": settings.CUSTOMERS_IMPORT_MAX_UPLOAD_MB,
            "preview_max_kb": settings.CUSTOMERS_IMPORT_PREVIEW_MAX_KB,
        }
        return TemplateResponse(request, "admin/customers/import_form.html", context)

    @admin_view_permissions("import")
    def import_preview_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        preview = get_object_or_404(ImportJob, pk=job_id, dry_run=True)
        if request.method == "POST":
            try:
                job = import_job_confirm(preview=preview, created_by=request.user)
            except ServiceError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                level = messages.SUCCESS if job.status == job.Status.SUCCEEDED else messages.ERROR
                self.message_user(request, _job_summary(job), level)
                return HttpResponseRedirect(
                    reverse("admin:customers_importjob_change", args=[job.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Preview of {preview.file_name}",
            "job": preview,
            "rejections": preview.rejections.all()[:50],
        }
        return TemplateResponse(request, "admin/customers/import_preview.html", context)

    @admin_view_permissions("export")
    def export_background_view(self, request: HttpRequest) -> HttpResponse:
        initial = {}
        if (segment := request.GET.get("segment", "")).isdigit():
            initial["segment"] = segment
        form = CustomerExportForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            segment = form.cleaned_data["segment"]
            try:
                export = customer_export_request(
                    user=request.user,
                    fields=form.cleaned_data["columns"],
                    segment_id=segment.pk if segment else None,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{export} is being written in the background.")
                return HttpResponseRedirect(
                    reverse("admin:customers_customerexport_change", args=[export.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Export customers in the background (CSV)",
            "form": form,
            "contact_in_full": can_view_pii(request.user),
            "retention_days": settings.CUSTOMERS_EXPORT_FILE_RETENTION_DAYS,
        }
        return TemplateResponse(request, "admin/customers/export_form.html", context)


def _job_summary(job: ImportJob) -> str:
    if job.status != ImportJob.Status.SUCCEEDED:
        return f"{job.file_name}: {job.get_status_display()}. {job.error}"
    if job.changed_nothing:
        return f"{job.file_name}: nothing changed, every row was already imported as it is."
    return " ".join(
        filter(
            None,
            [
                f"{job.file_name}: {job.created} created, {job.updated} updated, "
                f"{job.merged} merged, {job.unchanged} unchanged, {job.rejected} rejected.",
                job.email_unkeyed_summary,
            ],
        )
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
        return _job_summary(obj) if obj.is_finished else "Running…"

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


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    form = ImportMappingForm
    list_display = ["name", "source", "updated_at"]
    search_fields = ["name", "source"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj: Any) -> int:
        return int(obj.member_total)


@admin.register(SourceRecord)
class SourceRecordAdmin(PiiListRule, admin.ModelAdmin):
    list_display = ["__str__", "customer", "source", "first_seen_at", "last_seen_at"]
    list_filter = ["source"]
    list_select_related = ["customer"]
    search_fields = ["=external_id"]
    raw_id_fields = ["customer"]
    readonly_fields = ["row_hash", "first_seen_at", "last_seen_at", "held_values_masked"]
    show_full_result_count = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["customer", "source", "external_id", "row_hash", "first_seen_at", "last_seen_at"]
        # The values a source holds are contact data, and so is a synthetic id
        # (email:<address>): in full only with view_pii.
        if can_view_pii(request.user):
            return [*fields, *_HELD]
        masked = [MASKED_EXTERNAL_ID if f == "external_id" else f for f in fields]
        return [*masked, "held_values_masked"]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        if can_view_pii(request.user):
            return super().get_exclude(request, obj)
        return [*(super().get_exclude(request, obj) or []), "external_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Imports write the held values; nobody edits them by hand.
        fields = ["row_hash", "first_seen_at", "last_seen_at", "held_values_masked", *_HELD]
        return fields if can_view_pii(request.user) else [*fields, MASKED_EXTERNAL_ID]

    @admin.display(description="external id")
    def masked_external_id(self, obj: SourceRecord) -> str:
        return mask_text(obj.external_id)

    @admin.display(description="values it holds")
    def held_values_masked(self, obj: SourceRecord) -> str:
        return _held_values(obj, in_full=False)


@admin.register(Touchpoint)
class TouchpointAdmin(PiiListRule, admin.ModelAdmin):
    list_display = ["occurred_at", "customer", "channel", "kind", "reference"]
    list_filter = ["channel", "kind"]
    list_select_related = ["customer"]
    search_fields = ["=reference"]
    raw_id_fields = ["customer", "created_by"]
    show_full_result_count = False


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


@admin.register(PiiAccess)
class PiiAccessAdmin(PiiListRule, ReadOnlyAdmin):
    """The log of who saw contact data in full; nobody edits it."""

    list_display = ["accessed_at", "user", "kind", "customer", "detail"]
    list_filter = ["kind"]
    list_select_related = ["user", "customer"]
    search_fields = ["user__username", "=customer__id"]
    raw_id_fields = ["customer"]
    readonly_fields = ["accessed_at", "user", "kind", "customer", "detail"]
    show_full_result_count = False
    date_hierarchy = "accessed_at"


@admin.register(SourcePriority)
class SourcePriorityAdmin(admin.ModelAdmin):
    """Which source's contact data is kept when two disagree; edits apply from the next import."""

    list_display = ["source", "priority", "note"]
    list_editable = ["priority"]
    search_fields = ["source"]


@admin.register(PlaceholderEmail)
class PlaceholderEmailAdmin(admin.ModelAdmin):
    """The patterns an import treats as no one's address; edits apply from the next import."""

    list_display = ["pattern", "note", "created_at"]
    search_fields = ["pattern"]


@admin.register(SharedEmail)
class SharedEmailAdmin(admin.ModelAdmin):
    """Addresses found on several ids of one source. Written by imports only."""

    list_display = ["email", "source", "first_seen_at"]
    list_filter = ["source"]
    show_full_result_count = False

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        if can_view_pii(request.user):
            return list(self.list_display)
        return ["masked_email", "source", "first_seen_at"]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        # A search would tell someone without view_pii whether an address is known.
        return ["email"] if can_view_pii(request.user) else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self.get_list_display(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return self.get_list_display(request)

    @admin.display(description="email")
    def masked_email(self, obj: SharedEmail) -> str:
        return mask_email(obj.email)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(ReadOnlyAdmin):
    """The review queue: pairs who may be one person. Nothing merges until someone says so."""

    list_display = ["pair", "reason", "score", "status", "found_at", "decided_by"]
    list_filter = ["status", "reason"]
    list_select_related = ["customer_a", "customer_b", "decided_by"]
    actions = ["merge_keep_older", "dismiss"]
    show_full_result_count = False
    fields = ("customer_a", "customer_b", "reason", "score", "status", "decided_by", "decided_at")
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="customers")
    def pair(self, obj: DuplicateCandidate) -> str:
        return format_html(
            '<a href="{}">{}</a> / <a href="{}">{}</a>',
            reverse("admin:customers_customer_change", args=[obj.customer_a_id]),
            str(obj.customer_a),
            reverse("admin:customers_customer_change", args=[obj.customer_b_id]),
            str(obj.customer_b),
        )

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.change_duplicatecandidate")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # How fresh the queue is: a reviewer should not take "nothing waiting" from a
        # search that has not run for a week.
        searches = DuplicateSearch.objects.all()
        extra_context = {
            **(extra_context or {}),
            "last_search": searches.filter(finished_at__isnull=False, error="").first(),
            "last_failed": searches.filter(finished_at__isnull=False).exclude(error="").first(),
            "running": searches.filter(finished_at__isnull=True).first(),
            "can_search": self.has_decide_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("search/", view(self.search_view), name="customers_duplicatecandidate_search"),
            *super().get_urls(),
        ]

    @admin_view_permissions("decide")
    def search_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            duplicates_search_enqueue(by=request.user)
            self.message_user(request, "The search for duplicates has started in the background.")
            return HttpResponseRedirect(
                reverse("admin:customers_duplicatecandidate_changelist") + "?status__exact=pending"
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Search for suspected duplicates",
            "form": forms.Form(),
        }
        return TemplateResponse(
            request, "admin/customers/duplicatecandidate/search_confirm.html", context
        )

    @admin.action(description="Same person: merge into the older record", permissions=["decide"])
    def merge_keep_older(
        self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate]
    ) -> None:
        each_object_run(
            self,
            request,
            queryset.select_related("customer_a"),
            lambda candidate: customer_merge(
                candidate=candidate, survivor=candidate.customer_a, by=request.user
            ),
            done="pair(s) merged; each can be undone from Merges",
            refusal_level=messages.WARNING,
        )

    @admin.action(description="Not the same person: dismiss", permissions=["decide"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate]) -> None:
        each_object_run(
            self,
            request,
            queryset,
            lambda candidate: duplicate_dismiss(candidate=candidate, by=request.user),
            done="pair(s) dismissed",
            refusal_level=messages.WARNING,
        )


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdmin):
    """Merges people confirmed, with what moved; one action undoes a merge."""

    list_display = ["__str__", "merged_by", "merged_at", "unmerged_by", "unmerged_at"]
    list_select_related = ["survivor", "merged", "merged_by", "unmerged_by"]
    actions = ["unmerge"]
    fields = (
        "survivor",
        "merged",
        "candidate",
        "source_record_ids",
        "merged_by",
        "merged_at",
        "unmerged_by",
        "unmerged_at",
    )
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.change_customermerge")

    @admin.action(description="Undo the selected merges", permissions=["undo"])
    def unmerge(self, request: HttpRequest, queryset: QuerySet[CustomerMerge]) -> None:
        each_object_run(
            self,
            request,
            queryset,
            lambda merge: customer_unmerge(merge=merge, by=request.user),
            done="merge(s) undone",
            refusal_level=messages.WARNING,
        )
