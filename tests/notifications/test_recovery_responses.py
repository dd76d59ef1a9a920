"""The person's response, recorded as touchpoints: the signed redemption link (replayed or
forged: refused), the vendor's redemption file and the identity system's resets (unknown
ids listed and left alone), and the identity webhook (unsigned, stale or forged: refused)."""

import json
import time
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from customers.models import SourceRecord, Touchpoint
from incidents.models import TimelineEvent
from notifications.models import Notification, RemediationCode
from notifications.recovery.responses import (
    codes_redeemed_import,
    identity_signature,
    password_resets_import,
    redemption_token,
)

from .factories import IncidentFactory, affected

pytestmark = pytest.mark.django_db


@pytest.fixture
def codes(marketing, cmo, ciso):
    """Three people of an incident, each given a code by a breach message."""
    from .delivery_helpers import signed_off
    from .factories import approved

    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    people = [affected(incident, "en", ["credentials"]) for _ in range(3)]
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    given = []
    for n, person in enumerate(people):
        notification = Notification.objects.create(
            communication=communication,
            customer=person,
            channel="email",
            status=Notification.Status.SENT,
            email=person.email,
        )
        given.append(
            RemediationCode.objects.create(
                incident=incident,
                code=f"CM-{n:04d}",
                vendor="Monitor Ltd",
                expires_on=datetime(2027, 12, 31, tzinfo=UTC).date(),
                notification=notification,
                redeem_url="https://monitor.example/redeem",
            )
        )
    RemediationCode.objects.create(
        incident=incident, code="CM-FREE", vendor="Monitor Ltd", expires_on=given[0].expires_on
    )
    return incident, people, given


def redeemed(customer) -> int:
    return Touchpoint.objects.filter(customer=customer, kind=Touchpoint.Kind.CODE_REDEEMED).count()


def test_the_redemption_link_records_once_and_refuses_a_replay(client, codes):
    _incident, people, given = codes
    url = reverse("recovery:redeem", args=[redemption_token(code_id=given[0].pk)])
    page = client.get(url)
    assert page.status_code == 200
    assert redeemed(people[0]) == 0  # a mail scanner opening the link redeems nothing
    answer = client.post(url)
    assert answer.status_code == 302
    assert answer["Location"] == "https://monitor.example/redeem"
    assert redeemed(people[0]) == 1
    replay = client.post(url)
    assert replay.status_code == 400
    assert "redeemed already" in replay.content.decode()
    assert redeemed(people[0]) == 1


def test_a_forged_or_unassigned_redemption_link_is_refused(client, codes):
    _incident, _people, given = codes
    token = redemption_token(code_id=given[1].pk)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, redemption_token(code_id=RemediationCode.objects.get(code="CM-FREE").pk)):
        answer = client.post(reverse("recovery:redeem", args=[bad]))
        assert answer.status_code == 400
        assert "not valid" in answer.content.decode()
    assert Touchpoint.objects.filter(kind=Touchpoint.Kind.CODE_REDEEMED).count() == 0


def test_the_vendor_file_lists_unknown_codes_and_changes_nothing_for_them(codes, marketing):
    incident, people, _given = codes
    outcome = codes_redeemed_import(
        csv_text="code,redeemed_at\nCM-0000,2026-11-25T10:00:00Z\nNOPE-1,\nCM-FREE,\nCM-0002,\n",
        source="monitor-2026-12.csv",
        actor=marketing,
    )
    assert (outcome.recorded, outcome.already) == (2, 0)
    assert outcome.unknown == [(3, "NOPE-1"), (4, "CM-FREE")]
    assert "line 3: 'NOPE-1'" in outcome.summary("redemptions")
    assert [redeemed(p) for p in people] == [1, 0, 1]
    assert RemediationCode.objects.get(code="CM-FREE").redeemed_at is None
    again = codes_redeemed_import(
        csv_text="code\nCM-0000\n", source="monitor-2026-12.csv", actor=marketing
    )
    assert (again.recorded, again.already) == (0, 1)
    event = TimelineEvent.objects.filter(incident=incident, kind="recovery.responses_recorded")
    assert event.earliest("pk").payload["people"] == 2


def test_a_bad_line_refuses_the_whole_file(codes, marketing):
    _incident, _people, _given = codes
    with pytest.raises(ValidationError) as refused:
        codes_redeemed_import(
            csv_text="code,redeemed_at\nCM-0000,\nCM-0001,yesterday\n,\n",
            source="bad.csv",
            actor=marketing,
        )
    assert refused.value.messages == [
        "line 3: redeemed_at 'yesterday' is not a date and time (ISO 8601)",
        "line 4: code is empty",
    ]
    assert Touchpoint.objects.filter(kind=Touchpoint.Kind.CODE_REDEEMED).count() == 0


def test_the_identity_file_lists_unknown_ids(codes, marketing):
    _incident, people, _given = codes
    SourceRecord.objects.create(customer=people[1], source="identity", external_id="u-77")
    outcome = password_resets_import(
        csv_text="external_id,reset_at\nu-77,2026-11-24T08:00:00Z\nu-404,\n",
        source="identity",
        actor=marketing,
    )
    assert (outcome.recorded, outcome.unknown) == (1, [(3, "u-404")])
    assert Touchpoint.objects.get(kind=Touchpoint.Kind.PASSWORD_RESET).customer_id == people[1].pk


def test_only_those_allowed_import_responses(codes, legal):
    with pytest.raises(ValidationError, match="may not import"):
        codes_redeemed_import(csv_text="code\nCM-0000\n", source="x", actor=legal)


def _signed(body: bytes, secret: str = "s3cret", at: int | None = None) -> dict[str, str]:  # noqa: S107
    timestamp = str(int(time.time()) if at is None else at)
    return {
        "HTTP_X_BREACHDESK_TIMESTAMP": timestamp,
        "HTTP_X_BREACHDESK_SIGNATURE": identity_signature(
            timestamp=timestamp, body=body, secret=secret
        ),
    }


def test_the_identity_webhook_records_resets_and_refuses_what_is_not_signed(
    client, codes, settings
):
    settings.RECOVERY_IDENTITY_WEBHOOK_SECRET = "s3cret"
    _incident, people, _given = codes
    SourceRecord.objects.create(customer=people[2], source="identity", external_id="u-9")
    url = reverse("recovery:identity_resets")
    body = json.dumps({"resets": [{"id": "u-9", "reset_at": "2026-11-24T08:00:00Z"}]}).encode()

    forged = client.post(url, body, content_type="application/json", **_signed(body, "guess"))
    stale = client.post(
        url, body, content_type="application/json", **_signed(body, at=int(time.time()) - 3600)
    )
    unsigned = client.post(url, body, content_type="application/json")
    assert [forged.status_code, stale.status_code, unsigned.status_code] == [403, 403, 403]
    assert not Touchpoint.objects.filter(kind=Touchpoint.Kind.PASSWORD_RESET).exists()

    answer = client.post(url, body, content_type="application/json", **_signed(body))
    assert answer.status_code == 200
    assert answer.json() == {"recorded": 1, "already": 0, "unknown": []}
    again = client.post(url, body, content_type="application/json", **_signed(body))
    assert again.json() == {"recorded": 0, "already": 1, "unknown": []}
    assert Touchpoint.objects.get(kind=Touchpoint.Kind.PASSWORD_RESET).customer_id == people[2].pk

    unknown = json.dumps({"resets": [{"id": "u-nobody"}]}).encode()
    answer = client.post(url, unknown, content_type="application/json", **_signed(unknown))
    assert answer.json()["unknown"] == ["u-nobody"]
    broken = b'{"resets": [{"reset_at": "2026-11-24"}]}'
    answer = client.post(url, broken, content_type="application/json", **_signed(broken))
    assert answer.status_code == 400
    assert "reset 1: id is missing" in answer.json()["error"]


def test_the_identity_webhook_without_a_secret_refuses_everything(client, settings):
    settings.RECOVERY_IDENTITY_WEBHOOK_SECRET = ""
    body = b'{"resets": []}'
    answer = client.post(
        reverse("recovery:identity_resets"),
        body,
        content_type="application/json",
        **_signed(body, ""),
    )
    assert answer.status_code == 403
