"""A campaign sent through an email provider (django-anymail) keeps the provider's id of
each message, and carries our Message-ID in the metadata its webhooks send back."""

import pytest
from django.core import mail

from campaigns.models import CampaignSend
from campaigns.services import campaign_send_batch, campaign_start, message_id_for
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with

pytestmark = pytest.mark.django_db


def test_each_campaign_send_keeps_the_provider_id_of_its_message(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    customers = CustomerFactory.create_batch(7)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    for _ in range(10):
        if not campaign_send_batch(campaign_id=campaign.pk).more:
            break
    assert len(mail.outbox) == 7
    by_address = {m.to[0]: m for m in mail.outbox}
    for send in CampaignSend.objects.filter(campaign=campaign).select_related("customer"):
        message = by_address[send.customer.email]
        assert send.status == CampaignSend.Status.SENT
        assert send.provider_message_id == str(message.anymail_status.message_id)  # type: ignore[attr-defined]
        ours = message_id_for(campaign_id=campaign.pk, customer_id=send.customer_id)
        assert message.anymail_test_params["metadata"] == {"breachdesk": ours}  # type: ignore[attr-defined]
    assert len({s.provider_message_id for s in CampaignSend.objects.all()}) == 7
