from collections.abc import Iterator
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from config.demo import DEMO_USERS
from config.roles import ROLES
from tests.conftest import kept_for_the_module


def snapshot():
    users = get_user_model().objects.order_by("username")
    return [
        (u.username, u.password, u.is_staff, u.is_superuser, sorted(g.name for g in u.groups.all()))
        for u in users
    ]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The demo, seeded once for the module (the story takes seconds); what it printed."""
    out = StringIO()
    with kept_for_the_module(django_db_blocker), override_settings(DEBUG=True):
        call_command("seed_demo", stdout=out)
        yield out.getvalue()


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_data(seeded, settings, capsys):
    settings.DEBUG = True
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first
    assert sorted(groups[0] for *_, groups in first) == sorted(ROLES)
    assert all(len(groups) == 1 and not superuser for *_, superuser, groups in first)


def test_seed_demo_prints_each_users_credentials(seeded):
    out = seeded
    for demo in DEMO_USERS:
        assert demo.username in out and demo.password in out and demo.role in out


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug(settings):
    before = snapshot()
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("demo", DEMO_USERS, ids=lambda d: d.username)
def test_each_demo_user_logs_in_with_the_printed_password(seeded, client, demo):
    response = client.post(
        "/login/", {"username": demo.username, "password": demo.password, "next": "/"}
    )
    assert response.status_code == 302, response.content[:500]
    index = client.get("/")
    assert index.status_code == 200
    assert "Breachdesk" in index.text
    user = index.context["user"]
    assert not user.is_superuser
    assert [g.name for g in user.groups.all()] == [demo.role]


def test_every_page_needs_login(client):
    for url in ("/", "/auth/user/", "/django_q/ormq/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_login_page_names_the_instance(client, settings):
    settings.INSTANCE_NAME = "staging-eu"
    page = client.get("/login/").text
    assert "staging-eu" in page
    assert "Breachdesk" in page


def test_health_check_answers_without_login(client):
    assert client.get("/healthz").text == "ok"
