"""The CMO's recovery page, the recovery report and the evidence pack's appendix: the same
charts (SVG drawn on the server by pygal) with the figures beneath; the response files
through the admin."""

import io
from datetime import UTC, datetime, timedelta

import pdfplumber
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Touchpoint
from incidents.models import Incident
from notifications.models import RecoveryPlan, RemediationCode
from notifications.recovery.cohorts import METRICS, recovery_figures_refresh
from notifications.recovery.plans import recovery_plan_create
from notifications.recovery.sections import recovery_figures_section, recovery_section
from tests.campaigns.factories import segment_with

from .factories import CustomerFactory, IncidentFactory, affected

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(cmo):
    incident = IncidentFactory.create(title="Shop breach")
    hit = [affected(incident, "en", ["credentials"]) for _ in range(4)]
    spared = [CustomerFactory.create() for _ in range(6)]
    segment_with(hit + spared)
    notified = datetime.now(UTC) - timedelta(days=20)  # three weeks begun
    Incident.objects.filter(pk=incident.pk).update(people_notified_at=notified)
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                customer=person,
                channel=Touchpoint.Channel.EMAIL,
                kind=kind,
                occurred_at=notified + timedelta(days=2),
            )
            for person, kind in [
                (hit[0], Touchpoint.Kind.PASSWORD_RESET),
                (hit[1], Touchpoint.Kind.UNSUBSCRIBED),
                (spared[0], Touchpoint.Kind.OPENED),
            ]
        ]
    )
    recovery_figures_refresh(incident_id=incident.pk)
    return recovery_plan_create(incident_id=incident.pk, actor=cmo)


def test_the_recovery_page_shows_the_charts_and_the_table_beneath(client, cmo, plan):
    client.force_login(cmo)
    page = client.get(reverse("admin:notifications_recoveryplan_change", args=[plan.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    recovery = html.split('id="bd-recovery"')[1].split('id="bd-cohort-table"')[0]
    assert recovery.count("<svg") == len(METRICS)
    assert "<script" not in recovery  # the charts stand alone
    assert "Affected: 4 people; unaffected people of the same segments: 6." in html
    # Three weeks begun since the notice: three rows per response.
    table = html.split('id="bd-cohort-table"')[1]
    assert table.count("<tr>") == 1 + 3 * len(METRICS)
    assert '<td>Passwords reset</td><td class="n">0</td><td class="n">1</td>' in table
    assert 'href="/notifications/recoveryplan/' in html and "Add a step" in html


def test_the_recovery_report_is_a_pdf_with_the_charts_and_figures(client, cmo, plan):
    client.force_login(cmo)
    answer = client.get(reverse("admin:notifications_recoveryplan_report", args=[plan.pk]))
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    with pdfplumber.open(io.BytesIO(answer.content)) as pdf:
        text = "\n".join(p.extract_text() or "" for p in pdf.pages)
    assert "Recovery report: Shop breach" in text
    # The charts' words come out of the PDF without spaces, a long title on two lines.
    drawn = text.replace(" ", "").replace("\n", "")
    for label in METRICS.values():
        assert f"{label},%ofeachcohort".replace(" ", "") in drawn
    assert "Passwords reset" in text


def test_the_incident_page_section_links_the_recovery_page_and_the_pack_has_the_charts(plan):
    section = recovery_section(plan.incident_id)
    assert section.links == [
        ("The recovery page", reverse("admin:notifications_recoveryplan_change", args=[plan.pk]))
    ]
    appendix = recovery_figures_section(plan.incident_id)
    assert [title for title, _uri in appendix.images] == list(METRICS.values())
    assert all(uri.startswith("data:image/svg+xml;base64,") for _t, uri in appendix.images)
    assert len(appendix.tables[0].rows) == 3 * len(METRICS)


def test_an_incident_without_a_plan_offers_to_set_one_up(db):
    incident = IncidentFactory.create()
    section = recovery_section(incident.pk)
    assert section.links[0][0] == "Set up a recovery plan"
    assert section.links[0][1].endswith(f"?incident={incident.pk}")


def test_the_redemption_file_through_the_admin_names_the_unknown_codes(client, marketing, plan):
    RemediationCode.objects.create(
        incident=plan.incident,
        code="CM-1",
        vendor="Monitor Ltd",
        expires_on=datetime(2027, 1, 1, tzinfo=UTC).date(),
    )
    client.force_login(marketing)
    url = reverse("admin:notifications_recoveryplan_redemptions")
    upload = SimpleUploadedFile("monitor.csv", b"code\nCM-1\nWHO-2\n", content_type="text/csv")
    answer = client.post(url, {"file": upload}, follow=True)
    text = answer.content.decode()
    assert "0 redemptions recorded, 0 already known; 2 unknown, left alone" in text
    assert "line 3: &#x27;WHO-2&#x27;" in text


def test_the_cmo_sets_up_a_plan_and_a_second_one_is_refused(client, cmo, plan):
    client.force_login(cmo)
    url = reverse("admin:notifications_recoveryplan_setup")
    other = IncidentFactory.create()
    answer = client.post(url, {"incident": other.pk, "marketing_returns_after_days": 30})
    assert answer.status_code == 302
    assert RecoveryPlan.objects.get(incident=other).marketing_returns_after_days == 30
    # The incident with a plan is not offered again.
    again = client.post(url, {"incident": plan.incident_id, "marketing_returns_after_days": 30})
    assert again.status_code == 200
    assert "Select a valid choice" in again.content.decode()
