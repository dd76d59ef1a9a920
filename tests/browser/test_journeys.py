"""Each role's journey through the demo, in a real browser, and the whole story end to end.

The demo (`seed_demo`) is the starting point: customers from the sample CRM exports,
campaigns sending, and one breach half-way. What a person would notice is asserted on the
page; the database is read only to check that the page told the truth.
"""

import hashlib
import re
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.models import Campaign
from campaigns.services import campaign_send_batch
from config.demo import demo_users_seed
from config.demo_story import (
    DATA,
    STORY_TITLE,
    demo_campaigns_seed,
    demo_communication_create,
    demo_customers_seed,
    demo_template_submit,
)
from incidents.evidence.services import evidence_pack_build
from incidents.models import EvidencePack, Incident, Obligation, Regime
from notifications.models import (
    Communication,
    CommunicationSignOff,
    Delivery,
    Notification,
    TemplateVersion,
)
from notifications.services.delivery import delivery_send_batch
from tests.browser.conftest import log_in, screenshot

DRILL_TITLE = "Demo: credential stuffing on the customer portal"


def regimes_ensure() -> None:
    """The live server needs committed data, so the database is flushed after each test,
    and with it the regimes a data migration wrote; write them again, as it did."""
    from django.apps import apps

    if not Regime.objects.exists():
        import_module("incidents.migrations.0004_seed_regimes").seed(apps, None)


@pytest.fixture
def demo(settings, transactional_db):
    settings.DEBUG = True
    settings.COMPANY_EU_ESTABLISHMENT = True
    regimes_ensure()
    call_command("seed_demo")


def as_user(page: Page, username: str) -> None:
    page.context.clear_cookies()
    log_in(page, username, f"{username}-breachdesk-demo")
    expect(page.locator("#user-tools")).to_be_visible()


def waiting(page: Page) -> str:
    return page.locator("#waiting-for-you").inner_text()


def run_action(page: Page, changelist: str, name: str, action: str) -> None:
    page.goto(changelist)
    page.locator("#result_list tr", has_text=name).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_load_state()


def test_cmo_sees_what_is_late_and_what_waits_and_resuming_a_held_campaign_asks_first(
    page: Page, demo
):
    as_user(page, "cmo")

    row = page.locator("#incidents-dashboard tr", has_text=STORY_TITLE)
    countdown = row.locator("td.countdown")
    expect(countdown).to_have_class(re.compile(r"\blate\b"))
    expect(countdown).to_have_text(re.compile(r"^\d+ h \d\d min late$"))
    expect(page.locator("#incidents-dashboard tr", has_text=DRILL_TITLE)).to_contain_text("drill")
    assert "Communication to sign: Breach notice to everyone affected" in waiting(page)
    assert "Campaign held: Black Friday newsletter (demo)" in waiting(page)
    expect(page.locator("#work-in-progress")).to_contain_text("Loyalty points reminder (demo)")
    screenshot(page, "dashboard", for_readme=True)
    # The countdown ticks in the browser from its deadline, not from the page's render.
    page.evaluate(
        """document.querySelector("#incidents-dashboard td.countdown").setAttribute(
            "data-due", new Date(Date.now() + (2 * 86400 + 3 * 3600 + 90) * 1000).toISOString())"""
    )
    expect(countdown).to_have_text("2 d 03 h left")
    expect(countdown).not_to_have_class(re.compile(r"\blate\b"))

    page.click("#waiting-for-you a:has-text('Black Friday newsletter (demo)')")
    expect(page.locator("#overlap")).to_contain_text("Black Friday newsletter (demo)")
    expect(page.locator("#content-main")).to_contain_text("are held since")

    run_action(page, "/campaigns/campaign/", "Black Friday newsletter (demo)", "resume")
    expect(page.locator("h1")).to_have_text("Resume these campaigns?")
    # The refusal is said before confirming, and there is nothing to confirm.
    expect(page.locator("#confirm-objects")).to_contain_text("has not gone out")
    expect(page.locator("input[value='Yes, resume them']")).to_have_count(0)
    assert Campaign.objects.get(name="Black Friday newsletter (demo)").status == "paused"


def test_legal_reviewer_approves_the_message_waiting_for_legal(page: Page, demo):
    as_user(page, "legal")
    assert "Template to review: Breach notice (de) v1" in waiting(page)

    page.click("#waiting-for-you a:has-text('Breach notice (de) v1')")
    page.select_option("#id_decision", "approve")
    page.click("input[value='Confirm decision']")

    expect(page.locator(".messagelist")).to_contain_text("approved", ignore_case=True)
    german = TemplateVersion.objects.select_related("reviewed_by").get(
        template__name="Breach notice (de)"
    )
    assert german.status == "approved"
    assert german.reviewed_by is not None and german.reviewed_by.username == "legal"
    page.goto("/")
    expect(page.locator("#waiting-for-you")).to_have_count(0)


def test_ciso_signs_off_exactly_the_content_shown(page: Page, demo):
    as_user(page, "ciso")
    page.click("#waiting-for-you a:has-text('Breach notice to everyone affected')")
    expect(page.locator("#content-main")).to_contain_text("You sign the SHA-256")

    page.click("input[value='Sign off']")

    expect(page.locator(".messagelist")).to_contain_text("as CISO")
    screenshot(page, "communication", for_readme=True)
    sign_off = CommunicationSignOff.objects.get(voided_at=None)
    assert (sign_off.role, sign_off.user.username) == ("CISO", "ciso")
    page.goto("/")
    expect(page.locator("#waiting-for-you")).to_have_count(0)


def test_analyst_scopes_the_drill_which_shows_what_it_would_pause_and_pauses_nothing(
    page: Page, demo
):
    as_user(page, "analyst")
    assert f"Scope to set: [DRILL] {DRILL_TITLE}" in waiting(page)

    page.click(f"#waiting-for-you a:has-text('{DRILL_TITLE}')")
    page.set_input_files("#id_forensic_list", str(DATA / "affected_accounts.csv"))
    page.check("input[name=data_categories][value=credentials]")
    page.click("input[value='Preview the change']")
    expect(page.locator("#preview-added")).to_have_text("5")
    page.click("input[value='Add to the scope']")

    expect(page.locator(".messagelist")).to_contain_text("5 added")
    expect(page.locator(".bd-drill-banner")).to_contain_text("DRILL")
    expect(page.locator("#incident-scope h2")).to_have_text("Scope: 5 affected customers")
    screenshot(page, "incident", for_readme=True)
    drill = Incident.objects.get(title=DRILL_TITLE)

    page.goto(f"/campaigns/campaign/overlap/{drill.pk}/")
    expect(page.locator(".bd-drill-banner")).to_contain_text("would pause")
    expect(page.locator("#overlap")).to_contain_text("Black Friday newsletter (demo)")
    assert not Campaign.objects.filter(paused_by_incident=drill).exists()


def test_dpo_records_the_decisions_and_the_late_filing_with_its_reason(page: Page, demo):
    as_user(page, "dpo")
    incident = Incident.objects.get(title=STORY_TITLE)
    assert f"Art. 33/34 decision to record: {STORY_TITLE}" in waiting(page)

    page.click(f"#waiting-for-you a[href$='/incident/{incident.pk}/decide/']")
    page.select_option("#id_art33_decision", "notify")
    page.select_option("#id_art34_decision", "notify")
    page.click("input[value=Save]")
    expect(page.locator(".messagelist")).to_contain_text("Recorded: Art. 33, Art. 34.")

    gdpr = incident.obligations.get(name__startswith="GDPR Art. 33")
    page.goto("/")
    page.click(f"#waiting-for-you a[href$='/obligation/{gdpr.pk}/meet/']")
    now = timezone.now()
    page.fill("#id_met_at_0", f"{now:%Y-%m-%d}")
    page.fill("#id_met_at_1", f"{now:%H:%M:%S}")
    page.click("input[value=Save]")
    expect(page.locator(".errorlist, .errornote").first).to_be_visible()
    page.fill("#id_delay_reason", "The forensic list arrived only after 70 hours.")
    page.click("input[value=Save]")

    expect(page.locator("#incident-obligations")).to_contain_text("The forensic list arrived")
    assert Obligation.objects.get(pk=gdpr.pk).status == Obligation.Status.LATE


def test_marketing_operator_sees_the_held_campaign_the_sends_move_and_starting_asks_first(
    page: Page, demo, settings
):
    as_user(page, "marketing")
    assert "Campaign held: Black Friday newsletter (demo)" in waiting(page)
    loyalty = page.locator("#work-in-progress li", has_text="Loyalty points reminder (demo)")
    expect(loyalty).to_contain_text("0 of 18 (0%)")

    settings.CAMPAIGNS_BATCH_SIZE = 5
    campaign_send_batch(campaign_id=Campaign.objects.get(name__startswith="Loyalty").pk)
    page.reload()
    expect(loyalty).to_contain_text("5 of 18 (28%)")

    run_action(page, "/campaigns/campaign/", "Winter sale (demo)", "start")
    expect(page.locator("h1")).to_have_text("Start sending these campaigns now?")
    expect(page.locator("#confirm-objects")).to_contain_text("Winter sale (demo)")
    expect(page.locator("#confirm-objects")).to_contain_text("people in its audience")
    page.click("text=No, take me back")
    assert Campaign.objects.get(name="Winter sale (demo)").status == "draft"


def test_auditor_reads_everything_and_nothing_waits_for_them(page: Page, demo):
    as_user(page, "auditor")
    expect(page.locator("#waiting-for-you")).to_have_count(0)

    page.click(f"#incidents-dashboard a:has-text('{STORY_TITLE}')")

    expect(page.locator("#incident-scope h2")).to_have_text("Scope: 5 affected customers")
    expect(page.locator("text=Set scope")).to_have_count(0)
    expect(page.locator("input[name=_save]")).to_have_count(0)


@pytest.fixture
def company(settings, transactional_db):
    """The demo company before the breach: customers, users, campaigns sending."""
    settings.DEBUG = True
    settings.COMPANY_EU_ESTABLISHMENT = True
    regimes_ensure()
    demo_users_seed()
    demo_customers_seed()
    from django.contrib.auth import get_user_model

    demo_campaigns_seed(owner=get_user_model().objects.get(username="cmo"))


def test_the_whole_story_from_the_forensic_list_to_the_evidence_pack(
    page: Page, company, settings, smtp_server, media
):
    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.all()}
    settings.DELIVERY_BATCH_SIZE = 2

    # The security analyst opens the incident and uploads the forensic list.
    as_user(page, "analyst")
    page.goto("/incidents/incident/add/")
    aware = timezone.now() - timedelta(hours=20)
    page.fill("#id_title", "Shop database copied")
    page.fill("#id_nature", "An attacker copied the shop's customer table.")
    page.fill("#id_awareness_at_0", f"{aware:%Y-%m-%d}")
    page.fill("#id_awareness_at_1", f"{aware:%H:%M:%S}")
    page.check("input[name=data_categories][value=contact]")
    page.check("input[name=data_categories][value=credentials]")
    page.select_option("#id_credentials_open", "contact")
    page.fill("#id_contact_point", "privacy@breachdesk.invalid")
    page.fill("#id_likely_consequences", "Phishing emails using your name.")
    page.fill("#id_measures_taken", "We closed the hole and reset all passwords.")
    page.fill("#id_measures_proposed", "Choose a new password.")
    page.click("input[name=_continue]")
    incident = Incident.objects.get(title="Shop database copied")
    page.click("text=Set scope")
    page.set_input_files("#id_forensic_list", str(DATA / "affected_accounts.csv"))
    page.click("input[value='Preview the change']")
    page.click("input[value='Add to the scope']")
    expect(page.locator(".messagelist")).to_contain_text("5 added")
    expect(page.locator(".messagelist")).to_contain_text("1 list line(s) matched nobody")

    # The CMO finds the held campaign from the dashboard.
    as_user(page, "cmo")
    assert "Campaign held: Black Friday newsletter (demo)" in waiting(page)
    page.click("#waiting-for-you a:has-text('Black Friday newsletter (demo)')")
    expect(page.locator("#overlap")).to_contain_text("Shop database copied")

    # Marketing writes the notice (through the services) and legal approves it.
    version = demo_template_submit(incident=incident, author=users["marketing"], language="en")
    as_user(page, "legal")
    page.click("#waiting-for-you a:has-text('Breach notice (en) v1')")
    page.select_option("#id_decision", "approve")
    page.click("input[value='Confirm decision']")
    expect(page.locator(".messagelist")).to_contain_text("approved", ignore_case=True)
    version.refresh_from_db()
    assert version.status == "approved"

    # The CMO and the CISO, two people, sign exactly that content and audience.
    communication = demo_communication_create(incident=incident, author=users["marketing"])
    for username in ("cmo", "ciso"):
        as_user(page, username)
        page.click("#waiting-for-you a:has-text('Breach notice to everyone affected')")
        page.click("input[value='Sign off']")
        expect(page.locator(".messagelist")).to_contain_text("You signed off")
    communication.refresh_from_db()
    assert communication.status == Communication.Status.SIGNED_OFF

    # The CISO sends it; the batches run here, one by one, and the progress moves. The
    # send waits for the Art. 34 decision, and its page links to where it is recorded.
    page.click("text=Send…")
    expect(page.locator("#send-blockers")).to_contain_text("Art. 34 decision")
    page.click("#send-blockers a:has-text('Record the Art. 34 decision')")
    page.select_option("#id_art34_decision", "notify")
    page.click("input[value=Save]")
    expect(page.locator(".messagelist")).to_contain_text("Recorded: Art. 34.")
    # Back to the send page the way a person would: the browser's Back button, twice.
    page.go_back()
    page.go_back()
    page.reload()
    expect(page.locator("#send-blockers")).to_have_count(0)
    page.click("input[value=Send]")
    expect(page.locator(".messagelist")).to_contain_text("is being sent")
    delivery = Delivery.objects.get(communication=communication)
    total = Notification.objects.filter(communication=communication).count()
    assert total == 5
    delivery_send_batch(delivery_id=delivery.pk)
    page.goto("/")
    bar = page.locator("#work-in-progress li", has_text="Breach notice to everyone affected")
    expect(bar).to_contain_text(f"{total - open_notifications(communication)} of {total}")
    while delivery_send_batch(delivery_id=delivery.pk).more:
        pass
    page.reload()
    expect(bar).to_have_count(0)
    sent = Notification.objects.filter(communication=communication, status="sent").count()
    assert len(smtp_server.messages) == sent > 0
    page.goto(f"/notifications/communication/{communication.pk}/change/")
    expect(page.locator(".bd-progress")).to_contain_text("Completed")

    # The DPO records the decision and the regulator filing, then takes the evidence pack.
    as_user(page, "dpo")
    page.click(f"#waiting-for-you a[href$='/incident/{incident.pk}/decide/']")
    page.select_option("#id_art33_decision", "notify")
    page.click("input[value=Save]")
    page.goto("/incidents/regulatornotice/add/")
    page.select_option("#id_incident", str(incident.pk))
    page.click("input[value=Save]")
    page.click("text=Record the filing")
    now = timezone.now()
    page.fill("#id_authority", "Berliner Beauftragte für Datenschutz")
    page.fill("#id_filed_at_0", f"{now:%Y-%m-%d}")
    page.fill("#id_filed_at_1", f"{now:%H:%M:%S}")
    page.fill("#id_reference", "BlnBDI-2026-117")
    page.click("input[value=Save]")
    expect(page.locator(".messagelist")).to_contain_text("filed as BlnBDI-2026-117")
    gdpr = incident.obligations.get(name__startswith="GDPR Art. 33")
    assert gdpr.status == Obligation.Status.MET

    page.goto("/incidents/evidencepack/add/")
    page.select_option("#id_incident", str(incident.pk))
    page.click("input[value=Save]")
    expect(page.locator(".messagelist")).to_contain_text("being built in the background")
    evidence_pack_build(pack_id=EvidencePack.objects.get(incident=incident).pk)
    page.reload()
    with page.expect_download() as download:
        page.click("a:has-text('Download')")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    pack = EvidencePack.objects.get(incident=incident)
    assert hashlib.sha256(pdf).hexdigest() == pack.sha256


def open_notifications(communication: Communication) -> int:
    return Notification.objects.filter(
        communication=communication, status__in=["pending", "claimed"]
    ).count()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
