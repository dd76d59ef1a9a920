"""A full incident as the demo runs it, built through the services where users act:
opened, assessed, decided, scoped (which holds and pauses a campaign), a breach message
approved and signed off, delivered with every outcome, and the regulator told."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign, Withholding
from config import roles
from customers.models import Customer, Segment, SegmentMembership
from incidents.models import Filing, Incident, RegulatorNotice
from incidents.services import (
    assessment_record,
    incident_decide_art33,
    incident_decide_art34,
    incident_open,
    scope_set,
)
from incidents.services.notice import filing_record, notice_draft
from notifications.models import Delivery, LetterBatch, Notification
from tests.notifications.delivery_helpers import signed_off
from tests.notifications.factories import approved

PAYLOAD = '<img src="file:///etc/passwd"> @import url("http://127.0.0.1:9/x.css");'


@dataclass
class Scenario:
    incident: Incident
    customers: list[Customer]
    filing: Filing
    campaign: Campaign


def full_incident(
    make_user, *, nature: str = "Automated logins reached customer accounts."
) -> Scenario:
    dpo = make_user("dora", roles.DPO)
    ciso = make_user("sven", roles.CISO)
    cmo = make_user("carla", roles.CMO)
    marketing = make_user("mo", roles.MARKETING_OPERATOR)
    awareness = timezone.now() - timedelta(hours=30)
    incident = incident_open(
        actor=ciso,
        title="Credential stuffing on the customer portal",
        nature=nature,
        awareness_at=awareness,
        data_categories=["contact", "credentials"],
        credentials_open="payment_card",
        systems=["customer portal"],
        approximate_records=12,
        contact_point="dpo@example.com, +49 30 1234",
        likely_consequences="Phishing and card fraud attempts.",
        measures_taken="Passwords reset, rate limits on the login.",
        measures_proposed="Card monitoring offered to everyone affected.",
    )
    assessment_record(
        incident_id=incident.pk,
        actor=ciso,
        ei=Decimal("0.75"),
        cb_confidentiality=Decimal("0.5"),
        malicious=True,
        dpc_adjustments=[(-1, "Only the last four card digits are shown")],
    )
    incident_decide_art33(
        incident_id=incident.pk, actor=dpo, decision="notify", reason="Risk to card holders."
    )
    incident_decide_art34(incident_id=incident.pk, actor=dpo, decision="notify", reason="")
    segment = Segment.objects.create(name="Portal users")
    places = [("DE", ""), ("DE", ""), ("FR", ""), ("US", "TX"), ("US", "CA"), ("GB", "")]
    customers = [
        Customer.objects.create(
            first_name=f"Secretname{i}",
            last_name="Person",
            email=f"secret{i}@example.com",
            email_normalized=f"secret{i}@example.com",
            country=country,
            region=region,
            language="en",
            marketing_consent=Customer.Consent.GRANTED,
        )
        for i, (country, region) in enumerate(places)
    ]
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=c) for c in customers
    )
    campaign = Campaign.objects.create(
        name="Winter sale",
        owner=cmo,
        subject="Sale",
        body="20% off",
        status="sending",
        started_at=timezone.now(),
    )
    campaign.segments.set([segment])
    scope_set(
        incident_id=incident.pk,
        actor=ciso,
        segment_ids=[segment.pk],
        data_categories=["contact", "credentials"],
    )
    Withholding.objects.bulk_create(
        Withholding(campaign=campaign, customer=c, incident=incident, withheld_at=timezone.now())
        for c in customers[:3]
    )
    version = approved(incident, "en", ["contact", "credentials"])
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    Delivery.objects.create(
        communication=communication,
        kind=Delivery.Kind.BREACH_NOTICE,
        content_hash=version.content_hash,
        started_by=cmo,
        started_at=timezone.now(),
    )
    outcomes = ["sent", "sent", "failed", "bounced", "letter"]
    sent_at = awareness + timedelta(hours=20)
    Notification.objects.bulk_create(
        Notification(
            communication=communication,
            customer=c,
            channel="email",
            status=status,
            sent_at=sent_at if status == "sent" else None,
        )
        for c, status in zip(customers, outcomes, strict=False)
    )
    LetterBatch.objects.create(
        communication=communication, paper_size="A4", status="posted", letters=1, built=1
    )
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    # Drafted before it was filed: a filing cannot precede its notice.
    RegulatorNotice.objects.filter(pk=notice.pk).update(created_at=awareness + timedelta(hours=28))
    filing = filing_record(
        notice_id=notice.pk,
        actor=dpo,
        authority="BfDI",
        filed_at=awareness + timedelta(hours=29),
        reference="BFDI-2026-0042",
    )
    incident.refresh_from_db()
    return Scenario(incident=incident, customers=customers, filing=filing, campaign=campaign)
