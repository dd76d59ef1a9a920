from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignHold, CampaignSend
from campaigns.selectors import withheld_count
from campaigns.services import (
    CampaignError,
    campaign_pause,
    campaign_resume,
    campaign_send_batch,
    campaign_start,
    hold_release,
)
from incidents.models import Incident, Obligation, TimelineEvent
from tests.campaigns.factories import (
    CampaignFactory,
    CustomerFactory,
    IncidentFactory,
    scope_write,
    segment_with,
)

pytestmark = pytest.mark.django_db


def timeline(incident: Incident) -> list[str]:
    """The campaign events on the incident's timeline, in order."""
    return list(
        TimelineEvent.objects.filter(incident=incident, kind__startswith="campaign.").values_list(
            "kind", flat=True
        )
    )


def send_all(campaign: Campaign) -> None:
    for _ in range(100):
        if not campaign_send_batch(campaign_id=campaign.pk).more:
            return
    raise AssertionError("batches never ran out")


@pytest.fixture
def breach():
    """A sending campaign of ten customers, four of them then put in an incident's scope."""
    customers = CustomerFactory.create_batch(10)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    incident = IncidentFactory.create()
    affected = customers[:4]
    scope_write(incident, affected)
    campaign.refresh_from_db()
    return campaign, incident, customers, affected


@pytest.fixture
def cmo(make_user):
    return make_user("carla", "CMO")


def test_scope_holds_and_pauses_running_campaigns_that_overlap_naming_the_incident():
    inside, outside = CustomerFactory.create_batch(2)
    scope_segment, other_segment = segment_with([inside]), segment_with([outside])
    sending = CampaignFactory.create(segments=[scope_segment])
    campaign_start(campaign_id=sending.pk, actor=None)
    scheduled = CampaignFactory.create(segments=[scope_segment], status=Campaign.Status.SCHEDULED)
    draft = CampaignFactory.create(segments=[scope_segment])
    elsewhere = CampaignFactory.create(segments=[other_segment])
    campaign_start(campaign_id=elsewhere.pk, actor=None)
    incident = IncidentFactory.create()

    scope_write(incident, [inside])

    status = dict(Campaign.objects.values_list("pk", "status"))
    assert status == {
        sending.pk: "paused",
        scheduled.pk: "paused",
        draft.pk: "draft",
        elsewhere.pk: "sending",
    }
    assert set(
        Campaign.objects.filter(status="paused").values_list("paused_by_incident", flat=True)
    ) == {incident.pk}
    assert CampaignHold.objects.get(incident=incident).is_active
    assert timeline(incident) == ["campaign.hold_placed", "campaign.paused", "campaign.paused"]


def test_without_auto_pause_campaigns_run_on_but_the_hold_is_placed(settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    customer = CustomerFactory.create()
    campaign = CampaignFactory.create(segments=[segment_with([customer])])
    campaign_start(campaign_id=campaign.pk, actor=None)
    incident = IncidentFactory.create()

    scope_write(incident, [customer])

    assert Campaign.objects.get(pk=campaign.pk).status == "sending"
    assert CampaignHold.objects.get(incident=incident).is_active
    assert timeline(incident) == ["campaign.hold_placed"]


def test_a_scope_that_rolls_back_leaves_no_hold_and_no_pause():
    customer = CustomerFactory.create()
    campaign = CampaignFactory.create(segments=[segment_with([customer])])
    campaign_start(campaign_id=campaign.pk, actor=None)
    incident = IncidentFactory.create()

    with pytest.raises(RuntimeError), transaction.atomic():
        scope_write(incident, [customer])
        raise RuntimeError("scope service failed after the signal")

    assert not CampaignHold.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).status == "sending"
    assert timeline(incident) == []


def test_resume_is_refused_to_anyone_but_the_cmo(breach, make_user):
    campaign, incident, _, _ = breach
    incident.people_notified_at = timezone.now() - timedelta(days=30)
    incident.save()
    operator = make_user("mo", "Marketing operator")
    root = make_user("root")
    root.is_superuser = True
    root.save()

    for actor in (operator, root, None):
        with pytest.raises(CampaignError, match="Only the CMO may resume"):
            campaign_resume(campaign_id=campaign.pk, actor=actor)
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"


def test_resume_is_refused_before_the_breach_notice(breach, cmo):
    campaign, incident, _, _ = breach

    with pytest.raises(CampaignError, match=r"breach notice .* has not gone out"):
        campaign_resume(campaign_id=campaign.pk, actor=cmo)

    assert Campaign.objects.get(pk=campaign.pk).status == "paused"
    assert CampaignHold.objects.get(incident=incident).is_active


def test_resume_is_refused_during_the_quiet_period(breach, cmo):
    campaign, incident, _, _ = breach
    incident.people_notified_at = timezone.now() - timedelta(days=13)
    incident.save()

    with pytest.raises(CampaignError, match=r"quiet period .* runs until"):
        campaign_resume(campaign_id=campaign.pk, actor=cmo)

    assert Campaign.objects.get(pk=campaign.pk).status == "paused"


def test_cmo_resumes_after_the_quiet_period_which_releases_the_hold(breach, cmo, mailoutbox):
    campaign, incident, customers, _ = breach
    incident.people_notified_at = timezone.now() - timedelta(days=15)
    incident.save()

    campaign_resume(campaign_id=campaign.pk, actor=cmo)
    send_all(campaign)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.paused_by_incident) == ("completed", None)
    assert not CampaignHold.objects.get(incident=incident).is_active
    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.email for c in customers)
    assert timeline(incident)[-2:] == ["campaign.hold_released", "campaign.resumed"]


def test_art34_exemption_means_no_notice_to_wait_for(breach, cmo):
    campaign, incident, _, _ = breach
    incident.art34_decision = Incident.Art34Decision.EXEMPT_A
    incident.save()

    campaign_resume(campaign_id=campaign.pk, actor=cmo)

    assert Campaign.objects.get(pk=campaign.pk).status == "sending"


def test_resume_excluding_affected_sends_to_nobody_affected(breach, cmo, mailoutbox):
    campaign, incident, customers, affected = breach

    campaign_resume(campaign_id=campaign.pk, actor=cmo, exclude_affected=True)
    send_all(campaign)
    # Even once the hold is lifted for everyone else, this campaign keeps them out.
    incident.people_notified_at = timezone.now() - timedelta(days=20)
    incident.save()
    hold_release(incident_id=incident.pk, actor=cmo)
    send_all(campaign)

    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        c.email for c in customers if c not in affected
    )
    assert withheld_count(campaign_id=campaign.pk, incident_id=incident.pk) == 4
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"
    assert timeline(incident)[-2:] == ["campaign.resumed", "campaign.hold_released"]
    assert (
        TimelineEvent.objects.filter(incident=incident, kind="campaign.resumed")
        .get()
        .payload["exclude_affected"]
    )


def test_resume_excluding_affected_needs_an_incident_and_the_cmo(make_user, cmo):
    campaign = CampaignFactory.create(segments=[segment_with(CustomerFactory.create_batch(1))])
    campaign_start(campaign_id=campaign.pk, actor=None)
    campaign_pause(campaign_id=campaign.pk, actor=None)

    with pytest.raises(CampaignError, match="not paused by an incident"):
        campaign_resume(campaign_id=campaign.pk, actor=cmo, exclude_affected=True)
    with pytest.raises(CampaignError, match="Only the CMO"):
        campaign_resume(
            campaign_id=campaign.pk,
            actor=make_user("mo", "Marketing operator"),
            exclude_affected=True,
        )
    campaign_resume(campaign_id=campaign.pk, actor=cmo)
    assert Campaign.objects.get(pk=campaign.pk).status == "sending"


def test_only_a_paused_campaign_resumes(cmo):
    campaign = CampaignFactory.create()
    with pytest.raises(CampaignError, match="is draft, not paused"):
        campaign_resume(campaign_id=campaign.pk, actor=cmo)


def test_pause_needs_the_pause_permission_and_a_running_campaign(breach, make_user):
    campaign, _, _, _ = breach
    with pytest.raises(CampaignError, match="may not pause"):
        campaign_pause(campaign_id=campaign.pk, actor=make_user("lena", "Legal reviewer"))
    with pytest.raises(CampaignError, match="is paused; it must be scheduled or sending"):
        campaign_pause(campaign_id=campaign.pk, actor=make_user("mo", "Marketing operator"))


def test_hold_release_guards(breach, cmo, make_user):
    _, incident, _, _ = breach
    with pytest.raises(CampaignError, match="Only the CMO may release"):
        hold_release(incident_id=incident.pk, actor=make_user("mo", "Marketing operator"))
    with pytest.raises(CampaignError, match="has not gone out"):
        hold_release(incident_id=incident.pk, actor=cmo)
    incident.people_notified_at = timezone.now() - timedelta(days=15)
    incident.save()
    hold_release(incident_id=incident.pk, actor=cmo)
    with pytest.raises(CampaignError, match="no active campaign hold"):
        hold_release(incident_id=incident.pk, actor=cmo)


def test_people_added_after_a_release_are_held_again(breach, cmo):
    _, incident, _, _ = breach
    incident.people_notified_at = timezone.now() - timedelta(days=15)
    incident.save()
    hold_release(incident_id=incident.pk, actor=cmo)

    scope_write(incident, [CustomerFactory.create()])

    assert CampaignHold.objects.get(incident=incident).is_active
    assert timeline(incident).count("campaign.hold_placed") == 2


def test_withheld_sends_stay_withheld_after_the_hold_is_released(cmo, mailoutbox, settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    customers = CustomerFactory.create_batch(3)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    incident = IncidentFactory.create(people_notified_at=timezone.now() - timedelta(days=15))
    scope_write(incident, customers[:1])
    send_all(campaign)
    hold_release(incident_id=incident.pk, actor=cmo)
    send_all(campaign)

    assert sorted(m.to[0] for m in mailoutbox) == sorted(c.email for c in customers[1:])
    assert CampaignSend.objects.get(customer=customers[0]).status == "withheld"


def _close(incident: Incident) -> None:
    from incidents.services import (
        incident_close,
        incident_mark_contained,
        incident_start_assessing,
        incident_start_notifying,
    )

    incident_start_assessing(incident_id=incident.pk, actor=None)
    incident_start_notifying(incident_id=incident.pk, actor=None)
    incident_mark_contained(incident_id=incident.pk, actor=None, contained_at=timezone.now())
    # What the incident owed is done (how is not what these tests are about).
    Obligation.objects.filter(incident=incident).update(status=Obligation.Status.MET)
    incident_close(incident_id=incident.pk, actor=None)


def test_closing_keeps_an_active_hold_and_the_timeline_says_so(breach):
    campaign, incident, _, _ = breach

    _close(incident)

    assert CampaignHold.objects.get(incident=incident).is_active
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    kinds = list(
        TimelineEvent.objects.filter(incident=incident)
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds[-2:] == ["incident.closed", "campaign.hold_kept_at_close"]


def test_closing_after_the_cmo_released_the_hold_adds_no_note(breach, cmo):
    _, incident, _, _ = breach
    incident.people_notified_at = timezone.now() - timedelta(days=15)
    incident.save()
    hold_release(incident_id=incident.pk, actor=cmo)

    _close(incident)

    assert "campaign.hold_kept_at_close" not in timeline(incident)
