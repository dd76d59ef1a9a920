"""Sending a signed-off communication: fan-out, batch claims, SMTP, retries, the shared
rate limit, the circuit breaker and completion. Every person is told once; a message that
may have gone out twice (a worker killed between the SMTP reply and the commit) carries
the same Message-ID both times."""

from config.mail import provider_message_id

from ...models import notification_message_id
from .audience import (
    communication_audience_size,
    communication_needs_codes,
    notifications_fan_out,
)
from .batches import (
    delivery_send_batch,
)
from .common import (
    OPEN_STATUSES,
    BatchResult,
    DeliveryError,
)
from .messages import (
    _messages_build,
    message_bytes,
    reset_link,
)
from .wave import (
    SendBlocker,
    communication_send,
    communication_send_blockers,
    deliveries_resume_stalled,
    delivery_breaker_check,
    delivery_complete,
    delivery_pause,
    delivery_progress_counts,
    delivery_resume,
)

__all__ = [
    "OPEN_STATUSES",
    "BatchResult",
    "DeliveryError",
    "SendBlocker",
    "_messages_build",
    "communication_audience_size",
    "communication_needs_codes",
    "communication_send",
    "communication_send_blockers",
    "deliveries_resume_stalled",
    "delivery_breaker_check",
    "delivery_complete",
    "delivery_pause",
    "delivery_progress_counts",
    "delivery_resume",
    "delivery_send_batch",
    "message_bytes",
    "notification_message_id",
    "notifications_fan_out",
    "provider_message_id",
    "reset_link",
]
