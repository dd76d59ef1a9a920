"""What the delivery modules share: the refusal and a batch's result."""

import logging
from dataclasses import dataclass

from config.services import ServiceError

from ...models import (
    Notification,
)

logger = logging.getLogger(__name__)

OPEN_STATUSES = (Notification.Status.PENDING, Notification.Status.CLAIMED)


class DeliveryError(ServiceError):
    """A send, pause or resume was refused; the message says which communication and why."""


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    letters: int = 0
    # Rows remain that this chain (or a later one) should go on with.
    more: bool = False
    # Seconds to wait before the next claim: the rate limit, a live lease or a backoff.
    wait: float = 0.0


# --- Starting the wave ---------------------------------------------------------------------
