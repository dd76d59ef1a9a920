"""Each role walks its journey through the demo by clicking only, and every page it meets
passes axe-core; the pages and clicks of each step are counted and go into the README.

After signing in nothing is typed into the address bar: a `Walk` has no `goto`. Every
page a click opens is checked with axe-core once (no serious or critical violation). One
demo world serves the module (seeded once, committed for the live server, flushed after
the last test), so the journeys run in story order and touch different things.
"""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from playwright.sync_api import Page, expect

from config.demo_story import STORY_TITLE
from incidents.models import Incident
from notifications.models import TemplateVersion
from tests.browser.conftest import log_in
from tests.browser.test_journeys import DRILL_TITLE, regimes_ensure

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- journey-counts:start -->", "<!-- journey-counts:end -->"
AXE = Axe()
# (role, step, pages, clicks), in the order walked; the README table is made from it.
COUNTS: list[tuple[str, str, int, int]] = []
ROLES = ("analyst", "legal", "marketing", "cmo", "ciso", "dpo", "auditor", "agent")
ROLE_NAMES = {
    "analyst": "Security analyst",
    "legal": "Legal reviewer",
    "marketing": "Marketing operator",
    "cmo": "CMO",
    "ciso": "CISO",
    "dpo": "DPO",
    "auditor": "Auditor",
    "agent": "Call-centre agent",
}
WALKED: set[str] = set()


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The demo, committed once so the live server sees it; flushed after the module, as a
    transactional test would be (the migrations' data comes back with the flush)."""
    with (
        django_db_blocker.unblock(),
        override_settings(DEBUG=True, COMPANY_EU_ESTABLISHMENT=True),
    ):
        regimes_ensure()
        call_command("seed_demo")
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0)
            # A persistent connection left open keeps the test database from being dropped.
            connection.close()


@pytest.fixture(autouse=True)
def _live_server_helper(world: None, live_server: Any) -> Iterator[None]:
    # Replaces pytest-django's helper, which would flush the database after every test:
    # here the journeys share one world.
    live_server._live_server_modified_settings.enable()
    yield
    live_server._live_server_modified_settings.disable()


@dataclass
class Walk:
    """A signed-in person's clicks: counted per step, every new page checked by axe-core."""

    page: Page
    role: str
    loads: int = 0
    clicks: int = 0
    violations: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.page.on("load", self._loaded)

    def _loaded(self, _page: Any) -> None:
        self.loads += 1

    def axe(self) -> None:
        """axe-core on the page shown, once per page (its path without the query)."""
        self.page.wait_for_load_state()
        path = re.sub(r"/\d+/", "/<id>/", self.page.url.split("?")[0])
        if path in self.checked:
            return
        self.checked.add(path)
        results: Any = AXE.run(self.page)
        self.violations += [
            f"{path}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    def _after(self, before: int) -> None:
        self.page.wait_for_load_state()
        if self.loads > before:
            self.axe()

    def click(self, selector: str) -> None:
        before = self.loads
        self.clicks += 1
        self.page.click(selector)
        self._after(before)

    def choose(self, selector: str, value: str) -> None:
        self.clicks += 1
        self.page.select_option(selector, value)

    def tick(self, selector: str) -> None:
        self.clicks += 1
        self.page.check(selector)

    def attach(self, selector: str, path: Path) -> None:
        self.clicks += 1
        self.page.set_input_files(selector, str(path))

    def type(self, selector: str, text: str) -> None:
        self.page.fill(selector, text)

    def action(self, row_text: str, action: str) -> None:
        """Tick a row of a list, choose the action and press Go."""
        self.tick(f"#result_list tr:has-text('{row_text}') input.action-select")
        self.choose("select[name=action]", action)
        self.click("button[name=index]")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        loads, clicks = self.loads, self.clicks
        yield
        COUNTS.append((self.role, name, self.loads - loads, self.clicks - clicks))


def walk_as(page: Page, username: str) -> Walk:
    page.context.clear_cookies()
    log_in(page, username, f"{username}-breachdesk-demo")
    expect(page.locator("#user-tools")).to_be_visible()
    walk = Walk(page=page, role=username)
    walk.axe()
    WALKED.add(username)
    return walk


def home(walk: Walk) -> None:
    walk.click("#site-name a")


def test_security_analyst_scopes_the_drill_from_the_forensic_list(page: Page):
    from config.demo_story import DATA

    walk = walk_as(page, "analyst")
    with walk.step("Add the forensic list to the drill's scope, after its preview"):
        walk.click(f"#waiting-for-you a:has-text('{DRILL_TITLE}')")
        walk.attach("#id_forensic_list", DATA / "affected_accounts.csv")
        walk.tick("input[name=data_categories][value=credentials]")
        walk.click("input[value='Preview the change']")
        expect(page.locator("#preview-added")).to_have_text("5")
        walk.click("input[value='Add to the scope']")
        expect(page.locator(".messagelist")).to_contain_text("5 added")
        expect(page.locator(".bd-drill-banner")).to_contain_text("DRILL")
    assert walk.violations == []


def test_legal_reviewer_rejects_a_notice_with_the_reason(page: Page):
    walk = walk_as(page, "legal")
    with walk.step("Review the German notice and reject it with a reason"):
        walk.click("#waiting-for-you a:has-text('Breach notice (de) v1')")
        expect(page.locator("#id_decision")).to_have_value("")
        walk.choose("#id_decision", "reject")
        walk.type("#id_comment", "Name the DPO's postal address too.")
        walk.click("input[value='Confirm decision']")
        expect(page.locator(".messagelist")).to_contain_text("rejected")
    german = TemplateVersion.objects.get(template__name="Breach notice (de)", number=1)
    assert (german.status, german.review_comment) == (
        "rejected",
        "Name the DPO's postal address too.",
    )
    assert walk.violations == []


def test_marketing_operator_answers_the_rejection_and_starts_a_campaign_knowingly(page: Page):
    walk = walk_as(page, "marketing")
    with walk.step("Read legal's rejection and write the next version"):
        rejection = page.locator("#waiting-for-you li", has_text="Rejected by legal")
        expect(rejection).to_contain_text("Name the DPO's postal address too.")
        walk.click("#waiting-for-you a:has-text('Breach notice (de) v1')")
        walk.click("input[value='Create a new draft version']")
        expect(page.locator("#template-variables")).to_contain_text("{{ reset_link }}")
        expect(page.locator("#template-checks")).to_contain_text("Preview")
        # No HTML to write: it is built from the plain text.
        walk.type("#id_html_body", "")
        walk.click("input[name=_continue]")
        expect(page.locator("#template-checks")).to_contain_text("No unknown variables")
    draft = TemplateVersion.objects.get(template__name="Breach notice (de)", number=2)
    assert draft.html_body.startswith("<p>") and "{{ reset_link }}" in draft.html_body

    with walk.step("Start a campaign: see first who the breach hold withholds"):
        walk.click("#nav-sidebar a[href$='/campaigns/campaign/']")
        walk.action("Winter sale (demo)", "start")
        expect(page.locator("#confirm-objects")).to_contain_text("people in its audience")
        walk.click("text=No, take me back")
    assert walk.violations == []


def test_cmo_finds_the_held_campaign_and_is_told_before_confirming_what_still_blocks_it(
    page: Page,
):
    walk = walk_as(page, "cmo")
    with walk.step("Open the held campaign from the dashboard"):
        walk.click("#waiting-for-you a:has-text('Black Friday newsletter (demo)')")
        expect(page.locator("#overlap")).to_contain_text("Black Friday newsletter (demo)")
    with walk.step("Try to resume it: refused before confirming"):
        walk.click("#nav-sidebar a[href$='/campaigns/campaign/']")
        walk.action("Black Friday newsletter (demo)", "resume")
        expect(page.locator("#confirm-objects")).to_contain_text("has not gone out")
        expect(page.locator("input[value='Yes, resume them']")).to_have_count(0)
    with walk.step("Try to release the hold: refused before confirming"):
        walk.click("#nav-sidebar a[href$='/campaigns/campaignhold/']")
        walk.action(STORY_TITLE, "release")
        expect(page.locator("#confirm-objects")).to_contain_text("has not gone out")
        expect(page.locator("input[value='Yes, release them']")).to_have_count(0)
    assert walk.violations == []


def test_ciso_signs_and_learns_on_the_send_page_that_art34_is_undecided(page: Page):
    walk = walk_as(page, "ciso")
    with walk.step("Sign off the breach notice"):
        walk.click("#waiting-for-you a:has-text('Breach notice to everyone affected')")
        walk.click("input[value='Sign off']")
        expect(page.locator(".messagelist")).to_contain_text("as CISO")
    with walk.step("Open the send page: what stops it, and where that is decided"):
        walk.click("text=Send…")
        expect(page.locator("#send-blockers")).to_contain_text("Art. 34 decision")
        expect(page.locator("input[value=Send]")).to_have_count(0)
        walk.click("#send-blockers a:has-text('Record the Art. 34 decision')")
        expect(page.locator("#id_art34_decision")).to_be_visible()
    assert walk.violations == []


def test_dpo_records_the_art33_and_art34_decisions(page: Page):
    walk = walk_as(page, "dpo")
    incident = Incident.objects.get(title=STORY_TITLE)
    with walk.step("Record the Art. 33/34 decisions"):
        walk.click(f"#waiting-for-you a[href$='/incident/{incident.pk}/decide/']")
        walk.choose("#id_art33_decision", "notify")
        walk.choose("#id_art34_decision", "notify")
        walk.click("input[value=Save]")
        expect(page.locator(".messagelist")).to_contain_text("Recorded: Art. 33, Art. 34.")
    assert walk.violations == []


def test_auditor_reads_the_incident_room_and_the_held_campaigns(page: Page):
    walk = walk_as(page, "auditor")
    with walk.step("Read the incident room"):
        walk.click(f"#incidents-dashboard a:has-text('{STORY_TITLE}')")
        expect(page.locator("#incident-summary h2")).to_contain_text("Status:")
    with walk.step("Read the campaign holds"):
        walk.click("#nav-sidebar a[href$='/campaigns/campaignhold/']")
        expect(page.locator("#result_list")).to_contain_text(STORY_TITLE)
    assert walk.violations == []


def test_call_centre_agent_looks_a_caller_up_by_reference(page: Page):
    walk = walk_as(page, "agent")
    with walk.step("Look a caller up by the reference they quote"):
        walk.click("text=Look a caller up by the reference on their letter or email")
        walk.type("#id_reference", "BD-0000-0000")
        walk.click("input[type=submit][value='Look up']")
        expect(page.locator("#content-main")).to_be_visible()
    assert walk.violations == []


def counts_table() -> str:
    lines = [
        "| Role | Step | Pages | Clicks |",
        "|---|---|---:|---:|",
        *(
            f"| {ROLE_NAMES[role]} | {step} | {pages} | {clicks} |"
            for role, step, pages, clicks in COUNTS
        ),
    ]
    return "\n".join(lines)


def test_the_readme_shows_the_pages_and_clicks_the_journeys_took():
    """Last in the module: the README's table is the one just counted (UPDATE_README=1
    writes it)."""
    if set(ROLES) != WALKED:
        pytest.skip("Only some journeys ran; the README table needs all of them.")
    table = f"{START}\n{counts_table()}\n{END}"
    text = README.read_text()
    if os.environ.get("UPDATE_README"):
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), table, text, flags=re.S)
        README.write_text(text)
    assert table in text, (
        "README's journey table differs from what the browser tests counted; rerun "
        "tests/browser/test_role_journeys.py with UPDATE_README=1.\n" + table
    )
