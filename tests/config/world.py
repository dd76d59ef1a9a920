"""One of everything the admin shows, built through the apps' own services, so that every
changelist, change page and custom view has something to open."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from campaigns.models import Campaign
from campaigns.services import campaign_send_batch, campaign_start
from config import roles
from config.readiness.models import OnCallShift
from customers.models import (
    Customer,
    CustomerExport,
    DuplicateCandidate,
    ImportJob,
    ImportRejection,
    PiiAccess,
    SharedEmail,
    SourcePriority,
)
from customers.services import customer_merge, pii_access_record
from incidents.models import EvidencePack, Incident, Regulator, RegulatorNotice
from incidents.services import (
    assessment_record,
    closure_add,
    incident_open,
    scope_add_forensic_list,
)
from notifications.models import (
    CallCentrePack,
    Communication,
    Delivery,
    DeliveryEvent,
    LetterBatch,
    Notification,
    RecoveryPlan,
    RemediationCode,
    ReturnedLetter,
    SubstituteNotice,
    TemplateVersion,
    canonical_sha256,
)
from notifications.reach.callcentre import notice_hash, pack_content
from notifications.services import communication_create
from tests.campaigns.factories import CampaignFactory, scope_write, segment_with
from tests.customers.factories import CustomerFactory, ImportMappingFactory, TouchpointFactory
from tests.notifications.factories import MessageTemplateFactory, TemplateVersionFactory

from .canary import Canary, canary_import, canary_seed


@dataclass
class World:
    canary: Canary
    incident: Incident
    other_incident: Incident
    campaign: Campaign
    draft: TemplateVersion
    submitted: TemplateVersion
    communication: Communication
    preview_job: ImportJob
    import_job: ImportJob
    delivery: Delivery
    letter_batch: LetterBatch
    notice: RegulatorNotice
    pack: EvidencePack
    customer_export: CustomerExport
    call_centre_pack: CallCentrePack
    recovery_plan: RecoveryPlan


def world_build() -> World:
    canary = canary_seed()
    customer = canary.customer
    Customer.objects.filter(pk=customer.pk).update(marketing_consent=Customer.Consent.GRANTED)
    campaign = CampaignFactory.create(segments=[segment_with([customer])])
    campaign_start(campaign_id=campaign.pk, actor=None)
    while campaign_send_batch(campaign_id=campaign.pk).more:
        pass
    TouchpointFactory.create(customer=customer)
    ImportMappingFactory.create()
    SourcePriority.objects.create(source="salesforce", priority=10)
    twins = [CustomerFactory.create(last_name="Twin") for _ in range(4)]
    merged_pair = DuplicateCandidate.objects.create(
        customer_a=twins[0], customer_b=twins[1], reason="name_postal", score=0.9
    )
    customer_merge(candidate=merged_pair, survivor=twins[0], by=None)
    DuplicateCandidate.objects.create(
        customer_a=twins[2], customer_b=twins[3], reason="phone", score=0.95
    )
    SharedEmail.objects.create(
        email="family@home.example", source="salesforce", first_seen_at=datetime.now(UTC)
    )
    job = ImportJob.objects.get(dry_run=False)
    ImportRejection.objects.create(
        job=job, row=2, line=3, field="email", reason="not an email", value=canary.ghost_email
    )
    preview, _, _ = canary_import(run=False)
    ImportJob.objects.filter(pk=preview.pk).update(dry_run=True)
    owner = get_user_model().objects.create_user("world-owner")
    incident = incident_open(
        actor=owner,
        title="Portal breach",
        nature="Credential stuffing on the customer portal",
        awareness_at=datetime.now(UTC) - timedelta(hours=3),
        data_categories=["contact"],
    )
    other = incident_open(
        actor=owner,
        title="Other breach",
        nature="A lost laptop",
        awareness_at=datetime.now(UTC) - timedelta(hours=1),
        data_categories=["contact"],
    )
    assessment_record(incident_id=incident.pk, actor=owner, ei=Decimal("0.5"))
    pii_access_record(user=owner, kind=PiiAccess.Kind.RECORD, customer_id=customer.pk)
    scope_write(incident, [customer])
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=owner,
        content=f"email\n{canary.email}\n{canary.ghost_email}\n".encode(),
        filename="forensic.csv",
        data_categories=["contact"],
    )
    # A second campaign after scoping: the affected customer is withheld from it.
    held = CampaignFactory.create(segments=[segment_with([customer])])
    campaign_start(campaign_id=held.pk, actor=None)
    while campaign_send_batch(campaign_id=held.pk).more:
        pass
    template = MessageTemplateFactory.create(incident=incident)
    approved = TemplateVersionFactory.create(
        template=template, language="en", data_categories=["contact"], approved=True
    )
    draft = TemplateVersionFactory.create(template=template, language="de")
    submitted = TemplateVersionFactory.create(
        template=template, language="fr", status=TemplateVersion.Status.SUBMITTED
    )
    start = datetime.now(UTC) + timedelta(days=1)
    communication = communication_create(
        incident_id=incident.pk,
        actor=owner,
        name="Breach notice",
        channels=["email"],
        send_window_start=start,
        send_window_end=start + timedelta(hours=8),
        fallback_language="en",
        version_ids=[approved.pk],
        audience_data_categories=["contact"],
    )
    # What delivery and the regulator notice leave behind, written directly: the matrix
    # needs one of each to open, not the whole send (tests/notifications covers that).
    now = datetime.now(UTC)
    delivery = Delivery.objects.create(
        communication=communication,
        kind=Delivery.Kind.BREACH_NOTICE,
        content_hash="0" * 64,
        started_by=owner,
        started_at=now,
    )
    notification = Notification.objects.create(
        communication=communication,
        customer=customer,
        channel="email",
        status=Notification.Status.values[0],
        email=canary.email,
        last_error=f"550 5.1.1 <{canary.email}>: recipient refused",
    )
    RemediationCode.objects.create(
        incident=incident, code="CM-0001", vendor="Monitor Ltd", expires_on=now.date()
    )
    batch = LetterBatch.objects.create(communication=communication, paper_size="a4")
    batch.pdf.save("letters.pdf", ContentFile(b"%PDF-1.7 letters"), save=True)
    # A provider's bounce report naming the canary (what a webhook stores).
    DeliveryEvent.objects.create(
        provider="postmark",
        event_type="bounced",
        kind=DeliveryEvent.Kind.HARD_BOUNCE,
        recipient=canary.email,
        description=f"550 <{canary.email}> unknown",
        dedupe_key="1" * 64,
        received_at=now,
        outcome=DeliveryEvent.Outcome.UNKNOWN,
    )
    ReturnedLetter.objects.create(
        notification=notification,
        customer=customer,
        street=customer.street,
        postal_code=customer.postal_code,
        city=customer.city,
        returned_on=now.date(),
        reason="Addressee unknown",
        source="returns.csv",
    )
    SubstituteNotice.objects.create(
        incident=incident,
        regime=SubstituteNotice.Regime.HIPAA,
        unreached=1,
        affected=1,
        condition="Fewer than 10 people cannot be reached.",
        outcome=SubstituteNotice.Outcome.NOT_MET,
        toll_free_number="+1 800 555 0199",
        decided_by=owner,
        decided_at=now,
    )
    bound = notice_hash(communication=communication)
    content = pack_content(communication=communication)
    call_centre_pack = CallCentrePack.objects.create(
        communication=communication,
        number=1,
        notice_hash=bound,
        content=content,
        content_hash=canonical_sha256({"notice_hash": bound, "content": content}),
    )
    notice = RegulatorNotice.objects.create(
        incident=incident, number=1, phase=RegulatorNotice.Phase.values[0], content={}
    )
    pack = EvidencePack.objects.create(incident=incident, built_by=owner, stage="Queued")
    closure_add(calendar="US", day=now.date(), reason="Executive order", actor=None)
    Regulator.objects.get_or_create(
        code="world-authority", defaults={"name": "World authority", "jurisdiction": "US"}
    )
    # Still waiting for the task cluster, so that its page and download link open.
    customer_export = CustomerExport.objects.create(requested_by=owner, fields=["id", "email"])
    # One shift on the rota, so that its list offers its actions.
    OnCallShift.objects.create(
        role=roles.CISO, person=owner, starts_at=now, ends_at=now + timedelta(hours=8)
    )
    # Waiting for the CISO's consent, so that its consent, stop and step pages open.
    recovery_plan = RecoveryPlan.objects.create(incident=incident, created_by=owner)
    return World(
        recovery_plan=recovery_plan,
        call_centre_pack=call_centre_pack,
        customer_export=customer_export,
        delivery=delivery,
        letter_batch=batch,
        notice=notice,
        pack=pack,
        canary=canary,
        incident=incident,
        other_incident=other,
        campaign=campaign,
        draft=draft,
        submitted=submitted,
        communication=communication,
        preview_job=preview,
        import_job=job,
    )
