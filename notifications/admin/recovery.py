"""Admin for the way back: the CMO's recovery page (plan, steps, cohort charts and their
table), consent, stop, the recovery report, and the response files. Every write goes
through a service in notifications.recovery."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from config.admin_views import admin_view_permissions
from config.uploads import upload_size_check
from incidents.models import Incident

from ..models import Communication, Delivery, RecoveryPlan, RecoveryStep
from ..recovery.charts import cohort_charts
from ..recovery.cohorts import recovery_cohorts, recovery_figures_enqueue
from ..recovery.plans import (
    marketing_returns_at,
    recovery_plan_consent,
    recovery_plan_create,
    recovery_plan_fingerprint,
    recovery_plan_stop,
    recovery_step_add,
    recovery_step_due_at,
)
from ..recovery.report import recovery_report_pdf
from ..recovery.responses import codes_redeemed_import, password_resets_import
from ..services.common import TransitionRefused
from .common import error_message
from .reach import _page

SET_UP = "notifications.add_recoveryplan"
CONSENT = "notifications.consent_recoveryplan"
STOP = "notifications.stop_recoveryplan"
RECORD = "notifications.record_responses"


class PlanForm(forms.Form):
    incident = forms.ModelChoiceField(
        queryset=Incident.objects.filter(recovery_plan__isnull=True).order_by("-awareness_at")
    )
    marketing_returns_after_days = forms.IntegerField(
        min_value=0,
        max_value=3650,
        initial=90,
        help_text="Days after the notice when marketing returns to normal for the people affected.",
    )


class StepForm(forms.Form):
    name = forms.CharField(max_length=200)
    communication = forms.ModelChoiceField(
        queryset=Communication.objects.none(),
        help_text="Drafted, approved and signed off like the notice; it goes as a follow-up.",
    )
    delay_days = forms.IntegerField(min_value=0, max_value=3650, help_text="Days after the notice.")
    condition = forms.ChoiceField(choices=RecoveryStep.Condition.choices)
    after_quiet_period = forms.BooleanField(
        required=False, label="Waits for the quiet period (an offer)"
    )

    def __init__(self, *args: Any, plan: RecoveryPlan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["communication"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 (declared above)
        field.queryset = (
            Communication.objects.filter(incident_id=plan.incident_id, recovery_step__isnull=True)
            .exclude(pk__in=Delivery.objects.values("communication_id"))
            .order_by("name")
        )


class ResponsesForm(forms.Form):
    file = forms.FileField(validators=[upload_size_check])
    source = forms.CharField(
        max_length=64,
        required=False,
        help_text="For an identity file of external ids: the source that carries them "
        "(blank: the configured identity source).",
    )


@admin.register(RecoveryPlan)
class RecoveryPlanAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "steps", "created_by", "consented_by", "consented_at"]
    list_select_related = ["incident", "created_by", "consented_by"]
    list_filter = ["status"]
    readonly_fields = (
        "incident",
        "status",
        "marketing_returns_after_days",
        "created_by",
        "created_at",
        "consented_by",
        "consented_at",
        "marketing_returned_at",
        "stopped_at",
    )
    fields = readonly_fields
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecoveryPlan]:
        return super().get_queryset(request).annotate(step_count=Count("steps"))

    @admin.display(description="steps", ordering="step_count")
    def steps(self, plan: Any) -> int:
        return int(plan.step_count)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # set up on its own page, through the service

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("set-up/", view(self.setup_view), name="notifications_recoveryplan_setup"),
            path(
                "import-redemptions/",
                view(self.redemptions_view),
                name="notifications_recoveryplan_redemptions",
            ),
            path(
                "import-resets/", view(self.resets_view), name="notifications_recoveryplan_resets"
            ),
            path(
                "<int:pk>/add-step/",
                view(self.add_step_view),
                name="notifications_recoveryplan_add_step",
            ),
            path(
                "<int:pk>/consent/",
                view(self.consent_view),
                name="notifications_recoveryplan_consent",
            ),
            path("<int:pk>/stop/", view(self.stop_view), name="notifications_recoveryplan_stop"),
            path(
                "<int:pk>/refresh-figures/",
                view(self.refresh_view),
                name="notifications_recoveryplan_refresh",
            ),
            path(
                "<int:pk>/report.pdf",
                view(self.report_view),
                name="notifications_recoveryplan_report",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_set_up": request.user.has_perm(SET_UP),
            "can_record": request.user.has_perm(RECORD),
        }
        return super().changelist_view(request, context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        plan = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if plan is not None:
            extra.update(recovery_page_context(plan))
            extra.update(
                can_add_step=request.user.has_perm(SET_UP)
                and plan.status != RecoveryPlan.Status.STOPPED,
                can_consent=request.user.has_perm(CONSENT)
                and plan.status == RecoveryPlan.Status.DRAFT,
                can_stop=request.user.has_perm(STOP) and plan.status != RecoveryPlan.Status.STOPPED,
                can_record=request.user.has_perm(RECORD),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _done(self, request: HttpRequest, plan: RecoveryPlan, text: str) -> HttpResponse:
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:notifications_recoveryplan_change", args=[plan.pk])
        )

    @admin_view_permissions(SET_UP)
    def setup_view(self, request: HttpRequest) -> HttpResponse:
        form = PlanForm(request.POST or None, initial={"incident": request.GET.get("incident")})
        if request.method == "POST" and form.is_valid():
            try:
                plan = recovery_plan_create(
                    incident_id=form.cleaned_data["incident"].pk,
                    actor=request.user,
                    marketing_returns_after_days=form.cleaned_data["marketing_returns_after_days"],
                )
            except TransitionRefused as error:
                form.add_error(None, str(error))
            else:
                return self._done(request, plan, f"{plan} set up; add its steps.")
        return _page(request, self, "Set up a recovery plan", form, submit="Set up")

    @admin_view_permissions(SET_UP)
    def add_step_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = get_object_or_404(RecoveryPlan.objects.select_related("incident"), pk=pk)
        form = StepForm(request.POST or None, plan=plan)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                step = recovery_step_add(
                    plan_id=plan.pk,
                    actor=request.user,
                    name=data["name"],
                    communication_id=data["communication"].pk,
                    delay_days=data["delay_days"],
                    condition=data["condition"],
                    after_quiet_period=data["after_quiet_period"],
                )
            except TransitionRefused as error:
                form.add_error(None, str(error))
            else:
                text = f"Step '{step}' added."
                if plan.status == RecoveryPlan.Status.ACTIVE:
                    text += " The plan waits for the CISO's consent again."
                return self._done(request, plan, text)
        return _page(request, self, f"Add a step to {plan}", form, submit="Add the step")

    @admin_view_permissions(CONSENT)
    def consent_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = get_object_or_404(RecoveryPlan.objects.select_related("incident"), pk=pk)
        form = forms.Form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                recovery_plan_consent(plan_id=plan.pk, actor=request.user)
            except TransitionRefused as error:
                form.add_error(None, str(error))
            else:
                return self._done(request, plan, f"You consented to {plan}; it runs by itself.")
        facts = [("Steps fingerprint (SHA-256)", recovery_plan_fingerprint(plan=plan))] + [
            (
                f"Step: {step.name}",
                f"{step.communication} — {step.delay_days} days after the notice"
                f"{', after the quiet period' if step.after_quiet_period else ''}; "
                f"{step.get_condition_display().lower()}",
            )
            for step in plan.steps.select_related("communication")
        ]
        return _page(request, self, f"Consent to {plan}", form, submit="Consent", facts=facts)

    @admin_view_permissions(STOP)
    def stop_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = get_object_or_404(RecoveryPlan, pk=pk)
        form = forms.Form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                recovery_plan_stop(plan_id=plan.pk, actor=request.user)
            except TransitionRefused as error:
                form.add_error(None, str(error))
            else:
                return self._done(request, plan, f"{plan} stopped: no further step goes out.")
        facts = [("What it does", "No step of this plan that has not gone yet will go.")]
        return _page(request, self, f"Stop {plan}?", form, submit="Stop the plan", facts=facts)

    @admin_view_permissions("view")
    def refresh_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = get_object_or_404(RecoveryPlan.objects.select_related("incident"), pk=pk)
        form = forms.Form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            recovery_figures_enqueue(incident_id=plan.incident_id)
            return self._done(
                request, plan, "The figures are being computed; reload this page in a minute."
            )
        facts = [
            (
                "What it does",
                "Counts again, from every touchpoint, the responses of the affected and the "
                "unaffected people week by week (the task cluster does this hourly too).",
            )
        ]
        return _page(request, self, "Compute the figures now?", form, submit="Compute", facts=facts)

    @admin_view_permissions("view")
    def report_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        plan = get_object_or_404(RecoveryPlan.objects.select_related("incident"), pk=pk)
        response = HttpResponse(recovery_report_pdf(plan=plan), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="recovery-{plan.incident_id}.pdf"'
        return response

    def _import(self, request: HttpRequest, title: str, what: str, importer: Any) -> HttpResponse:
        form = ResponsesForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                outcome = importer(
                    csv_text=upload.read().decode("utf-8-sig"),
                    source=form.cleaned_data["source"] or upload.name,
                    actor=request.user,
                )
            except (ValidationError, UnicodeDecodeError) as error:
                form.add_error(None, error_message(error))
            else:
                level = messages.WARNING if outcome.unknown else messages.SUCCESS
                self.message_user(request, outcome.summary(what), level)
                return HttpResponseRedirect(reverse("admin:notifications_recoveryplan_changelist"))
        return _page(request, self, title, form, submit="Import")

    @admin_view_permissions(RECORD)
    def redemptions_view(self, request: HttpRequest) -> HttpResponse:
        # Columns: code, and optionally vendor and redeemed_at (ISO 8601).
        return self._import(
            request, "Import the vendor's redemption file", "redemptions", codes_redeemed_import
        )

    @admin_view_permissions(RECORD)
    def resets_view(self, request: HttpRequest) -> HttpResponse:
        def importer(*, csv_text: str, source: str, actor: Any) -> Any:
            return password_resets_import(csv_text=csv_text, source=source, actor=actor)

        return self._import(
            request, "Import password resets from the identity system", "resets", importer
        )


def recovery_page_context(plan: RecoveryPlan) -> dict[str, Any]:
    """What the recovery page shows: the steps with their state, and the cohorts as
    charts with their table beneath."""
    incident = plan.incident
    now = timezone.now()
    steps = []
    for step in plan.steps.select_related("communication"):
        due = recovery_step_due_at(step=step, incident=incident)
        if step.started_at:
            state = f"sent {step.started_at:%Y-%m-%d %H:%M} UTC"
        elif step.waiting_reason:
            state = f"waiting: {step.waiting_reason}"
        elif due is None:
            state = "waits for the notice"
        else:
            state = "due" if due <= now else "scheduled"
        steps.append({"step": step, "due": due, "state": state})
    cohorts = recovery_cohorts(incident=incident)
    return {
        "recovery_steps": steps,
        "marketing_returns": marketing_returns_at(plan=plan),
        "cohorts": cohorts,
        "charts": cohort_charts(cohorts=cohorts) if cohorts else [],
        "cohort_rows": cohorts.rows() if cohorts else [],
    }
