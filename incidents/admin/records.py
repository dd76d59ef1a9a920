from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_pii import PiiListRule
from config.admin_views import admin_view_permissions
from customers.pii import can_view_pii, mask_text
from incidents import services
from incidents.forms import (
    ObligationMeetForm,
    ObligationNotRequiredForm,
    ObligationPauseForm,
    utc,
)
from incidents.models import (
    AffectedCustomer,
    Assessment,
    ForensicList,
    ForensicListRow,
    Obligation,
    ObligationPause,
    Regime,
    RegimeChange,
    TimelineEvent,
)

from .common import ERRORS, ReadOnlyAdmin, form_page


class ObligationPauseInline(admin.TabularInline):
    model = ObligationPause
    extra = 0
    fields = ["requested_by", "reference", "starts_at", "until", "recorded_by", "recorded_at"]
    readonly_fields = [
        "requested_by",
        "reference",
        "starts_at",
        "until",
        "recorded_by",
        "recorded_at",
    ]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Obligation)
class ObligationAdmin(ReadOnlyAdmin):
    inlines = [ObligationPauseInline]
    list_display = ["name", "incident", "recipient", "due_at", "status", "met_at", "lateness"]
    list_filter = ["status", ("incident", admin.RelatedOnlyFieldListFilter), "regime"]
    search_fields = ["name", "incident__title", "recipient"]
    list_select_related = ["incident"]
    readonly_fields = [
        "incident",
        "regime",
        "name",
        "recipient",
        "terms",
        "why",
        "clock_started_at",
        "due_at",
        "status",
        "met_at",
        "lateness",
        "delay_reason",
        "not_required_reason",
        "created_at",
    ]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/meet/", view(self.meet_view), name="incidents_obligation_meet"),
            path("<int:pk>/pause/", view(self.pause_view), name="incidents_obligation_pause"),
            path(
                "<int:pk>/not-required/",
                view(self.not_required_view),
                name="incidents_obligation_not_required",
            ),
            *super().get_urls(),
        ]

    def _obligation_for(self, request: HttpRequest, pk: int) -> Obligation:
        if not request.user.has_perm("incidents.meet_obligation"):
            raise PermissionDenied
        return get_object_or_404(Obligation.objects.select_related("incident"), pk=pk)

    def _back(self, obligation: Obligation) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:incidents_incident_change", args=[obligation.incident_id])
        )

    @admin_view_permissions("incidents.meet_obligation")
    def meet_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obligation = self._obligation_for(request, pk)
        form = ObligationMeetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                met = services.obligation_meet(
                    obligation_id=obligation.pk,
                    actor=request.user,
                    met_at=utc(form.cleaned_data["met_at"]),  # type: ignore[arg-type]
                    delay_reason=form.cleaned_data["delay_reason"],
                )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{met.name}: {met.get_status_display().lower()}.")
                return self._back(obligation)
        due = f"due {obligation.due_at:%Y-%m-%d %H:%M} UTC" if obligation.due_at else "no clock"
        return form_page(
            request,
            title=f"Record {obligation.name} as met",
            form=form,
            obj=obligation,
            opts=self.opts,
            intro=f"{obligation.incident}: {due}.",
        )

    @admin_view_permissions("incidents.meet_obligation")
    def pause_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obligation = self._obligation_for(request, pk)
        form = ObligationPauseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.obligation_pause(
                    obligation_id=obligation.pk,
                    actor=request.user,
                    requested_by=data["requested_by"],
                    reference=data["reference"],
                    starts_at=utc(data["starts_at"]),  # type: ignore[arg-type]
                    until=utc(data["until"]),  # type: ignore[arg-type]
                )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{obligation.name}: clock paused.")
                return self._back(obligation)
        return form_page(
            request,
            title=f"Record a law-enforcement delay of {obligation.name}",
            form=form,
            obj=obligation,
            opts=self.opts,
            intro="The due time moves by the delay's length. Keep the written request.",
        )

    @admin_view_permissions("incidents.meet_obligation")
    def not_required_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obligation = self._obligation_for(request, pk)
        form = ObligationNotRequiredForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.obligation_mark_not_required(
                    obligation_id=obligation.pk,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{obligation.name}: not required.")
                return self._back(obligation)
        return form_page(
            request,
            title=f"Record {obligation.name} as not required",
            form=form,
            obj=obligation,
            opts=self.opts,
        )


class RegimeChangeInline(admin.TabularInline):
    model = RegimeChange
    extra = 0
    fields = ["changed_at", "changed_by", "before", "after"]
    readonly_fields = ["changed_at", "changed_by", "before", "after"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Regime)
class RegimeAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "recipient",
        "deadline",
        "clock_start",
        "profile_flag",
        "min_affected",
        "active",
    ]
    list_filter = ["active", "profile_flag", "deadline_unit", "clock_start", "relation"]
    search_fields = ["code", "name", "recipient", "source"]
    list_select_related = ["follows", "regulator"]
    autocomplete_fields = ["follows", "relative_to"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "name",
                    "recipient",
                    "regulator",
                    "active",
                    "terms",
                    "source",
                    "in_force_from",
                    "in_force_until",
                ]
            },
        ),
        (
            "When it applies",
            {
                "fields": [
                    "profile_flag",
                    "countries",
                    "regions",
                    "min_affected",
                    "max_affected",
                    "threshold_per_subdivision",
                    "waived_by",
                ]
            },
        ),
        (
            "Clock",
            {
                "fields": [
                    "clock_start",
                    "follows",
                    "relation",
                    "relative_to",
                    "deadline_amount",
                    "deadline_unit",
                    "due_local_time",
                    "due_timezone",
                    "holiday_calendar",
                ]
            },
        ),
    ]

    inlines = [RegimeChangeInline]

    def save_model(self, request: HttpRequest, obj: Regime, form: Any, change: bool) -> None:
        services.regime_save(regime=obj, actor=request.user)

    @admin.display(description="deadline")
    def deadline(self, obj: Regime) -> str:
        if obj.deadline_unit == Regime.Unit.NONE:
            return "no fixed deadline"
        return f"{obj.deadline_amount} {obj.get_deadline_unit_display().lower()}"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Obligations point at their regime; deactivate a regime instead of deleting it.
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["incident", "seq", "occurred_at", "actor_label", "kind", "short_hash"]
    list_filter = ["kind"]
    search_fields = ["incident__title", "kind", "actor_label"]
    list_select_related = ["incident"]
    show_full_result_count = False
    readonly_fields = [
        "incident",
        "seq",
        "occurred_at",
        "actor",
        "actor_label",
        "kind",
        "payload",
        "prev_hash",
        "hash",
    ]

    @admin.display(description="hash")
    def short_hash(self, obj: TimelineEvent) -> str:
        return f"{obj.hash[:12]}…"


@admin.register(AffectedCustomer)
class AffectedCustomerAdmin(PiiListRule, ReadOnlyAdmin):
    list_display = ["customer", "incident", "country", "region", "data_categories", "found_by"]
    list_filter = ["found_by", "incident"]
    search_fields = ["customer__email_normalized", "customer__last_name"]
    list_select_related = ["customer", "incident"]
    show_full_result_count = False
    readonly_fields = ["incident", "customer", "data_categories", "found_by", "added_at"]

    @admin.display(description="country", ordering="customer__country")
    def country(self, obj: AffectedCustomer) -> str:
        return obj.customer.country

    @admin.display(description="region", ordering="customer__region")
    def region(self, obj: AffectedCustomer) -> str:
        return obj.customer.region


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ["incident", "version", "score", "level", "assessed_by", "assessed_at"]
    list_filter = ["level"]
    search_fields = ["incident__title"]
    list_select_related = ["incident", "assessed_by"]
    fields = ["incident", "version", "arithmetic", "note", "assessed_by", "assessed_at"]
    readonly_fields = ["incident", "version", "arithmetic", "note", "assessed_by", "assessed_at"]


class UnmatchedRowInline(admin.TabularInline):
    model = ForensicListRow
    verbose_name_plural = "lines that matched no customer"
    fields = ["line", "value", "unmatched_reason"]
    readonly_fields = ["line", "value", "unmatched_reason"]
    extra = 0
    can_delete = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # A line that matched nobody is still an email or an id someone leaked.
        if can_view_pii(request.user):
            return list(self.fields)
        return ["line", "masked_value", "unmatched_reason"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "masked_value"]

    @admin.display(description="value")
    def masked_value(self, row: ForensicListRow) -> str:
        return mask_text(row.value)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ForensicListRow]:
        return super().get_queryset(request).filter(customer__isnull=True)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ForensicList)
class ForensicListAdmin(ReadOnlyAdmin):
    list_display = ["filename", "incident", "rows", "matched", "unmatched_count", "uploaded_at"]
    search_fields = ["filename", "incident__title"]
    list_select_related = ["incident"]
    readonly_fields = [
        "incident",
        "filename",
        "sha256",
        "column",
        "uploaded_by",
        "uploaded_at",
        "rows",
        "matched",
        "unmatched",
    ]
    inlines = [UnmatchedRowInline]

    @admin.display(description="unmatched", ordering="unmatched")
    def unmatched_count(self, obj: ForensicList) -> str:
        if not obj.unmatched:
            return "0"
        return format_html("<strong>{}</strong>", obj.unmatched)
