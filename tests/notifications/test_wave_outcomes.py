"""The wave's page says what became of it: sent, delivered, bounced (hard/soft),
complained, letters owed and posted, as counts and a bar; the bounce file upload is linked
from it; the page costs the same queries for three people as for nine."""

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import DeliveryState, LetterBatch, Notification
from notifications.selectors import delivery_outcomes
from notifications.services.delivery import communication_send, delivery_send_batch

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


def sent_wave(settings, marketing, cmo, ciso, people: int):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    for _ in range(people):
        affected(incident, "en", ["credentials"])
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    while delivery_send_batch(delivery_id=delivery.pk).more:
        pass
    return communication


def hear(communication, *states):
    """Set delivery states as applied webhook events leave them."""
    rows = list(Notification.objects.filter(communication=communication).order_by("pk"))
    for row, state in zip(rows, states, strict=False):
        fields = {"delivery_state": state}
        if state == DeliveryState.HARD_BOUNCE:
            fields.update(status=Notification.Status.BOUNCED, bounced_at=timezone.now())
        Notification.objects.filter(pk=row.pk).update(**fields)
    return rows


def test_the_wave_page_counts_what_became_of_each_message(client, settings, marketing, cmo, ciso):
    communication = sent_wave(settings, marketing, cmo, ciso, 6)
    S = DeliveryState
    rows = hear(communication, S.DELIVERED, S.OPENED, S.COMPLAINED, S.SOFT_BOUNCE, S.HARD_BOUNCE)
    posted = LetterBatch.objects.create(
        communication=communication, paper_size="A4", status=LetterBatch.Status.POSTED
    )
    Notification.objects.filter(pk=rows[4].pk).update(letter_batch=posted)
    outcomes = delivery_outcomes(communication_id=communication.pk)
    assert (outcomes.sent, outcomes.delivered, outcomes.opened) == (6, 3, 1)
    assert (outcomes.hard_bounced, outcomes.soft_bounced, outcomes.complained) == (1, 1, 1)
    assert (outcomes.letters_owed, outcomes.letters_posted, outcomes.no_news) == (0, 1, 1)

    client.force_login(cmo)
    page = client.get(
        reverse("admin:notifications_communication_change", args=[communication.pk])
    ).content.decode()
    assert "Delivered: 3 (opened: 1)" in page
    assert "Bounced: 1 hard, 1 soft" in page
    assert "Complained: 1" in page
    assert "Letters owed: 0; posted: 1" in page
    assert 'title="hard bounce: 1"' in page
    assert 'title="no news yet: 1"' in page


def test_the_bounce_upload_is_reached_from_the_wave_page_and_returns_to_it(
    client, settings, marketing, cmo, ciso
):
    communication = sent_wave(settings, marketing, cmo, ciso, 3)
    client.force_login(marketing)
    page_url = reverse("admin:notifications_communication_change", args=[communication.pk])
    page = client.get(page_url).content.decode()
    link = re.search(r'href="([^"]*bounces/[^"]*)"', page)
    assert link is not None, "the wave's page links the bounce upload"
    upload_url = link.group(1).replace("&amp;", "&")
    assert client.get(upload_url).status_code == 200
    email = Notification.objects.filter(communication=communication).order_by("pk")[0].email
    bounce = SimpleUploadedFile("bounces.csv", f"email,type\n{email},hard\n".encode())
    response = client.post(upload_url, {"file": bounce})
    assert response.status_code == 302
    assert response["Location"] == page_url
    page = client.get(page_url).content.decode()
    assert "Bounced: 1 hard, 0 soft" in page
    assert "Letters owed: 1; posted: 0" in page


def test_the_wave_page_makes_no_query_per_person(client, settings, marketing, cmo, ciso):
    client.force_login(cmo)
    counts = []
    for people in (3, 9):
        communication = sent_wave(settings, marketing, cmo, ciso, people)
        hear(communication, DeliveryState.DELIVERED, DeliveryState.HARD_BOUNCE)
        url = reverse("admin:notifications_communication_change", args=[communication.pk])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_providers_events_are_listed_with_the_recipient_masked_without_view_pii(
    client, settings, make_user
):
    from config import roles
    from notifications.models import DeliveryEvent

    event = DeliveryEvent.objects.create(
        provider="postmark",
        event_type="bounced",
        kind="hard_bounce",
        provider_message_id="pm-unknown",
        recipient="someone.private@example.org",
        description="550 someone.private@example.org unknown",
        dedupe_key="k" * 64,
        received_at=timezone.now(),
        outcome=DeliveryEvent.Outcome.UNKNOWN,
    )
    client.force_login(make_user("auditor", roles.AUDITOR))
    listing = client.get(
        reverse("admin:notifications_deliveryevent_changelist") + "?outcome=unknown"
    )
    assert listing.status_code == 200
    assert "postmark" in listing.content.decode()
    page = client.get(reverse("admin:notifications_deliveryevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert "someone.private@example.org" not in page.content.decode()


def test_the_evidence_pack_reports_the_figures_the_wave_page_shows(
    client, settings, marketing, cmo, ciso
):
    import io

    from pypdf import PdfReader

    from incidents.evidence.services import evidence_pack_render

    communication = sent_wave(settings, marketing, cmo, ciso, 7)
    S = DeliveryState
    rows = hear(
        communication, S.DELIVERED, S.OPENED, S.OPENED, S.COMPLAINED, S.SOFT_BOUNCE, S.HARD_BOUNCE
    )
    posted = LetterBatch.objects.create(
        communication=communication, paper_size="A4", status=LetterBatch.Status.POSTED
    )
    Notification.objects.filter(pk=rows[5].pk).update(letter_batch=posted)
    Notification.objects.filter(pk=rows[6].pk).update(status=Notification.Status.LETTER)

    client.force_login(cmo)
    page = client.get(
        reverse("admin:notifications_communication_change", args=[communication.pk])
    ).content.decode()
    assert "Delivered: 4 (opened: 2)" in page
    assert "Bounced: 1 hard, 1 soft" in page
    assert "Complained: 1" in page
    assert "Letters owed: 1; posted: 1" in page

    pdf = evidence_pack_render(incident_id=communication.incident_id).pdf
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    section = text[text.index("What became of each wave") :]
    header = "Wave Sent Delivered (opened) Bounced hard / soft Complained Letters owed / posted"
    assert header in section
    assert f"{communication.name} 7 4 (2) 1 / 1 1 1 / 1" in section
