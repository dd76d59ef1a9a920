from typing import Any

from django import forms
from django.conf import settings

from .imports.layouts import LAYOUTS
from .imports.normalize import FIELDS, email_normalize
from .models import Customer, ImportMapping, Segment
from .resources import EXPORT_FIELDS


class ImportUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8, UTF-16 or Windows-1252) or XLSX.")
    source = forms.CharField(
        max_length=64, help_text="The system the file comes from, e.g. salesforce or webshop."
    )
    layout = forms.ChoiceField(
        choices=[("", "Recognise from the header")]
        + [(name, layout.label) for name, layout in LAYOUTS.items()],
        required=False,
    )
    mapping = forms.ModelChoiceField(
        ImportMapping.objects.all(),
        required=False,
        help_text="For a file in no known CRM layout.",
    )
    segment = forms.ModelChoiceField(
        Segment.objects.all(), required=False, help_text="Add every imported customer to it."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.CUSTOMERS_IMPORT_MAX_UPLOAD_MB
        if upload.size > limit * 1024 * 1024:
            raise forms.ValidationError(
                f"The file is {upload.size / (1024 * 1024):.0f} MB; uploads are limited to "
                f"{limit} MB. Split it, or import it with manage.py import_customers."
            )
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("layout") and cleaned.get("mapping"):
            raise forms.ValidationError("Choose a layout or a column mapping, not both.")
        return cleaned


class ImportMappingForm(forms.ModelForm):
    class Meta:
        model = ImportMapping
        fields = ["name", "source", "columns"]

    def clean_columns(self) -> Any:
        columns = self.cleaned_data["columns"]
        if not isinstance(columns, dict) or not all(
            isinstance(v, str) and v for v in columns.values()
        ):
            raise forms.ValidationError(
                'Give an object of our field to the file\'s column, e.g. {"email": "E-Mail"}.'
            )
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise forms.ValidationError(
                f"Unknown fields: {', '.join(unknown)}. Known: {', '.join(FIELDS)}."
            )
        if "external_id" not in columns and "email" not in columns:
            raise forms.ValidationError("Place at least the external id or the email column.")
        return columns


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "first_name",
            "last_name",
            "email",
            "email_status",
            "phone",
            "street",
            "postal_code",
            "city",
            "region",
            "country",
            "country_raw",
            "language",
            "marketing_consent",
            "lifecycle_stage",
        ]

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "")
        _, normalized, _ = email_normalize(email)
        if normalized:
            clash = Customer.objects.filter(email_normalized=normalized)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise forms.ValidationError("Another customer already has this email address.")
        return email


class CustomerExportForm(forms.Form):
    """What a background export holds: whitelisted fields, all customers or one segment."""

    columns = forms.MultipleChoiceField(
        label="Fields",
        choices=[(name, name) for name in EXPORT_FIELDS],
        widget=forms.CheckboxSelectMultiple,
        initial=list(EXPORT_FIELDS),
    )
    segment = forms.ModelChoiceField(
        Segment.objects.all(),
        required=False,
        empty_label="All customers",
        help_text="Only this segment's members; leave empty for every customer.",
    )
