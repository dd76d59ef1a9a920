"""The timeline event kinds the campaigns app writes on an incident's timeline."""

from config.events import event_kind_declare as declare

CAMPAIGN_HOLD_PLACED = declare(
    "campaign.hold_placed",
    "Marketing held",
    "Marketing to the affected people was held for the incident.",
)
CAMPAIGN_HOLD_RELEASED = declare(
    "campaign.hold_released", "Marketing hold released", "The CMO released a marketing hold."
)
CAMPAIGN_PAUSED = declare(
    "campaign.paused", "Campaign paused", "A campaign reaching affected people was paused."
)
CAMPAIGN_RESUMED = declare(
    "campaign.resumed", "Campaign resumed", "The CMO resumed a paused campaign."
)
CAMPAIGN_HOLD_KEPT_AT_CLOSE = declare(
    "campaign.hold_kept_at_close",
    "Marketing hold kept at closing",
    "The incident closed with its marketing hold in place: only the CMO releases it.",
)
