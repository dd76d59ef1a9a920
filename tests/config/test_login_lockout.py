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


def sign_in_from(client, address: str, username: str, password: str, **headers: str):
    return client.post(
        "/login/",
        {"username": username, "password": password, "next": "/"},
        REMOTE_ADDR=address,
        **headers,
    )


def test_spraying_many_usernames_from_one_client_locks_that_client(client, cmo, settings):
    settings.LOGIN_CLIENT_FAILURE_LIMIT = 12
    # Two guesses at each of six names: no name reaches its own limit of five.
    for name in ("alice", "bob", "carol", "dave", "erin", "frank") * 2:
        sign_in_from(client, "203.0.113.9", name, "Summer2026!")

    assert sign_in_from(client, "203.0.113.9", "cmo", "a-long-test-password").status_code == 429
    # The same person from their own desk is not affected.
    assert sign_in_from(client, "198.51.100.7", "cmo", "a-long-test-password").status_code == 302


def test_an_insider_signing_in_between_guesses_does_not_reset_the_spraying_count(
    client, cmo, make_user, settings
):
    settings.LOGIN_CLIENT_FAILURE_LIMIT = 8
    make_user("insider", roles.MARKETING_OPERATOR)
    for round_ in range(2):
        for name in ("alice", "bob", "carol", "dave"):
            sign_in_from(client, "203.0.113.9", name, f"guess-{round_}")
        if round_ == 0:
            signed_in = sign_in_from(client, "203.0.113.9", "insider", "a-long-test-password")
            assert signed_in.status_code == 302
            client.logout()

    assert sign_in_from(client, "203.0.113.9", "insider", "a-long-test-password").status_code == 429


def test_nobody_behind_the_proxy_can_lock_the_cmo_out(client, cmo, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"  # every request reaches the application from the proxy
    for _ in range(6):
        sign_in_from(client, proxy, "cmo", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9")

    # The attacker is locked out; the CMO, from her own address, signs in.
    locked = sign_in_from(
        client, proxy, "cmo", "a-long-test-password", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert locked.status_code == 429
    mine = sign_in_from(
        client, proxy, "cmo", "a-long-test-password", HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    assert mine.status_code == 302


def test_a_forwarded_for_the_client_writes_itself_does_not_escape_the_count(client, cmo, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        # The proxy appends the real address after whatever the client sent.
        forged = f"192.0.2.{n}, 203.0.113.9"
        sign_in_from(client, "10.0.0.2", "cmo", "wrong", HTTP_X_FORWARDED_FOR=forged)

    again = sign_in_from(
        client,
        "10.0.0.2",
        "cmo",
        "a-long-test-password",
        HTTP_X_FORWARDED_FOR="192.0.2.77, 203.0.113.9",
    )
    assert again.status_code == 429
