"""The call-centre agent's lookup: a reference from a letter or an email, and what that
person was told. Nothing else is shown, and every lookup is logged as contact-data access."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from customers.models import PiiAccess
from incidents.models import AffectedCustomer, DataCategory

from ..models import Notification, reference_display, reference_normalize
from ..services.common import Actor, acting_user
from .returns import REFERENCE_LENGTH


@dataclass(frozen=True)
class Sent:
    communication: str
    channel: str
    status: str
    when: datetime | None
    code: str
    code_vendor: str
    code_expires: date | None


@dataclass(frozen=True)
class Lookup:
    reference: str
    found: bool
    incident: str = ""
    affected: bool = False
    data_categories: list[str] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)


@transaction.atomic
def notification_lookup(*, reference: str, actor: Actor) -> Lookup:
    """What the person with this reference was sent, logged whether found or not."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.lookup_notification"):
        raise ValidationError(f"{actor} may not look people up by reference.")
    wanted = reference_normalize(reference)
    if len(wanted) != REFERENCE_LENGTH:
        raise ValidationError(
            f"{reference.strip()!r} is not a reference: it has 16 letters and digits, "
            "like ABCD-EF01-2345-6789."
        )
    shown = reference_display(wanted)
    notification = (
        Notification.objects.select_related("communication__incident")
        .filter(reference=wanted)
        .first()
    )
    PiiAccess.objects.create(
        user=user,
        customer_id=notification.customer_id if notification else None,
        kind=PiiAccess.Kind.RECORD,
        detail=f"Call-centre lookup by reference {shown}"
        + ("" if notification else " (not found)"),
    )
    if notification is None:
        return Lookup(reference=shown, found=False)
    incident = notification.communication.incident
    affected = AffectedCustomer.objects.filter(
        incident=incident, customer_id=notification.customer_id
    ).first()
    labels = dict(DataCategory.choices)
    sent = []
    for n in (
        Notification.objects.filter(
            communication__incident=incident, customer_id=notification.customer_id
        )
        .select_related("communication", "letter_batch", "remediation_code")
        .order_by("communication__created_at")
    ):
        code = getattr(n, "remediation_code", None)
        when = n.sent_at or (n.letter_batch.posted_at if n.letter_batch else None)
        sent.append(
            Sent(
                communication=n.communication.name,
                channel=n.get_channel_display(),
                status=n.get_status_display(),
                when=when,
                code=code.code if code else "",
                code_vendor=code.vendor if code else "",
                code_expires=code.expires_on if code else None,
            )
        )
    return Lookup(
        reference=shown,
        found=True,
        incident=incident.title,
        affected=affected is not None,
        data_categories=[labels.get(c, c) for c in (affected.data_categories if affected else [])],
        sent=sent,
    )
