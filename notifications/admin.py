"""Admin for breach messages. Writes go through the services; review and sign-off are
confirmation pages that show exactly what is approved or signed."""

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from config import roles
from customers.models import Customer

from . import services
from .forms import CommunicationForm, ReviewForm, SignOffForm, TemplateVersionForm
from .models import (
    Communication,
    CommunicationSignOff,
    MessageTemplate,
    SignOffRole,
    TemplateVersion,
)
from .readability import Readability
from .selectors import (
    communication_active_sign_offs,
    communication_content_document,
    communication_content_hash,
    communication_matrix,
    communication_previews,
    communication_sign_off_blockers,
    readability_is_too_hard,
    template_version_preview,
    template_version_problems,
    template_version_readability,
)
from .services import TransitionRefused

REVIEW = "notifications.review_templateversion"
SIGN = "notifications.sign_communication"


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
    list_filter = ["status", "channel", "language"]
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
        submitted, refused = 0, []
        for version in queryset:
            try:
                services.template_version_submit(version_id=version.pk, actor=request.user)
                submitted += 1
            except TransitionRefused as error:
                refused.append(str(error))
        self.message_user(request, f"{submitted} submitted for legal review.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)

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
        extra = extra_context or {}
        if version is not None:
            extra.update(
                can_review=request.user.has_perm(REVIEW)
                and version.status == TemplateVersion.Status.SUBMITTED,
                can_submit=request.user.has_perm("notifications.change_templateversion")
                and version.status == TemplateVersion.Status.DRAFT,
                can_copy=request.user.has_perm("notifications.add_templateversion"),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _version(self, request: HttpRequest, pk: int, permission: str) -> TemplateVersion:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(
            TemplateVersion.objects.select_related("template__incident", "created_by"), pk=pk
        )

    def _page(
        self, request: HttpRequest, version: TemplateVersion, template: str, **context: Any
    ) -> TemplateResponse:
        readability: Readability | None = template_version_readability(version=version)
        return TemplateResponse(
            request,
            f"admin/notifications/templateversion/{template}.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": version,
                "version": version,
                "title": context.pop("title"),
                "problems": template_version_problems(version=version),
                "preview": template_version_preview(version=version),
                "readability": readability,
                "too_hard": readability_is_too_hard(readability),
                "min_reading_ease": _min_reading_ease(),
                **context,
            },
        )

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._version(request, pk, REVIEW)
        form = ReviewForm(
            request.POST or None,
            initial={"content_hash": version.content_hash, "decision": "approve"},
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
            except (TransitionRefused, ValidationError) as error:
                form.add_error(None, _message(error))
        return self._page(request, version, "review", title=f"Legal review of {version}", form=form)

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
            except TransitionRefused as refused:
                error = str(refused)
        return self._page(
            request, version, "submit", title=f"Submit {version} for legal review", error=error
        )

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


class SignOffInline(admin.TabularInline):
    model = CommunicationSignOff
    fields = ("role", "user", "content_hash", "signed_at", "voided_at", "void_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CommunicationSignOff]:
        return super().get_queryset(request).select_related("user")


@admin.register(Communication)
class CommunicationAdmin(admin.ModelAdmin):
    form = CommunicationForm
    list_display = ["name", "incident", "status", "channel_list", "send_window_start"]
    list_display += ["active_sign_offs", "created_by"]
    list_select_related = ["incident", "created_by"]
    list_filter = ["status"]
    search_fields = ["name", "incident__title"]
    readonly_fields = ["status", "created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["incident", "name", "status"]}),
        ("Audience", {"fields": ["audience_data_categories", "audience_countries"]}),
        (
            "Delivery",
            {"fields": ["channels", "send_window_start", "send_window_end", "fallback_language"]},
        ),
        ("Words", {"fields": ["chosen_versions"]}),
        ("Record", {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    inlines = [SignOffInline]
    actions = None
    change_form_template = "admin/notifications/communication/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Communication]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_sign_off_count=Count(
                    "sign_offs", filter=Q(sign_offs__voided_at__isnull=True)
                )
            )
        )

    @admin.display(description="channels")
    def channel_list(self, communication: Communication) -> str:
        return ", ".join(communication.channels)

    @admin.display(description="sign-offs", ordering="active_sign_off_count")
    def active_sign_offs(self, communication: Any) -> str:
        return f"{communication.active_sign_off_count} of 2"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = [*self.readonly_fields, "incident"] if obj else list(self.readonly_fields)
        if obj is not None and not self.has_change_permission(request, obj):
            fields.append("version_list")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # The form-only version picker shows nothing to a viewer; list the versions instead.
        return [
            (
                name,
                {
                    "fields": [
                        "version_list" if f == "chosen_versions" else f for f in opts["fields"]
                    ]
                },
            )
            for name, opts in self.fieldsets
        ]

    @admin.display(description="template versions")
    def version_list(self, communication: Communication) -> str:
        return format_html_join(
            "",
            "<div>{} — <code>{}</code></div>",
            ((str(v), v.content_hash) for v in communication.versions.select_related("template")),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "audience_data_categories": data["audience_data_categories"],
            "audience_countries": data["audience_countries"],
            "channels": data["channels"],
            "send_window_start": data["send_window_start"],
            "send_window_end": data["send_window_end"],
            "fallback_language": data["fallback_language"],
            "version_ids": [v.pk for v in data["chosen_versions"]],
        }
        if change:
            had = CommunicationSignOff.objects.filter(
                communication_id=obj.pk, voided_at__isnull=True
            ).count()
            saved = services.communication_update(
                communication_id=obj.pk, actor=request.user, **fields
            )
            left = CommunicationSignOff.objects.filter(
                communication_id=obj.pk, voided_at__isnull=True
            ).count()
            if left < had:
                self.message_user(
                    request,
                    "The change voided the sign-offs; the CMO and the CISO must sign again.",
                    messages.WARNING,
                )
        else:
            saved = services.communication_create(
                incident_id=data["incident"].pk, actor=request.user, **fields
            )
        obj.pk = saved.pk

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return list(self.inlines) if obj else []

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/sign/",
                self.admin_site.admin_view(self.sign_view),
                name="notifications_communication_sign",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        communication = self.get_object(request, object_id)
        extra = extra_context or {}
        if communication is not None:
            extra.update(self._content_context(request, communication))
        return super().change_view(request, object_id, form_url, extra)

    def _content_context(
        self, request: HttpRequest, communication: Communication
    ) -> dict[str, Any]:
        matrix = communication_matrix(communication=communication)
        samples = sorted({row.sample_customer_id for row in matrix.rows})
        lookup = request.GET.get("preview", "").strip()
        person_previews = None
        if lookup:
            customer = Customer.objects.filter(
                Q(email_normalized=lookup.lower()) | Q(pk=int(lookup) if lookup.isdigit() else 0)
            ).first()
            person_previews = (
                communication_previews(communication=communication, customer_ids=[customer.pk])
                if customer
                else []
            )
        return {
            "matrix": matrix,
            "blockers": communication_sign_off_blockers(communication=communication, matrix=matrix),
            "previews": communication_previews(communication=communication, customer_ids=samples),
            "preview_lookup": lookup,
            "person_previews": person_previews,
            "content_hash": communication_content_hash(communication=communication),
            "can_sign": request.user.has_perm(SIGN) and bool(_signing_roles(request)),
        }

    def sign_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm(SIGN):
            raise PermissionDenied
        communication = get_object_or_404(
            Communication.objects.select_related("incident", "created_by"), pk=pk
        )
        held = _signing_roles(request)
        form = SignOffForm(
            request.POST or None,
            roles=held,
            initial={"content_hash": communication_content_hash(communication=communication)},
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.communication_sign_off(
                    communication_id=communication.pk,
                    actor=request.user,
                    role=form.cleaned_data["role"],
                    content_hash=form.cleaned_data["content_hash"],
                )
                self.message_user(
                    request,
                    f"You signed off {communication} as {form.cleaned_data['role']}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:notifications_communication_change", args=[communication.pk])
                )
            except (TransitionRefused, ValidationError) as error:
                form.add_error(None, _message(error))
        return TemplateResponse(
            request,
            "admin/notifications/communication/sign.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": communication,
                "communication": communication,
                "title": f"Sign off {communication}",
                "form": form,
                "held_roles": held,
                "document": communication_content_document(communication=communication),
                "versions": communication.versions.select_related("template").order_by("pk"),
                "sign_offs": communication_active_sign_offs(communication=communication),
                **self._content_context(request, communication),
            },
        )


def _signing_roles(request: HttpRequest) -> list[str]:
    if not isinstance(request.user, User):
        return []
    names = set(request.user.groups.values_list("name", flat=True))
    return [
        role for role in (roles.CMO, roles.CISO) if role in names and role in SignOffRole.values
    ]


def _min_reading_ease() -> int:
    return int(settings.BREACH_MESSAGE_MIN_READING_EASE)


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)
