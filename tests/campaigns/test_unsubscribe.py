"""One-click unsubscribe (RFC 8058), read from the bytes a real SMTP server took."""

import re

import pytest
from django.urls import reverse

from campaigns.messages import unsubscribe_url
from campaigns.services import CampaignError, campaign_send_batch, campaign_start
from config.company import company_profile_update
from customers.models import Customer
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with
from tests.customers.conftest import run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def company(db):
    return company_profile_update(
        actor=None,
        values={
            "legal_name": "Nordwind Versand GmbH",
            "address_lines": "Hafenstraße 12",
            "postal_code": "39104",
            "city": "Magdeburg",
            "sender_name": "Nordwind",
            "sender_email": "news@nordwind-versand.de",
        },
    )


def _sent_one(smtp_server, customer):
    campaign = CampaignFactory.create(segments=[segment_with([customer])])
    campaign_start(campaign_id=campaign.pk, actor=None)
    while campaign_send_batch(campaign_id=campaign.pk).more:
        pass
    [message] = smtp_server.messages
    return campaign, message


def test_campaign_mail_has_both_unsubscribe_headers_and_the_postal_address(
    smtp_server, company, settings
):
    settings.PUBLIC_BASE_URL = "https://breachdesk.nordwind-versand.de"
    customer = CustomerFactory.create()
    campaign, message = _sent_one(smtp_server, customer)
    assert message["From"] == "Nordwind <news@nordwind-versand.de>"
    # Unfolded as a mail client reads it (RFC 5322 3.2.2: a long header line is folded).
    header = re.sub(r"\r?\n", "", message["List-Unsubscribe"]).strip()
    assert re.fullmatch(r"<https://breachdesk\.nordwind-versand\.de/unsubscribe/[^>]+/>", header)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode(message.get_content_charset() or "utf-8")
    assert "Hafenstraße 12, 39104 Magdeburg" in body
    assert header[1:-1] in body
    assert header[1:-1] == unsubscribe_url(customer_id=customer.pk, campaign_id=campaign.pk)


def test_the_one_click_post_records_an_opt_out_without_login_that_no_import_undoes(client, company):
    customer = CustomerFactory.create(email="ann@example.com")
    url = unsubscribe_url(customer_id=customer.pk, campaign_id=1)
    path = url.split("localhost:8000", 1)[1]
    # A GET only asks (link scanners open links); nothing is recorded yet.
    page = client.get(path)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    customer.refresh_from_db()
    assert customer.marketing_consent == Customer.Consent.GRANTED
    # What a mail client sends for RFC 8058: a POST, no session, no CSRF token.
    response = client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and b'id="unsubscribed"' in response.content
    customer.refresh_from_db()
    assert customer.marketing_consent == Customer.Consent.WITHDRAWN
    assert customer.consent_source == "unsubscribe link"
    # The CRM still says "opted in": the import keeps the opt-out.
    run_import(
        b"Record ID,First Name,Last Name,Email,Country/Region,Marketing contact status\n"
        b"1,Ann,Lee,ann@example.com,Germany,Marketing contact\n",
        source="hubspot",
    )
    customer.refresh_from_db()
    assert customer.marketing_consent == Customer.Consent.WITHDRAWN


def test_a_forged_link_records_nothing(client, company):
    customer = CustomerFactory.create()
    token = unsubscribe_url(customer_id=customer.pk, campaign_id=1).rstrip("/").rsplit("/")[-1]
    response = client.post(reverse("campaigns:unsubscribe", args=[token[:-2] + "xx"]))
    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.marketing_consent == Customer.Consent.GRANTED


def test_a_placeholder_sender_refuses_the_campaign_outside_debug(db, settings):
    company_profile_update(actor=None, values={"sender_email": "news@example.org"})
    settings.DEBUG = False
    campaign = CampaignFactory.create(segments=[segment_with([CustomerFactory.create()])])
    with pytest.raises(CampaignError, match="placeholder"):
        campaign_start(campaign_id=campaign.pk, actor=None)
