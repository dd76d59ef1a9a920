"""Each person's message: rendered, with its codes and links, assembled as MIME."""

import binascii
import uuid
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.utils import timezone

from config.drills import drill_message_redirect
from config.models import CompanyProfile, company_profile
from customers.models import Customer
from incidents.models import AffectedCustomer

from ...models import (
    Channel,
    Communication,
    Notification,
    RemediationCode,
    TemplateVersion,
)
from ...recovery.responses import redemption_links
from ...rendering import (
    CodeInfo,
    RenderError,
    breach_email_compose,
    message_render,
)
from ...selectors import (
    complaint_authorities,
    message_context,
    version_choose,
)
from .audience import versions_use


def reset_link(customer_id: int) -> str:
    token = signing.dumps({"customer": customer_id}, salt="breachdesk.reset")
    return f"{settings.DELIVERY_RESET_URL}?token={token}"


@dataclass(frozen=True)
class BatchInputs:
    """What rendering a batch of one communication's notices needs, read in a few queries:
    the people, their data categories, codes and redemption links, the versions, the
    company profile, the complaint authorities and the reference. Emails and letters
    read the same inputs, so a person's words are the same on both."""

    customers: dict[int, Customer]
    categories: dict[int, list[str]]
    codes: dict[int, CodeInfo]
    versions: list[TemplateVersion]
    redemptions: dict[int, str]
    profile: CompanyProfile
    authorities: dict[str, str]
    reference: str


def batch_inputs(communication: Communication, notifications: list[Notification]) -> BatchInputs:
    customer_ids = [n.customer_id for n in notifications]
    versions = list(communication.versions.all())
    return BatchInputs(
        customers=Customer.objects.in_bulk(customer_ids),
        categories=dict(
            AffectedCustomer.objects.filter(
                incident_id=communication.incident_id, customer_id__in=customer_ids
            ).values_list("customer_id", "data_categories")
        ),
        codes={
            c.notification_id: CodeInfo(
                code=c.code, vendor=c.vendor, expires_on=c.expires_on, redeem_url=c.redeem_url
            )
            for c in RemediationCode.objects.filter(
                notification_id__in=[n.pk for n in notifications]
            )
            if c.notification_id is not None
        },
        versions=versions,
        # Signing a link costs more than rendering the words: only when a version prints one.
        redemptions=(
            redemption_links(incident_id=communication.incident_id, notifications=notifications)
            if versions_use(versions, "redemption_link")
            else {}
        ),
        profile=company_profile(),
        authorities=complaint_authorities(incident_id=communication.incident_id),
        # The one place the reference a person quotes comes from (per notification later).
        reference=communication.incident.reference,
    )


def _messages_build(
    communication: Communication, rows: list[Notification]
) -> tuple[list[tuple[int, EmailMultiAlternatives]], dict[int, str], dict[int, str]]:
    """(notification id, message) for each valid address, the malformed ones, render errors."""
    inputs = batch_inputs(communication, rows)
    customers, categories, codes = inputs.customers, inputs.categories, inputs.codes
    versions, redemptions, profile = inputs.versions, inputs.redemptions, inputs.profile
    authorities, reference = inputs.authorities, inputs.reference
    today = timezone.localdate()
    malformed: dict[int, str] = {}
    broken: dict[int, str] = {}
    messages = []
    for row in rows:
        try:
            # Django's send_messages gives up the rest of a batch at the first bad address.
            validate_email(row.email)
        except ValidationError:
            malformed[row.pk] = f"malformed address {row.email!r}"
            continue
        customer = customers[row.customer_id]
        person_categories = categories.get(row.customer_id, [])
        version, _fallback = version_choose(
            versions,
            channel=Channel.EMAIL,
            language=profile.language_for(language=customer.language, country=customer.country),
            data_categories=person_categories,
            fallback_language=communication.fallback_language,
        )
        if version is None:
            broken[row.pk] = "no approved email version fits this person"
            continue
        code = codes.get(row.pk)
        try:
            context = message_context(
                incident=communication.incident,
                customer=customer,
                data_categories=person_categories,
                reset_link=reset_link(row.customer_id),
                remediation_code=code.code if code else "",
                redemption_link=redemptions.get(row.pk, ""),
                language=version.language,
            )
            rendered = breach_email_compose(
                rendered=message_render(
                    subject=version.subject,
                    text_body=version.text_body,
                    html_body=version.html_body,
                    context=context,
                ),
                language=version.language,
                reference=reference,
                sent_on=today,
                data_categories=person_categories,
                code=code,
                authority=authorities.get(customer.country.upper(), ""),
                profile=profile,
            )
        except RenderError as error:
            broken[row.pk] = str(error)
            continue
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=profile.sender,
            to=[row.email],
            reply_to=[profile.reply_to] if profile.reply_to else None,
            headers={"Message-ID": row.message_id, "Content-Language": version.language},
        )
        message.attach_alternative(rendered.html, "text/html")
        # Through an email provider (anymail), our Message-ID comes back with every tracking
        # event in the metadata, even for a message whose provider id was never recorded.
        message.metadata = {"breachdesk": row.message_id}  # type: ignore[attr-defined]
        if communication.incident.is_drill:
            # A drill's message never reaches the person: only the drill addresses.
            drill_message_redirect(message)
        messages.append((row.pk, message))
    return messages, malformed, broken


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").encode()
    return binascii.b2a_qp(body, istext=True).replace(b"\n", b"\r\n")


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def message_bytes(message: EmailMultiAlternatives) -> bytes:
    """The message as sent: multipart/alternative, text and HTML in quoted-printable UTF-8.

    Python's email generator costs more per message than the SMTP exchange itself; a
    breach message has a fixed, simple shape, so it is assembled directly.
    """
    html = next(
        (content for content, mimetype in message.alternatives if mimetype == "text/html"), ""
    )
    boundary = f"=_breachdesk_{uuid.uuid4().hex}"
    name, address = parseaddr(message.from_email)
    headers = [
        f"From: {formataddr((_header(name), address)) if name else address}",
        f"To: {', '.join(message.to)}",
        *([f"Reply-To: {', '.join(message.reply_to)}"] if message.reply_to else []),
        f"Subject: {_header(str(message.subject))}",
        f"Date: {formatdate()}",
        f"Message-ID: {message.extra_headers['Message-ID']}",
        *(f"{k}: {_header(str(v))}" for k, v in message.extra_headers.items() if k != "Message-ID"),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    return b"".join(
        [
            "\r\n".join(headers).encode(),
            f"\r\n\r\n--{boundary}\r\n{part.format('plain')}\r\n\r\n".encode(),
            _qp(str(message.body)),
            f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n".encode(),
            _qp(str(html)),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
