"""What the campaign services share: the refusal, a batch's result, the guarded transition."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from config.roles import CMO
from config.services import Actor, ServiceError, acting_user, holds_role
from config.template_sandbox import sandbox_engine
from incidents.models import Incident

from ..models import Campaign

logger = logging.getLogger(__name__)
# Advisory lock namespace ("FREQ") of the frequency cap: one lock per person, with two
# int keys, a key space apart from the single-key lock of customer imports.
FREQUENCY_LOCK = 0x46524551


# The kernel's sandbox, as breach messages use it: no loaders, no {% include %}, {% url %}
# or {% debug %}, render limits; no autoescape (the body is plain text).
MESSAGE_ENGINE = sandbox_engine(autoescape=False)
# The only names a campaign's subject and body can use.
MESSAGE_CONTEXT_NAMES = ("first_name", "last_name", "country", "language", "campaign_name")
EXEMPT_FROM_NOTICE = (
    Incident.Art34Decision.EXEMPT_A,
    Incident.Art34Decision.EXEMPT_B,
    Incident.Art34Decision.EXEMPT_C,
)


class CampaignError(ServiceError):
    """A campaign action was refused; the message says which campaign and why."""


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    withheld: int = 0
    skipped: int = 0
    # True when open rows remain that this chain should go on with.
    more: bool = False


def _require_perm(actor: Actor, perm: str, what: str) -> None:
    user = acting_user(actor)
    if actor is not None and not (user and user.has_perm(perm)):
        raise CampaignError(f"{actor} may not {what}.")


def _is_cmo(actor: Actor) -> bool:
    return holds_role(actor, CMO)


def _transition(campaign_id: int, *, from_: Iterable[str], to: str, **fields: object) -> None:
    """Move the campaign only if it is still in one of `from_`; refuse otherwise."""
    allowed = list(from_)
    updated = Campaign.objects.filter(pk=campaign_id, status__in=allowed).update(
        status=to, updated_at=timezone.now(), **fields
    )
    if updated != 1:
        current = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
        raise CampaignError(
            f"Campaign {campaign_id} is {current or 'missing'}; it must be {' or '.join(allowed)}."
        )
