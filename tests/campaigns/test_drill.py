"""A drill's hold shows what it would pause and holds nothing."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignSend, Withholding
from campaigns.services import (
    CampaignError,
    campaign_send_batch,
    campaign_start,
    campaigns_pause_for_incident,
)
from config import roles

from .factories import CampaignFactory, CustomerFactory, IncidentFactory, scope_write, segment_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = True
    customers = CustomerFactory.create_batch(3)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    return campaign, customers


def test_a_drill_scope_pauses_no_campaign_and_its_customers_still_get_their_mail(
    running, mailoutbox
):
    campaign, customers = running
    drill = IncidentFactory.create(is_drill=True)

    scope_write(drill, customers[:2])
    campaign_send_batch(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.paused_by_incident is None
    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.email for c in customers)
    assert not Withholding.objects.exists()
    assert drill.timeline.filter(kind="campaign.hold_placed").exists()


def test_a_real_incident_beside_a_drill_still_holds_its_customers(running, mailoutbox, settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    campaign, customers = running
    scope_write(IncidentFactory.create(is_drill=True), customers)
    scope_write(IncidentFactory.create(), customers[:1])

    campaign_send_batch(campaign_id=campaign.pk)

    assert len(mailoutbox) == 2
    assert campaign.sends.filter(status=CampaignSend.Status.WITHHELD).count() == 1


def test_pausing_for_a_drill_is_refused_and_pauses_nothing(running, make_user):
    campaign, customers = running
    drill = IncidentFactory.create(is_drill=True)
    scope_write(drill, customers)
    cmo = make_user("carla", roles.CMO)

    with pytest.raises(CampaignError, match="is a drill"):
        campaigns_pause_for_incident(incident_id=drill.pk, campaign_ids=[campaign.pk], actor=cmo)

    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENDING


def test_the_overlap_page_of_a_drill_shows_what_it_would_pause_without_a_pause_button(
    running, client, make_user
):
    campaign, customers = running
    drill = IncidentFactory.create(is_drill=True, title="Tabletop exercise")
    scope_write(drill, customers)
    client.force_login(make_user("carla", roles.CMO))

    html = client.get(reverse("admin:campaigns_campaign_overlap", args=[drill.pk])).content.decode()

    assert "DRILL — these are the campaigns this incident would pause" in html
    assert campaign.name in html
    assert 'name="campaign"' not in html
    assert "Pause selected campaigns" not in html
