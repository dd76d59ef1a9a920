"""One record per person: source priority, placeholder and shared addresses, suspected
duplicates and merges."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_views import ReadOnlyAdmin, admin_view_permissions, each_object_run

from ..models import (
    CustomerMerge,
    DuplicateCandidate,
    DuplicateSearch,
    PlaceholderEmail,
    SharedEmail,
    SourcePriority,
)
from ..pii import can_view_pii, mask_email
from ..services import (
    customer_merge,
    customer_unmerge,
    duplicate_dismiss,
    duplicates_search_enqueue,
)


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
