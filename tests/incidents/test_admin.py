"""The incidents admin as each role sees it: pages render, actions and views check roles."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config import roles
from incidents.models import AffectedCustomer, Incident, Obligation, Regime, TimelineEvent
from incidents.services import (
    assessment_record,
    incident_open,
    scope_add_forensic_list,
    timeline_append,
)

from .factories import CustomerFactory, IncidentFactory

pytestmark = pytest.mark.django_db
HERE = Path(__file__).parent
AWARE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def as_role(client, make_user):
    def login(role):
        user = make_user(role.lower().replace(" ", "_"), role)
        client.force_login(user)
        return client

    return login


@pytest.fixture
def incident(settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    incident = incident_open(
        actor=None,
        title="Portal breach",
        nature="Credential stuffing",
        awareness_at=AWARE,
        data_categories=["contact"],
    )
    CustomerFactory.create(email="known@example.com", email_normalized="known@example.com")
    CustomerFactory.create(
        email="tex@example.com", email_normalized="tex@example.com", country="US", region="TX"
    )
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=None,
        content=b"email\nKNOWN@example.com\nghost@example.com\ntex@example.com\n",
        filename="list.csv",
    )
    assessment_record(incident_id=incident.pk, actor=None, ei=Decimal("1"))
    return incident


PAGES = [
    ("incidents_incident", roles.SECURITY_ANALYST, True),
    ("incidents_obligation", roles.AUDITOR, False),
    ("incidents_regime", roles.DPO, True),
    ("incidents_timelineevent", roles.AUDITOR, False),
    ("incidents_affectedcustomer", roles.AUDITOR, False),
    ("incidents_assessment", roles.AUDITOR, False),
    ("incidents_forensiclist", roles.AUDITOR, False),
]


def first_object(name, incident):
    return {
        "incidents_incident": lambda: incident,
        "incidents_obligation": lambda: Obligation.objects.first(),
        "incidents_regime": lambda: Regime.objects.first(),
        "incidents_timelineevent": lambda: TimelineEvent.objects.first(),
        "incidents_affectedcustomer": lambda: AffectedCustomer.objects.first(),
        "incidents_assessment": lambda: incident.assessments.first(),
        "incidents_forensiclist": lambda: incident.forensic_lists.first(),
    }[name]()


@pytest.mark.parametrize(("name", "role", "can_add"), PAGES)
def test_every_admin_page_renders_for_its_role(as_role, incident, name, role, can_add):
    client = as_role(role)

    assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:{name}_changelist"), {"q": "portal"}).status_code == 200
    obj = first_object(name, incident)
    assert client.get(reverse(f"admin:{name}_change", args=[obj.pk])).status_code == 200
    assert client.get(reverse(f"admin:{name}_add")).status_code == (200 if can_add else 403)


def test_incident_page_shows_scope_counts_regimes_unmatched_lines_and_arithmetic(as_role, incident):
    page = as_role(roles.AUDITOR).get(
        reverse("admin:incidents_incident_change", args=[incident.pk])
    )
    html = page.content.decode()

    assert "Scope: 2 affected customers" in html
    assert "Contact details: 2" in html
    assert "DE: 1" in html and "US: 1" in html
    assert "TX: 1" in html
    assert "GDPR Art. 33: notify the supervisory authority" in html
    assert "Texas: notify affected residents" in html
    assert "1 affected resident of TX" in html
    # The auditor holds no customers.view_pii: the unmatched email is shown masked.
    assert "list.csv line 3: g***@e***.com" in html
    assert "ghost@example.com" not in html
    assert "SE = DPC x EI + CB = 1 x 1" in html
    assert "hash chain intact" in html
    assert "Set scope" not in html and "Art. 33/34 decisions" not in html


def test_an_analyst_opens_an_incident_through_the_service(as_role, settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    client = as_role(roles.SECURITY_ANALYST)

    response = client.post(
        reverse("admin:incidents_incident_add"),
        {
            "title": "Leaked backup",
            "nature": "An S3 bucket was public",
            "awareness_at_0": "2026-03-27",
            "awareness_at_1": "09:00:00",
            "data_categories": ["contact", "credentials"],
            "credentials_open": "payment_card",
            "systems": "backup, crm",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get(title="Leaked backup")
    assert incident.systems == ["backup", "crm"]
    assert incident.created_by is not None
    assert incident.created_by.username == "security_analyst"
    assert incident.timeline.filter(kind="incident.opened").exists()
    assert incident.obligations.filter(terms__code="gdpr-art33").exists()


def test_credentials_without_what_they_open_is_a_form_error(as_role):
    response = as_role(roles.SECURITY_ANALYST).post(
        reverse("admin:incidents_incident_add"),
        {
            "title": "t",
            "nature": "n",
            "awareness_at_0": "2026-03-27",
            "awareness_at_1": "09:00:00",
            "data_categories": ["credentials"],
        },
    )
    assert response.status_code == 200
    assert "Say what the leaked credentials give access to." in response.content.decode()
    assert not Incident.objects.exists()


def test_an_analyst_scopes_by_forensic_list_and_sees_what_did_not_match(as_role, incident):
    client = as_role(roles.SECURITY_ANALYST)
    CustomerFactory.create(
        email="gemma.baker29@example.org", email_normalized="gemma.baker29@example.org"
    )

    url = reverse("admin:incidents_incident_scope", args=[incident.pk])
    with (HERE / "affected_accounts.csv").open("rb") as upload:
        preview = client.post(
            url, {"forensic_list": upload, "data_categories": ["credentials"], "mode": "add"}
        )
    assert AffectedCustomer.objects.filter(incident=incident).count() == 2
    response = client.post(url, {"change": preview.context["signed"]}, follow=True)

    assert "Scope set: 1 added, 0 removed, 3 affected, 5 list line(s) matched nobody" in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("admin:incidents_incident_scope", roles.MARKETING_OPERATOR),
        ("admin:incidents_incident_scope", roles.DPO),
        ("admin:incidents_incident_assess", roles.AUDITOR),
        ("admin:incidents_incident_decide", roles.SECURITY_ANALYST),
        ("admin:incidents_incident_decide", roles.CMO),
    ],
)
def test_custom_views_refuse_roles_without_the_permission(as_role, incident, url, role):
    client = as_role(role)
    assert client.get(reverse(url, args=[incident.pk])).status_code == 403
    assert client.post(reverse(url, args=[incident.pk]), {}).status_code == 403


def test_the_dpo_records_the_art33_register_entry(as_role, incident):
    client = as_role(roles.DPO)
    url = reverse("admin:incidents_incident_decide", args=[incident.pk])
    assert client.get(url).status_code == 200

    refused = client.post(
        url, {"art33_decision": "not_required", "art33_reason": "", "art34_decision": "undecided"}
    )
    assert "say why notifying the authority is not required" in refused.content.decode()

    client.post(
        url,
        {
            "art33_decision": "not_required",
            "art33_reason": "Only public directory data",
            "art34_decision": "undecided",
        },
    )
    incident.refresh_from_db()
    assert (incident.art33_decision, incident.art33_reason) == (
        "not_required",
        "Only public directory data",
    )
    assert incident.obligations.get(terms__code="gdpr-art33").status == "not_required"


def test_an_analyst_records_an_assessment_with_adjustments(as_role, incident):
    response = as_role(roles.SECURITY_ANALYST).post(
        reverse("admin:incidents_incident_assess", args=[incident.pk]),
        {
            "ei": "0.75",
            "cb_confidentiality": "0.50",
            "cb_integrity": "0.00",
            "cb_availability": "0.00",
            "adjustments": "+1 Addresses of minors",
        },
        follow=True,
    )
    assert "Assessment v2: DPC 1 (simple) +1 (Addresses of minors) = 2" in response.content.decode()


def test_meeting_an_obligation_late_asks_for_the_reason_in_the_form(as_role, incident):
    client = as_role(roles.DPO)
    obligation = incident.obligations.get(terms__code="gdpr-art33")
    url = reverse("admin:incidents_obligation_meet", args=[obligation.pk])

    refused = client.post(url, {"met_at_0": "2026-03-31", "met_at_1": "10:00:00"})
    assert "give the reason for the delay" in refused.content.decode()

    client.post(
        url,
        {"met_at_0": "2026-03-31", "met_at_1": "10:00:00", "delay_reason": "Portal was down"},
    )
    obligation.refresh_from_db()
    assert (obligation.status, obligation.lateness) == ("late", timedelta(hours=25))
    assert as_role(roles.SECURITY_ANALYST).get(url).status_code == 403


def test_transition_actions_are_offered_only_to_roles_that_may_move_incidents(as_role, incident):
    changelist = reverse("admin:incidents_incident_changelist")
    analyst = as_role(roles.SECURITY_ANALYST)
    assert "start_assessing" in analyst.get(changelist).content.decode()

    analyst.post(changelist, {"action": "start_assessing", "_selected_action": [incident.pk]})
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ASSESSING

    auditor_page = as_role(roles.AUDITOR).get(changelist).content.decode()
    assert "start_assessing" not in auditor_page
    assert "delete_selected" not in auditor_page


def test_incident_changelist_queries_do_not_grow_with_rows(as_role, incident):
    client = as_role(roles.AUDITOR)
    url = reverse("admin:incidents_incident_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(5):
        IncidentFactory.create()
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_dashboard_lists_open_incidents_by_next_deadline_with_countdown(as_role, settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    now = timezone.now()
    later = incident_open(
        actor=None, title="Later", nature="n", awareness_at=now - timedelta(hours=2)
    )
    incident_open(actor=None, title="Overdue", nature="n", awareness_at=now - timedelta(hours=80))
    IncidentFactory.create(title="Finished", status=Incident.Status.CLOSED)
    timeline_append(incident_id=later.pk, kind="incident.updated", actor=None)

    html = as_role(roles.CMO).get(reverse("admin:index")).content.decode()

    assert html.index("Overdue") < html.index("Later")
    assert "Finished" not in html
    assert "8 h 00 min late" in html or "7 h 59 min late" in html
    assert "2 d 22 h left" in html or "2 d 21 h left" in html
    assert "GDPR Art. 33: notify the supervisory authority" in html


def test_dashboard_is_hidden_from_someone_who_may_not_read_incidents(client, make_user):
    IncidentFactory.create(title="Secret")
    client.force_login(make_user("nobody"))
    assert "Secret" not in client.get(reverse("admin:index")).content.decode()


def test_a_refused_decision_leaves_the_others_of_the_same_form_unwritten(as_role, incident):
    response = as_role(roles.DPO).post(
        reverse("admin:incidents_incident_decide", args=[incident.pk]),
        {
            "art33_decision": "notify",
            "art34_decision": "exempt_b",
            "art34_reason": "",
        },
    )

    assert "an exemption needs its reason" in response.content.decode()
    incident.refresh_from_db()
    assert (incident.art33_decision, incident.art34_decision) == ("undecided", "undecided")
    assert not incident.timeline.filter(kind__startswith="incident.art3").exists()


def test_dashboard_queries_do_not_grow_with_open_incidents(as_role, settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    client = as_role(roles.CISO)
    incident_open(actor=None, title="First", nature="n", awareness_at=AWARE)
    client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("admin:index"))
    for n in range(4):
        incident_open(actor=None, title=f"More {n}", nature="n", awareness_at=AWARE)
    with CaptureQueriesContext(connection) as many:
        html = client.get(reverse("admin:index")).content.decode()
    assert "More 3" in html
    assert len(many) == len(few)


def test_a_forensic_list_over_the_upload_limit_is_refused_before_it_is_read(
    as_role, incident, settings
):
    settings.UPLOAD_MAX_BYTES = 1_000
    client = as_role(roles.SECURITY_ANALYST)
    before = incident.forensic_lists.count()
    big = SimpleUploadedFile("huge.csv", b"email\n" + b"someone@example.org\n" * 200)

    response = client.post(
        reverse("admin:incidents_incident_scope", args=[incident.pk]),
        {"forensic_list": big, "data_categories": ["credentials"]},
    )

    assert response.status_code == 200
    assert "files up to 0 MB are read here" in response.content.decode()
    assert incident.forensic_lists.count() == before
