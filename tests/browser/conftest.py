"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against live_server.

No browser is downloaded: when Chromium is missing these tests are skipped and pytest's
summary says so (`make test` prints the reason; `.ci/run` installs Chromium first).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = settings.VAR_DIR / "screenshots"
README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Chromium is not installed (apt-get install chromium): browser tests skipped",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread while the module's tests
    # run; their ORM calls between page actions are still synchronous and safe. The
    # variable is set only meanwhile, so no later subprocess inherits it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def screenshot(page: Page, name: str, *, for_readme: bool = False) -> Path:
    """Save what the page shows under var/screenshots/. The README's pictures are the
    viewport only, and land in docs/screenshots/ when UPDATE_SCREENSHOTS is set, so that an
    ordinary test run leaves the committed ones alone."""
    folder = SCREENSHOTS
    if for_readme and os.environ.get("UPDATE_SCREENSHOTS"):
        folder = README_SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=not for_readme)
    return path
