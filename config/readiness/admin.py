"""The readiness page and board PDF (custom views on the snapshot admin), the list of
customers behind the "reachable" figures, and the on-call rota."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    ForeignKey,
    OuterRef,
    QuerySet,
)
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from config.admin_pii import PiiListRule
from config.admin_views import ReadOnlyAdmin, admin_view_permissions
from customers.models import Customer, SourceRecord

from .checks import checks_for_user
from .models import ContactGap, OnCallShift, ReadinessSnapshot
from .selectors import ON_CALL_ROLES, USABLE_POSTAL, VALID_EMAIL, stale, stale_cutoff
from .services import (
    customer_figures_refresh,
    readiness_board_pdf_render,
    readiness_report,
    readiness_trend_svg,
)

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
            path("recount/", view(self.recount_view), name="readiness_recount"),
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
            "recount_minutes": settings.READINESS_RECOUNT_MINUTES,
        }
        return TemplateResponse(request, "admin/readiness/page.html", context)

    # Recounting changes no data, only how old the figures are: anyone who reads the page
    # may ask for it. A GET (a reloaded or typed address) recounts nothing.
    @admin_view_permissions(VIEW)
    def recount_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            figures = customer_figures_refresh()
            self.message_user(
                request,
                f"Customer figures recounted as of {figures.computed_at:%Y-%m-%d %H:%M:%S} UTC.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:readiness_page"))

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


class WhenFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "when"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("now", "On call now"), ("upcoming", "Upcoming"), ("past", "Past")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "now":
            # As the readiness page counts them: someone who has left covers nothing.
            return queryset.filter(starts_at__lte=now, ends_at__gt=now, person__is_active=True)
        if self.value() == "upcoming":
            return queryset.filter(starts_at__gt=now)
        if self.value() == "past":
            return queryset.filter(ends_at__lte=now)
        return queryset


@admin.register(OnCallShift)
class OnCallShiftAdmin(PiiListRule, admin.ModelAdmin):
    """The on-call rota: who answers for a role from when until when. The shift's own
    checks (the person is active and holds the role) run in the form."""

    list_display = ["role", "person", "starts_at", "ends_at", "on_call_now"]
    list_filter = [WhenFilter, "role"]
    list_select_related = ["person"]
    fields = ["role", "person", "starts_at", "ends_at"]
    ordering = ["role", "starts_at"]

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> "ModelChoiceField[Any] | None":
        if db_field.name == "person":
            # Only those who could stand in: active people holding a role on the rota.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(is_active=True, groups__name__in=ON_CALL_ROLES)
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="on call now", boolean=True)
    def on_call_now(self, obj: OnCallShift) -> bool:
        return obj.starts_at <= timezone.now() < obj.ends_at
