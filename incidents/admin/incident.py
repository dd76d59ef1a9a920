from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse

from config.admin_views import admin_view_permissions
from incidents import services
from incidents.forms import (
    AssessmentForm,
    DecisionForm,
    IncidentForm,
    ScopeForm,
    utc,
)
from incidents.models import (
    Assessment,
    ForensicListRow,
    Incident,
    Obligation,
)
from incidents.selectors import scope_summary, timeline_verify
from incidents.services.incident import DESCRIPTIVE_FIELDS

from .common import ERRORS, form_page


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
        ("Clock", {"fields": ["awareness_at", "occurred_at", "contained_at"]}),
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

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.transition_incident")

    def _transition(self, request: HttpRequest, queryset: QuerySet[Incident], service: Any) -> None:
        done, refused = 0, []
        for incident_id in queryset.values_list("pk", flat=True):
            try:
                service(incident_id=incident_id, actor=request.user)
                done += 1
            except services.IncidentError as error:
                refused.append(str(error))
        if done:
            self.message_user(request, f"{done} incident(s) moved.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)

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
            saved = services.incident_update(incident_id=obj.pk, actor=request.user, **changed)
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
                obligations=list(incident.obligations.order_by("due_at", "name")),
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
            )
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/scope/", view(self.scope_view), name="incidents_incident_scope"),
            path("<int:pk>/assess/", view(self.assess_view), name="incidents_incident_assess"),
            path("<int:pk>/decide/", view(self.decide_view), name="incidents_incident_decide"),
            *super().get_urls(),
        ]

    def _incident_for(self, request: HttpRequest, pk: int, permission: str) -> Incident:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Incident, pk=pk)

    def _back(self, incident: Incident) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))

    @admin_view_permissions("incidents.scope_incident")
    def scope_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        incident = self._incident_for(request, pk, "incidents.scope_incident")
        form = ScopeForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["forensic_list"]:
                    upload = data["forensic_list"]
                    change = services.scope_add_forensic_list(
                        incident_id=incident.pk,
                        actor=request.user,
                        content=upload.read(),
                        filename=upload.name,
                        column=data["column"] or None,
                        data_categories=data["data_categories"],
                        replace=data["replace"],
                    )
                else:
                    change = services.scope_set(
                        incident_id=incident.pk,
                        actor=request.user,
                        segment_ids=[s.pk for s in data["segments"]],
                        sources=data["sources"],
                        data_categories=data["data_categories"],
                        replace=data["replace"],
                    )
            except ERRORS as error:
                form.add_error(None, str(error))
            else:
                unmatched = f", {change.unmatched} list line(s) matched nobody" * bool(
                    change.unmatched
                )
                self.message_user(
                    request,
                    f"Scope set: {change.added} added, {change.removed} removed, "
                    f"{change.total} affected{unmatched}.",
                    messages.WARNING if change.unmatched else messages.SUCCESS,
                )
                return self._back(incident)
        return form_page(
            request,
            title=f"Set the scope of {incident}",
            form=form,
            obj=incident,
            opts=self.opts,
            intro="Choose customers by segment and source system, or upload a forensic list.",
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
