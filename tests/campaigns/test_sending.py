from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignSend, Withholding
from campaigns.services import (
    CampaignError,
    campaign_cancel,
    campaign_send_batch,
    campaign_start,
    message_id_for,
)
from customers.models import Customer, Touchpoint
from tests.campaigns.factories import (
    CampaignFactory,
    CustomerFactory,
    IncidentFactory,
    scope_write,
    segment_with,
)
from tests.conftest import SmtpInbox, smtp_serving

pytestmark = pytest.mark.django_db


def send_all(campaign: Campaign) -> int:
    batches = 0
    while campaign_send_batch(campaign_id=campaign.pk).more:
        batches += 1
        assert batches < 100, "batches never ran out"
    return batches + 1


def started(customers, **kwargs) -> Campaign:
    campaign = CampaignFactory.create(segments=[segment_with(customers)], **kwargs)
    campaign_start(campaign_id=campaign.pk, actor=None)
    return campaign


def test_campaign_mails_each_customer_once_and_records_a_promotional_touchpoint(mailoutbox):
    customers = CustomerFactory.create_batch(12)
    campaign = started(customers)

    assert send_all(campaign) == 3  # batches of 5
    send_all(campaign)  # running again sends nothing more

    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.email for c in customers)
    first = next(m for m in mailoutbox if m.to == [customers[0].email])
    assert first.subject == f"{customers[0].first_name}, the winter sale is on"
    assert f"in {campaign.name}." in first.body
    assert first.extra_headers["Message-ID"] == message_id_for(
        campaign_id=campaign.pk, customer_id=customers[0].pk
    )
    assert Touchpoint.objects.filter(kind=Touchpoint.Kind.PROMOTIONAL).count() == 12
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert CampaignSend.objects.filter(campaign=campaign, status="sent").count() == 12
    assert (
        CampaignSend.objects.get(customer=customers[0]).message_id
        == first.extra_headers["Message-ID"]
    )


def test_unknown_or_withdrawn_consent_and_bad_email_are_not_mailed(mailoutbox):
    granted = CustomerFactory.create()
    unknown = CustomerFactory.create(marketing_consent=Customer.Consent.UNKNOWN)
    withdrawn = CustomerFactory.create(marketing_consent=Customer.Consent.WITHDRAWN)
    bounced = CustomerFactory.create(email_status=Customer.EmailStatus.BOUNCED)
    # An address the import let through as valid, found unusable only when mailing.
    malformed = CustomerFactory.create(
        email="not an address", email_status=Customer.EmailStatus.VALID
    )
    campaign = started([granted, unknown, withdrawn, bounced, malformed])

    send_all(campaign)

    assert [m.to for m in mailoutbox] == [[granted.email]]
    reasons = dict(
        CampaignSend.objects.filter(campaign=campaign).values_list("customer_id", "skip_reason")
    )
    assert reasons == {
        granted.pk: "",
        unknown.pk: "no_consent",
        withdrawn.pk: "no_consent",
        bounced.pk: "email_status",
        malformed.pk: "invalid_address",
    }


def test_frequency_cap_skips_customers_with_enough_recent_promotions(mailoutbox, settings):
    settings.CAMPAIGNS_FREQUENCY_CAP_MESSAGES = 2
    capped, old_ones, fresh = CustomerFactory.create_batch(3)
    now = timezone.now()
    for customer, age in ((capped, 1), (capped, 3), (old_ones, 10), (old_ones, 20)):
        Touchpoint.objects.create(
            customer=customer,
            channel="email",
            kind=Touchpoint.Kind.PROMOTIONAL,
            occurred_at=now - timedelta(days=age),
        )
    campaign = started([capped, old_ones, fresh])

    send_all(campaign)

    assert sorted(m.to[0] for m in mailoutbox) == sorted([old_ones.email, fresh.email])
    assert CampaignSend.objects.get(campaign=campaign, customer=capped).skip_reason == (
        "frequency_cap"
    )


def test_audience_is_narrowed_by_country_and_language(mailoutbox):
    de = CustomerFactory.create(country="DE", language="de")
    fr = CustomerFactory.create(country="FR", language="fr")
    at_en = CustomerFactory.create(country="AT", language="en")
    at_de = CustomerFactory.create(country="AT", language="de")
    campaign = started([de, fr, at_en, at_de], countries="DE,AT", languages="de")

    send_all(campaign)

    assert sorted(m.to[0] for m in mailoutbox) == sorted([de.email, at_de.email])


def test_customers_under_a_hold_are_withheld_at_the_claim_even_if_the_campaign_runs(
    mailoutbox, settings
):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    customers = CustomerFactory.create_batch(10)
    affected = customers[::2]
    campaign = started(customers)
    campaign_send_batch(campaign_id=campaign.pk)  # first five go out before the scope
    before = {m.to[0] for m in mailoutbox}
    incident = IncidentFactory.create()

    scope_write(incident, affected)
    send_all(campaign)

    after = {m.to[0] for m in mailoutbox} - before
    assert after == {c.email for c in customers[5:] if c not in affected}
    not_reached = [c for c in affected if c.email not in before]
    assert Withholding.objects.filter(campaign=campaign, incident=incident).count() == len(
        not_reached
    )
    assert set(
        CampaignSend.objects.filter(campaign=campaign, status="withheld").values_list(
            "customer_id", flat=True
        )
    ) == {c.pk for c in not_reached}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


def test_a_batch_whose_lease_ran_out_is_claimed_again(mailoutbox):
    customers = CustomerFactory.create_batch(3)
    campaign = started(customers)
    # A worker claimed these rows and died before sending.
    CampaignSend.objects.filter(campaign=campaign).update(
        status="claimed", lease_expires_at=timezone.now() - timedelta(seconds=1), attempts=1
    )

    send_all(campaign)

    assert len(mailoutbox) == 3
    assert set(CampaignSend.objects.values_list("attempts", flat=True)) == {2}


def test_a_live_lease_is_left_to_its_worker(mailoutbox):
    customers = CustomerFactory.create_batch(3)
    campaign = started(customers)
    CampaignSend.objects.filter(campaign=campaign).update(
        status="claimed", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    result = campaign_send_batch(campaign_id=campaign.pk)

    assert (result.claimed, result.more, len(mailoutbox)) == (0, False, 0)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING


def test_paused_or_cancelled_campaign_claims_nothing(mailoutbox, make_user):
    campaign = started(CustomerFactory.create_batch(3))
    campaign_cancel(campaign_id=campaign.pk, actor=None)

    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    assert mailoutbox == []


def test_start_is_refused_twice_and_without_segments():
    campaign = started(CustomerFactory.create_batch(1))
    with pytest.raises(CampaignError, match="is sending; it must be draft or scheduled"):
        campaign_start(campaign_id=campaign.pk, actor=None)
    empty = CampaignFactory.create()
    with pytest.raises(CampaignError, match="has no segment"):
        campaign_start(campaign_id=empty.pk, actor=None)


def test_start_needs_the_send_permission(make_user):
    campaign = CampaignFactory.create(segments=[segment_with(CustomerFactory.create_batch(1))])
    auditor = make_user("audrey", "Auditor")
    with pytest.raises(CampaignError, match="may not start campaigns"):
        campaign_start(campaign_id=campaign.pk, actor=auditor)
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT


class RefusingInbox(SmtpInbox):
    """A real SMTP server that refuses some recipients: for good (550) or for now (451)."""

    def __init__(self, *, never: set[str], later: set[str]) -> None:
        super().__init__(host="127.0.0.1", port=0)
        self.never, self.later = never, later

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.never:
            return "550 5.1.1 no such mailbox"
        if address in self.later:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_recipient_fails_only_itself_and_accepted_mail_never_goes_twice(settings):
    customers = CustomerFactory.create_batch(5)
    gone, busy = customers[1], customers[3]
    inbox = RefusingInbox(never={gone.email}, later={busy.email})
    campaign = started(customers)

    with smtp_serving(inbox, settings):
        for _ in range(settings.CAMPAIGNS_MAX_ATTEMPTS + 1):
            campaign_send_batch(campaign_id=campaign.pk)

    # Each accepted message left once, though the batch around it had refusals.
    received = sorted(inbox.recipients())
    assert received == sorted(c.email for c in customers if c not in (gone, busy))
    status = dict(CampaignSend.objects.values_list("customer_id", "status"))
    assert status[gone.pk] == CampaignSend.Status.FAILED  # refused for good at once
    assert status[busy.pk] == CampaignSend.Status.FAILED  # refused "for now" every time
    assert CampaignSend.objects.get(customer=busy).attempts == settings.CAMPAIGNS_MAX_ATTEMPTS
    assert [s for c, s in status.items() if c not in (gone.pk, busy.pk)] == ["sent"] * 3
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
