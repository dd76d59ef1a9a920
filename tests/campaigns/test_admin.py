import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services import campaign_send_batch, campaign_start
from tests.campaigns.factories import (
    CampaignFactory,
    CustomerFactory,
    IncidentFactory,
    scope_write,
    segment_with,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, make_user):
    user = make_user("mo", "Marketing operator")
    client.force_login(user)
    return user


def running_campaigns(count: int) -> list[Campaign]:
    customers = CustomerFactory.create_batch(4)
    segment = segment_with(customers)
    campaigns = [CampaignFactory.create(segments=[segment]) for _ in range(count)]
    for campaign in campaigns:
        campaign_start(campaign_id=campaign.pk, actor=None)
    return campaigns


def test_changelist_shows_status_counts_and_holding_incident_without_n_plus_1(
    client, operator, django_assert_max_num_queries, settings
):
    settings.CAMPAIGNS_BATCH_SIZE = 2
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    first, *_ = running_campaigns(3)
    scope_write(IncidentFactory.create(), [first.sends.order_by("pk")[0].customer])
    campaign_send_batch(campaign_id=first.pk)  # the first withheld, the second sent
    url = reverse("admin:campaigns_campaign_changelist")

    # Nine: one of them lists the incidents holding campaigns, for the "held by" filter.
    with django_assert_max_num_queries(9):
        response = client.get(url)
    running_campaigns(5)
    with django_assert_max_num_queries(9):
        client.get(url)

    assert response.status_code == 200
    row = next(r for r in response.context["cl"].result_list if r.pk == first.pk)
    assert (row.audience_count, row.sent_count, row.withheld_count) == (4, 1, 1)
    assert Campaign.objects.get(pk=first.pk).audience_size == 4


def test_a_draft_shows_its_live_audience_narrowed_by_country(client, operator):
    de, fr = CustomerFactory.create(country="DE"), CustomerFactory.create(country="FR")
    draft = CampaignFactory.create(segments=[segment_with([de, fr])], countries="FR")

    response = client.get(reverse("admin:campaigns_campaign_changelist"))

    row = next(r for r in response.context["cl"].result_list if r.pk == draft.pk)
    assert (row.audience_size, row.audience_count) == (None, 1)


def test_paused_campaign_names_its_incident_in_the_list(client, operator):
    campaign = running_campaigns(1)[0]
    customer = campaign.segments.get().customers.all()[0]
    incident = IncidentFactory.create(title="Shop database leak")
    scope_write(incident, [customer])

    response = client.get(reverse("admin:campaigns_campaign_changelist"))

    assert b"Shop database leak" in response.content
    assert reverse("admin:campaigns_campaign_overlap", args=[incident.pk]).encode() in (
        response.content
    )


def test_changelist_search_finds_by_name(client, operator):
    CampaignFactory.create(name="Spring shoes")
    CampaignFactory.create(name="Winter coats")

    response = client.get(reverse("admin:campaigns_campaign_changelist"), {"q": "spring"})

    assert [c.name for c in response.context["cl"].result_list] == ["Spring shoes"]


def test_add_page_creates_a_draft_owned_by_the_user_with_normalised_codes(client, operator):
    segment = segment_with([])
    url = reverse("admin:campaigns_campaign_add")
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        {
            "name": "Autumn",
            "segments": [segment.pk],
            "countries": "de, at",
            "languages": "DE",
            "subject": "Hi {{ first_name }}",
            "body": "Autumn deals for {{ first_name }}.",
        },
    )

    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Autumn")
    assert (campaign.owner, campaign.status, campaign.countries, campaign.languages) == (
        operator,
        "draft",
        "DE,AT",
        "de",
    )


def test_add_page_rejects_unknown_template_names_and_bad_syntax(client, operator):
    response = client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "name": "Broken",
            "segments": [segment_with([]).pk],
            "subject": "Hi {{ password }}",
            "body": "{% if %}",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Unknown name(s) password" in errors["subject"][0]
    assert "Template error" in errors["body"][0]
    assert not Campaign.objects.filter(name="Broken").exists()


def test_change_page_renders_and_a_started_campaign_is_read_only(client, operator):
    draft = CampaignFactory.create()
    running = running_campaigns(1)[0]

    assert (
        client.get(reverse("admin:campaigns_campaign_change", args=[draft.pk])).status_code == 200
    )
    page = client.get(reverse("admin:campaigns_campaign_change", args=[running.pk]))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False


def test_start_action_starts_and_resume_is_not_offered_to_operators(client, operator):
    customers = CustomerFactory.create_batch(2)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    url = reverse("admin:campaigns_campaign_changelist")

    actions = [name for name, _ in client.get(url).context["action_form"].fields["action"].choices]
    assert "start" in actions and "pause" in actions
    assert "resume" not in actions and "delete_selected" not in actions
    confirm = client.post(url, {"action": "start", "_selected_action": [campaign.pk]})
    assert "Start sending these campaigns now?" in confirm.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"
    client.post(url, {"action": "start", "_selected_action": [campaign.pk], "confirmed": "yes"})

    assert Campaign.objects.get(pk=campaign.pk).status == "sending"
    assert campaign.sends.count() == 2


def test_resume_action_reports_the_refusal_to_the_cmo(client, make_user):
    campaign = running_campaigns(1)[0]
    scope_write(IncidentFactory.create(), [campaign.segments.get().customers.all()[0]])
    client.force_login(make_user("carla", "CMO"))

    response = client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "resume", "_selected_action": [campaign.pk], "confirmed": "yes"},
        follow=True,
    )

    assert b"has not gone out" in response.content
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"


@pytest.mark.parametrize("model", ["campaignhold", "campaignsend", "withholding"])
def test_record_lists_render_and_search_for_auditors(client, make_user, model, settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    campaign = running_campaigns(1)[0]
    scope_write(IncidentFactory.create(), [campaign.segments.get().customers.all()[0]])
    campaign_send_batch(campaign_id=campaign.pk)
    client.force_login(make_user("audrey", "Auditor"))

    url = reverse(f"admin:campaigns_{model}_changelist")
    listing = client.get(url)
    assert listing.status_code == 200
    assert client.get(url, {"q": "example"}).status_code == 200
    first = listing.context["cl"].result_list[0]
    page = client.get(reverse(f"admin:campaigns_{model}_change", args=[first.pk]))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False


def test_demo_seed_adds_one_draft_campaign_once(make_user):
    from io import StringIO

    from django.apps import apps

    make_user("cmo", "CMO")
    segment_with(CustomerFactory.create_batch(2))
    config = apps.get_app_config("campaigns")
    out = StringIO()

    config.seed_demo(stdout=out)  # type: ignore[attr-defined]
    config.seed_demo(stdout=out)  # type: ignore[attr-defined]

    campaign = Campaign.objects.get(name="Winter sale (demo)")
    assert (campaign.status, campaign.owner.username, campaign.segments.count()) == (
        "draft",
        "cmo",
        1,
    )
    assert out.getvalue().count("created as a draft") == 1


def test_the_start_page_says_how_many_will_be_withheld_and_by_which_breach(client, operator):
    customers = CustomerFactory.create_batch(5)
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    incident = IncidentFactory.create(title="Shop database copied")
    scope_write(incident, customers[:3])
    url = reverse("admin:campaigns_campaign_changelist")

    confirm = client.post(url, {"action": "start", "_selected_action": [campaign.pk]})

    page = confirm.content.decode()
    assert "5 people in its audience; 3 of them will be withheld" in page
    assert "3 affected by the breach &#x27;Shop database copied&#x27;" in page
    assert 'value="Yes, send now"' in page
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"


def test_a_hold_release_the_quiet_period_refuses_says_so_and_offers_no_confirm(client, make_user):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import CampaignHold
    from incidents.models import Incident

    campaign = running_campaigns(1)[0]
    incident = IncidentFactory.create()
    scope_write(incident, [campaign.segments.get().customers.all()[0]])
    Incident.objects.filter(pk=incident.pk).update(people_notified_at=timezone.now())
    hold = CampaignHold.objects.get(incident=incident)
    client.force_login(make_user("carla", "CMO"))
    url = reverse("admin:campaigns_campaignhold_changelist")

    confirm = client.post(url, {"action": "release", "_selected_action": [hold.pk]})

    page = confirm.content.decode()
    assert "Refused: Cannot release the hold: the quiet period" in page
    assert page.count("the quiet period after the notice") == 1
    assert "runs until" in page
    assert 'value="Yes, release them"' not in page
    assert 'name="confirmed"' not in page

    Incident.objects.filter(pk=incident.pk).update(
        people_notified_at=timezone.now() - timedelta(days=60)
    )
    page = client.post(url, {"action": "release", "_selected_action": [hold.pk]}).content.decode()
    assert "Refused" not in page and 'value="Yes, release them"' in page


def test_resuming_a_campaign_the_notice_still_blocks_offers_no_confirm(client, make_user):
    campaign = running_campaigns(1)[0]
    scope_write(IncidentFactory.create(), [campaign.segments.get().customers.all()[0]])
    client.force_login(make_user("carla", "CMO"))

    confirm = client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "resume", "_selected_action": [campaign.pk]},
    )

    page = confirm.content.decode()
    assert "has not gone out" in page and 'value="Yes, resume them"' not in page
