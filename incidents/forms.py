"""Admin forms: they collect input for services and never save models themselves."""

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core import signing
from django.utils import timezone

from config.admin_widgets import LabelledSplitDateTime
from config.uploads import upload_size_check
from customers.models import Segment, SourceRecord

from .models import Assessment, DataCategory, Incident


class IncidentForm(forms.ModelForm):
    data_categories = forms.MultipleChoiceField(
        choices=DataCategory.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    systems = forms.CharField(
        required=False, help_text="Comma-separated, e.g. customer portal, CRM, payment gateway."
    )
    clock_change_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Moving the awareness time moves the deadlines: the DPO or the CISO records why.",
    )
    # Set by the admin for the request: who is changing the record.
    request_user: Any = None

    class Meta:
        model = Incident
        fields = [
            "title",
            "nature",
            "is_drill",
            "awareness_at",
            "occurred_at",
            "data_categories",
            "credentials_open",
            "systems",
            "approximate_records",
            "contact_point",
            "likely_consequences",
            "measures_taken",
            "measures_proposed",
            "facts_translations",
            "encryption",
            "processor_involvement",
            "measures_for_authority",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["systems"] = ", ".join(self.instance.systems)

    def clean_facts_translations(self) -> dict[str, Any]:
        # Left empty, it means "no other language yet", not a missing value.
        value = self.cleaned_data.get("facts_translations") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'Write {"de": {"nature": "...", ...}}: one entry per language.'
            )
        return value

    def clean_systems(self) -> list[str]:
        return [s.strip() for s in self.cleaned_data["systems"].split(",") if s.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        now = timezone.now()
        for name in ("awareness_at", "occurred_at"):
            value = data.get(name)
            if value and value > now:
                self.add_error(name, "This is in the future.")
        if self.instance.pk and "awareness_at" in self.changed_data:
            user = self.request_user
            if user is None or not user.groups.filter(name__in=("DPO", "CISO")).exists():
                self.add_error("awareness_at", "Only the DPO or the CISO moves the clock start.")
            elif not (data.get("clock_change_reason") or "").strip():
                self.add_error("clock_change_reason", "Say why the awareness time changes.")
        aware, occurred = data.get("awareness_at"), data.get("occurred_at")
        if aware and occurred and occurred > aware:
            self.add_error("occurred_at", "The breach cannot occur after the company knew of it.")
        if DataCategory.CREDENTIALS in data.get("data_categories", []) and not data.get(
            "credentials_open"
        ):
            self.add_error("credentials_open", "Say what the leaked credentials give access to.")
        return data


class ScopeMode:
    ADD = "add"
    REPLACE = "replace"


class ScopeForm(forms.Form):
    segments = forms.ModelMultipleChoiceField(
        queryset=Segment.objects.order_by("name"), required=False
    )
    sources = forms.MultipleChoiceField(choices=(), required=False, label="Source systems")
    forensic_list = forms.FileField(
        validators=[upload_size_check],
        required=False,
        help_text="CSV or XLSX of breached accounts: an email or external id column.",
    )
    column = forms.CharField(
        required=False, help_text="The list's column to read, if not the email/id column."
    )
    data_categories = forms.MultipleChoiceField(
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The data involved for these people; the incident's categories if none.",
    )
    mode = forms.ChoiceField(
        label="What to do with the current scope",
        choices=[
            (ScopeMode.ADD, "Add these customers to the current scope"),
            (ScopeMode.REPLACE, "Replace the current scope with these customers only"),
        ],
        initial=ScopeMode.ADD,
        widget=forms.RadioSelect,
        help_text="Either way, the next page shows who is added and removed before anything "
        "changes.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sources = SourceRecord.objects.order_by("source").values_list("source", flat=True)
        cast(forms.MultipleChoiceField, self.fields["sources"]).choices = [
            (s, s) for s in sources.distinct()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        by_criteria = bool(data.get("segments")) or bool(data.get("sources"))
        if by_criteria == bool(data.get("forensic_list")):
            raise forms.ValidationError(
                "Choose segments and/or source systems, or upload a forensic list (not both)."
            )
        return data


class ScopeConfirmForm(forms.Form):
    """The scope change a preview showed, signed so that what is confirmed is what was shown."""

    change = forms.CharField(widget=forms.HiddenInput)

    def clean_change(self) -> dict[str, Any]:
        try:
            return cast(
                dict[str, Any],
                signing.loads(self.cleaned_data["change"], salt=SCOPE_SALT, max_age=3600),
            )
        except signing.BadSignature:
            raise forms.ValidationError(
                "This preview is older than an hour or was altered: set the scope again."
            ) from None


SCOPE_SALT = "incidents.scope-preview"


class AssessmentForm(forms.Form):
    ei = forms.TypedChoiceField(
        label="Ease of identification (EI)", choices=Assessment.EI_CHOICES, coerce=Decimal
    )
    cb_confidentiality = forms.TypedChoiceField(
        label="Loss of confidentiality", choices=Assessment.CB_CHOICES, coerce=Decimal
    )
    cb_integrity = forms.TypedChoiceField(
        label="Loss of integrity", choices=Assessment.CB_CHOICES, coerce=Decimal
    )
    cb_availability = forms.TypedChoiceField(
        label="Loss of availability", choices=Assessment.CB_CHOICES, coerce=Decimal
    )
    malicious = forms.BooleanField(label="Malicious intent (+0.5)", required=False)
    adjustments = forms.CharField(
        label="DPC adjustments",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: a step and its reason, e.g. '+1 card numbers with CVV'.",
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_adjustments(self) -> list[tuple[int, str]]:
        parsed = []
        for number, line in enumerate(self.cleaned_data["adjustments"].splitlines(), start=1):
            if not line.strip():
                continue
            step, _, reason = line.strip().partition(" ")
            try:
                delta = int(step)
            except ValueError:
                raise forms.ValidationError(
                    f"Line {number}: start with a step such as +1 or -1, then the reason."
                ) from None
            parsed.append((delta, reason.strip()))
        return parsed


class DecisionForm(forms.Form):
    art33_decision = forms.ChoiceField(
        label="Art. 33 decision", choices=Incident.Art33Decision.choices
    )
    art33_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    art34_decision = forms.ChoiceField(
        label="Art. 34 decision", choices=Incident.Art34Decision.choices
    )
    art34_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    materiality_determined_at = forms.SplitDateTimeField(
        required=False,
        widget=LabelledSplitDateTime,
        label="Materiality determined at (UTC)",
        help_text="Listed companies: starts the SEC Form 8-K clock. Recorded once.",
    )


class ObligationMeetForm(forms.Form):
    met_at = forms.SplitDateTimeField(
        label="Met at (UTC)",
        widget=LabelledSplitDateTime,
        help_text="When it was submitted or sent.",
    )
    delay_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when it is met after its due time.",
    )


class ClockStartForm(forms.Form):
    fact = forms.ChoiceField(
        choices=[
            ("breach_determined_at", "The determination that a breach occurred"),
            ("scope_identified_at", "The identification of the people affected"),
        ],
        help_text="State laws start their clocks at these; open clocks move with them.",
    )
    at = forms.SplitDateTimeField(label="At (UTC)", widget=LabelledSplitDateTime)


class ObligationPauseForm(forms.Form):
    requested_by = forms.CharField(
        max_length=200, help_text="The law-enforcement agency and officer who asked."
    )
    reference = forms.CharField(
        label="Documented request", max_length=200, help_text="Letter or case reference."
    )
    starts_at = forms.SplitDateTimeField(label="Paused from (UTC)", widget=LabelledSplitDateTime)
    until = forms.SplitDateTimeField(label="Until (UTC)", widget=LabelledSplitDateTime)


class ContainedForm(forms.Form):
    contained_at = forms.SplitDateTimeField(
        label="Contained at (UTC)",
        widget=LabelledSplitDateTime,
        help_text="When the breach was really stopped; now if you leave it as it is.",
    )


class DrillChangeForm(forms.Form):
    to_drill = forms.TypedChoiceField(
        label="This incident is",
        choices=[("True", "a drill"), ("False", "a real incident")],
        coerce=lambda v: v == "True",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class ObligationNotRequiredForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


def utc(value: datetime | None) -> datetime | None:
    """Form datetimes are read in the current time zone (UTC here); keep them aware."""
    if value is None:
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value)
