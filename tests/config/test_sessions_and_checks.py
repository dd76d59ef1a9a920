import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from config import roles


@pytest.fixture
def signed_in(client, make_user):
    client.force_login(make_user("cmo", roles.CMO))
    assert client.get("/").status_code == 200
    return client


def test_a_session_idle_past_the_limit_is_signed_out(signed_in, settings):
    settings.SESSION_IDLE_SECONDS = 1
    time.sleep(1.2)
    response = signed_in.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert signed_in.get("/").status_code == 302


def test_activity_keeps_a_session_alive_within_the_idle_limit(signed_in, settings, monkeypatch):
    monkeypatch.setattr("config.middleware._TOUCH_EVERY_SECONDS", 0)
    settings.SESSION_IDLE_SECONDS = 2
    for _ in range(3):
        time.sleep(0.8)
        assert signed_in.get("/").status_code == 200


def test_a_request_within_the_minute_writes_no_session(signed_in, django_assert_max_num_queries):
    with django_assert_max_num_queries(20) as captured:
        assert signed_in.get("/").status_code == 200
    assert not [q for q in captured.captured_queries if q["sql"].startswith("UPDATE")]


def test_session_expiry_is_fixed_at_sign_in_not_renewed(signed_in, settings):
    first_expiry = signed_in.session.get_expiry_date()
    remaining = (first_expiry - timezone.now()).total_seconds()
    assert settings.SESSION_COOKIE_AGE - 60 < remaining <= settings.SESSION_COOKIE_AGE
    time.sleep(1.1)
    signed_in.get("/")
    assert signed_in.session.get_expiry_date() == first_expiry


def test_security_headers_are_on_every_response(client, signed_in):
    for response in (client.get("/login/"), signed_in.get("/"), client.get("/healthz")):
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_deploy_check_fails_when_a_second_superuser_exists():
    users = get_user_model().objects
    users.create_superuser("breakglass", password="a-long-test-password")
    call_command("check", "--database", "default", "--tag", "security")
    users.create_superuser("convenience", password="a-long-test-password")
    with pytest.raises(SystemCheckError, match="2 superusers exist"):
        call_command("check", "--database", "default", "--tag", "security")
