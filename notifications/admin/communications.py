"""Admin for communications: who gets what, previews, and the sign-off confirmation page."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join

from config import roles
from config.admin_views import admin_view_permissions
from config.services import ServiceError
from customers.models import Customer
from customers.pii import can_view_pii

from .. import services
from ..forms import CommunicationForm, SignOffForm
from ..models import (
    Communication,
    CommunicationSignOff,
    SignOffRole,
)
from ..selectors import (
    communication_active_sign_offs,
    communication_content_document,
    communication_content_hash,
    communication_matrix,
    communication_previews,
    communication_sign_off_blockers,
)
from .common import error_message
from .delivery import progress_html

SIGN = "notifications.sign_communication"


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
    list_filter = ["status", ("incident", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "incident__title"]
    readonly_fields = ["status", "created_by", "created_at", "updated_at", "sending"]
    fieldsets = [
        (None, {"fields": ["incident", "name", "status"]}),
        ("Audience", {"fields": ["audience_data_categories", "audience_countries"]}),
        (
            "Delivery",
            {"fields": ["channels", "send_window_start", "send_window_end", "fallback_language"]},
        ),
        ("Words", {"fields": ["chosen_versions"]}),
        ("Sending", {"fields": ["sending"]}),
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

    @admin.display(description="progress")
    def sending(self, communication: Communication) -> str:
        return progress_html(communication) if communication.pk else "—"

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
            extra.update(
                call_centre_pack=communication.call_centre_packs.filter(
                    voided_at__isnull=True
                ).first(),
                can_make_pack=request.user.has_perm("notifications.add_callcentrepack"),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _content_context(
        self, request: HttpRequest, communication: Communication
    ) -> dict[str, Any]:
        matrix = communication_matrix(communication=communication)
        samples = sorted({row.sample_customer_id for row in matrix.rows})
        lookup = request.GET.get("preview", "").strip()
        full = can_view_pii(request.user)
        person_previews, lookup_error = None, ""
        if lookup.isdigit() or (lookup and full):
            # By email only for those who may see emails: for anyone else, whether an
            # address is in the audience would tell who the breach touched.
            people = (
                [int(lookup)]
                if lookup.isdigit()
                else Customer.objects.filter(email_normalized=lookup.lower()).values_list(
                    "pk", flat=True
                )
            )
            person_previews = communication_previews(
                communication=communication, customer_ids=people, masked=not full
            )
        elif lookup:
            lookup_error = (
                "Looking a person up by email needs the permission to see personal data; "
                "enter their customer id instead."
            )
        return {
            "matrix": matrix,
            "blockers": communication_sign_off_blockers(communication=communication, matrix=matrix),
            "previews": communication_previews(
                communication=communication, customer_ids=samples, masked=not full
            ),
            "preview_lookup": lookup,
            "preview_lookup_error": lookup_error,
            "preview_lookup_label": "Customer id or email" if full else "Customer id",
            "person_previews": person_previews,
            "content_hash": communication_content_hash(communication=communication),
            "can_sign": request.user.has_perm(SIGN) and bool(_signing_roles(request)),
        }

    @admin_view_permissions(SIGN)
    def sign_view(self, request: HttpRequest, pk: int) -> HttpResponse:
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
            except (ServiceError, ValidationError) as error:
                form.add_error(None, error_message(error))
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
