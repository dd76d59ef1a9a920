"""What became of a wave, on the incident room and the cockpit as on the wave's own page;
for a large wave ("large" lowered to three people here) the task cluster keeps the counts
and every page says when it counted them."""

import re

import pytest
from django.urls import reverse

from notifications.models import DeliveryState, LetterBatch, Notification, WaveFigures
from notifications.selectors import delivery_outcomes
from notifications.tasks import wave_figures_count_task

from .test_wave_outcomes import hear, sent_wave

pytestmark = pytest.mark.django_db
S = DeliveryState


@pytest.fixture
def wave(settings, marketing, cmo, ciso):
    """Six sent: delivered, opened, complained, soft and hard bounce (its letter posted),
    one with no news yet."""
    communication = sent_wave(settings, marketing, cmo, ciso, 6)
    rows = hear(communication, S.DELIVERED, S.OPENED, S.COMPLAINED, S.SOFT_BOUNCE, S.HARD_BOUNCE)
    posted = LetterBatch.objects.create(
        communication=communication, paper_size="A4", status=LetterBatch.Status.POSTED
    )
    Notification.objects.filter(pk=rows[4].pk).update(letter_batch=posted)
    return communication


def page(client, user, url: str) -> str:
    client.force_login(user)
    return client.get(url).content.decode()


def room(communication) -> str:
    return reverse("admin:incidents_incident_change", args=[communication.incident_id])


def test_the_incident_room_shows_each_wave_as_counts_and_a_bar(client, wave, ciso):
    html = page(client, ciso, room(wave))

    section = html[html.index('id="incident-waves"') :]
    assert "How far the breach messages have gone" in section
    assert "6 of 6 affected told (100.0%)" in section
    assert "sent 6, delivered 3, bounced 1 hard and 1 soft, complained 1" in section
    assert "letters owed 0, posted 1; 0 still to send" in section
    bar = re.search(r'<div class="bd-bar-chart" role="img" aria-label="([^"]+)"', section)
    assert bar and "hard bounce 1" in bar.group(1) and "no news yet 1" in bar.group(1)
    assert 'title="complained: 1"' in section


def test_the_cockpit_shows_affected_share_told_letters_and_the_wave(client, wave, cmo):
    # One more person affected, not in the wave: six of seven told.
    from .factories import affected

    affected(wave.incident, "en", ["credentials"])
    html = page(client, cmo, reverse("admin:index"))

    row = html[html.index(wave.incident.title) :]
    row = row[: row.index("</tr>")]
    assert '<strong class="bd-affected">7</strong> affected' in row
    assert "85.7% told" in row and "(6)" in row
    assert "0 due<br>1 posted" in row
    assert "Bounced: 1 hard, 1 soft" in row and "Complained: 1" in row


def test_a_large_wave_is_counted_by_the_task_cluster_and_says_when(
    client, wave, settings, cmo, ciso
):
    settings.KEPT_FIGURES_FROM = 3
    live = delivery_outcomes(communication_id=wave.pk)
    assert wave_figures_count_task() == 1
    kept = delivery_outcomes(communication_id=wave.pk)
    assert kept.counted_at is not None
    assert (kept.sent, kept.delivered, kept.hard_bounced, kept.letters_posted) == (
        live.sent,
        live.delivered,
        live.hard_bounced,
        live.letters_posted,
    )

    # A provider's word arriving after the count shows at the next count, not before.
    last = Notification.objects.filter(communication=wave, delivery_state="").get()
    Notification.objects.filter(pk=last.pk).update(delivery_state=S.DELIVERED)
    communication_page = reverse("admin:notifications_communication_change", args=[wave.pk])
    for url in (communication_page, room(wave), reverse("admin:index")):
        html = page(client, cmo, url)
        assert "Delivered: 3 (opened: 1)" in html or "delivered 3" in html, url
        assert "counted by the task cluster at" in html.lower(), url
    wave_figures_count_task()
    assert "Delivered: 4 (opened: 1)" in page(client, cmo, communication_page)
    assert "delivered 4" in page(client, ciso, room(wave))
    assert WaveFigures.objects.get(pk=wave.pk).previous_sent == 6


def test_a_small_wave_is_counted_on_the_page_and_keeps_no_figures(client, wave, cmo):
    assert wave_figures_count_task() == 0
    assert not WaveFigures.objects.exists()
    html = page(client, cmo, reverse("admin:notifications_communication_change", args=[wave.pk]))
    assert "counted by the task cluster" not in html.lower()
