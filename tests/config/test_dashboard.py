"""The dashboard as each role sees it: what is late, what waits for them, what is under way."""

import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from config import roles
from config.dashboard import dashboard_progress, dashboard_waiting
from config.demo_story import demo_template_submit
from customers.models import CustomerExport, ImportJob
from customers.services import customer_export_request, import_job_create
from incidents.services import incident_open
from notifications.selectors import communication_content_hash
from notifications.services import communication_sign_off
from tests.campaigns.factories import CampaignFactory, CustomerFactory, segment_with
from tests.notifications.factories import IncidentFactory, affected, approved, window

pytestmark = pytest.mark.django_db


def waiting_for_you(html: str) -> str:
    """The dashboard's "Waiting for you" section alone."""
    if 'id="waiting-for-you"' not in html:
        return ""
    section = html[html.index('id="waiting-for-you"') :]
    return section[: section.index("</div>")]


@pytest.fixture
def dashboard(client, make_user):
    def as_role(role: str, username: str | None = None) -> str:
        user = make_user(username or role.lower().replace(" ", "_"), role)
        client.force_login(user)
        return client.get(reverse("admin:index")).content.decode()

    return as_role


def test_legal_sees_the_templates_submitted_for_review_by_others(dashboard, make_user):
    incident = IncidentFactory.create(title="Portal leak")
    lena = make_user("lena", roles.LEGAL_REVIEWER)
    version = demo_template_submit(
        incident=incident, author=make_user("mo", roles.MARKETING_OPERATOR), language="en"
    )
    own = demo_template_submit(incident=incident, author=lena, language="de")

    html = dashboard(roles.LEGAL_REVIEWER)

    assert "Waiting for you" in html
    assert "Template to review" in html and "Portal leak" in html
    assert reverse("admin:notifications_templateversion_review", args=[version.pk]) in html
    assert reverse("admin:notifications_templateversion_review", args=[own.pk]) in html
    # Nobody approves their own words, so they do not wait for their author.
    assert [w.url for w in dashboard_waiting(user=lena)] == [
        reverse("admin:notifications_templateversion_review", args=[version.pk])
    ]


def test_the_cmo_sees_what_to_sign_until_they_signed_it(dashboard, make_user):
    from notifications.services import communication_create

    incident = IncidentFactory.create(title="Card skimmer")
    affected(incident, "en", ["contact"])
    version = approved(incident, "en", ["contact"])
    communication = communication_create(
        incident_id=incident.pk,
        actor=make_user("author", roles.MARKETING_OPERATOR),
        name="Notice to cardholders",
        channels=["email"],
        fallback_language="en",
        version_ids=[version.pk],
        **window(),
    )
    assert "Communication to sign" in dashboard(roles.CMO, "carla")
    assert "Notice to cardholders" in dashboard(roles.CISO, "sven")

    from django.contrib.auth import get_user_model

    communication_sign_off(
        communication_id=communication.pk,
        actor=get_user_model().objects.get(username="carla"),
        role=roles.CMO,
        content_hash=communication_content_hash(communication=communication),
    )

    # Signed by the CMO, it no longer waits for a CMO; the cockpit says it waits on the CISO.
    cmo = dashboard(roles.CMO, "carla2")
    assert "Notice to cardholders" not in waiting_for_you(cmo)
    assert re.search(r"<strong>CISO</strong>: <a [^>]+>sign off “Notice to cardholders”", cmo)
    assert "Notice to cardholders" in waiting_for_you(dashboard(roles.CISO, "sven2"))


def test_cmo_and_marketing_see_held_campaigns_and_the_auditor_waits_for_nothing(
    dashboard, settings
):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = True
    from campaigns.services import campaign_start
    from tests.campaigns.factories import scope_write

    customers = CustomerFactory.create_batch(2)
    campaign = CampaignFactory.create(name="Spring sale", segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    incident = IncidentFactory.create(title="Lost laptop")
    scope_write(incident, customers[:1])
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED

    for role in (roles.CMO, roles.MARKETING_OPERATOR):
        html = dashboard(role)
        assert "Campaign held" in html and "Spring sale" in html
        assert reverse("admin:campaigns_campaign_overlap", args=[incident.pk]) in html
    auditor = dashboard(roles.AUDITOR)
    assert "Waiting for you" not in auditor
    assert "Lost laptop" in auditor


def test_the_cmo_is_told_of_a_hold_that_outlives_its_closed_incident(dashboard, client):
    from incidents.models import Incident
    from tests.campaigns.factories import scope_write

    incident = IncidentFactory.create(title="Lost laptop")
    scope_write(incident, CustomerFactory.create_batch(1))
    assert "Hold on a closed incident" not in dashboard(roles.CMO, "carla")

    Incident.objects.filter(pk=incident.pk).update(status=Incident.Status.CLOSED)

    html = dashboard(roles.CMO, "cora")
    assert "Hold on a closed incident" in html and "Lost laptop" in html
    holds = reverse("admin:campaigns_campaignhold_changelist")
    assert f"{holds}?incident__id__exact={incident.pk}" in html
    # The link opens the hold, with its release action, for the CMO.
    page = client.get(f"{holds}?incident__id__exact={incident.pk}")
    assert page.status_code == 200 and "Lost laptop" in page.content.decode()
    assert "Release selected holds" in page.content.decode()
    assert "Hold on a closed incident" not in dashboard(roles.MARKETING_OPERATOR)


def test_the_dpo_sees_decisions_and_obligations_and_the_analyst_unscoped_incidents(
    dashboard, settings
):
    settings.COMPANY_EU_ESTABLISHMENT = True
    incident = incident_open(
        actor=None, title="Ransomware", nature="n", awareness_at=timezone.now() - timedelta(hours=1)
    )

    dpo = dashboard(roles.DPO)
    assert "Art. 33/34 decision to record" in dpo
    assert "Obligation to meet" in dpo and "GDPR Art. 33" in dpo
    analyst = dashboard(roles.SECURITY_ANALYST)
    assert "Scope to set" in analyst
    assert reverse("admin:incidents_incident_scope", args=[incident.pk]) in analyst


def test_countdowns_carry_their_deadline_for_the_ticking_script(dashboard, settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    incident = incident_open(
        actor=None, title="Clocked", nature="n", awareness_at=timezone.now() - timedelta(hours=80)
    )
    due = min(o.due_at for o in incident.obligations.all() if o.due_at is not None)

    html = dashboard(roles.CMO)

    assert f'data-due="{due.isoformat()}"' in html
    assert "breachdesk/countdown.js" in html
    assert "late" in html


def test_a_drill_is_labelled_on_the_dashboard(dashboard):
    IncidentFactory.create(title="Tabletop", is_drill=True)
    html = dashboard(roles.CISO)
    assert 'Tabletop</a> <span class="bd-drill">drill</span>' in html


def test_sends_and_imports_under_way_show_their_progress(make_user, settings):
    from campaigns.services import campaign_send_batch, campaign_start

    settings.CAMPAIGNS_BATCH_SIZE = 2
    campaign = CampaignFactory.create(
        name="Autumn", segments=[segment_with(CustomerFactory.create_batch(4))]
    )
    campaign_start(campaign_id=campaign.pk, actor=None)
    campaign_send_batch(campaign_id=campaign.pk)
    job = import_job_create(
        stream=io.BytesIO(b"Email\na@example.org\n"), file_name="a.csv", source="crm"
    )
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, progress=40)
    marketing = make_user("mo", roles.MARKETING_OPERATOR)
    export = customer_export_request(user=marketing, fields=["id"])
    CustomerExport.objects.filter(pk=export.pk).update(
        status=CustomerExport.Status.RUNNING, progress=70
    )

    bars = {
        bar.label: (bar.done, bar.total, bar.percent) for bar in dashboard_progress(user=marketing)
    }

    assert bars["Autumn"] == (2, 4, 50)
    assert bars["a.csv from crm (running)"] == (40, 100, 40)
    assert bars["All customers for mo (running)"] == (70, 100, 70)
    cmo_bars = [bar.label for bar in dashboard_progress(user=make_user("cmo", roles.CMO))]
    assert "All customers for mo (running)" in cmo_bars
    assert dashboard_progress(user=make_user("legal", roles.LEGAL_REVIEWER)) == []
    assert dashboard_waiting(user=make_user("nobody")) == []


@pytest.mark.parametrize(
    "role", [roles.CMO, roles.DPO, roles.LEGAL_REVIEWER, roles.SECURITY_ANALYST]
)
def test_what_waits_is_read_in_queries_that_do_not_grow_with_the_incidents(
    client, make_user, role, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.COMPANY_EU_ESTABLISHMENT = True
    author = make_user("mo", roles.MARKETING_OPERATOR)
    client.force_login(make_user("someone", role))

    def incident_with_work(n: int) -> None:
        incident = incident_open(
            actor=None, title=f"Breach {n}", nature="n", awareness_at=timezone.now()
        )
        demo_template_submit(incident=incident, author=author, language="en")

    incident_with_work(0)
    client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("admin:index"))
    for n in range(1, 4):
        incident_with_work(n)
    with CaptureQueriesContext(connection) as many:
        html = client.get(reverse("admin:index")).content.decode()

    assert "Breach 3" in html
    assert len(many) == len(few)


def test_breach_messages_and_evidence_packs_under_way_show_their_progress(
    make_user, settings, smtp_server
):
    from incidents.evidence.services import evidence_pack_request
    from incidents.models import EvidencePack
    from notifications.services.delivery import communication_send, delivery_send_batch
    from tests.notifications.delivery_helpers import signed_off

    settings.DELIVERY_BATCH_SIZE = 2
    incident = IncidentFactory.create(title="Leak", is_drill=True)
    settings.DRILL_RECIPIENTS = ["drill@corp.example"]
    version = approved(incident, "en", ["contact"])
    for _ in range(5):
        affected(incident, "en", ["contact"])
    cmo, ciso = make_user("carla", roles.CMO), make_user("sven", roles.CISO)
    communication = signed_off(
        incident, [version], author=make_user("mo", roles.MARKETING_OPERATOR), cmo=cmo, ciso=ciso
    )
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    delivery_send_batch(delivery_id=delivery.pk)
    pack = evidence_pack_request(incident_id=incident.pk, actor=ciso)
    EvidencePack.objects.filter(pk=pack.pk).update(
        status=EvidencePack.Status.BUILDING, progress=60, stage="rendering"
    )

    bars = {bar.what: bar for bar in dashboard_progress(user=ciso)}

    assert (bars["Breach messages"].done, bars["Breach messages"].total) == (2, 5)
    assert bars["Breach messages"].is_drill
    assert (bars["Evidence pack"].label, bars["Evidence pack"].percent) == ("Leak: rendering", 60)
    assert "Evidence pack" not in {
        b.what for b in dashboard_progress(user=make_user("lena", roles.LEGAL_REVIEWER))
    }


def cockpit_row(html: str, title: str) -> str:
    """The cockpit's row of one incident."""
    table = html[html.index('id="incidents-dashboard"') :]
    row = table[table.index(f">{title}</a>") :]
    return row[: row.index("</tr>")]


def test_the_cockpit_sets_overdue_apart_and_says_what_waits_on_whom(dashboard, settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    late = incident_open(
        actor=None, title="Overdue", nature="n", awareness_at=timezone.now() - timedelta(hours=80)
    )
    affected(late, "en", ["contact"])
    fresh = incident_open(actor=None, title="Fresh", nature="n", awareness_at=timezone.now())

    dpo = dashboard(roles.DPO)
    assert dpo.index(">Overdue</a>") < dpo.index(">Fresh</a>")
    overdue = cockpit_row(dpo, "Overdue")
    assert '<tr class="bd-incident bd-overdue">' in dpo
    assert '<strong class="late bd-overdue-count">1 overdue</strong>' in overdue
    assert '<strong class="bd-affected">1</strong> affected' in overdue
    # Nothing sent: nobody told, no letter, and the notice is not out.
    assert "0.0% told" in overdue and "Not sent yet" in overdue
    # What waits, on whom; the DPO's own items in bold, linked where they may act.
    decide = reverse("admin:incidents_incident_decide", args=[late.pk])
    assert (
        f'<li class="bd-yours"><strong>DPO</strong>: <a href="{decide}">record the Art. 33/34 '
        "decisions</a>" in overdue
    )
    assert "1 obligation overdue: file, or record why" in overdue
    # Set the scope waits on security; the DPO may not do it, so it is not a link for them.
    assert "<strong>Security analyst</strong>: set the scope" in cockpit_row(dpo, "Fresh")
    analyst = cockpit_row(dashboard(roles.SECURITY_ANALYST), "Fresh")
    scope = reverse("admin:incidents_incident_scope", args=[fresh.pk])
    assert f'<a href="{scope}">set the scope</a> <span class="bd-you">(you)</span>' in analyst


def test_the_cockpit_lists_held_campaigns_with_their_quiet_period(dashboard, settings):
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = True
    settings.CAMPAIGNS_QUIET_PERIOD_DAYS = 14
    from campaigns.services import campaign_start
    from incidents.models import Incident
    from tests.campaigns.factories import scope_write

    customers = CustomerFactory.create_batch(3)
    campaign = CampaignFactory.create(name="Spring sale", segments=[segment_with(customers)])
    campaign_start(campaign_id=campaign.pk, actor=None)
    incident = IncidentFactory.create(title="Lost laptop")
    scope_write(incident, customers[:2])

    row = cockpit_row(dashboard(roles.CMO, "carla"), "Lost laptop")
    assert "Spring sale:" in row and "withheld" in row
    assert "quiet period starts with the notice" in row

    notified = timezone.now() - timedelta(days=20)
    Incident.objects.filter(pk=incident.pk).update(people_notified_at=notified)
    row = cockpit_row(dashboard(roles.CMO, "cora"), "Lost laptop")
    until = (notified + timedelta(days=14)).astimezone(ZoneInfo(settings.COMPANY_TIME_ZONE))
    assert "quiet period until" in row and f"{until:%Y-%m-%d}" in row
    # Its quiet period over, the held campaigns wait on the CMO.
    overlap = reverse("admin:campaigns_campaign_overlap", args=[incident.pk])
    assert f'<a href="{overlap}">resume the held campaigns: the quiet period is over</a>' in row
