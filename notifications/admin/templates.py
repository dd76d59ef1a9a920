"""Admin for template versions and their legal review (confirmation pages for submit,
review and new version)."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_views import admin_view_permissions, each_object_run
from config.services import ServiceError

from .. import services
from ..forms import ReviewForm, TemplateVersionForm
from ..models import (
    MessageTemplate,
    TemplateVersion,
)
from ..readability import Readability
from ..selectors import (
    readability_is_too_hard,
    template_variables,
    template_version_preview,
    template_version_problems,
    template_version_readability,
)
from .common import error_message

REVIEW = "notifications.review_templateversion"


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    fields = ("link", "channel", "language", "data_categories", "status", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="version")
    def link(self, version: TemplateVersion) -> str:
        url = reverse("admin:notifications_templateversion_change", args=[version.pk])
        return format_html('<a href="{}">v{}</a>', url, version.number)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "incident", "version_count", "approved_count", "created_by"]
    list_select_related = ["incident", "created_by"]
    search_fields = ["name", "incident__title"]
    list_filter = [("incident", admin.RelatedOnlyFieldListFilter)]
    fields = ["incident", "name", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [TemplateVersionInline]
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[MessageTemplate]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                version_count=Count("versions"),
                approved_count=Count(
                    "versions", filter=Q(versions__status=TemplateVersion.Status.APPROVED)
                ),
            )
        )

    @admin.display(description="versions", ordering="version_count")
    def version_count(self, template: Any) -> int:
        return template.version_count

    @admin.display(description="approved", ordering="approved_count")
    def approved_count(self, template: Any) -> int:
        return template.approved_count

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "incident", "name"] if obj else list(self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A template's words live in its versions; the template itself is fixed once made.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return list(self.inlines) if obj else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.message_template_create(
            incident_id=obj.incident_id, name=obj.name, actor=request.user
        )
        obj.pk, obj.created_by = saved.pk, saved.created_by

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        url = reverse("admin:notifications_templateversion_add") + f"?template={obj.pk}"
        self.message_user(request, f"Now write the first version of “{obj}”.", messages.SUCCESS)
        return HttpResponseRedirect(url)


@admin.register(TemplateVersion)
class TemplateVersionAdmin(admin.ModelAdmin):
    form = TemplateVersionForm
    list_display = ["template", "number", "channel", "language", "categories", "status"]
    list_display += ["created_by", "reviewed_by"]
    list_select_related = ["template", "created_by", "reviewed_by"]
    list_filter = [
        "status",
        "channel",
        "language",
        ("template__incident", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["template__name", "subject", "template__incident__title"]
    autocomplete_fields = ["template"]
    readonly_fields = ["number", "status", "content_hash", "created_by", "created_at"]
    readonly_fields += ["submitted_at", "reviewed_by", "reviewed_at", "review_comment"]
    fieldsets = [
        (None, {"fields": ["template", "number", "status"]}),
        ("Who gets it", {"fields": ["channel", "language", "data_categories"]}),
        ("Words", {"fields": ["subject", "text_body", "html_body"]}),
        (
            "Review",
            {
                "fields": [
                    "content_hash",
                    "created_by",
                    "created_at",
                    "submitted_at",
                    "reviewed_by",
                    "reviewed_at",
                    "review_comment",
                ]
            },
        ),
    ]
    actions = ["submit_for_review"]
    change_form_template = "admin/notifications/templateversion/change_form.html"

    @admin.display(description="data categories")
    def categories(self, version: TemplateVersion) -> str:
        return ", ".join(version.data_categories) or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return list(self.readonly_fields)
        return [*self.readonly_fields, "template"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only drafts change; anything else is edited as a new version.
        if obj is not None and obj.status != TemplateVersion.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        template = MessageTemplate.objects.filter(pk=request.GET.get("template") or 0).first()
        latest = template and template.versions.order_by("-number").first()
        if latest:
            initial.update(
                channel=latest.channel,
                language=latest.language,
                data_categories=latest.data_categories,
                subject=latest.subject,
                text_body=latest.text_body,
                html_body=latest.html_body,
            )
        return initial

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in ("channel", "language", "data_categories", "subject", "text_body")
        }
        fields["html_body"] = form.cleaned_data["html_body"]
        if change:
            saved = services.template_version_update(
                version_id=obj.pk, actor=request.user, **fields
            )
        else:
            saved = services.template_version_create(
                template_id=obj.template_id, actor=request.user, **fields
            )
        obj.pk, obj.number, obj.status = saved.pk, saved.number, saved.status

    @admin.action(description="Submit selected drafts for legal review", permissions=["change"])
    def submit_for_review(self, request: HttpRequest, queryset: QuerySet[TemplateVersion]) -> None:
        each_object_run(
            self,
            request,
            queryset,
            lambda version: services.template_version_submit(
                version_id=version.pk, actor=request.user
            ),
            done="submitted for legal review",
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/review/",
                view(self.review_view),
                name="notifications_templateversion_review",
            ),
            path(
                "<int:pk>/submit/",
                view(self.submit_view),
                name="notifications_templateversion_submit",
            ),
            path(
                "<int:pk>/new-version/",
                view(self.new_version_view),
                name="notifications_templateversion_new_version",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        version = self.get_object(request, object_id)
        extra = {**(extra_context or {}), **self._authoring_context()}
        if version is not None:
            extra.update(
                can_review=request.user.has_perm(REVIEW)
                and version.status == TemplateVersion.Status.SUBMITTED,
                can_submit=request.user.has_perm("notifications.change_templateversion")
                and version.status == TemplateVersion.Status.DRAFT,
                can_copy=request.user.has_perm("notifications.add_templateversion"),
                **self._checks_context(version),
            )
        return super().change_view(request, object_id, form_url, extra)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), **self._authoring_context()}
        return super().add_view(request, form_url, extra)

    def _authoring_context(self) -> dict[str, Any]:
        return {"variables": template_variables()}

    def _checks_context(self, version: TemplateVersion) -> dict[str, Any]:
        """What the submit and review pages check, shown where the words are written."""
        readability: Readability | None = template_version_readability(version=version)
        return {
            "version": version,
            "problems": template_version_problems(version=version),
            "preview": template_version_preview(version=version),
            "readability": readability,
            "too_hard": readability_is_too_hard(readability),
            "min_reading_ease": _min_reading_ease(),
        }

    def _version(self, request: HttpRequest, pk: int, permission: str) -> TemplateVersion:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(
            TemplateVersion.objects.select_related("template__incident", "created_by"), pk=pk
        )

    def _page(
        self, request: HttpRequest, version: TemplateVersion, template: str, **context: Any
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/notifications/templateversion/{template}.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": version,
                "title": context.pop("title"),
                **self._checks_context(version),
                **context,
            },
        )

    @admin_view_permissions(REVIEW)
    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._version(request, pk, REVIEW)
        form = ReviewForm(
            request.POST or None,
            initial={"content_hash": version.content_hash},
        )
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["decision"] == "approve":
                    services.template_version_approve(
                        version_id=version.pk,
                        actor=request.user,
                        content_hash=form.cleaned_data["content_hash"],
                        comment=form.cleaned_data["comment"],
                    )
                    self.message_user(request, f"{version} approved.", messages.SUCCESS)
                else:
                    services.template_version_reject(
                        version_id=version.pk,
                        actor=request.user,
                        comment=form.cleaned_data["comment"],
                    )
                    self.message_user(request, f"{version} rejected.", messages.WARNING)
                return HttpResponseRedirect(
                    reverse("admin:notifications_templateversion_change", args=[version.pk])
                )
            except (ServiceError, ValidationError) as error:
                form.add_error(None, error_message(error))
        return self._page(request, version, "review", title=f"Legal review of {version}", form=form)

    @admin_view_permissions("notifications.change_templateversion")
    def submit_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._version(request, pk, "notifications.change_templateversion")
        error = ""
        if request.method == "POST":
            try:
                services.template_version_submit(version_id=version.pk, actor=request.user)
                self.message_user(
                    request, f"{version} submitted for legal review.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:notifications_templateversion_change", args=[version.pk])
                )
            except ServiceError as refused:
                error = str(refused)
        return self._page(
            request, version, "submit", title=f"Submit {version} for legal review", error=error
        )

    @admin_view_permissions("notifications.add_templateversion")
    def new_version_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._version(request, pk, "notifications.add_templateversion")
        if request.method == "POST":
            copy = services.template_version_copy(version_id=version.pk, actor=request.user)
            self.message_user(
                request,
                f"Version {copy.number} is a new draft; it needs its own legal review.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:notifications_templateversion_change", args=[copy.pk])
            )
        return self._page(request, version, "new_version", title=f"Edit {version} as a new version")


def _min_reading_ease() -> int:
    return int(settings.BREACH_MESSAGE_MIN_READING_EASE)
