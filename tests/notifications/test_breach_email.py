"""A breach email as its recipient gets it: parsed from the bytes the SMTP server took."""

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from config import roles
from config.company import company_profile_update
from config.models import CompanyProfileChange, company_profile
from incidents.models import Obligation, Regime, TimelineEvent
from notifications.selectors import communication_sign_off_blockers
from notifications.services.codes import codes_import
from notifications.services.delivery import DeliveryError, communication_send

from .delivery_helpers import drafted, message_parts, signed_off, wave_send
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
GERMAN_NATURE = "Unbekannte haben unsere Kundendatenbank kopiert."


@pytest.fixture
def company(db):
    return company_profile_update(
        actor=None,
        values={
            "legal_name": "Nordwind Versand GmbH",
            "address_lines": "Hafenstraße 12",
            "postal_code": "39104",
            "city": "Magdeburg",
            "country": "DE",
            "registration": "Amtsgericht Stendal HRB 4711",
            "sender_name": "Nordwind Kundenservice",
            "sender_email": "service@nordwind-versand.de",
            "reply_to": "datenschutz@nordwind-versand.de",
            "genuine_check_url": "https://www.nordwind-versand.de/sicherheit",
            "dpo_name": "Dr. Jana Weber",
            "dpo_email": "dpo@nordwind-versand.de",
            "default_language": "en",
            "country_languages": {"DE": "de", "FR": "fr"},
        },
    )


@pytest.fixture
def world(company, marketing, cmo, ciso):
    incident = IncidentFactory.create()
    incident.facts_translations["de"] = {
        **incident.facts_translations["de"],
        "nature": GERMAN_NATURE,
    }
    incident.save(update_fields=["facts_translations"])
    regime = Regime.objects.get(code="uk-gdpr-art33")
    Obligation.objects.create(
        incident=incident, regime=regime, name=regime.name, recipient=regime.recipient, terms={}
    )
    versions = [approved(incident, lang, ["payment_card"]) for lang in ("en", "de")]
    people = {
        "de": affected(incident, "de", ["payment_card"], country="DE"),
        # No language of their own: the country's (German) applies, not the company's.
        "de-by-country": affected(incident, "", ["payment_card"], country="DE"),
        "gb": affected(incident, "en", ["payment_card"], country="GB"),
    }
    rows = ["code,vendor,expiry,link"] + [
        f"CODE-{n},Experian IdentityWorks,2027-06-30,https://www.experianidworks.com/3bcredit"
        for n in range(len(people))
    ]
    codes_import(incident_id=incident.pk, actor=cmo, csv_text="\n".join(rows))
    communication = signed_off(incident, versions, author=marketing, cmo=cmo, ciso=ciso)
    return incident, communication, people


def test_each_person_gets_a_whole_email_in_their_language_with_reference_and_rights(
    smtp_server, world, cmo
):
    incident, communication, people = world
    wave_send(communication, cmo)
    by_recipient = {m["X-Envelope-To"]: m for m in smtp_server.messages}
    assert len(by_recipient) == 3
    for key, expected_lang in (("de", "de"), ("de-by-country", "de"), ("gb", "en")):
        message = by_recipient[people[key].email]
        assert message["From"] == "Nordwind Kundenservice <service@nordwind-versand.de>"
        assert message["Reply-To"] == "datenschutz@nordwind-versand.de"
        plain, html = message_parts(message)
        assert re.search(rf'<html lang="{expected_lang}">', html), key
        assert "<table" in html and "style=" in html and "<style" not in html  # inlined
        for part in (plain, html):
            assert incident.reference in part
            assert "https://www.nordwind-versand.de/sicherheit" in part
            assert "Nordwind Versand GmbH" in part and "39104 Magdeburg" in part
            assert "Experian IdentityWorks" in part and "2027-06-30" in part
            assert "https://www.experianidworks.com/3bcredit" in part
            assert re.search(r"CODE-\d", part)
        if expected_lang == "de":
            for part in (plain, html):
                assert GERMAN_NATURE in part
                assert "Beschwerderecht" in part
                assert "Zahlungskarte" in part
        else:
            for part in (plain, html):
                assert "right to lodge a complaint" in part.replace("\n", " ")
                # The UK resident's authority, as the regime row names it.
                assert "Information Commissioner" in part
                assert incident.nature in part
    # The person's own data categories, as words.
    plain, _html = message_parts(by_recipient[people["gb"].email])
    assert "Payment card" in plain or "payment card" in plain.lower()
    _screenshot(message_parts(by_recipient[people["de"].email])[1])


def _screenshot(html: str) -> None:
    """The German email as a mail client shows it: for the README, and to be looked at."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = SCREENSHOTS / "breach-email.html"
    page.write_text(html, encoding="utf-8")
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=700,1250",
            f"--screenshot={SCREENSHOTS / 'breach-email.png'}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    page.unlink()


def test_a_language_without_its_incident_facts_blocks_the_sign_off(company, marketing):
    incident = IncidentFactory.create(facts_translations={})
    german = approved(incident, "de", ["credentials"])
    affected(incident, "de", ["credentials"])
    communication = drafted(incident, [german], author=marketing)
    blockers = communication_sign_off_blockers(communication=communication)
    assert any("not written in 'de'" in b for b in blockers), blockers


def test_a_placeholder_sender_refuses_the_send_outside_debug(world, cmo, settings):
    _incident, communication, _people = world
    company_profile_update(actor=None, values={"sender_email": "notices@breachdesk.invalid"})
    settings.DEBUG = False
    with pytest.raises(DeliveryError, match="placeholder"):
        communication_send(communication_id=communication.pk, actor=cmo)
    settings.DEBUG = True
    assert company_profile().send_refusal() == ""


@pytest.mark.parametrize(
    "address", ["a@localhost", "a@example.com", "a@mail.example.co.uk", "a@x.invalid"]
)
def test_placeholder_domains_are_recognised(db, address):
    profile = company_profile()
    profile.sender_email = address
    assert profile.sender_problem()


def test_a_profile_change_is_recorded_and_on_open_incidents_timelines(company, make_user):
    incident = IncidentFactory.create()
    dpo = make_user("dora", roles.DPO)
    company_profile_update(actor=dpo, values={"legal_name": "Nordwind Logistik GmbH"})
    change = CompanyProfileChange.objects.first()
    assert change is not None and change.actor_label == dpo.get_username()
    assert change.changes == {"legal_name": ["Nordwind Versand GmbH", "Nordwind Logistik GmbH"]}
    event = TimelineEvent.objects.filter(incident=incident).order_by("-seq").first()
    assert event is not None and event.kind == "company_profile.changed"
    with pytest.raises(ValidationError):
        company_profile_update(actor=dpo, values={"not_a_field": 1})


def test_reference_is_stable_and_names_the_year(db):
    incident = IncidentFactory.create(awareness_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert incident.reference == f"INC-2026-{incident.pk:05d}"


def test_the_dashboard_says_why_nothing_is_sent_outside_debug(client, make_user, settings):
    company_profile_update(actor=None, values={"sender_email": "breachdesk@localhost"})
    settings.DEBUG = False
    client.force_login(make_user("carla", roles.CMO))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Sending is refused" in page
    assert "breachdesk@localhost is a placeholder" in page
    settings.DEBUG = True
    assert "Sending is refused" not in client.get(reverse("admin:index")).content.decode()
