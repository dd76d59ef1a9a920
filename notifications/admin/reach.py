"""Admin for reaching everyone: returned letters, substitute-notice decisions, call-centre
packs, and the agents' lookup by reference."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_views import ReadOnlyAdmin, admin_view_permissions, form_page
from config.services import ServiceError
from incidents.models import Incident

from ..models import (
    CallCentrePack,
    Communication,
    ReturnedLetter,
    SignOffRole,
    SubstituteNotice,
    reference_display,
)
from ..reach.callcentre import (
    call_centre_pack_csv,
    call_centre_pack_current,
    call_centre_pack_make,
    call_centre_pack_pdf,
)
from ..reach.lookup import notification_lookup
from ..reach.returns import returned_letters_import
from ..reach.substitute import (
    substitute_notice_content_hash,
    substitute_notice_current_sign_offs,
    substitute_notice_decide,
    substitute_notice_sign_off,
    substitute_notice_sign_off_blockers,
    substitute_notice_texts,
)
from .common import error_message


def _page(
    request: HttpRequest, model_admin: admin.ModelAdmin, title: str, form: forms.Form, **extra: Any
) -> TemplateResponse:
    return form_page(request, opts=model_admin.opts, title=title, form=form, **extra)


class ReturnFileForm(forms.Form):
    reference = forms.CharField(
        required=False,
        max_length=40,
        help_text="Scan (or type) the reference of one returned envelope…",
    )
    file = forms.FileField(
        required=False,
        help_text="…or upload the print house's CSV: reference, returned_on (YYYY-MM-DD), reason.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("reference")) == bool(data.get("file")):
            raise ValidationError("Scan one reference or upload one return file.")
        return data


@admin.register(ReturnedLetter)
class ReturnedLetterAdmin(ReadOnlyAdmin):
    # The address the letter went to is kept for the count, and shown to nobody here.
    list_display = ["reference", "returned_on", "reason", "source", "recorded_at"]
    list_select_related = ["notification"]
    readonly_fields = ("reference", "returned_on", "reason", "source", "recorded_by", "recorded_at")
    fields = readonly_fields
    show_full_result_count = False
    actions = None

    @admin.display(description="reference")
    def reference(self, letter: ReturnedLetter) -> str:
        return reference_display(letter.notification.reference)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="notifications_returnedletter_import",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_import": request.user.has_perm("notifications.import_returnedletter"),
        }
        return super().changelist_view(request, context)

    @admin_view_permissions("notifications.import_returnedletter")
    def import_view(self, request: HttpRequest) -> HttpResponse:
        form = ReturnFileForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload, scanned = form.cleaned_data["file"], form.cleaned_data["reference"]
            try:
                recorded = returned_letters_import(
                    csv_text=(
                        upload.read().decode("utf-8-sig") if upload else f"reference\n{scanned}\n"
                    ),
                    source=upload.name if upload else "scanned",
                    actor=request.user,
                )
            except (ValidationError, UnicodeDecodeError) as error:
                form.add_error(None, error_message(error))
            else:
                self.message_user(
                    request, f"{recorded} returned letters recorded.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:notifications_returnedletter_changelist")
                )
        return _page(
            request,
            self,
            "Import returned letters (the print house's return file)",
            form,
            submit="Record returned letters",
        )


class DecideForm(forms.Form):
    regime = forms.ChoiceField(choices=SubstituteNotice.Regime.choices)
    region = forms.CharField(required=False, max_length=2, help_text="US state, for state law.")
    toll_free_number = forms.CharField(max_length=32)
    cost_estimate = forms.DecimalField(required=False, min_value=Decimal(0))
    cost_threshold = forms.DecimalField(required=False, min_value=Decimal(0))
    people_threshold = forms.IntegerField(required=False, min_value=0)
    disproportionate_effort = forms.BooleanField(
        required=False, help_text="GDPR: individual notice would involve disproportionate effort."
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class SignOffSubstituteForm(forms.Form):
    notice = forms.ChoiceField(widget=forms.RadioSelect, label="Texts")
    role = forms.ChoiceField(choices=SignOffRole.choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, notices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["notice"]
        if isinstance(field, forms.ChoiceField):
            field.choices = notices


@admin.register(SubstituteNotice)
class SubstituteNoticeAdmin(ReadOnlyAdmin):
    list_display = ["incident", "regime", "region", "outcome", "unreached", "decided_at"]
    list_select_related = ["incident"]
    list_filter = ["regime", "outcome"]
    readonly_fields = [f.name for f in SubstituteNotice._meta.fields]
    actions = None

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "decide/<int:incident_id>/",
                self.admin_site.admin_view(self.decide_view),
                name="notifications_substitutenotice_decide",
            ),
            path(
                "sign-off/<int:incident_id>/",
                self.admin_site.admin_view(self.sign_off_view),
                name="notifications_substitutenotice_sign_off",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions("notifications.sign_communication")
    def sign_off_view(self, request: HttpRequest, incident_id: int) -> HttpResponse:
        """The CMO and the CISO read the substitute texts as they stand and sign exactly
        those (the choice carries the texts' SHA-256)."""
        incident = get_object_or_404(Incident, pk=incident_id)
        notices = SubstituteNotice.objects.filter(incident=incident).exclude(
            outcome=SubstituteNotice.Outcome.NOT_MET
        )
        facts: list[tuple[str, str]] = []
        choices: list[tuple[str, str]] = []
        for notice in notices:
            label = notice.get_regime_display() + (f" {notice.region}" if notice.region else "")
            content_hash = substitute_notice_content_hash(notice=notice)
            for what, version in substitute_notice_texts(notice=notice).items():
                facts.append(
                    (
                        f"{label}: {what} text ({version.get_status_display().lower()})",
                        f"{version.subject}\n\n{version.text_body}",
                    )
                )
            signed = ", ".join(
                f"{s.role} {s.user}" for s in substitute_notice_current_sign_offs(notice=notice)
            )
            blockers = " ".join(substitute_notice_sign_off_blockers(notice=notice))
            facts.append((f"{label}: SHA-256", f"{content_hash}; signed: {signed or 'nobody yet'}"))
            if blockers:
                facts.append((f"{label}: not yet", blockers))
            choices.append((f"{notice.pk}:{content_hash}", f"{label} (texts {content_hash[:12]})"))
        form = SignOffSubstituteForm(request.POST or None, notices=choices)
        if request.method == "POST" and form.is_valid():
            notice_id, content_hash = form.cleaned_data["notice"].split(":", 1)
            try:
                substitute_notice_sign_off(
                    notice_id=int(notice_id),
                    actor=request.user,
                    role=form.cleaned_data["role"],
                    content_hash=content_hash,
                )
            except (ServiceError, ValidationError) as error:
                form.add_error(None, error_message(error))
            else:
                self.message_user(
                    request, "The substitute notice's texts are signed.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:incidents_incident_change", args=[incident.pk])
                )
        return _page(
            request,
            self,
            f"Sign off the substitute notice for {incident}",
            form,
            facts=facts,
            submit="Sign these texts",
        )

    @admin_view_permissions("notifications.decide_substitutenotice")
    def decide_view(self, request: HttpRequest, incident_id: int) -> HttpResponse:
        incident = get_object_or_404(Incident, pk=incident_id)
        form = DecideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                notice = substitute_notice_decide(
                    incident_id=incident.pk, actor=request.user, **data
                )
            except ValidationError as error:
                form.add_error(None, error_message(error))
            else:
                self.message_user(request, f"{notice}: {notice.condition}", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:incidents_incident_change", args=[incident.pk])
                )
        return _page(
            request,
            self,
            f"Substitute notice for {incident}",
            form,
            submit="Record the decision",
        )


@admin.register(CallCentrePack)
class CallCentrePackAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "number", "created_at", "standing"]
    list_select_related = ["communication"]
    readonly_fields = (
        "communication",
        "number",
        "notice_hash",
        "content_hash",
        "created_by",
        "created_at",
        "voided_at",
        "void_reason",
        "exports",
    )
    fields = readonly_fields
    actions = None

    @admin.display(description="standing")
    def standing(self, pack: CallCentrePack) -> str:
        if pack.voided_at:
            return f"voided: {pack.void_reason}"
        return "current" if call_centre_pack_current(pack=pack) else "void: the notice changed"

    @admin.display(description="export")
    def exports(self, pack: CallCentrePack) -> str:
        return format_html(
            '<a href="{}">PDF</a> · <a href="{}">CSV for the knowledge base</a>',
            reverse("admin:notifications_callcentrepack_export", args=[pack.pk, "pdf"]),
            reverse("admin:notifications_callcentrepack_export", args=[pack.pk, "csv"]),
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "make/<int:communication_id>/",
                view(self.make_view),
                name="notifications_callcentrepack_make",
            ),
            path(
                "<int:pk>/export/<str:fmt>/",
                view(self.export_view),
                name="notifications_callcentrepack_export",
            ),
            *super().get_urls(),
        ]

    @admin_view_permissions("notifications.add_callcentrepack")
    def make_view(self, request: HttpRequest, communication_id: int) -> HttpResponse:
        communication = get_object_or_404(Communication, pk=communication_id)
        # The form has no fields: an empty POST is the click on "Make the pack".
        form = forms.Form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                pack = call_centre_pack_make(communication_id=communication.pk, actor=request.user)
            except ValidationError as error:
                form.add_error(None, error_message(error))
            else:
                self.message_user(request, f"{pack} is current.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:notifications_callcentrepack_change", args=[pack.pk])
                )
        return _page(
            request,
            self,
            f"Call-centre pack for {communication}",
            form,
            facts=[("Written from", "its approved versions and the incident facts")],
            submit="Make the pack",
        )

    @admin_view_permissions("view")
    def export_view(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        pack = get_object_or_404(CallCentrePack.objects.select_related("communication"), pk=pk)
        if not call_centre_pack_current(pack=pack):
            self.message_user(
                request, f"{pack} is void: make a new one from the notice.", messages.ERROR
            )
            return HttpResponseRedirect(
                reverse("admin:notifications_callcentrepack_change", args=[pack.pk])
            )
        name = f"call-centre-pack-{pack.communication_id}-v{pack.number}"
        if fmt == "pdf":
            response = HttpResponse(call_centre_pack_pdf(pack=pack), content_type="application/pdf")
        elif fmt == "csv":
            response = HttpResponse(
                call_centre_pack_csv(pack=pack), content_type="text/csv; charset=utf-8"
            )
        else:
            return HttpResponse(status=404)
        response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
        return response


class LookupForm(forms.Form):
    reference = forms.CharField(
        max_length=40, help_text="As printed on the letter or email, e.g. ABCD-EF01-2345-6789."
    )


def lookup_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The agent's page: one reference in, what that person was sent out."""
    form = LookupForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = notification_lookup(
                reference=form.cleaned_data["reference"], actor=request.user
            )
        except ValidationError as error:
            form.add_error("reference", error_message(error))
    return TemplateResponse(
        request,
        "admin/notifications/lookup.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": "Look a caller up by reference",
            "form": form,
            "result": result,
        },
    )
