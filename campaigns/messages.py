"""Building a campaign email: the words, the sender's postal address, and a one-click
unsubscribe (RFC 8058) that needs no login and that no later import undoes."""

from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.models import CompanyProfile, company_profile
from config.services import ServiceError
from customers.models import Customer, Touchpoint

UNSUBSCRIBE_SALT = "breachdesk.campaigns.unsubscribe"


class UnsubscribeLinkError(ServiceError, ValueError):
    pass


def unsubscribe_token(*, customer_id: int, campaign_id: int) -> str:
    # Signed, not stored: the link works for as long as the secret key does, like the
    # link in any newsletter, and names nothing but two ids.
    return signing.dumps({"c": customer_id, "k": campaign_id}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, customer_id: int, campaign_id: int) -> str:
    token = unsubscribe_token(customer_id=customer_id, campaign_id=campaign_id)
    path = reverse("campaigns:unsubscribe", args=[token])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def unsubscribe_token_read(token: str) -> tuple[int, int]:
    try:
        data: dict[str, Any] = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return int(data["c"]), int(data["k"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise UnsubscribeLinkError("This unsubscribe link is not valid.") from error


@transaction.atomic
def customer_unsubscribe(*, token: str) -> Customer:
    """Record the opt-out the link stands for (safe to do twice).

    Consent "withdrawn" is sticky: every import keeps it (customers/imports/merge.py), so
    no CRM file can mail this person again.
    """
    customer_id, campaign_id = unsubscribe_token_read(token)
    now = timezone.now()
    changed = (
        Customer.objects.filter(pk=customer_id)
        .exclude(marketing_consent=Customer.Consent.WITHDRAWN)
        .update(
            marketing_consent=Customer.Consent.WITHDRAWN,
            consent_source="unsubscribe link",
            consent_updated_at=now,
        )
    )
    customer = Customer.objects.get(pk=customer_id)
    if changed:
        Touchpoint.objects.create(
            customer=customer,
            channel=Touchpoint.Channel.EMAIL,
            kind=Touchpoint.Kind.UNSUBSCRIBED,
            occurred_at=now,
            reference=f"unsubscribed from campaign:{campaign_id}",
        )
    return customer


def _footer(profile: CompanyProfile, url: str) -> str:
    return (
        "\n\n--\n"
        f"{profile.legal_name}, {', '.join(profile.address_block)}\n"
        f"You get this email because you agreed to hear from {profile.legal_name}.\n"
        f"Unsubscribe with one click: {url}\n"
    )


def campaign_message_build(
    *, campaign_id: int, customer: dict[str, object], subject: str, body: str, message_id: str
) -> EmailMessage:
    profile = company_profile()
    url = unsubscribe_url(customer_id=int(str(customer["id"])), campaign_id=campaign_id)
    return EmailMessage(
        subject=subject,
        body=body + _footer(profile, url),
        from_email=profile.sender,
        to=[str(customer["email"])],
        reply_to=[profile.reply_to] if profile.reply_to else None,
        headers={
            "Message-ID": message_id,
            # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the https link.
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
