"""Admin for sending: the send confirmation, progress, pause and resume, the notification
ledger, letter batches, code pools and bounce files. Every write goes through a service."""

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from config.admin_confirm import confirm_first
from config.admin_pii import PiiListRule
from config.admin_views import ReadOnlyAdmin, admin_view_permissions, each_object_run, form_page
from config.drills import drill_recipients
from config.services import ServiceError
from config.uploads import upload_size_check
from customers.models import PiiAccess
from customers.pii import can_view_pii, mask_email, mask_text
from customers.services import pii_access_record

from ..models import Communication, Delivery, LetterBatch, Notification, RemediationCode
from ..selectors import delivery_outcomes, delivery_progress
from ..services.bounces import bounces_from_csv, bounces_from_dsn, bounces_record, dsn_messages
from ..services.codes import codes_free, codes_import
from ..services.delivery import (
    SendBlocker,
    communication_audience_size,
    communication_needs_codes,
    communication_send,
    communication_send_blockers,
    delivery_pause,
    delivery_resume,
)
from ..services.letters import letter_batch_create, letter_batch_mark_posted
from .common import error_message

SEND = "notifications.send_communication"
RESUME = "notifications.resume_delivery"


def progress_html(communication: Communication) -> SafeString:
    """The progress bar and estimate shown on the communication's page."""
    return SafeString(
        render_to_string(
            "admin/notifications/delivery/progress.html",
            {
                "communication": communication,
                "progress": delivery_progress(communication_id=communication.pk),
                "outcomes": delivery_outcomes(communication_id=communication.pk),
            },
        )
    )


class SendForm(forms.Form):
    kind = forms.ChoiceField(choices=Delivery.Kind.choices, initial=Delivery.Kind.BREACH_NOTICE)


class UploadForm(forms.Form):
    file = forms.FileField(validators=[upload_size_check])


def _form_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, title: str, form: forms.Form, **extra: Any
) -> TemplateResponse:
    return form_page(request, opts=model_admin.opts, title=title, form=form, **extra)


def _fix(
    request: HttpRequest, communication: Communication, blocker: SendBlocker
) -> tuple[str, str]:
    """Where the missing thing a refusal names is made, when this person may make it."""
    user = request.user
    if blocker.missing == "art34" and user.has_perm("incidents.decide_incident"):
        url = reverse("admin:incidents_incident_decide", args=[communication.incident_id])
        return "Record the Art. 34 decision", url
    if blocker.missing == "codes" and user.has_perm("notifications.add_remediationcode"):
        url = reverse(
            "admin:notifications_remediationcode_import", args=[communication.incident_id]
        )
        return "Import remediation codes", url
    if blocker.missing == "sign_off":
        url = reverse("admin:notifications_communication_change", args=[communication.pk])
        return "Open the communication and its sign-offs", url
    if blocker.missing == "art34":
        url = reverse("admin:incidents_incident_change", args=[communication.incident_id])
        return "The DPO or the CISO records it on the incident", url
    return "", ""


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["communication", "kind", "status", "started_at", "completed_at"]
    list_select_related = ["communication"]
    list_filter = ["status", "kind"]
    search_fields = ["communication__name", "communication__incident__title"]
    readonly_fields = [
        "communication",
        "kind",
        "status",
        "content_hash",
        "started_by",
        "started_at",
        "paused_at",
        "pause_reason",
        "resumed_by",
        "completed_at",
        "progress",
    ]
    actions = ["pause", "resume", "letters_a4", "letters_us"]

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RESUME)

    def has_letters_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.add_letterbatch")

    @admin.display(description="progress")
    def progress(self, delivery: Delivery) -> SafeString:
        return progress_html(delivery.communication)

    @admin.action(description="Pause the selected waves", permissions=["resume"])
    @confirm_first(
        question="Pause these waves of breach messages?",
        consequence="No further message of theirs leaves until a CMO or CISO resumes them.",
        button="Yes, pause them",
    )
    def pause(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self._each(
            request,
            queryset,
            "paused",
            lambda d: delivery_pause(
                delivery_id=d.pk, actor=request.user, reason=f"Paused by {request.user}."
            ),
        )

    @admin.action(description="Resume the selected waves", permissions=["resume"])
    @confirm_first(
        question="Resume sending these waves of breach messages?",
        consequence="Their remaining messages go out now.",
        button="Yes, resume sending",
    )
    def resume(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self._each(
            request,
            queryset,
            "resumed",
            lambda d: delivery_resume(delivery_id=d.pk, actor=request.user),
        )

    @admin.action(description="Build letters (A4) for those email missed", permissions=["letters"])
    def letters_a4(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self._letters(request, queryset, LetterBatch.PaperSize.A4)

    @admin.action(
        description="Build letters (US Letter) for those email missed", permissions=["letters"]
    )
    def letters_us(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self._letters(request, queryset, LetterBatch.PaperSize.LETTER)

    def _letters(self, request: HttpRequest, queryset: QuerySet[Delivery], size: str) -> None:
        self._each(
            request,
            queryset,
            "sent to the letter press",
            lambda d: letter_batch_create(
                communication_id=d.communication_id, paper_size=size, actor=request.user
            ),
        )

    def _each(self, request: HttpRequest, queryset: Any, done: str, call: Any) -> None:
        each_object_run(self, request, queryset, call, done=done)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "send/<int:communication_id>/",
                self.admin_site.admin_view(self.send_view),
                name="notifications_delivery_send",
            ),
            path(
                "bounces/",
                self.admin_site.admin_view(self.bounces_view),
                name="notifications_delivery_bounces",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions(SEND)
    def send_view(self, request: HttpRequest, communication_id: int) -> HttpResponse:
        communication = get_object_or_404(
            Communication.objects.select_related("incident"), pk=communication_id
        )
        form = SendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                communication_send(
                    communication_id=communication.pk,
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                )
            except ServiceError as error:
                form.add_error(None, error_message(error))
            else:
                self.message_user(request, f"'{communication}' is being sent.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:notifications_communication_change", args=[communication.pk])
                )
        blockers = communication_send_blockers(communication=communication)
        if blockers:
            # The page states every refusal once, before the button; a POST refused for one
            # of them does not say it a second time above the form.
            form = SendForm()
        needs_codes = communication_needs_codes(communication=communication)
        incident = communication.incident
        facts: list[tuple[str, Any]] = [
            ("Audience", communication_audience_size(communication=communication)),
            ("Status", communication.get_status_display()),
            ("Art. 34 decision", incident.get_art34_decision_display()),
            (
                "Free remediation codes",
                codes_free(incident_id=communication.incident_id) if needs_codes else "—",
            ),
        ]
        if incident.is_drill and not any(b.missing == "drill_recipients" for b in blockers):
            facts.append(("Drill: goes only to", ", ".join(drill_recipients())))
        return _form_page(
            request,
            self,
            f"Send {communication}",
            form,
            facts=facts,
            submit="Send",
            incident=incident,
            blockers=[(b.reason, *_fix(request, communication, b)) for b in blockers],
        )

    @admin_view_permissions("notifications.change_notification")
    def bounces_view(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read()
            try:
                if Path(upload.name).suffix.lower() == ".csv":
                    bounces = bounces_from_csv(csv_text=data.decode("utf-8-sig"))
                else:
                    bounces = [b for m in dsn_messages(data=data) for b in bounces_from_dsn(m)]
                marked = bounces_record(bounces=bounces, source=upload.name, actor=request.user)
            except (ValidationError, UnicodeDecodeError) as error:
                form.add_error("file", error_message(error))
            else:
                self.message_user(
                    request,
                    f"{len(bounces)} bounces read, {marked} sent messages marked bounced.",
                    messages.SUCCESS,
                )
                # Back to the wave's page when the upload was reached from it.
                back = request.GET.get("communication", "")
                if back.isdigit():
                    return HttpResponseRedirect(
                        reverse("admin:notifications_communication_change", args=[int(back)])
                    )
                return HttpResponseRedirect(reverse("admin:notifications_delivery_changelist"))
        return _form_page(
            request,
            self,
            "Record bounces (provider CSV export, or an mbox / .eml of bounce reports)",
            form,
            submit="Record bounces",
        )


@admin.register(Notification)
class NotificationAdmin(PiiListRule, ReadOnlyAdmin):
    list_display = ["communication", "customer", "channel", "status", "attempts", "sent_at"]
    list_select_related = ["communication", "customer"]
    list_filter = ["status", "channel"]
    search_fields = ["email", "customer__last_name", "=customer__id"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Notification._meta.fields] + ["message_id"]
    actions = None

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if can_view_pii(request.user):
            return list(self.readonly_fields)
        masked = {"email": "masked_email", "last_error": "masked_error"}
        return [masked.get(f, f) for f in self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "masked_email", "masked_error"]

    @admin.display(description="email")
    def masked_email(self, notification: Notification) -> str:
        return mask_email(notification.email)

    @admin.display(description="last error")
    def masked_error(self, notification: Notification) -> str:
        # An SMTP refusal quotes the address it refused.
        return mask_text(notification.last_error)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "lookup/",
                self.admin_site.admin_view(self.lookup_view),
                name="notifications_notification_lookup",
            ),
            *super().get_urls(),
        ]

    # Agents answer callers by reference only: no list, no search, one person per lookup.
    @admin_view_permissions("notifications.lookup_notification")
    def lookup_view(self, request: HttpRequest) -> HttpResponse:
        from .reach import lookup_view

        return lookup_view(self, request)


@admin.register(LetterBatch)
class LetterBatchAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "paper_size", "status", "built_of", "created_at", "posted_at"]
    list_select_related = ["communication"]
    list_filter = ["status", "paper_size"]
    search_fields = ["communication__name"]
    fields = (
        "communication",
        "paper_size",
        "status",
        "letters",
        "built",
        "downloads",
        "error",
        "created_by",
        "created_at",
        "built_at",
        "posted_at",
        "posted_by",
    )
    readonly_fields = fields
    actions = ["mark_posted"]

    def has_post_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.post_letterbatch")

    @admin.display(description="built")
    def built_of(self, batch: LetterBatch) -> str:
        return f"{batch.built} of {batch.letters}"

    @admin.display(description="files")
    def downloads(self, batch: LetterBatch) -> str:
        if batch.status not in (LetterBatch.Status.READY, LetterBatch.Status.POSTED):
            return "—"
        return format_html(
            '<a href="{}">PDF</a> · <a href="{}">manifest (CSV)</a>',
            reverse("admin:notifications_letterbatch_file", args=[batch.pk, "pdf"]),
            reverse("admin:notifications_letterbatch_file", args=[batch.pk, "manifest"]),
        )

    @admin.action(description="Record as posted", permissions=["post"])
    def mark_posted(self, request: HttpRequest, queryset: QuerySet[LetterBatch]) -> None:
        each_object_run(
            self,
            request,
            queryset,
            lambda batch: letter_batch_mark_posted(batch_id=batch.pk, actor=request.user),
            done="batch(es) recorded as posted",
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/file/<str:which>/",
                self.admin_site.admin_view(self.file_view),
                name="notifications_letterbatch_file",
            ),
            *super().get_urls(),
        ]

    # Letters and their manifest hold postal addresses in full.
    @admin_view_permissions("view", "customers.view_pii")
    def file_view(self, request: HttpRequest, pk: int, which: str) -> FileResponse:
        if which not in ("pdf", "manifest"):
            raise PermissionDenied
        batch = get_object_or_404(LetterBatch, pk=pk)
        field = batch.pdf if which == "pdf" else batch.manifest
        if not field:
            raise PermissionDenied
        pii_access_record(
            user=request.user,
            kind=PiiAccess.Kind.EXPORT,
            detail=f"letter batch {batch.pk}: {which} downloaded (postal addresses in full)",
        )
        return FileResponse(field.open("rb"), as_attachment=True, filename=Path(field.name).name)


@admin.register(RemediationCode)
class RemediationCodeAdmin(PiiListRule, ReadOnlyAdmin):
    # The codes themselves are secrets handed to people: the list shows them shortened.
    list_display = ["__str__", "incident", "vendor", "expires_on", "assigned_at"]
    list_select_related = ["incident"]
    list_filter = ["vendor"]
    search_fields = ["=code", "vendor"]
    show_full_result_count = False
    readonly_fields = ("incident", "vendor", "expires_on", "assigned_at", "imported_at")
    fields = readonly_fields
    actions = None

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "import/<int:incident_id>/",
                self.admin_site.admin_view(self.import_view),
                name="notifications_remediationcode_import",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions("notifications.add_remediationcode")
    def import_view(self, request: HttpRequest, incident_id: int) -> HttpResponse:
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                added = codes_import(
                    incident_id=incident_id,
                    actor=request.user,
                    csv_text=form.cleaned_data["file"].read().decode("utf-8-sig"),
                )
            except (ValidationError, UnicodeDecodeError) as error:
                form.add_error("file", error_message(error))
            else:
                self.message_user(request, f"{added} codes added to the pool.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:notifications_remediationcode_changelist")
                )
        return _form_page(
            request,
            self,
            "Import remediation codes (CSV: code, vendor, expiry)",
            form,
            facts=[("Free codes now", codes_free(incident_id=incident_id))],
            submit="Import",
        )
