"""The drill flag is set at opening; later it changes only by the CISO and the CMO together,
voiding every sign-off and moving holds by the CMO's rules."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignHold
from campaigns.services import campaign_start
from config import roles
from incidents import services
from incidents.models import Incident
from notifications.models import CommunicationSignOff
from notifications.selectors import communication_sign_offs_match
from tests.campaigns.factories import CampaignFactory, scope_write, segment_with
from tests.notifications.delivery_helpers import signed_off
from tests.notifications.factories import CustomerFactory, IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    return {
        "analyst": make_user("ana", roles.SECURITY_ANALYST),
        "ciso": make_user("sven", roles.CISO),
        "ciso2": make_user("sara", roles.CISO),
        "cmo": make_user("carla", roles.CMO),
        "author": make_user("mo", roles.MARKETING_OPERATOR),
    }


def _form(incident, **overrides):
    data = {
        "title": incident.title,
        "nature": incident.nature,
        "awareness_at_0": incident.awareness_at.strftime("%Y-%m-%d"),
        "awareness_at_1": incident.awareness_at.strftime("%H:%M:%S"),
        "systems": "",
    }
    data.update(overrides)
    return data


def test_an_analyst_cannot_untick_the_drill_flag_on_the_incident_form(client, people):
    drill = IncidentFactory.create(is_drill=True)
    client.force_login(people["analyst"])

    client.post(reverse("admin:incidents_incident_change", args=[drill.pk]), _form(drill))

    assert Incident.objects.get(pk=drill.pk).is_drill is True
    with pytest.raises(services.IncidentError, match="CISO and the CMO together"):
        services.incident_update(incident_id=drill.pk, actor=people["analyst"], is_drill=False)


def test_one_person_or_one_role_cannot_change_the_drill_status(people):
    incident = IncidentFactory.create()
    with pytest.raises(services.IncidentError, match="CISO or the CMO"):
        services.incident_drill_change_request(
            incident_id=incident.pk, actor=people["analyst"], to_drill=True, reason="test"
        )
    services.incident_drill_change_request(
        incident_id=incident.pk, actor=people["ciso"], to_drill=True, reason="tabletop"
    )

    with pytest.raises(services.IncidentError, match="someone else"):
        services.incident_drill_change_confirm(incident_id=incident.pk, actor=people["ciso"])
    with pytest.raises(services.IncidentError, match="the CMO confirms"):
        services.incident_drill_change_confirm(incident_id=incident.pk, actor=people["ciso2"])
    assert Incident.objects.get(pk=incident.pk).is_drill is False

    services.incident_drill_change_confirm(incident_id=incident.pk, actor=people["cmo"])
    assert Incident.objects.get(pk=incident.pk).is_drill is True
    change = incident.timeline.get(kind="incident.drill_changed")
    assert change.payload["is_drill"] == [False, True]
    assert change.payload["proposed_by"] == "sven"


def test_a_drill_turned_real_voids_every_sign_off_and_holds_its_people(people, settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = True
    drill = IncidentFactory.create(is_drill=True)
    version = approved(drill, "en", ["credentials"])
    customers = [affected(drill, "en", ["credentials"]) for _ in range(2)]
    communication = signed_off(
        drill, [version], author=people["author"], cmo=people["cmo"], ciso=people["ciso"]
    )
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    scope_write(drill, customers)
    assert Campaign.objects.get(pk=campaign.pk).status != Campaign.Status.PAUSED

    services.incident_drill_change_request(
        incident_id=drill.pk, actor=people["cmo"], to_drill=False, reason="it is real"
    )
    services.incident_drill_change_confirm(incident_id=drill.pk, actor=people["ciso"])

    assert not CommunicationSignOff.objects.filter(
        communication=communication, voided_at__isnull=True
    ).exists()
    assert not communication_sign_offs_match(communication_id=communication.pk)
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED
    assert CampaignHold.objects.get(incident=drill).released_at is None


def test_a_real_incident_becomes_a_drill_only_if_the_cmo_could_lift_its_hold(people):
    incident = IncidentFactory.create()
    scope_write(incident, CustomerFactory.create_batch(2))
    services.incident_drill_change_request(
        incident_id=incident.pk, actor=people["ciso"], to_drill=True, reason="a test after all"
    )

    with pytest.raises(services.IncidentError, match=r"breach notice .* has not gone out"):
        services.incident_drill_change_confirm(incident_id=incident.pk, actor=people["cmo"])

    assert Incident.objects.get(pk=incident.pk).is_drill is False
    assert CampaignHold.objects.get(incident=incident).released_at is None


def test_the_drill_status_is_part_of_what_was_signed(people):
    incident = IncidentFactory.create(is_drill=True)
    version = approved(incident, "en", ["credentials"])
    affected(incident, "en", ["credentials"])
    communication = signed_off(
        incident, [version], author=people["author"], cmo=people["cmo"], ciso=people["ciso"]
    )
    assert communication_sign_offs_match(communication_id=communication.pk)

    # However the flag moves (a raw UPDATE included), the signed drill notice no longer sends.
    Incident.objects.filter(pk=incident.pk).update(is_drill=False)

    assert not communication_sign_offs_match(communication_id=communication.pk)


def test_the_ciso_proposes_and_the_cmo_confirms_by_clicking(client, people):
    incident = IncidentFactory.create()
    client.force_login(people["ciso"])
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert "Change drill status" in page.content.decode()
    url = reverse("admin:incidents_incident_drill", args=[incident.pk])
    assert client.post(url, {"to_drill": "True", "reason": "tabletop"}).status_code == 302

    client.force_login(people["cmo"])
    assert "sven (CISO) proposes" in client.get(url).content.decode()
    assert client.post(url, {"decision": "confirm"}).status_code == 302

    assert Incident.objects.get(pk=incident.pk).is_drill is True
