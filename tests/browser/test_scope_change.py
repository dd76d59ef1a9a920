"""A scope change in the browser: the form adds by default, and every change is previewed."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from config.demo_story import STORY_TITLE
from customers.models import Customer
from incidents.models import AffectedCustomer, Incident
from tests.browser.test_incident_room import serious
from tests.browser.test_journeys import as_user, demo  # noqa: F401 (fixture)


def _list(tmp_path: Path, name: str, emails: list[str]) -> str:
    path = tmp_path / name
    path.write_text("account_email\n" + "".join(f"{e}\n" for e in emails))
    return str(path)


@pytest.mark.usefixtures("demo")
def test_a_forensic_list_added_with_the_defaults_removes_nobody_and_a_replace_waits(
    page: Page, tmp_path: Path
):
    incident = Incident.objects.get(title=STORY_TITLE)
    scoped = AffectedCustomer.objects.filter(incident=incident)
    before = scoped.count()
    outside = list(
        Customer.objects.exclude(pk__in=scoped.values("customer_id"))
        .exclude(email_normalized="")
        .values_list("email_normalized", flat=True)[:2]
    )
    as_user(page, "analyst")

    page.click(f"#incidents-dashboard a:has-text('{STORY_TITLE}')")
    page.click("text=Set scope")
    page.set_input_files("#id_forensic_list", _list(tmp_path, "more.csv", outside))
    page.click("input[value='Preview the change']")
    expect(page.locator("#preview-added")).to_have_text("2")
    expect(page.locator("#preview-removed")).to_have_text("0")
    assert scoped.count() == before
    page.click("input[value='Add to the scope']")
    expect(page.locator(".messagelist")).to_contain_text("2 added, 0 removed")
    assert scoped.count() == before + 2

    page.click("text=Set scope")
    page.set_input_files("#id_forensic_list", _list(tmp_path, "only.csv", outside[:1]))
    page.check("input[name=mode][value=replace]")
    page.click("input[value='Preview the change']")
    expect(page.locator("#preview-added")).to_have_text("0")
    expect(page.locator("#preview-removed")).to_have_text(str(before + 1))
    expect(page.locator("#preview-total")).to_have_text(f"{before + 2} → 1")
    expect(page.locator("#preview-campaigns")).to_be_visible()
    assert serious(page) == [], "scope preview"
    assert scoped.count() == before + 2
    page.click("text=Cancel, change nothing")
    expect(page.locator("#incident-scope h2")).to_have_text(
        f"Scope: {before + 2} affected customers"
    )
    assert scoped.count() == before + 2
