"""Every page a role may open is reached by clicks from its dashboard, never by typing a URL.

A crawler signs in as each role, starts at the dashboard and follows every link and every
GET form it finds (what a person can click), visiting a few pages per admin URL. What it
reaches must include every admin page and custom view the permission matrix grants that
role; a page reachable only by typing its address fails the test, naming it.
"""

from collections import Counter, deque
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import Resolver404, resolve

from config import roles
from customers.models import ImportJob
from notifications.models import LetterBatch
from notifications.services import communication_create
from tests.conftest import kept_for_the_module

from .test_permission_matrix import ACTIONS, APPS, CUSTOM_VIEWS, PAGES, REDIRECTS
from .world import World, world_build

pytestmark = pytest.mark.django_db

# Pages opened per admin URL name: enough to meet each kind of object the world holds
# (a draft and a submitted template version lead to different buttons).
VISITS_PER_URL = 4
# Links that are not pages: leaving, deleting, history, and the admin's own plumbing.
SKIPPED = ("logout", "delete", "history", "jsi18n", "autocomplete", "password_change")


class _Clickables(HTMLParser):
    """The hrefs of links and the actions of GET forms on a page; action choices too."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.actions: set[str] = set()
        self._in_action_select = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.targets.append(found["href"] or "")
        elif tag == "form" and (found.get("method") or "get").lower() == "get":
            self.targets.append(found.get("action") or "")
        elif tag == "select":
            self._in_action_select = found.get("name") == "action"
        elif tag == "option" and self._in_action_select and found.get("value"):
            self.actions.add(found["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._in_action_select = False


def crawl(client: Any) -> tuple[set[str], dict[str, set[str]]]:
    """(admin URL names reached, {changelist URL name: actions offered there})."""
    reached: set[str] = set()
    offered: dict[str, set[str]] = {}
    visits: Counter[str] = Counter()
    queue, queued = deque(["/"]), {"/"}
    while queue:
        url = queue.popleft()
        try:
            name = resolve(urlsplit(url).path).url_name or ""
        except Resolver404:
            continue
        if visits[name] >= VISITS_PER_URL:
            continue
        visits[name] += 1
        response = client.get(url)
        if response.status_code in (301, 302):
            location = urljoin(url, response["Location"])
            if location not in queued and urlsplit(location).netloc in ("", "testserver"):
                queued.add(location)
                queue.append(location)
            reached.add(name)
            continue
        if response.status_code != 200:
            continue
        reached.add(name)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        page = _Clickables()
        page.feed(response.content.decode())
        if page.actions:
            offered.setdefault(name, set()).update(page.actions)
        for target in page.targets:
            absolute = urljoin(url, target).split("#")[0]
            parts = urlsplit(absolute)
            if parts.netloc not in ("", "testserver") or parts.scheme not in ("", "http"):
                continue
            # A list's sortings and filters are the same page: one visit without them.
            local = parts.path
            if local in queued or any(word in parts.path for word in SKIPPED):
                continue
            if parts.path.startswith(("/static/", "/media/")):
                continue
            queued.add(local)
            queue.append(local)
    return reached, offered


def allowed_pages(role: str) -> set[str]:
    """Admin URL names the matrix lets `role` open (lists, add and change pages, views)."""
    names: set[str] = set()
    for label, (readers, adders) in PAGES.items():
        app_label, model_name = label.lower().split(".")
        if app_label.lower() not in APPS:
            continue
        model = next(m for m in admin.site._registry if m._meta.label_lower == label.lower())
        if role in readers:
            names.add(f"{app_label}_{model_name}_changelist")
            if model._default_manager.exists():
                names.add(f"{app_label}_{model_name}_change")
        if role in adders:
            names.add(f"{app_label}_{model_name}_add")
    # A download shows its link once its file is ready, and only to who may take it (an
    # export's requester): tests/customers and tests/incidents click those links.
    names |= {
        name for name, (_, who) in CUSTOM_VIEWS.items() if role in who and name not in REDIRECTS
    }
    return names


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with kept_for_the_module(django_db_blocker):
        world = world_build()
        # Links show for the states that have them: an import with rejected rows, letters
        # built, a communication not sent yet.
        ImportJob.objects.filter(pk=world.import_job.pk).update(rejected=1)
        LetterBatch.objects.filter(pk=world.letter_batch.pk).update(status=LetterBatch.Status.READY)
        communication_create(
            incident_id=world.incident.pk,
            actor=get_user_model().objects.get(username="world-owner"),
            name="Follow-up not sent yet",
            channels=["email"],
            send_window_start=world.communication.send_window_start,
            send_window_end=world.communication.send_window_end,
            fallback_language="en",
            version_ids=list(world.communication.versions.values_list("pk", flat=True)),
            audience_data_categories=["contact"],
        )
        yield world


@pytest.mark.parametrize("role", roles.ROLES)
def test_every_page_a_role_may_open_is_reached_by_clicks_from_its_dashboard(client, world, role):
    user = get_user_model().objects.create(username=role.lower().replace(" ", "-"), is_staff=True)
    user.groups.set(Group.objects.filter(name=role))
    client.force_login(user)

    reached, offered = crawl(client)

    unreached = sorted(allowed_pages(role) - reached)
    assert unreached == [], f"{role} reaches these only by typing their URL: {unreached}"
    for label, actions in ACTIONS.items():
        changelist = label.lower().replace(".", "_") + "_changelist"
        wanted = {action for action, who in actions.items() if role in who}
        assert wanted <= offered.get(changelist, set()), (label, wanted)
