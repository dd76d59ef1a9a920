"""Admin forms. They validate through the services' own clean functions, so the admin
and the services refuse the same input with the same words."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError

from incidents.models import DataCategory

from .models import Channel, Communication, SignOffRole, TemplateVersion
from .services import communication_fields_clean, template_version_fields_clean


class TemplateVersionForm(forms.ModelForm):
    data_categories = forms.MultipleChoiceField(
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Sent only to people all of whose data categories are ticked here.",
    )

    class Meta:
        model = TemplateVersion
        fields = ["template", "channel", "language", "data_categories", "subject"]
        fields += ["text_body", "html_body"]
        widgets = {
            "text_body": forms.Textarea(attrs={"rows": 18, "cols": 100}),
            "html_body": forms.Textarea(attrs={"rows": 18, "cols": 100}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        html = self.fields.get("html_body")
        if html is None:  # read-only: a version past draft
            return
        html.required = False
        html.help_text = (
            "Leave it empty and it is built from the plain text: a paragraph per blank line. "
            "Write HTML only to lay the message out yourself."
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            template_version_fields_clean(
                channel=cleaned.get("channel") or "",
                language=cleaned.get("language") or "",
                data_categories=cleaned.get("data_categories") or [],
                subject=cleaned.get("subject") or "",
                text_body=cleaned.get("text_body", ""),
                html_body=cleaned.get("html_body", ""),
            )
        except ValidationError as error:
            self._add_service_errors(error)
        return cleaned

    def _add_service_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class CommunicationForm(forms.ModelForm):
    audience_data_categories = forms.MultipleChoiceField(
        label="Only people with these data categories",
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: everyone affected.",
    )
    audience_countries = forms.CharField(
        label="Only people in these countries",
        required=False,
        help_text="ISO 3166 codes separated by commas, e.g. DE, FR. Empty: every country.",
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Everyone in the audience needs an approved version on every channel.",
    )
    chosen_versions = forms.ModelMultipleChoiceField(
        label="Approved template versions",
        queryset=TemplateVersion.objects.none(),
        widget=FilteredSelectMultiple("template versions", is_stacked=False),
        required=False,
        help_text="Each person gets the most specific version written for all of their data "
        "categories, in their language or else the fallback language.",
    )

    class Meta:
        model = Communication
        fields = ["incident", "name", "audience_data_categories", "audience_countries"]
        fields += ["channels", "send_window_start", "send_window_end", "fallback_language"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        approved = TemplateVersion.objects.filter(
            status=TemplateVersion.Status.APPROVED
        ).select_related("template", "template__incident")
        if self.instance.pk:
            approved = approved.filter(template__incident_id=self.instance.incident_id)
            self.initial["chosen_versions"] = list(
                self.instance.versions.values_list("pk", flat=True)
            )
            self.initial["audience_countries"] = ", ".join(self.instance.audience_countries)
        else:
            self.initial.setdefault("fallback_language", settings.BREACH_MESSAGE_FALLBACK_LANGUAGE)
        self.fields["chosen_versions"].queryset = approved  # type: ignore[attr-defined]

    def clean_audience_countries(self) -> list[str]:
        raw = self.cleaned_data.get("audience_countries") or ""
        return [code.strip() for code in raw.replace(";", ",").split(",") if code.strip()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        incident = cleaned.get("incident") or self.instance.incident
        try:
            communication_fields_clean(
                incident_id=incident.pk,
                name=cleaned.get("name", ""),
                audience_data_categories=cleaned.get("audience_data_categories", []),
                audience_countries=cleaned.get("audience_countries", []),
                channels=cleaned.get("channels", []),
                send_window_start=cleaned["send_window_start"],
                send_window_end=cleaned["send_window_end"],
                fallback_language=cleaned.get("fallback_language", ""),
                version_ids=[v.pk for v in cleaned.get("chosen_versions", [])],
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                name = "chosen_versions" if field == "versions" else field
                self.add_error(name if name in self.fields else None, messages)
        return cleaned


class ReviewForm(forms.Form):
    # No decision is pre-chosen: approving must be a choice the reviewer makes.
    decision = forms.ChoiceField(
        choices=[("", "Choose: approve or reject"), ("approve", "Approve"), ("reject", "Reject")]
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), required=False)
    content_hash = forms.CharField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("decision") == "reject" and not cleaned.get("comment", "").strip():
            self.add_error("comment", "Say what must change.")
        return cleaned


class SignOffForm(forms.Form):
    role = forms.ChoiceField(choices=SignOffRole.choices, widget=forms.RadioSelect)
    content_hash = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, roles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r, r) for r in roles]  # type: ignore[attr-defined]
        if len(roles) == 1:
            self.initial["role"] = roles[0]
