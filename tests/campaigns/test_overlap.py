import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.selectors import campaign_overlap_counts
from campaigns.services import campaign_start
from incidents.models import TimelineEvent
from tests.campaigns.factories import (
    CampaignFactory,
    CustomerFactory,
    IncidentFactory,
    scope_write,
    segment_with,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(settings):
    """Three running campaigns over one incident's scope, and one campaign outside it."""
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    de = CustomerFactory.create_batch(3, country="DE", language="de")
    fr = CustomerFactory.create_batch(2, country="FR", language="fr")
    outside = CustomerFactory.create_batch(2)
    everyone = segment_with([*de, *fr, *outside])
    german = segment_with(de)
    incident = IncidentFactory.create()
    broad = CampaignFactory.create(name="Broad", segments=[everyone, german])
    french = CampaignFactory.create(name="French only", segments=[everyone], countries="FR")
    german_lang = CampaignFactory.create(
        name="German speakers", segments=[everyone], languages="de"
    )
    unrelated = CampaignFactory.create(name="Unrelated", segments=[segment_with(outside)])
    for campaign in (broad, french, german_lang, unrelated):
        campaign_start(campaign_id=campaign.pk, actor=None)
    scope_write(incident, [*de, *fr])
    return incident, broad, french, german_lang, unrelated


def test_overlap_counts_each_affected_customer_once_per_campaign_after_narrowing(scene):
    incident, broad, french, german_lang, _ = scene

    assert campaign_overlap_counts(incident_id=incident.pk) == {
        broad.pk: 5,
        french.pk: 2,
        german_lang.pk: 3,
    }


def test_overlap_screen_lists_overlapping_campaigns_with_counts(scene, client, make_user):
    incident, *_ = scene
    client.force_login(make_user("mo", "Marketing operator"))

    response = client.get(reverse("admin:campaigns_campaign_overlap", args=[incident.pk]))

    assert response.status_code == 200
    rows = [(c.name, n) for c, n, _ in response.context["rows"]]
    assert rows == [("Broad", 5), ("German speakers", 3), ("French only", 2)]
    assert b"Unrelated" not in response.content
    assert b'name="campaign"' in response.content


def test_overlap_screen_pauses_the_chosen_campaigns_after_confirmation(scene, client, make_user):
    incident, broad, french, german_lang, _ = scene
    client.force_login(make_user("mo", "Marketing operator"))
    url = reverse("admin:campaigns_campaign_overlap", args=[incident.pk])

    confirm = client.post(url, {"campaign": [broad.pk, french.pk]})
    assert confirm.status_code == 200
    assert b"Yes, pause them" in confirm.content
    assert Campaign.objects.filter(status="paused").count() == 0

    done = client.post(url, {"campaign": [broad.pk, french.pk], "confirm": "yes"}, follow=True)

    assert done.status_code == 200
    assert set(Campaign.objects.filter(status="paused").values_list("pk", flat=True)) == {
        broad.pk,
        french.pk,
    }
    assert Campaign.objects.get(pk=broad.pk).paused_by_incident == incident
    assert Campaign.objects.get(pk=german_lang.pk).status == "sending"
    assert list(
        TimelineEvent.objects.filter(incident=incident, kind="campaign.paused").values_list(
            "actor_label", flat=True
        )
    ) == ["mo", "mo"]


def test_overlap_screen_is_read_only_for_auditors_and_closed_to_legal(scene, client, make_user):
    incident, broad, _, _, _ = scene
    url = reverse("admin:campaigns_campaign_overlap", args=[incident.pk])
    client.force_login(make_user("audrey", "Auditor"))

    page = client.get(url)
    assert page.status_code == 200
    assert b'name="campaign"' not in page.content
    assert client.post(url, {"campaign": [broad.pk], "confirm": "yes"}).status_code == 403
    assert Campaign.objects.get(pk=broad.pk).status == "sending"

    client.force_login(make_user("lena", "Legal reviewer"))
    assert client.get(url).status_code == 403


def test_pausing_nothing_is_refused_with_a_message(scene, client, make_user):
    incident, *_ = scene
    client.force_login(make_user("mo", "Marketing operator"))
    url = reverse("admin:campaigns_campaign_overlap", args=[incident.pk])

    response = client.post(url, {"confirm": "yes"}, follow=True)

    assert b"Choose at least one campaign" in response.content
