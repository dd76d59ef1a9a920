"""The readiness page finds each known gap of a company with its exact figure, leads to the
people behind it, shows drills with their step times, and the board PDF says the same."""

import io
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django_q.models import Schedule
from pypdf import PdfReader

from config import roles
from config.models import company_profile
from config.readiness.apps import CUSTOMER_FIGURES_REFRESH, READINESS_SNAPSHOT
from config.readiness.models import CustomerFigures, OnCallShift, ReadinessSnapshot
from config.readiness.selectors import ON_CALL_ROLES, sender_is_placeholder
from config.readiness.services import readiness_report, readiness_snapshot_take
from config.tasks import housekeeping_schedule
from customers.models import Customer
from incidents.models import Incident, Regime
from incidents.services import incident_decide_art34, incident_open
from incidents.services.notice import filing_record, notice_draft
from notifications.models import Communication
from notifications.services.delivery import communication_send
from tests.campaigns.factories import scope_write
from tests.conftest import kept_for_the_module
from tests.customers.factories import CustomerFactory
from tests.notifications.delivery_helpers import signed_off
from tests.notifications.factories import approved, window
from tests.notifications.test_delivery import send_all

from .readiness_world import (
    CUSTOMERS,
    DRILL_DAYS_AGO,
    OLD_DRILL,
    STALE,
    UNREACHABLE,
    Company,
    company_build,
)

pytestmark = pytest.mark.django_db
SENDER = "Breachdesk Corp <notices@breachdesk-corp.com>"


@pytest.fixture(scope="module")
def company(django_db_setup, django_db_blocker) -> Iterator[Company]:
    with kept_for_the_module(django_db_blocker):
        yield company_build()


@pytest.fixture
def cmo_client(client, company):
    client.force_login(get_user_model().objects.get(username="cmo-0"))
    return client


@pytest.fixture(autouse=True)
def real_sender(settings):
    settings.DEFAULT_FROM_EMAIL = SENDER


def row(html: str, dimension: str, check: str) -> dict[str, str]:
    """One check's row on the page: its figure, state, detail and links."""
    match = re.search(rf'<tr id="check-{dimension}-{check}".*?</tr>', html, re.S)
    assert match, f"no check {dimension}/{check} on the page"
    text = match.group(0)

    def cell(pattern: str) -> str:
        found = re.search(pattern, text, re.S)
        return re.sub(r"\s+", " ", re.sub("<[^>]+>", "", found.group(1))).strip() if found else ""

    def href(kind: str) -> str:
        found = re.search(rf'class="{kind}" href="([^"]+)"', text)
        return found.group(1) if found else ""

    return {
        "figure": cell(r'<td class="figure">(.*?)</td>'),
        "state": cell(r'<td class="state[^"]*">(.*?)</td>'),
        "detail": cell(r'<div class="help">(.*?)</div>'),
        "drill": href("drill"),
        "fix": href("fix"),
    }


def page(client) -> str:
    response = client.get(reverse("admin:readiness_page"))
    assert response.status_code == 200
    return response.content.decode()


# --- Each known gap, with its exact figure ----------------------------------------------


def test_ten_percent_unreachable_is_shown_with_the_people_behind_it(cmo_client, company):
    html = page(cmo_client)

    neither = row(html, "reachable", "unreachable")
    assert neither["figure"] == f"10.0% ({UNREACHABLE} of {CUSTOMERS})"
    assert neither["state"] == "gap"
    email = row(html, "reachable", "valid_email")
    assert email["figure"] == f"90.0% ({CUSTOMERS - UNREACHABLE} of {CUSTOMERS})"
    # The drill-down lists exactly those ten people, without their contact data.
    listed = cmo_client.get(neither["drill"].replace("&amp;", "&"))
    assert listed.status_code == 200
    shown = {c.pk for c in listed.context["cl"].result_list}
    assert shown == set(company.unreachable)
    assert "@example.com" not in listed.content.decode()


def test_stale_contact_data_counts_those_no_import_brought_lately(cmo_client, settings):
    settings.READINESS_CONTACT_STALE_MONTHS = 12
    stale = row(page(cmo_client), "reachable", "stale")
    assert stale["figure"] == f"5.0% ({STALE} of {CUSTOMERS})"
    listed = cmo_client.get(stale["drill"].replace("&amp;", "&"))
    assert len(listed.context["cl"].result_list) == STALE


def test_reachability_by_country_and_us_state(cmo_client):
    html = page(cmo_client)
    # 25 customers live in California (every fourth); of the ten unreachable, 0, 4, 8 do.
    states = re.search(r"<caption>By US state</caption>.*?</table>", html, re.S)
    assert states
    assert re.search(r"<td>CA</td><td>25</td>.*?3 \(12\.0%\)", states.group(0), re.S)


def test_a_language_without_approved_words_is_a_gap(client, company):
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    missing = row(page(client), "words", "missing")
    # 9 data categories x 2 languages: every German cell is missing.
    assert missing["figure"] == "9 of 18"
    assert missing["detail"] == "de: 9 categories"
    assert "language__exact=de" in missing["drill"]
    assert missing["fix"] == reverse("admin:notifications_messagetemplate_add")


def test_an_approval_older_than_the_re_review_time_is_due(cmo_client, settings):
    settings.READINESS_REVIEW_AFTER_DAYS = 0
    due = row(page(cmo_client), "words", "review_due")
    assert due["figure"] == "9 of 9"
    assert due["state"] == "gap"


def test_a_role_held_by_one_person_is_a_gap(client, company):
    superuser = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(superuser)
    people = row(page(client), "people", "roles")
    assert people["figure"] == f"1 of {len(roles.ROLES)}"
    assert people["detail"] == "DPO: 1"
    dpo = Group.objects.get(name=roles.DPO)
    assert f"groups__id__exact={dpo.pk}" in people["drill"]


def test_the_cmo_who_is_also_ciso_is_found(cmo_client):
    cmo = get_user_model().objects.get(username="cmo-0")
    cmo.groups.add(Group.objects.get(name=roles.CISO))
    assert row(page(cmo_client), "people", "cmo_ciso")["figure"] == "1"


def on_call_table(html: str) -> dict[str, str]:
    """Role -> the "On call now" cell of the people table."""
    table = re.search(r"<caption>Active people per role</caption>.*?</table>", html, re.S)
    assert table
    rows = re.findall(r"<tr><td>(.*?)</td><td>\d+</td><td>(.*?)</td></tr>", table.group(0))
    return dict(rows)


def _shift(role: str, username: str, starts: timedelta, ends: timedelta) -> OnCallShift:
    now = datetime.now(UTC)
    return OnCallShift.objects.create(
        role=role,
        person=get_user_model().objects.get(username=username),
        starts_at=now + starts,
        ends_at=now + ends,
    )


def test_roles_with_no_one_on_call_now_are_a_gap_naming_them(cmo_client):
    rota = len(ON_CALL_ROLES)
    check = row(page(cmo_client), "people", "on_call")
    assert (check["figure"], check["state"]) == (f"{rota} of {rota}", "gap")
    assert check["detail"] == ", ".join(ON_CALL_ROLES)
    assert check["fix"] == reverse("admin:readiness_oncallshift_add")

    cmo_shift = _shift(roles.CMO, "cmo-1", -timedelta(hours=2), timedelta(hours=6))
    # Over and yet to come: neither covers the CISO now.
    _shift(roles.CISO, "ciso-0", -timedelta(days=2), -timedelta(days=1))
    _shift(roles.CISO, "ciso-1", timedelta(hours=1), timedelta(hours=9))
    # Someone who has left covers nothing.
    _shift(roles.DPO, "dpo-0", -timedelta(hours=1), timedelta(hours=1))
    get_user_model().objects.filter(username="dpo-0").update(is_active=False)

    html = page(cmo_client)
    check = row(html, "people", "on_call")
    assert check["figure"] == f"{rota - 1} of {rota}"
    assert roles.CMO not in check["detail"].split(", ")
    assert roles.CISO in check["detail"] and roles.DPO in check["detail"]
    table = on_call_table(html)
    assert table[roles.CMO] == f"cmo-1 until {cmo_shift.ends_at:%Y-%m-%d %H:%M} UTC"
    assert table[roles.CISO] == "no one"
    # The drill-down lists who is on call now: the CMO's shift only.
    listed = cmo_client.get(check["drill"].replace("&amp;", "&"))
    assert [s.pk for s in listed.context["cl"].result_list] == [cmo_shift.pk]


def test_every_role_on_call_is_green(cmo_client):
    for role in ON_CALL_ROLES:
        username = f"{role.lower().replace(' ', '-')}-0"
        _shift(role, username, -timedelta(minutes=5), timedelta(hours=8))
    check = row(page(cmo_client), "people", "on_call")
    assert (check["figure"], check["state"]) == (f"0 of {len(ON_CALL_ROLES)}", "green")


def _shift_form(role: str, person: int, starts: datetime, ends: datetime) -> dict[str, object]:
    return {
        "role": role,
        "person": person,
        "starts_at_0": f"{starts:%Y-%m-%d}",
        "starts_at_1": f"{starts:%H:%M:%S}",
        "ends_at_0": f"{ends:%Y-%m-%d}",
        "ends_at_1": f"{ends:%H:%M:%S}",
    }


def test_the_ciso_puts_someone_on_call_who_holds_the_role(client, company):
    client.force_login(get_user_model().objects.get(username="ciso-0"))
    add = reverse("admin:readiness_oncallshift_add")
    now = datetime.now(UTC).replace(microsecond=0)
    dpo = get_user_model().objects.get(username="dpo-0")
    cmo = get_user_model().objects.get(username="cmo-0")

    refused = client.post(add, _shift_form(roles.DPO, cmo.pk, now, now + timedelta(hours=8)))
    assert refused.status_code == 200
    assert "does not hold the role DPO" in refused.content.decode()
    backwards = client.post(add, _shift_form(roles.DPO, dpo.pk, now, now - timedelta(hours=1)))
    assert "A shift ends after it starts." in backwards.content.decode()
    assert not OnCallShift.objects.exists()

    saved = client.post(add, _shift_form(roles.DPO, dpo.pk, now, now + timedelta(hours=8)))
    assert saved.status_code == 302
    shift = OnCallShift.objects.get()
    assert (shift.role, shift.person, shift.ends_at) == (roles.DPO, dpo, now + timedelta(hours=8))
    assert on_call_table(page(client))[roles.DPO].startswith("dpo-0 until ")


def test_the_auditor_reads_the_rota_and_changes_nothing(client, company):
    client.force_login(get_user_model().objects.get(username="auditor-0"))
    assert client.get(reverse("admin:readiness_oncallshift_changelist")).status_code == 200
    assert client.get(reverse("admin:readiness_oncallshift_add")).status_code == 403
    assert row(page(client), "people", "on_call")["fix"] == ""


# --- How old the customer counts are ----------------------------------------------------


def test_the_page_says_how_old_the_customer_counts_are_and_recounts_on_request(cmo_client):
    html = page(cmo_client)
    as_of = re.search(r'<strong id="customers-as-of">(.*?) UTC</strong>', html)
    assert as_of
    assert "recounts them after each import, merge or bounce, and every 10 minutes" in html
    before = row(html, "reachable", "unreachable")["figure"]
    assert before == f"10.0% ({UNREACHABLE} of {CUSTOMERS})"
    CustomerFactory.create(email="", email_status=Customer.EmailStatus.MISSING, street="")

    # Until the next recount the page shows the last count, and says when it was taken.
    html = page(cmo_client)
    assert row(html, "reachable", "unreachable")["figure"] == before
    assert f'<strong id="customers-as-of">{as_of.group(1)} UTC</strong>' in html

    response = cmo_client.post(reverse("admin:readiness_recount"), follow=True)
    html = response.content.decode()
    assert "Customer figures recounted as of" in html
    after = row(html, "reachable", "unreachable")["figure"]
    assert after == f"10.9% ({UNREACHABLE + 1} of {CUSTOMERS + 1})"


def test_a_get_of_the_recount_address_counts_nothing(cmo_client):
    page(cmo_client)
    taken = CustomerFigures.objects.get().computed_at
    response = cmo_client.get(reverse("admin:readiness_recount"))
    assert response.status_code == 302
    assert CustomerFigures.objects.get().computed_at == taken


def test_the_cluster_recounts_the_customer_figures_every_few_minutes(settings):
    settings.READINESS_RECOUNT_MINUTES = 7
    housekeeping_schedule()
    (schedule,) = Schedule.objects.filter(name=CUSTOMER_FIGURES_REFRESH)
    assert schedule.func == "config.readiness.tasks.customer_figures_refresh_task"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 7)


def test_an_incomplete_company_profile_is_a_gap_naming_what_is_missing(cmo_client):
    profile = company_profile()
    profile.registration = ""
    profile.save()
    check = row(page(cmo_client), "rules", "profile")
    assert check["state"] == "gap"
    assert "registration" in check["figure"] and "genuine-check page" in check["figure"]
    profile.registration = "HRB 12345 B"
    profile.genuine_check_url = "https://security.shop.test/check"
    profile.save()
    check = row(page(cmo_client), "rules", "profile")
    assert (check["figure"], check["state"]) == ("complete", "green")


def test_the_call_centre_pack_check_counts_signed_off_communications_with_a_current_pack(
    cmo_client,
):
    check = row(page(cmo_client), "supplies", "call_centre")
    assert (check["figure"], check["state"]) == ("no signed-off communication yet", "unknown")
    communication = Communication.objects.create(
        incident=Incident.objects.order_by("pk")[0],
        name="Breach notice",
        status=Communication.Status.SIGNED_OFF,
        **window(),
    )
    check = row(page(cmo_client), "supplies", "call_centre")
    assert (check["figure"], check["state"]) == ("0 of 1 current", "gap")
    assert check["fix"] == reverse(
        "admin:notifications_callcentrepack_make", args=[communication.pk]
    )


def test_no_drill_for_a_year_is_a_gap(cmo_client):
    last = row(page(cmo_client), "practised", "last_drill")
    assert last["figure"] == f"{DRILL_DAYS_AGO} days ago ({OLD_DRILL})"
    assert last["state"] == "gap"


def test_a_placeholder_sender_domain_is_a_gap(cmo_client, settings):
    settings.DEFAULT_FROM_EMAIL = "Breachdesk <breachdesk@localhost>"
    sender = row(page(cmo_client), "rules", "sender")
    assert (sender["figure"], sender["state"]) == ("localhost", "gap")


@pytest.mark.parametrize(
    ("domain", "placeholder"),
    [
        ("localhost", True),
        ("mail.example.com", True),
        ("example.org", True),
        ("corp.invalid", True),
        ("breachdesk-corp.com", False),
        ("examples.com", False),
    ],
)
def test_sender_placeholders(domain, placeholder):
    assert sender_is_placeholder(domain) is placeholder


def test_jurisdictions_without_a_regime(cmo_client):
    # Germany (GDPR) and California are covered by the seeded regimes.
    rules = row(page(cmo_client), "rules", "jurisdictions")
    assert (rules["figure"], rules["state"]) == ("0 of 2", "green")
    california = [
        r.pk
        for r in Regime.objects.all()
        if "US" in r.countries and "CA" in {region.upper() for region in r.regions}
    ]
    Regime.objects.filter(pk__in=california).update(active=False)
    rules = row(page(cmo_client), "rules", "jurisdictions")
    assert (rules["figure"], rules["detail"]) == ("1 of 2", "US-CA")


def test_remediation_codes_are_counted_against_all_customers_without_segments(cmo_client):
    codes = row(page(cmo_client), "supplies", "codes")
    assert codes["figure"] == f"0 of {CUSTOMERS}"


def test_links_a_person_may_not_open_are_left_out(client, company):
    auditor = get_user_model().objects.get(username="auditor-0")
    client.force_login(auditor)
    html = page(client)
    # The auditor reads, and fixes nothing: no import link, no "add a person".
    assert row(html, "reachable", "unreachable")["fix"] == ""
    assert row(html, "people", "roles")["drill"] == ""


def test_the_page_is_for_the_cmo_ciso_dpo_and_auditor_only(client, company):
    for username, allowed in (
        ("cmo-0", True),
        ("ciso-0", True),
        ("dpo-0", True),
        ("auditor-0", True),
        ("legal-reviewer-0", False),
        ("marketing-operator-0", False),
    ):
        client.force_login(get_user_model().objects.get(username=username))
        status = client.get(reverse("admin:readiness_page")).status_code
        assert status == (200 if allowed else 403), username
        dashboard = client.get(reverse("admin:index")).content.decode()
        assert ('id="readiness-link"' in dashboard) is allowed, username


# --- Drills run through the journey -----------------------------------------------------


def _drill_through_the_journey(title: str, hours_ago: int, people: dict) -> Incident:
    incident = incident_open(
        actor=people["analyst"],
        title=title,
        nature="Drill: the shop database was copied.",
        is_drill=True,
        awareness_at=datetime.now(UTC) - timedelta(hours=hours_ago),
        data_categories=["contact"],
        contact_point="privacy@breachdesk-corp.com",
        likely_consequences="Phishing.",
        measures_taken="Closed the hole.",
        measures_proposed="Be careful.",
    )
    scope_write(incident, [people["customer"]], actor=people["analyst"])
    version = approved(incident, "en", ["contact"])
    communication = signed_off(
        incident, [version], author=people["mo"], cmo=people["cmo"], ciso=people["ciso"]
    )
    # Sending waits for the Art. 34 decision, in a drill as in a breach.
    incident_decide_art34(
        incident_id=incident.pk, actor=people["dpo"], decision="notify", reason=""
    )
    send_all(communication_send(communication_id=communication.pk, actor=people["cmo"]))
    notice = notice_draft(incident_id=incident.pk, actor=people["dpo"])
    filing_record(
        notice_id=notice.pk,
        actor=people["dpo"],
        authority="Berliner Beauftragte für Datenschutz",
        filed_at=datetime.now(UTC),
        reference=f"DRILL-{incident.pk}",
    )
    return incident


@pytest.fixture
def people(company, make_user):
    users = get_user_model().objects
    return {
        "analyst": make_user("drill-analyst", roles.SECURITY_ANALYST),
        "mo": users.get(username="marketing-operator-0"),
        "cmo": users.get(username="cmo-0"),
        "ciso": users.get(username="ciso-0"),
        "dpo": users.get(username="dpo-0"),
        "customer": Customer.objects.order_by("-pk")[0],
    }


def test_drills_through_the_journey_show_their_step_times_and_compare(
    cmo_client, people, smtp_server, settings
):
    settings.DRILL_RECIPIENTS = ["drill-desk@breachdesk-corp.com"]
    _drill_through_the_journey("Drill one", 3, people)
    html = page(cmo_client)
    times = re.search(r"<tr><td>Drill one</td>(.*?)</tr>", html, re.S)
    assert times
    cells = re.findall(r"<td>(.*?)</td>", times.group(1))
    # Awareness three hours ago; each step happened just now.
    assert cells == ["3.0 h", "3.0 h", "3.0 h", "3.0 h"]
    last = row(html, "practised", "last_drill")
    assert (last["figure"], last["state"]) == ("0 days ago (Drill one)", "green")
    assert len(smtp_server.messages) == 1

    _drill_through_the_journey("Drill two", 2, people)
    html = page(cmo_client)
    chart = re.search(r'<div class="chart" id="chart-practised">(.*?)</div>', html, re.S)
    assert chart
    # The chart names the three drills, oldest first, with one series per step.
    svg = chart.group(1)
    assert svg.index(OLD_DRILL) < svg.index("Drill one") < svg.index("Drill two")
    for step in ("to scope", "to sign-off", "to first notice", "to regulator notice"):
        assert step in svg
    assert re.search(r"<tr><td>Drill two</td><td>2.0 h</td>", html)

    # With the drills chart and the trend, the board's PDF still fits on one page.
    readiness_snapshot_take()
    pdf = cmo_client.get(reverse("admin:readiness_board_pdf")).content
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert "Practised: drills compared" in reader.pages[0].extract_text()
    board_screenshot(pdf)


def board_screenshot(pdf: bytes) -> None:
    """The README's picture of the board PDF (docs/screenshots/), redrawn only when
    UPDATE_SCREENSHOTS is set, like the browser tests' pictures."""
    if not os.environ.get("UPDATE_SCREENSHOTS"):
        return
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "board.pdf"
        source.write_bytes(pdf)
        target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "readiness-board"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", str(source), str(target)], check=True
        )


# --- Over time, and for the board --------------------------------------------------------


def test_the_daily_snapshot_is_scheduled_and_feeds_the_trend(cmo_client):
    housekeeping_schedule()
    (schedule,) = Schedule.objects.filter(name=READINESS_SNAPSHOT)
    assert schedule.func == "config.readiness.tasks.readiness_snapshot_task"
    assert schedule.schedule_type == Schedule.DAILY

    today = datetime.now(UTC).date()
    readiness_snapshot_take(day=today - timedelta(days=1))
    snapshot = readiness_snapshot_take(day=today)
    readiness_snapshot_take(day=today)  # twice the same day: still one
    assert ReadinessSnapshot.objects.count() == 2
    figures = snapshot.figures["dimensions"]["reachable"]["checks"]["unreachable"]
    assert figures == {"figure": "10.0% (10 of 100)", "state": "gap", "value": 10.0}
    html = page(cmo_client)
    trend = re.search(r'<div class="module" id="readiness-trend">(.*?)</svg>', html, re.S)
    assert trend
    assert f"{today:%Y-%m-%d}" in trend.group(1)
    assert "customers reachable" in trend.group(1)


def test_the_board_pdf_is_one_page_with_the_figures_of_the_page(cmo_client):
    readiness_snapshot_take()
    response = cmo_client.get(reverse("admin:readiness_board_pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    text = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    report = readiness_report()
    html = page(cmo_client)
    for dimension in report.dimensions:
        for check in dimension.checks:
            on_page = row(html, dimension.key, check.key)["figure"]
            assert on_page == check.figure
            assert check.figure in text, (check.key, check.figure)
    assert f"{report.checks_green} of {report.checks_total} checks green" in text
