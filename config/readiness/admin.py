"""The readiness page and board PDF (custom views on the snapshot admin), and the list of
customers behind the "reachable" figures."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from config.admin_views import ReadOnlyAdmin, admin_view_permissions
from customers.models import Customer, SourceRecord

from .checks import checks_for_user
from .models import ContactGap, ReadinessSnapshot
from .selectors import USABLE_POSTAL, VALID_EMAIL, stale, stale_cutoff
from .services import readiness_board_pdf_render, readiness_report, readiness_trend_svg

VIEW = "readiness.view_readinesssnapshot"


@admin.register(ReadinessSnapshot)
class ReadinessSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["day", "taken_at"]
    readonly_fields = ["day", "taken_at", "figures"]
    fields = ["day", "taken_at", "figures"]
    actions = None
    change_list_template = "admin/readiness/snapshot_change_list.html"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("page/", view(self.page_view), name="readiness_page"),
            path("board.pdf", view(self.board_pdf_view), name="readiness_board_pdf"),
            *super().get_urls(),
        ]

    # The page names gaps in roles and contact data: for those who answer for readiness.
    @admin_view_permissions(VIEW)
    def page_view(self, request: HttpRequest) -> HttpResponse:
        report = readiness_report()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Readiness",
            "report": report,
            "dimensions": checks_for_user(report.dimensions, request.user),
            "trend_svg": readiness_trend_svg(),
        }
        return TemplateResponse(request, "admin/readiness/page.html", context)

    @admin_view_permissions(VIEW)
    def board_pdf_view(self, request: HttpRequest) -> HttpResponse:
        pdf = readiness_board_pdf_render(report=readiness_report())
        response = HttpResponse(pdf, content_type="application/pdf")
        name = f"readiness-{timezone.localdate():%Y-%m-%d}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ReachFilter(admin.SimpleListFilter):
    title = "reach"
    parameter_name = "reach"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        months = settings.READINESS_CONTACT_STALE_MONTHS
        return [
            ("no_email", "No valid email"),
            ("no_postal", "No usable postal address"),
            ("neither", "Neither (no channel reaches them)"),
            ("stale", f"Not seen in any import for {months} months"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "no_email":
            return queryset.filter(~VALID_EMAIL)
        if value == "no_postal":
            return queryset.filter(~USABLE_POSTAL)
        if value == "neither":
            return queryset.filter(~VALID_EMAIL & ~USABLE_POSTAL)
        if value == "stale":
            return queryset.filter(stale())
        return queryset


class PlaceFilter(admin.SimpleListFilter):
    """Country or US state, as the readiness tables link them (no list of choices: the
    links name the place)."""

    parameter_name = "country"
    title = "country"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(country=self.value()) if self.value() else queryset


class StateFilter(PlaceFilter):
    parameter_name = "state"
    title = "US state"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value:
            return queryset.filter(country="US", region__iexact=value)
        return queryset


@admin.register(ContactGap)
class ContactGapAdmin(ReadOnlyAdmin):
    """Who is behind a reachability figure: no contact data on this list (the PII rule
    holds for every role), only which channel is missing; the name leads to the record."""

    list_display = ["customer", "country", "region", "email_status", "postal_address", "seen"]
    list_display_links = None
    list_filter = [ReachFilter, PlaceFilter, StateFilter, "email_status"]
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        recent = SourceRecord.objects.filter(
            customer=OuterRef("pk"), last_seen_at__gte=stale_cutoff()
        )
        return (
            super()
            .get_queryset(request)
            # The gaps are people's: a record merged into another is counted as the survivor.
            .filter(merged_into__isnull=True)
            .only("first_name", "last_name", "country", "region", "email_status", "street", "city")
            .annotate(
                recent=Exists(recent),
                has_postal=ExpressionWrapper(USABLE_POSTAL, output_field=BooleanField()),
            )
        )

    @admin.display(description="customer")
    def customer(self, obj: Customer) -> str:
        url = reverse("admin:customers_customer_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, str(obj))

    @admin.display(description="usable postal address", boolean=True)
    def postal_address(self, obj: Any) -> bool:
        return bool(obj.has_postal)

    @admin.display(description="seen in an import lately", boolean=True)
    def seen(self, obj: Any) -> bool:
        return bool(obj.recent)
