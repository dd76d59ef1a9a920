"""The customer list and page: filters, masking, the person's sources and history."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import connection
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from config.admin_pii import PiiListRule
from config.admin_views import admin_view_permissions, form_page
from config.services import ServiceError

from ..forms import CustomerExportForm, CustomerForm, ImportUploadForm
from ..models import (
    Customer,
    ImportJob,
    PiiAccess,
    Segment,
    SegmentMembership,
    SourceRecord,
)
from ..pii import can_view_pii, mask_email, mask_field, mask_phone, mask_text
from ..resources import CustomerExportResource
from ..selectors import customer_timeline, customers_needing_fixes
from ..services import (
    customer_export_request,
    customer_save,
    import_job_confirm,
    import_job_create,
    import_job_enqueue,
    import_job_run,
    pii_access_record,
)
from .common import (
    _GROUPS,
    EXPORT_PERMISSION,
    IMPORT_PERMISSION,
    MASKED_EXTERNAL_ID,
    MASKED_FIELDS,
    TIMELINE_LIMIT,
    _held_values,
    job_summary,
)


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
        return form_page(
            request,
            opts=self.opts,
            title="Import customers",
            form=form,
            template="admin/customers/import_form.html",
            max_upload_mb=settings.CUSTOMERS_IMPORT_MAX_UPLOAD_MB,
            preview_max_kb=settings.CUSTOMERS_IMPORT_PREVIEW_MAX_KB,
        )

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
                self.message_user(request, job_summary(job), level)
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
        return form_page(
            request,
            opts=self.opts,
            title="Export customers in the background (CSV)",
            form=form,
            template="admin/customers/export_form.html",
            contact_in_full=can_view_pii(request.user),
            retention_days=settings.CUSTOMERS_EXPORT_FILE_RETENTION_DAYS,
        )
