"""Regulator notices, their filings and evidence packs: drafted, filed, built and
downloaded only through the services, each behind its permission."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from config.admin_views import admin_view_permissions
from config.admin_widgets import LabelledSplitDateTime
from config.services import ServiceError
from incidents.evidence.services import evidence_pack_download, evidence_pack_request
from incidents.forms import utc
from incidents.models import EvidencePack, Filing, Incident, Obligation, RegulatorNotice
from incidents.services.notice import (
    filing_record,
    notice_draft,
    notice_pdf,
    notice_update,
)

from .common import ReadOnlyAdmin, form_page


class NoticeDraftForm(forms.Form):
    incident = forms.ModelChoiceField(queryset=Incident.objects.exclude(status="closed"))
    obligation = forms.ModelChoiceField(
        queryset=Obligation.objects.filter(status=Obligation.Status.OPEN).select_related(
            "incident"
        ),
        required=False,
        help_text="Empty: the initial notice meets the open Art. 33 filing; follow-ups none.",
    )
    additional_information = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What this phase adds to the earlier notices.",
    )


class NoticeEditForm(forms.Form):
    """One box per answer of the drafted form, in its order."""

    def __init__(self, *args: Any, notice: RegulatorNotice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels: dict[str, str] = {}
        for s_index, section in enumerate(notice.content.get("sections", [])):
            for f_index, (label, value) in enumerate(section["fields"]):
                name = f"answer_{s_index}_{f_index}"
                self.labels[name] = label
                self.fields[name] = forms.CharField(
                    label=f"{section['title']}: {label}",
                    initial=value,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )

    def answers(self) -> dict[str, str]:
        return {self.labels[name]: value for name, value in self.cleaned_data.items()}


class FilingForm(forms.Form):
    authority = forms.CharField(max_length=200)
    filed_at = forms.SplitDateTimeField(label="Submitted at (UTC)", widget=LabelledSplitDateTime)
    reference = forms.CharField(label="Authority's reference", max_length=200)
    delay_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the filing is late (Art. 33(1)).",
    )
    backdate_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when it was submitted more than a day ago: why it is recorded now.",
    )


class EvidencePackForm(forms.Form):
    incident = forms.ModelChoiceField(queryset=Incident.objects.all())


@admin.register(RegulatorNotice)
class RegulatorNoticeAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "incident", "phase", "obligation", "filed", "created_at"]
    list_filter = ["phase"]
    search_fields = ["incident__title", "filing__reference"]
    list_select_related = ["incident", "obligation", "filing"]
    readonly_fields = [
        "incident",
        "number",
        "phase",
        "obligation",
        "created_by",
        "created_at",
        "links",
        "answers",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.file_regulatornotice")

    @admin.display(description="filed")
    def filed(self, notice: RegulatorNotice) -> str:
        filing = getattr(notice, "filing", None)
        return f"{filing.reference} ({filing.authority})" if filing else "not filed"

    @admin.display(description="notice")
    def links(self, notice: RegulatorNotice) -> str:
        preview = reverse("admin:incidents_regulatornotice_pdf", args=[notice.pk])
        if Filing.objects.filter(notice=notice).exists():
            return format_html('<a href="{}">Read the notice (PDF)</a>', preview)
        file_url = reverse("admin:incidents_regulatornotice_file", args=[notice.pk])
        edit_url = reverse("admin:incidents_regulatornotice_edit", args=[notice.pk])
        return format_html(
            '<a href="{}">Read the draft (PDF)</a> · <a href="{}">Edit the draft</a> · '
            '<a href="{}">Record the filing</a>',
            preview,
            edit_url,
            file_url,
        )

    @admin.display(description="the form's answers")
    def answers(self, notice: RegulatorNotice) -> str:
        rows = [
            (section["title"], label, value)
            for section in notice.content.get("sections", [])
            for label, value in section["fields"]
        ]
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><td>{}</td><th>{}</th><td>{}</td></tr>", rows),
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/pdf/", view(self.pdf_view), name="incidents_regulatornotice_pdf"),
            path("<int:pk>/file/", view(self.file_view), name="incidents_regulatornotice_file"),
            path("<int:pk>/edit/", view(self.edit_view), name="incidents_regulatornotice_edit"),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NoticeDraftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                notice = notice_draft(
                    incident_id=data["incident"].pk,
                    actor=request.user,
                    obligation_id=data["obligation"].pk if data["obligation"] else None,
                    additional_information=data["additional_information"],
                )
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{notice} drafted from the incident record.")
                return HttpResponseRedirect(
                    reverse("admin:incidents_regulatornotice_change", args=[notice.pk])
                )
        return form_page(
            request,
            title="Draft a regulator notice",
            form=form,
            obj=None,
            opts=self.opts,
            intro="The notice is drafted from the incident record as it stands now.",
        )

    @admin_view_permissions("view")
    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        notice = get_object_or_404(RegulatorNotice.objects.select_related("incident"), pk=pk)
        filing = Filing.objects.filter(notice=notice).first()
        if filing is not None:
            return FileResponse(filing.file.open("rb"), content_type="application/pdf")
        return HttpResponse(notice_pdf(notice=notice), content_type="application/pdf")

    @admin_view_permissions("incidents.file_regulatornotice")
    def edit_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        notice = get_object_or_404(RegulatorNotice.objects.select_related("incident"), pk=pk)
        form = NoticeEditForm(request.POST or None, notice=notice)
        if request.method == "POST" and form.is_valid():
            try:
                notice_update(notice_id=notice.pk, actor=request.user, answers=form.answers())
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{notice}: the draft is saved.")
                return HttpResponseRedirect(
                    reverse("admin:incidents_regulatornotice_change", args=[notice.pk])
                )
        return form_page(
            request, title=f"Edit the draft of {notice}", form=form, obj=notice, opts=self.opts
        )

    @admin_view_permissions("incidents.file_regulatornotice")
    def file_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        notice = get_object_or_404(RegulatorNotice.objects.select_related("incident"), pk=pk)
        form = FilingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                filing = filing_record(
                    notice_id=notice.pk,
                    actor=request.user,
                    authority=data["authority"],
                    filed_at=utc(data["filed_at"]),  # type: ignore[arg-type]
                    reference=data["reference"],
                    delay_reason=data["delay_reason"],
                    backdate_reason=data["backdate_reason"],
                )
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{notice} filed as {filing.reference}.")
                return HttpResponseRedirect(
                    reverse("admin:incidents_regulatornotice_change", args=[notice.pk])
                )
        return form_page(
            request, title=f"Record the filing of {notice}", form=form, obj=notice, opts=self.opts
        )


@admin.register(Filing)
class FilingAdmin(ReadOnlyAdmin):
    list_display = ["reference", "authority", "notice", "filed_at", "file_sha256", "recorded_by"]
    search_fields = ["reference", "authority", "notice__incident__title"]
    list_select_related = ["notice__incident", "recorded_by"]
    readonly_fields = [
        "notice",
        "authority",
        "filed_at",
        "reference",
        "file_sha256",
        "delay_reason",
        "recorded_by",
        "recorded_at",
    ]


@admin.register(EvidencePack)
class EvidencePackAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "status",
        "progress",
        "chain_ok",
        "sha256",
        "built_by",
        "requested_at",
        "download",
    ]
    list_filter = ["status"]
    search_fields = ["incident__title", "sha256"]
    list_select_related = ["incident", "built_by"]
    readonly_fields = [
        "incident",
        "status",
        "progress",
        "stage",
        "sha256",
        "size",
        "head_hash",
        "chain_ok",
        "first_broken_seq",
        "affected",
        "error",
        "built_by",
        "requested_at",
        "started_at",
        "finished_at",
        "timings",
        "download",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.build_evidencepack")

    @admin.display(description="file")
    def download(self, pack: EvidencePack) -> str:
        if pack.status != EvidencePack.Status.READY:
            return f"{pack.get_status_display()} ({pack.progress}%)"
        url = reverse("admin:incidents_evidencepack_download", args=[pack.pk])
        return format_html('<a href="{}">Download</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/download/",
                view(self.download_view),
                name="incidents_evidencepack_download",
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EvidencePackForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                pack = evidence_pack_request(
                    incident_id=form.cleaned_data["incident"].pk, actor=request.user
                )
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{pack} is being built in the background.")
                return HttpResponseRedirect(
                    reverse("admin:incidents_evidencepack_change", args=[pack.pk])
                )
        return form_page(
            request,
            title="Build an evidence pack",
            form=form,
            obj=None,
            opts=self.opts,
            intro="The pack is built in the background; this page shows its progress.",
        )

    @admin_view_permissions("incidents.view_evidencepack")
    def download_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        get_object_or_404(EvidencePack, pk=pk)
        try:
            pack = evidence_pack_download(pack_id=pk, actor=request.user)
        except ServiceError as error:
            self.message_user(request, str(error), level="error")
            return HttpResponseRedirect(reverse("admin:incidents_evidencepack_change", args=[pk]))
        return FileResponse(
            pack.file.open("rb"),
            as_attachment=True,
            filename=f"evidence-incident-{pack.incident_id}-{pack.pk}.pdf",
            content_type="application/pdf",
        )
