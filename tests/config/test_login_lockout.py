import pytest

from config import roles


@pytest.fixture
def cmo(make_user):
    return make_user("cmo", roles.CMO)


def sign_in(client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password, "next": "/"})


def test_repeated_failures_lock_the_username_even_with_the_right_password(client, cmo):
    for _ in range(4):
        assert sign_in(client, "cmo", "wrong-password").status_code == 200
    assert sign_in(client, "cmo", "wrong-password").status_code == 429  # the fifth failure
    locked = sign_in(client, "cmo", "a-long-test-password")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.text
    assert client.get("/").status_code == 302  # still not signed in


def test_a_lockout_does_not_touch_other_users(client, cmo, make_user):
    make_user("ciso", roles.CISO)
    for _ in range(5):
        sign_in(client, "cmo", "wrong-password")
    assert sign_in(client, "ciso", "a-long-test-password").status_code == 302


def test_a_successful_sign_in_clears_earlier_failures(client, cmo):
    for _ in range(4):
        sign_in(client, "cmo", "wrong-password")
    assert sign_in(client, "cmo", "a-long-test-password").status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "cmo", "wrong-password")
    assert sign_in(client, "cmo", "a-long-test-password").status_code == 302
