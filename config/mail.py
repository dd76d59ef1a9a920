"""Mail leaving Breachdesk: one transport for every sender, and the demo's `.eml` backend.

`messages_send` sends a batch over one connection and says what became of each message:
sent (with the provider's id when an email provider took it), refused for good, or to be
tried again. The breach notice and the marketing campaign both send through it, so a
failure means the same in both: one refused recipient fails only itself, and a lost
connection leaves only the messages not yet sent for a retry, never one already accepted.
"""

import logging
import smtplib
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Generic, TypeVar

from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=EmailMessage)


@dataclass
class SendOutcome(Generic[K]):
    """What became of each message of a batch, by the caller's key (a row's id)."""

    sent: list[K] = field(default_factory=list)
    # To be tried again: the server or the provider said "later", or the connection broke.
    temporary: dict[K, str] = field(default_factory=dict)
    # Refused for good (5xx, an address the provider will not take).
    permanent: dict[K, str] = field(default_factory=dict)
    # The email provider's id of each sent message (anymail sets it; SMTP gives none).
    provider_ids: dict[K, str] = field(default_factory=dict)


class EmlFileBackend(BaseEmailBackend):
    """Write messages to EMAIL_FILE_PATH, one RFC 5322 file each, openable in any mail client.

    Django's own file backend appends every message of a connection to one `.log` file,
    which no mail client opens; the demo should show exactly what a customer would get.
    """

    def __init__(self, *, fail_silently: bool = False, **kwargs: object) -> None:
        super().__init__(fail_silently=fail_silently)
        self.directory = Path(settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
            path.write_bytes(message.message().as_bytes(linesep="\r\n"))
            sent += 1
        return sent


def _smtp_code(error: Exception) -> int:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return max(codes) if codes else 0
    return int(getattr(error, "smtp_code", 0) or 0)


def provider_message_id(message: EmailMessage) -> str:
    """The email provider's id for a message anymail sent ("" over SMTP)."""
    status = getattr(message, "anymail_status", None)
    value = getattr(status, "message_id", None)
    if value is None and status is not None:
        # One id per recipient when the provider gave several; ours have one recipient.
        ids = {str(s.message_id) for s in status.recipients.values() if s.message_id}
        value = ids.pop() if len(ids) == 1 else None
    return "" if value is None else str(value)[:255]


def _provider_failure(error: AnymailError) -> tuple[bool, str]:
    """(permanent?, reason) of a provider's refusal: its 4xx answers are final except 429."""
    if isinstance(error, AnymailRecipientsRefused | AnymailInvalidAddress):
        return True, f"refused by the provider: {error}"
    code = getattr(error, "status_code", None) if isinstance(error, AnymailAPIError) else None
    permanent = code is not None and 400 <= int(code) < 500 and int(code) != 429
    # The error's own words only: the provider's response body may echo the address.
    words = " ".join(str(arg) for arg in error.args).splitlines()
    return permanent, f"provider {code or 'error'}: {(words or [''])[0][:300]}"


def messages_send(
    messages: Sequence[tuple[K, M]],
    *,
    encode: Callable[[M], bytes] | None = None,
) -> SendOutcome[K]:
    """Send over one connection and say what became of each message (see SendOutcome).

    Each message is sent on its own so that one refused recipient fails only itself; a
    lost connection leaves the rest of the batch for a retry. Over SMTP the message goes
    out as `encode(message)` (default: Django's own rendering) on the backend's connection;
    any other backend (an email provider, files in development, memory in tests) gets
    Django's messages.
    """
    outcome: SendOutcome[K] = SendOutcome()
    if not messages:
        return outcome
    lost: Exception
    backend = get_connection(fail_silently=False)
    try:
        backend.open()
    except (OSError, smtplib.SMTPException) as error:
        outcome.temporary = {key: f"cannot connect: {error}" for key, _ in messages}
        return outcome
    smtp = getattr(backend, "connection", None)
    if not isinstance(smtp, smtplib.SMTP):
        smtp = None
    envelope_from = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    try:
        for index, (key, message) in enumerate(messages):
            try:
                if smtp is not None:
                    raw = encode(message) if encode else message.message().as_bytes()
                    smtp.sendmail(envelope_from, message.recipients(), raw)
                else:
                    backend.send_messages([message])
            except AnymailError as error:
                # The provider's API answered (or could not be reached) for this message
                # alone: a refusal fails it, anything else is tried again later.
                is_permanent, reason = _provider_failure(error)
                (outcome.permanent if is_permanent else outcome.temporary)[key] = reason
                continue
            except smtplib.SMTPServerDisconnected as error:
                lost = error
            except smtplib.SMTPException as error:
                # SMTPException is an OSError too: refusals are told apart before it.
                code = _smtp_code(error)
                (outcome.permanent if code >= 500 else outcome.temporary)[key] = f"{code} {error}"
                continue
            except OSError as error:
                lost = error
            else:
                outcome.sent.append(key)
                if smtp is None:
                    provider_id = provider_message_id(message)
                    if provider_id:
                        outcome.provider_ids[key] = provider_id
                continue
            for rest, _ in messages[index:]:
                outcome.temporary[rest] = f"connection lost: {lost}"
            break
    finally:
        try:
            backend.close()
        except (OSError, smtplib.SMTPException):
            logger.warning("closing the SMTP connection failed", exc_info=True)
    return outcome
