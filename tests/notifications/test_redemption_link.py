"""The `redemption_link` variable: each person's signed link to say they redeemed their
code, carried by the email as it is received, followed without a login and recorded once;
nobody without a code gets one, and previews show only a stand-in."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from customers.models import Touchpoint
from notifications.models import Delivery, Notification, RemediationCode
from notifications.recovery.responses import redemption_token_read
from notifications.selectors import PREVIEW_REDEMPTION_LINK, communication_previews
from notifications.services.codes import codes_import

from .delivery_helpers import message_parts, signed_off, wave_send
from .factories import (
    CODE_TEXT,
    IncidentFactory,
    MessageTemplateFactory,
    TemplateVersionFactory,
    affected,
    bodies_for,
)

pytestmark = pytest.mark.django_db

LINK_TEXT = "\n{% if redemption_link %}Used your code? Tell us: {{ redemption_link }}{% endif %}\n"
LINK_HTML = (
    '{% if redemption_link %}<p><a href="{{ redemption_link }}">Tell us you used your code</a>'
    "</p>{% endif %}"
)
REDEEM = re.compile(r"https?://[^\s\"<>]+/recovery/redeem/[^\s\"<>/]+/")


def version(incident, *, with_code: bool):
    bodies = bodies_for(["credentials"])
    code = CODE_TEXT if with_code else ""
    return TemplateVersionFactory.create(
        template=MessageTemplateFactory.create(incident=incident),
        language="en",
        data_categories=["credentials"],
        text_body=bodies["text_body"] + code + LINK_TEXT,
        html_body=bodies["html_body"] + f"<p>{code}</p>" + LINK_HTML,
        approved=True,
    )


@pytest.fixture
def world(smtp_server, marketing, cmo, ciso):
    """Two German customers given a code by the notice (which prints it and the link), a
    British one outside the notice's audience; then a reminder to all three that prints the
    link but no code, so it gives no codes of its own."""
    incident = IncidentFactory.create()
    people = {
        "anna": affected(incident, "en", ["credentials"], country="DE"),
        "bert": affected(incident, "en", ["credentials"], country="DE"),
        "cleo": affected(incident, "en", ["credentials"], country="GB"),
    }
    codes_import(
        incident_id=incident.pk,
        actor=cmo,
        csv_text="code,vendor,expiry,link\n"
        "CM-1,Monitor Ltd,2027-06-30,https://monitor.example/redeem\n"
        "CM-2,Monitor Ltd,2027-06-30,https://monitor.example/redeem\n",
    )
    notice = signed_off(
        incident,
        [version(incident, with_code=True)],
        author=marketing,
        cmo=cmo,
        ciso=ciso,
        audience_countries=["DE"],
    )
    reminder = signed_off(
        incident,
        [version(incident, with_code=False)],
        author=marketing,
        cmo=cmo,
        ciso=ciso,
        name="Reminder",
    )
    return incident, notice, reminder, people


def token(link: str) -> int:
    """The code a link stands for, as the redemption page reads it."""
    return redemption_token_read(urlsplit(link).path.rstrip("/").rsplit("/", 1)[1]).pk


def received(smtp_server, communication, customer) -> tuple[str, str]:
    message_id = Notification.objects.get(communication=communication, customer=customer).message_id
    [message] = [m for m in smtp_server.messages if m["Message-ID"] == message_id]
    return message_parts(message)


def test_the_received_email_carries_a_link_that_records_the_redemption_once(
    client, smtp_server, world, cmo
):
    _incident, notice, reminder, people = world
    wave_send(notice, cmo)
    wave_send(reminder, cmo)
    assert Delivery.objects.filter(status=Delivery.Status.COMPLETED).count() == 2
    anna_code = RemediationCode.objects.get(notification__customer=people["anna"])
    # The reminder prints no code: nobody was given a second one.
    assert RemediationCode.objects.filter(notification__isnull=False).count() == 2

    links = []
    for communication in (notice, reminder):
        plain, html = received(smtp_server, communication, people["anna"])
        in_text, in_html = REDEEM.findall(plain), REDEEM.findall(html)
        assert len(in_text) == 1 and in_html == in_text, communication
        links.append(in_text[0])
    # The reminder links to the code the notice gave (the signature carries its time, so
    # the two links need not be the same string).
    assert {token(link) for link in links} == {anna_code.pk}
    link = links[1]

    path = urlsplit(link).path
    assert client.get(path).status_code == 200
    redeemed = Touchpoint.objects.filter(kind=Touchpoint.Kind.CODE_REDEEMED)
    assert not redeemed.exists()  # opening the link (a mail scanner) redeems nothing
    answer = client.post(path)
    assert answer.status_code == 302
    assert answer["Location"] == "https://monitor.example/redeem"
    touchpoint = redeemed.get()
    assert touchpoint.customer_id == people["anna"].pk
    assert touchpoint.reference == f"remediation code:{anna_code.pk}"
    replay = client.post(path)
    assert replay.status_code == 400
    assert "redeemed already" in replay.content.decode()
    assert redeemed.count() == 1

    # Bert's link is his own; Cleo has no code, so her reminder has no link and no blank.
    bert_plain, _html = received(smtp_server, reminder, people["bert"])
    [bert_link] = REDEEM.findall(bert_plain)
    assert token(bert_link) == RemediationCode.objects.get(notification__customer=people["bert"]).pk
    cleo_plain, cleo_html = received(smtp_server, reminder, people["cleo"])
    for part in (cleo_plain, cleo_html):
        assert "/recovery/redeem/" not in part and "Tell us" not in part


def test_previews_show_a_stand_in_never_a_person_s_link(smtp_server, world, cmo):
    _incident, notice, reminder, people = world
    wave_send(notice, cmo)
    for masked in (True, False):
        previews = communication_previews(
            communication=reminder, customer_ids=[p.pk for p in people.values()], masked=masked
        )
        assert len(previews) == 3
        for preview in previews:
            assert preview.message is not None, preview.error
            for part in (preview.message.text, preview.message.html):
                assert PREVIEW_REDEMPTION_LINK in part
                assert "/recovery/redeem/" not in part


def test_authors_see_the_variable_and_the_checks_accept_it(client, marketing):
    client.force_login(marketing)
    page = client.get(reverse("admin:notifications_templateversion_add")).content.decode()
    assert "{{ redemption_link }}" in page
    assert "which tells us they did" in page
    template = MessageTemplateFactory.create()
    bodies = bodies_for(["credentials"])
    answer = client.post(
        reverse("admin:notifications_templateversion_add"),
        {
            "template": template.pk,
            "channel": "email",
            "language": "en",
            "data_categories": ["credentials"],
            "subject": "About your code",
            "text_body": bodies["text_body"] + LINK_TEXT,
            "html_body": bodies["html_body"] + LINK_HTML,
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
