"""What hangs on a customer: segments, source records, touchpoints, who saw contact data."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import (
    HttpRequest,
)

from config.admin_pii import PiiListRule
from config.admin_views import ReadOnlyAdmin

from ..models import (
    PiiAccess,
    Segment,
    SourceRecord,
    Touchpoint,
)
from ..pii import can_view_pii, mask_text
from .common import (
    _HELD,
    MASKED_EXTERNAL_ID,
    _held_values,
)


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
