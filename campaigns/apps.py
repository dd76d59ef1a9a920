from typing import Any

from django.apps import AppConfig

from config.roles import AUDITOR, CISO, CMO, DPO, MARKETING_OPERATOR, SECURITY_ANALYST

_READ = {
    "campaigns.view_campaign",
    "campaigns.view_campaignsend",
    "campaigns.view_campaignhold",
    "campaigns.view_campaignexclusion",
    "campaigns.view_withholding",
}
_MARKETING = _READ | {
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.send_campaign",
    "campaigns.pause_campaign",
}


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"
    # Nobody deletes: campaigns, sends and holds are evidence of what marketing did during a
    # breach. Resuming is the CMO's alone (also checked by group in the service).
    role_permissions: dict[str, set[str]] = {
        CMO: _MARKETING | {"campaigns.resume_campaign"},
        MARKETING_OPERATOR: _MARKETING,
        CISO: _READ,
        DPO: _READ,
        SECURITY_ANALYST: {"campaigns.view_campaign", "campaigns.view_campaignhold"},
        AUDITOR: _READ,
    }

    def ready(self) -> None:
        from customers.signals import customer_merged
        from incidents.signals import (
            incident_closed,
            incident_drill_changed,
            scope_changed,
            scope_holds_requested,
        )

        from . import evidence
        from .receivers import (
            on_customer_merged,
            on_drill_changed,
            on_incident_closed,
            on_scope_changed,
            on_scope_holds_requested,
        )

        customer_merged.connect(on_customer_merged, dispatch_uid="campaigns.skip_merged_sends")
        scope_changed.connect(on_scope_changed, dispatch_uid="campaigns.hold_on_scope_changed")
        scope_holds_requested.connect(
            on_scope_holds_requested, dispatch_uid="campaigns.holds_for_scope_preview"
        )
        incident_drill_changed.connect(
            on_drill_changed, dispatch_uid="campaigns.hold_on_drill_changed"
        )
        incident_closed.connect(on_incident_closed, dispatch_uid="campaigns.hold_note_at_close")
        evidence.register()

    def seed_demo(self, *, stdout: Any) -> None:
        """A draft campaign over the demo segments, owned by the demo CMO (idempotent)."""
        from django.contrib.auth import get_user_model

        from customers.models import Segment

        from .models import Campaign

        owner = get_user_model().objects.filter(username="cmo").first()
        segments = list(Segment.objects.all()[:2])
        if owner is None or not segments:
            return
        campaign, created = Campaign.objects.get_or_create(
            name="Winter sale (demo)",
            defaults={
                "owner": owner,
                "subject": "{{ first_name }}, the winter sale starts today",
                "body": "Hello {{ first_name }},\n\n20% off everything this week.",
            },
        )
        if created:
            campaign.segments.set(segments)
            stdout.write(f"Campaign '{campaign}' created as a draft.")
