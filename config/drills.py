"""Drills: an incident run as an exercise sends its breach messages only to internal test
addresses, marked as a drill, never to the people in its scope.

Called where breach messages leave (the delivery services), so a drill cannot reach a
customer whatever path a message takes.
"""

from django.conf import settings
from django.core.mail import EmailMessage

from config.services import ServiceError


class DrillWithoutRecipientsError(ServiceError):
    pass


DRILL_HEADER = "X-Breachdesk-Drill"
INTENDED_HEADER = "X-Breachdesk-Drill-Intended-For"


def drill_recipients() -> list[str]:
    """The internal addresses drills mail; refuses when none is configured."""
    recipients = [a.strip() for a in settings.DRILL_RECIPIENTS if a.strip()]
    if not recipients:
        raise DrillWithoutRecipientsError(
            "This incident is a drill and DRILL_RECIPIENTS is empty: nothing is sent."
        )
    return recipients


def drill_message_redirect(message: EmailMessage) -> EmailMessage:
    """Turn a drill's message to a customer into one to the drill recipients only."""
    intended = ", ".join(message.to)
    message.to = drill_recipients()
    message.cc = []
    message.bcc = []
    message.reply_to = []
    if not message.subject.startswith("[DRILL] "):
        message.subject = f"[DRILL] {message.subject}"
    message.extra_headers = {
        **message.extra_headers,
        DRILL_HEADER: "yes",
        INTENDED_HEADER: intended,
    }
    return message
