import base64
from typing import Any

from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from config.admin_views import admin_view_permissions, each_object_run
from incidents import services
from incidents.evidence.registry import incident_page_sections
from incidents.forms import (
    SCOPE_SALT,
    AssessmentForm,
    ClockStartForm,
    ContainedForm,
    DecisionForm,
    DrillChangeForm,
    IncidentForm,
    ScopeConfirmForm,
    ScopeForm,
    ScopeMode,
    utc,
)
from incidents.models import (
    Assessment,
    DrillChange,
    ForensicListRow,
    Incident,
    Obligation,
)
from incidents.selectors import scope_summary, timeline_verify
from incidents.services.incident import DESCRIPTIVE_FIELDS
from incidents.services.scope_preview import scope_preview

from .common import ERRORS, form_page

# Status changes offered as buttons on the incident room: (button, what it does).
TRANSITIONS = {
    "start_assessing": (
        "Start assessing",
        "The incident moves to assessing; clocks already running keep running.",
    ),
    "start_notifying": (
        "Start notifying",
        "The incident moves to notifying: communications to the affected people may go out "
        "once signed off.",
    ),
    "mark_contained": (
        "Mark contained",
        "The incident records when the breach was stopped (give the real time); this goes "
        "into the notices and the evidence pack.",
    ),
    "close": (
        "Close",
        "A closed incident's record is final: its scope, facts and obligations no longer "
        "change. Refused while an obligation is still open.",
    ),
}
# Which buttons each status shows: the sources each service accepts.
NEXT_STEPS = {
    Incident.Status.OPEN: ["start_assessing", "start_notifying", "mark_contained"],
    Incident.Status.ASSESSING: ["start_notifying", "mark_contained"],
    Incident.Status.NOTIFYING: ["mark_contained"],
    Incident.Status.CONTAINED: ["close"],
}


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentForm
    list_display = [
        "title",
        "status",
        "awareness_at",
        "severity",
        "next_due",
        "art33_decision",
        "art34_decision",
        "is_drill",
    ]
    list_filter = ["status", "is_drill", "art33_decision", "art34_decision"]
    search_fields = ["title", "nature"]
    date_hierarchy = "awareness_at"
    readonly_fields = [
        "status",
        "art33_decision",
        "art33_reason",
        "art34_decision",
        "art34_reason",
        "materiality_determined_at",
        "people_notified_at",
        "contained_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["title", "nature", "is_drill", "status"]}),
        (
            "Clock",
            {"fields": ["awareness_at", "clock_change_reason", "occurred_at", "contained_at"]},
        ),
        (
            "What was breached",
            {
                "fields": [
                    "data_categories",
                    "credentials_open",
                    "systems",
                    "approximate_records",
                ]
            },
        ),
        (
            "Art. 33(3) particulars",
            {
                "fields": [
                    "contact_point",
                    "likely_consequences",
                    "measures_taken",
                    "measures_proposed",
                    "facts_translations",
                ]
            },
        ),
        (
            "For the authorities",
            {"fields": ["encryption", "processor_involvement", "measures_for_authority"]},
        ),
        (
            "Decisions (recorded by the DPO or the CISO)",
            {
                "fields": [
                    "art33_decision",
                    "art33_reason",
                    "art34_decision",
                    "art34_reason",
                    "materiality_determined_at",
                    "people_notified_at",
                ]
            },
        ),
        ("Record", {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    actions = ["start_assessing", "start_notifying", "mark_contained", "close"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        latest = Assessment.objects.filter(incident=OuterRef("pk")).order_by("-version")
        return (
            super()
            .get_queryset(request)
            .annotate(
                next_due_at=Min(
                    "obligations__due_at", filter=Q(obligations__status=Obligation.Status.OPEN)
                ),
                severity_score=Subquery(latest.values("score")[:1]),
                severity_level=Subquery(latest.values("level")[:1]),
            )
        )

    @admin.display(description="severity", ordering="severity_score")
    def severity(self, obj: Incident) -> str:
        score = getattr(obj, "severity_score", None)
        if score is None:
            return "not assessed"
        return f"{score} ({Assessment.Level(obj.severity_level).label})"  # type: ignore[attr-defined]

    @admin.display(description="next deadline", ordering="next_due_at")
    def next_due(self, obj: Incident) -> Any:
        return getattr(obj, "next_due_at", None)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A closed incident's record is final: it reads, it no longer changes.
        if obj is not None and obj.status == Incident.Status.CLOSED:
            return False
        return super().has_change_permission(request, obj)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.request_user = request.user  # type: ignore[attr-defined]
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Set at opening; afterwards it changes by the CISO's and the CMO's joint decision.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "is_drill"] if obj is not None else readonly

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.transition_incident")

    def _transition(self, request: HttpRequest, queryset: QuerySet[Incident], service: Any) -> None:
        each_object_run(
            self,
            request,
            queryset.values_list("pk", flat=True),
            lambda incident_id: service(incident_id=incident_id, actor=request.user),
            done="incident(s) moved",
        )

    @admin.action(description="Start assessing", permissions=["transition"])
    def start_assessing(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition(request, queryset, services.incident_start_assessing)

    @admin.action(description="Start notifying", permissions=["transition"])
    def start_notifying(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition(request, queryset, services.incident_start_notifying)

    @admin.action(description="Mark contained (now)", permissions=["transition"])
    def mark_contained(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition(request, queryset, services.incident_mark_contained)

    @admin.action(description="Close", permissions=["transition"])
    def close(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition(request, queryset, services.incident_close)

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in DESCRIPTIVE_FIELDS
            if name in form.cleaned_data
        }
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            saved = services.incident_update(
                incident_id=obj.pk,
                actor=request.user,
                clock_change_reason=form.cleaned_data.get("clock_change_reason", ""),
                **changed,
            )
        else:
            saved = services.incident_open(actor=request.user, **fields)
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing hangs on the incident form: the services wrote everything."""

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        incident = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if incident is not None:
            user = request.user
            context.update(
                scope=scope_summary(incident_id=incident.pk),
                assessments=list(incident.assessments.select_related("assessed_by")[:10]),
                obligations=list(
                    incident.obligations.order_by("due_at", "name").prefetch_related("pauses")
                ),
                forensic_lists=list(incident.forensic_lists.all()[:10]),
                unmatched_rows=list(
                    ForensicListRow.objects.filter(
                        forensic_list__incident=incident, customer__isnull=True
                    ).select_related("forensic_list")[:50]
                ),
                chain=timeline_verify(incident_id=incident.pk),
                recent_events=list(incident.timeline.order_by("-seq")[:15]),
                can_scope=user.has_perm("incidents.scope_incident"),
                can_assess=user.has_perm("incidents.add_assessment"),
                can_decide=user.has_perm("incidents.decide_incident"),
                can_meet=user.has_perm("incidents.meet_obligation"),
                transitions=[
                    (name, TRANSITIONS[name][0])
                    for name in NEXT_STEPS.get(incident.status, [])
                    if user.has_perm("incidents.transition_incident")
                ],
                can_decide_drill=user.has_perm("incidents.decide_drill"),
                page_sections=incident_page_sections(incident.pk),
            )
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/scope/", view(self.scope_view), name="incidents_incident_scope"),
            path("<int:pk>/assess/", view(self.assess_view), name="incidents_incident_assess"),
            path("<int:pk>/decide/", view(self.decide_view), name="incidents_incident_decide"),
            path(
                "<int:pk>/transition/<str:name>/",
                view(self.transition_view),
                name="incidents_incident_transition",
            ),
            path("<int:pk>/drill/", view(self.drill_view), name="incidents_incident_drill"),
            path("<int:pk>/clock/", view(self.clock_view), name="incidents_incident_clock"),
            *super().get_urls(),
        ]

    def _incident_for(self, request: HttpRequest, pk: int, permission: str) -> Incident:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Incident, pk=pk)

    def _back(self, incident: Incident) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))

    def _scope_call(self, incident: Incident, actor: Any, change: dict[str, Any]) -> Any:
        """The scope service call a change (as the preview signed it) stands for."""

        def call() -> services.ScopeChange:
            if change.get("content") is not None:
                return services.scope_add_forensic_list(
                    incident_id=incident.pk,
                    actor=actor,
                    content=base64.b64decode(change["content"]),
                    filename=change["filename"],
                    column=change["column"] or None,
                    data_categories=change["data_categories"],
                    replace=change["replace"],
                )
            return services.scope_set(
                incident_id=incident.pk,
                actor=actor,
                segment_ids=change["segments"],
                sources=change["sources"],
                data_categories=change["data_categories"],
                replace=change["replace"],
            )

        return call

    @admin_view_permissions("incidents.scope_incident")
    def scope_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Choose customers, see what the change would do, then confirm it (three steps:
        nothing is written until the preview's confirmation)."""
        incident = self._incident_for(request, pk, "incidents.scope_incident")
        if request.method == "POST" and "change" in request.POST:
            return self._scope_confirm(request, incident)
        form = ScopeForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            upload = data["forensic_list"]
            change: dict[str, Any] = {
                "segments": [s.pk for s in data["segments"]],
                "sources": data["sources"],
                "data_categories": data["data_categories"],
                "replace": data["mode"] == ScopeMode.REPLACE,
                "column": data["column"],
                "filename": upload.name if upload else "",
                # The list travels to the confirmation inside the signed change: the page
                # holds what was previewed, and nothing is stored for a change never made.
                "content": base64.b64encode(upload.read()).decode() if upload else None,
            }
            try:
                preview = scope_preview(
                    incident_id=incident.pk,
                    change=self._scope_call(incident, request.user, change),
                )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                return TemplateResponse(
                    request,
                    "admin/incidents/scope_preview.html",
                    {
                        **self.admin_site.each_context(request),
                        "title": f"Check this scope change to {incident}",
                        "opts": self.opts,
                        "object": incident,
                        "preview": preview,
                        "change": change,
                        "signed": signing.dumps(change, salt=SCOPE_SALT, compress=True),
                    },
                )
        return form_page(
            request,
            title=f"Set the scope of {incident}",
            form=form,
            obj=incident,
            opts=self.opts,
            intro="Choose customers by segment and source system, or upload a forensic list. "
            "The next page shows what the change does; nothing changes until you confirm it.",
            button="Preview the change",
        )

    def _scope_confirm(self, request: HttpRequest, incident: Incident) -> HttpResponse:
        form = ScopeConfirmForm(request.POST)
        if not form.is_valid():
            for error in form.errors.get("change", []):
                self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:incidents_incident_scope", args=[incident.pk])
            )
        try:
            change = self._scope_call(incident, request.user, form.cleaned_data["change"])()
        except ERRORS as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:incidents_incident_scope", args=[incident.pk])
            )
        unmatched = f", {change.unmatched} list line(s) matched nobody" * bool(change.unmatched)
        self.message_user(
            request,
            f"Scope set: {change.added} added, {change.removed} removed, "
            f"{change.total} affected{unmatched}.",
            messages.WARNING if change.unmatched else messages.SUCCESS,
        )
        return self._back(incident)

    @admin_view_permissions("incidents.transition_incident")
    def transition_view(self, request: HttpRequest, pk: int, name: str) -> HttpResponse:
        """One status change, confirmed on a page that says what it does first."""
        incident = self._incident_for(request, pk, "incidents.transition_incident")
        if name not in TRANSITIONS:
            raise Http404(f"No status change {name!r}.")
        title, effect = TRANSITIONS[name]
        # A bare confirmation posts no field: bind on the method, not on the data.
        data = request.POST if request.method == "POST" else None
        form: Form = (
            ContainedForm(data, initial={"contained_at": timezone.now()})
            if name == "mark_contained"
            else Form(data)
        )
        if request.method == "POST" and form.is_valid():
            try:
                if name == "mark_contained":
                    services.incident_mark_contained(
                        incident_id=incident.pk,
                        actor=request.user,
                        contained_at=utc(form.cleaned_data["contained_at"]),
                    )
                else:
                    getattr(services, f"incident_{name}")(
                        incident_id=incident.pk, actor=request.user
                    )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"{title}: done.", messages.SUCCESS)
                return self._back(incident)
        return form_page(
            request,
            title=f"{title}: {incident}?",
            form=form,
            obj=incident,
            opts=self.opts,
            intro=f"Now {incident.get_status_display().lower()}. {effect}",
            button=title,
        )

    @admin_view_permissions("incidents.add_assessment")
    def assess_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        incident = self._incident_for(request, pk, "incidents.add_assessment")
        form = AssessmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                assessment = services.assessment_record(
                    incident_id=incident.pk,
                    actor=request.user,
                    ei=data["ei"],
                    cb_confidentiality=data["cb_confidentiality"],
                    cb_integrity=data["cb_integrity"],
                    cb_availability=data["cb_availability"],
                    malicious=data["malicious"],
                    dpc_adjustments=data["adjustments"],
                    note=data["note"],
                )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request, f"Assessment v{assessment.version}: {assessment.arithmetic}"
                )
                return self._back(incident)
        return form_page(
            request,
            title=f"Assess the severity of {incident} (ENISA)",
            form=form,
            obj=incident,
            opts=self.opts,
            intro="SE = DPC x EI + CB. The base DPC comes from the incident's data categories.",
        )

    @admin_view_permissions("incidents.decide_drill")
    def drill_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Propose a drill status change, or confirm or withdraw the one proposed."""
        incident = self._incident_for(request, pk, "incidents.decide_drill")
        pending = DrillChange.objects.filter(incident=incident, decided_at__isnull=True).first()
        form = DrillChangeForm(
            request.POST if request.method == "POST" and pending is None else None,
            initial={"to_drill": str(not incident.is_drill)},
        )
        if request.method == "POST":
            decision = request.POST.get("decision")
            try:
                with transaction.atomic():
                    if pending is not None and decision == "confirm":
                        services.incident_drill_change_confirm(
                            incident_id=incident.pk, actor=request.user
                        )
                        self.message_user(request, "Drill status changed; sign-offs voided.")
                        return self._back(incident)
                    if pending is not None and decision == "withdraw":
                        services.incident_drill_change_withdraw(
                            incident_id=incident.pk, actor=request.user
                        )
                        self.message_user(request, "Proposal withdrawn.")
                        return self._back(incident)
                    if pending is None and form.is_valid():
                        services.incident_drill_change_request(
                            incident_id=incident.pk,
                            actor=request.user,
                            to_drill=form.cleaned_data["to_drill"],
                            reason=form.cleaned_data["reason"],
                        )
                        self.message_user(request, "Proposed; the other decider must confirm.")
                        return self._back(incident)
            except ERRORS as error:
                form.add_error(None, str(error))
        intro = (
            f"{pending.requested_by.get_username()} ({pending.requested_as}) proposes to make "
            f"this {'a drill' if pending.to_drill else 'a real incident'}: {pending.reason}. "
            "Confirm (the other of the CISO and the CMO) or withdraw."
            if pending is not None
            else "The CISO and the CMO decide together: one proposes, the other confirms. "
            "Every sign-off is voided and holds follow the CMO's rules."
        )
        response = form_page(
            request,
            title=f"Change the drill status of {incident}",
            form=form,
            obj=incident,
            opts=self.opts,
            intro=intro,
        )
        response.context_data["pending_drill_change"] = pending  # type: ignore[index]
        return response

    @admin_view_permissions("incidents.decide_incident")
    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        incident = self._incident_for(request, pk, "incidents.decide_incident")
        form = DecisionForm(
            request.POST or None,
            initial={
                "art33_decision": incident.art33_decision,
                "art33_reason": incident.art33_reason,
                "art34_decision": incident.art34_decision,
                "art34_reason": incident.art34_reason,
                "materiality_determined_at": incident.materiality_determined_at,
            },
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            recorded: list[str] = []
            try:
                # One form, one decision record: either all of it is written or none.
                with transaction.atomic():
                    if "art33_decision" in form.changed_data or "art33_reason" in form.changed_data:
                        services.incident_decide_art33(
                            incident_id=incident.pk,
                            actor=request.user,
                            decision=data["art33_decision"],
                            reason=data["art33_reason"],
                        )
                        recorded.append("Art. 33")
                    if "art34_decision" in form.changed_data or "art34_reason" in form.changed_data:
                        services.incident_decide_art34(
                            incident_id=incident.pk,
                            actor=request.user,
                            decision=data["art34_decision"],
                            reason=data["art34_reason"],
                        )
                        recorded.append("Art. 34")
                    determined = utc(data["materiality_determined_at"])
                    if determined and incident.materiality_determined_at is None:
                        services.incident_record_materiality(
                            incident_id=incident.pk, actor=request.user, determined_at=determined
                        )
                        recorded.append("materiality")
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request, f"Recorded: {', '.join(recorded)}." if recorded else "No change."
                )
                return self._back(incident)
        return form_page(
            request,
            title=f"Decisions for {incident}",
            form=form,
            obj=incident,
            opts=self.opts,
            intro="Not notifying the authority is an Art. 33(5) register entry: give the reason.",
        )

    @admin_view_permissions("incidents.decide_incident")
    def clock_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        incident = self._incident_for(request, pk, "incidents.decide_incident")
        form = ClockStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.incident_record_clock_start(
                    incident_id=incident.pk,
                    actor=request.user,
                    fact=form.cleaned_data["fact"],
                    at=utc(form.cleaned_data["at"]),  # type: ignore[arg-type]
                )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, "Clock start recorded; open clocks moved with it.")
                return self._back(incident)
        return form_page(
            request,
            title=f"Clock starts of {incident}",
            form=form,
            obj=incident,
            opts=self.opts,
            intro=f"Determined: {incident.breach_determined_at or 'not recorded (awareness)'}; "
            f"scope identified: {incident.scope_identified_at or 'not yet'}.",
        )
