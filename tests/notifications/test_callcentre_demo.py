"""The call-centre pack of the demo incident, from its approved notice."""

import io

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from config.demo_story import STORY_TITLE
from notifications import services
from notifications.models import Communication, TemplateVersion
from notifications.reach.callcentre import (
    call_centre_pack_current,
    call_centre_pack_make,
    call_centre_pack_pdf,
)

pytestmark = pytest.mark.django_db


def test_the_demo_incidents_pack_renders_and_its_hash_follows_the_approved_notice(
    settings, django_user_model
):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    communication = Communication.objects.get(incident__title=STORY_TITLE)
    cmo = django_user_model.objects.get(username="cmo")

    pack = call_centre_pack_make(communication_id=communication.pk, actor=cmo)

    reader = PdfReader(io.BytesIO(call_centre_pack_pdf(pack=pack)))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert "Call-centre pack v1" in text
    assert "Was my data in it?" in text and "Never say" in text
    assert {s["language"] for s in pack.content["sections"]} == {"en"}

    # Legal approves the German notice and marketing adds it: the pack no longer holds.
    german = TemplateVersion.objects.get(template__incident=communication.incident, language="de")
    legal = django_user_model.objects.get(username="legal")
    services.template_version_approve(
        version_id=german.pk, actor=legal, content_hash=german.content_hash
    )
    services.communication_update(
        communication_id=communication.pk,
        actor=django_user_model.objects.get(username="marketing"),
        name=communication.name,
        channels=communication.channels,
        send_window_start=communication.send_window_start,
        send_window_end=communication.send_window_end,
        fallback_language=communication.fallback_language,
        version_ids=[*communication.versions.values_list("pk", flat=True), german.pk],
    )
    pack.refresh_from_db()
    assert not call_centre_pack_current(pack=pack)

    second = call_centre_pack_make(communication_id=communication.pk, actor=cmo)
    assert second.number == 2
    assert second.notice_hash != pack.notice_hash
    assert second.content_hash != pack.content_hash
    assert {s["language"] for s in second.content["sections"]} == {"en", "de"}
