"""The incident room and the cockpit in a browser: reached by clicks, screenshots at desktop
and phone widths for the README, and axe-core finds no serious or critical violation."""

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from config.demo_story import STORY_TITLE
from tests.browser.conftest import screenshot
from tests.browser.test_journeys import as_user, demo  # noqa: F401 (fixture)

AXE = Axe()


def serious(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page, each with where it is."""
    results: Any = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.usefixtures("demo")
def test_the_ciso_opens_the_incident_room_from_the_cockpit_at_desktop_and_phone_width(
    page: Page,
):
    as_user(page, "ciso")
    for width, height, suffix in ((1440, 900, "1440"), (390, 844, "390")):
        page.set_viewport_size({"width": width, "height": height})
        if suffix == "390":
            page.click("#site-name a")
        expect(page.locator("#incidents-dashboard")).to_contain_text(STORY_TITLE)
        story = page.locator("#incidents-dashboard tr", has_text=STORY_TITLE)
        expect(story.locator(".bd-affected")).to_have_text(re.compile(r"^\d[\d,]*$"))
        expect(story.locator(".bd-waiting-on")).to_contain_text("CMO")
        # On a phone too, the deadline and the people affected are on the screen, not
        # beside it: the incident is a card, its cells stacked.
        for essential in ("td.countdown", ".bd-affected", ".bd-waiting-on"):
            box = story.locator(essential).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (essential, box)
        screenshot(page, f"cockpit-{suffix}", for_readme=True)
        page.click(f"#incidents-dashboard a:has-text('{STORY_TITLE}')")
        expect(page.locator("#incident-summary h2")).to_contain_text("Status:")
        expect(page.locator("#incident-timeline")).to_contain_text("Communication drafted")
        expect(page.locator("#edit-facts")).not_to_have_attribute("open", "")
        expect(page.locator("#incident-waves")).to_contain_text("How far the breach messages")
        screenshot(page, f"incident-room-{suffix}", for_readme=True)

    page.set_viewport_size({"width": 1440, "height": 900})
    assert serious(page) == [], "incident room"
    page.click("#site-name a")
    assert serious(page) == [], "cockpit"
