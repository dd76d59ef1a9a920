from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from config.admin_confirm import Effect, EffectOf, confirm_first
from config.admin_pii import PiiListRule
from config.admin_views import ReadOnlyAdmin, admin_view_permissions, each_object_run
from config.services import ServiceError
from incidents.models import Incident

from .models import Campaign, CampaignHold, CampaignSend, Withholding
from .selectors import (
    RUNNING_STATUSES,
    campaign_list_annotated,
    campaign_overlap_counts,
    campaign_start_withheld,
)
from .services import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_resume_refusal,
    campaign_schedule,
    campaign_start,
    campaign_start_refusal,
    campaign_template_check,
    campaigns_pause_for_incident,
    hold_release,
    hold_release_refusal,
)


def _codes(value: str, *, upper: bool) -> str:
    codes = [c.strip() for c in value.replace(";", ",").split(",") if c.strip()]
    return ",".join(c.upper() if upper else c.lower() for c in codes)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "segments", "countries", "languages", "subject", "body", "scheduled_at"]

    def clean_countries(self) -> str:
        return _codes(self.cleaned_data["countries"], upper=True)

    def clean_languages(self) -> str:
        return _codes(self.cleaned_data["languages"], upper=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "subject" in cleaned and "body" in cleaned:
            campaign_template_check(subject=cleaned["subject"], body=cleaned["body"])
        return cleaned


def _run(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Campaign],
    verb: str,
    service: Any,
    **kwargs: Any,
) -> None:
    each_object_run(
        modeladmin,
        request,
        queryset,
        lambda campaign: service(campaign_id=campaign.pk, actor=request.user, **kwargs),
        done=f"campaign(s) {verb.lower()}",
    )


def _start_effect(modeladmin: admin.ModelAdmin, request: HttpRequest, campaign: Campaign) -> Effect:
    refusal = campaign_start_refusal(campaign=campaign)
    if refusal:
        return Effect(refused=refusal)
    audience, withheld, per_incident = campaign_start_withheld(campaign=campaign)
    if not withheld:
        return Effect(says=f"{audience} people in its audience; nobody is withheld.")
    why = "; ".join(f"{n} affected by the breach '{title}'" for title, n in per_incident)
    return Effect(
        says=f"{audience} people in its audience; {withheld} of them will be withheld "
        f"while the breach hold lasts ({why})."
    )


def _resume_effect(*, exclude_affected: bool) -> EffectOf:
    def effect(modeladmin: admin.ModelAdmin, request: HttpRequest, campaign: Campaign) -> Effect:
        refusal = campaign_resume_refusal(
            campaign=campaign, actor=request.user, exclude_affected=exclude_affected
        )
        return Effect(refused=refusal)

    return effect


def _release_effect(
    modeladmin: admin.ModelAdmin, request: HttpRequest, hold: CampaignHold
) -> Effect:
    return Effect(refused=hold_release_refusal(incident=hold.incident, actor=request.user))


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "status",
        "audience",
        "sent_count",
        "withheld_count",
        "holding_incident",
        "owner",
        "scheduled_at",
    ]
    list_filter = ["status", ("paused_by_incident", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "subject"]
    list_select_related = ["owner", "paused_by_incident"]
    filter_horizontal = ["segments"]
    readonly_fields = [
        "owner",
        "status",
        "paused_at",
        "paused_by_incident",
        "started_at",
        "completed_at",
        "audience_size",
    ]
    fieldsets = [
        (None, {"fields": ["name", "owner", "status"]}),
        ("Audience", {"fields": ["segments", "countries", "languages"]}),
        (
            "Message",
            {
                "fields": ["subject", "body"],
                "description": (
                    "Django template syntax; available names: first_name, last_name, country, "
                    "language, campaign_name."
                ),
            },
        ),
        ("Schedule", {"fields": ["scheduled_at", "started_at", "completed_at", "audience_size"]}),
        ("Hold", {"fields": ["paused_at", "paused_by_incident"]}),
    ]
    actions = [
        "schedule",
        "start",
        "pause",
        "resume",
        "resume_excluding_affected",
        "cancel",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return campaign_list_annotated(super().get_queryset(request))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.send_campaign")

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.pause_campaign")

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.resume_campaign")

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if not change:
            obj.owner = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # Content and audience are fixed once a campaign has left the draft state.
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(ordering="audience_count", description="audience")
    def audience(self, obj: Campaign) -> int:
        return obj.audience_count  # type: ignore[attr-defined]

    @admin.display(ordering="sent_count", description="sent")
    def sent_count(self, obj: Campaign) -> int:
        return obj.sent_count  # type: ignore[attr-defined]

    @admin.display(ordering="withheld_count", description="withheld")
    def withheld_count(self, obj: Campaign) -> int:
        return obj.withheld_count  # type: ignore[attr-defined]

    @admin.display(description="holding incident")
    def holding_incident(self, obj: Campaign) -> str:
        if obj.paused_by_incident is None:
            return "—"
        url = reverse("admin:campaigns_campaign_overlap", args=[obj.paused_by_incident_id])
        return format_html('<a href="{}">{}</a>', url, obj.paused_by_incident)

    @admin.action(permissions=["send"], description="Schedule selected campaigns")
    @confirm_first(
        question="Schedule these campaigns?",
        consequence="They will be mailed to their audience at their scheduled time.",
        button="Yes, schedule them",
    )
    def schedule(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        _run(self, request, queryset, "Scheduled", campaign_schedule)

    @admin.action(permissions=["send"], description="Start sending selected campaigns now")
    @confirm_first(
        question="Start sending these campaigns now?",
        consequence="Their audience starts receiving them now; a sent message cannot be recalled.",
        button="Yes, send now",
        effect=_start_effect,
    )
    def start(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        _run(self, request, queryset, "Started", campaign_start)

    @admin.action(permissions=["pause"], description="Pause selected campaigns")
    @confirm_first(
        question="Pause these campaigns?",
        consequence="No further message of theirs leaves until the CMO resumes them.",
        button="Yes, pause them",
    )
    def pause(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        _run(self, request, queryset, "Paused", campaign_pause)

    @admin.action(permissions=["resume"], description="Resume selected campaigns (CMO)")
    @confirm_first(
        question="Resume these campaigns?",
        consequence="Sending starts again; a campaign paused by an incident also releases that "
        "incident's hold on promotions.",
        button="Yes, resume them",
        effect=_resume_effect(exclude_affected=False),
    )
    def resume(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        _run(self, request, queryset, "Resumed", campaign_resume)

    @admin.action(
        permissions=["resume"], description="Resume selected campaigns excluding affected (CMO)"
    )
    @confirm_first(
        question="Resume these campaigns without the affected customers?",
        consequence="Sending starts again; the incident's affected customers never get these "
        "campaigns.",
        button="Yes, resume excluding affected",
        effect=_resume_effect(exclude_affected=True),
    )
    def resume_excluding_affected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        _run(
            self,
            request,
            queryset,
            "Resumed excluding affected",
            campaign_resume,
            exclude_affected=True,
        )

    @admin.action(permissions=["send"], description="Cancel selected campaigns")
    @confirm_first(
        question="Cancel these campaigns?",
        consequence="Their unsent messages are never sent.",
        button="Yes, cancel them",
    )
    def cancel(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        _run(self, request, queryset, "Cancelled", campaign_cancel)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.overlap_view)
        return [
            path("overlap/<int:incident_id>/", view, name="campaigns_campaign_overlap"),
            *super().get_urls(),
        ]

    @admin_view_permissions("view")
    def overlap_view(self, request: HttpRequest, incident_id: int) -> HttpResponse:
        """Campaigns whose audience overlaps the incident's scope; pause them together."""
        incident = get_object_or_404(Incident, pk=incident_id)
        url = reverse("admin:campaigns_campaign_overlap", args=[incident_id])
        can_pause = self.has_pause_permission(request)
        if request.method == "POST":
            if not can_pause:
                raise PermissionDenied
            chosen = [int(pk) for pk in request.POST.getlist("campaign") if pk.isdigit()]
            if request.POST.get("confirm") == "yes":
                try:
                    paused = campaigns_pause_for_incident(
                        incident_id=incident_id, campaign_ids=chosen, actor=request.user
                    )
                except ServiceError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    self.message_user(
                        request,
                        f"Paused {len(paused)} campaign(s) for '{incident}'.",
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(url)
            if not chosen:
                self.message_user(request, "Choose at least one campaign to pause.", messages.ERROR)
                return HttpResponseRedirect(url)
            counts = campaign_overlap_counts(incident_id=incident_id)
            to_pause = Campaign.objects.filter(pk__in=chosen, status__in=RUNNING_STATUSES)
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Pause campaigns for {incident}?",
                "incident": incident,
                "campaigns": [(c, counts.get(c.pk, 0)) for c in to_pause],
            }
            return TemplateResponse(request, "admin/campaigns/overlap_confirm.html", context)
        counts = campaign_overlap_counts(incident_id=incident_id)
        campaigns = Campaign.objects.filter(pk__in=counts).select_related(
            "owner", "paused_by_incident"
        )
        hold = CampaignHold.objects.filter(incident_id=incident_id).first()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Campaigns overlapping the scope of {incident}",
            "incident": incident,
            "hold": hold,
            "rows": sorted(
                ((c, counts[c.pk], c.status in RUNNING_STATUSES) for c in campaigns),
                key=lambda row: -row[1],
            ),
            "can_pause": can_pause,
        }
        return TemplateResponse(request, "admin/campaigns/overlap.html", context)


@admin.register(CampaignHold)
class CampaignHoldAdmin(ReadOnlyAdmin):
    list_display = ["incident", "placed_at", "released_at", "released_by", "overlap_link"]
    list_select_related = ["incident", "released_by"]
    list_filter = [("released_at", admin.EmptyFieldListFilter)]
    search_fields = ["incident__title"]
    actions = ["release"]

    def has_resume_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.resume_campaign")

    @admin.display(description="campaigns")
    def overlap_link(self, obj: CampaignHold) -> str:
        url = reverse("admin:campaigns_campaign_overlap", args=[obj.incident_id])
        return format_html('<a href="{}">Overlap and pause</a>', url)

    @admin.action(permissions=["resume"], description="Release selected holds (CMO)")
    @confirm_first(
        question="Release these holds?",
        consequence="Promotions reach the incidents' affected customers again.",
        button="Yes, release them",
        effect=_release_effect,
    )
    def release(self, request: HttpRequest, queryset: QuerySet[CampaignHold]) -> None:
        each_object_run(
            self,
            request,
            queryset,
            lambda hold: hold_release(incident_id=hold.incident_id, actor=request.user),
            done="hold(s) released",
        )


@admin.register(CampaignSend)
class CampaignSendAdmin(PiiListRule, ReadOnlyAdmin):
    list_display = ["campaign", "customer", "status", "skip_reason", "sent_at", "attempts"]
    list_filter = ["status", "skip_reason"]
    list_select_related = ["campaign", "customer"]
    search_fields = ["customer__email_normalized", "campaign__name"]
    show_full_result_count = False
    raw_id_fields = ["campaign", "customer"]


@admin.register(Withholding)
class WithholdingAdmin(PiiListRule, ReadOnlyAdmin):
    list_display = ["campaign", "incident", "customer", "withheld_at"]
    list_filter = ["incident"]
    list_select_related = ["campaign", "incident", "customer"]
    search_fields = ["customer__email_normalized", "campaign__name"]
    show_full_result_count = False
    raw_id_fields = ["campaign", "customer", "incident"]
