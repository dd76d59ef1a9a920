"""Every write to campaigns, sends and holds: named transitions, each in one transaction.

Consent: only customers whose `marketing_consent` is "granted" are mailed. "unknown" is
treated like "withdrawn": GDPR and the ePrivacy rules require opt-in for promotional
email, and an unknown state is no evidence of an opt-in.
"""

from .common import (
    EXEMPT_FROM_NOTICE,
    FREQUENCY_LOCK,
    MESSAGE_CONTEXT_NAMES,
    MESSAGE_ENGINE,
    BatchResult,
    CampaignError,
)
from .content import (
    campaign_render,
    campaign_template_check,
)
from .holds import (
    campaign_resume,
    campaign_resume_refusal,
    campaigns_pause_for_incident,
    hold_follow_drill_status,
    hold_note_at_close,
    hold_place,
    hold_release,
    hold_release_refusal,
    notice_guard_refusal,
)
from .lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_schedule,
    campaign_start,
    campaign_start_refusal,
    campaigns_resume_stalled,
)
from .sending import (
    CUSTOMER_FIELDS,
    campaign_send_batch,
    campaign_sends_skip_merged,
    message_id_for,
)

__all__ = [
    "CUSTOMER_FIELDS",
    "EXEMPT_FROM_NOTICE",
    "FREQUENCY_LOCK",
    "MESSAGE_CONTEXT_NAMES",
    "MESSAGE_ENGINE",
    "BatchResult",
    "CampaignError",
    "campaign_cancel",
    "campaign_pause",
    "campaign_render",
    "campaign_resume",
    "campaign_resume_refusal",
    "campaign_schedule",
    "campaign_send_batch",
    "campaign_sends_skip_merged",
    "campaign_start",
    "campaign_start_refusal",
    "campaign_template_check",
    "campaigns_pause_for_incident",
    "campaigns_resume_stalled",
    "hold_follow_drill_status",
    "hold_note_at_close",
    "hold_place",
    "hold_release",
    "hold_release_refusal",
    "message_id_for",
    "notice_guard_refusal",
]
