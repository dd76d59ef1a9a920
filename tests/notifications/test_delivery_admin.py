"""The delivery screens, used by people in their roles (never a superuser)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config import roles
from customers.models import PiiAccess
from notifications.models import Delivery, LetterBatch, Notification, RemediationCode
from notifications.services.delivery import communication_send, delivery_send_batch
from notifications.services.letters import letter_batch_build

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"admin:notifications_{name}", args=args)


@pytest.fixture
def communication(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    for _ in range(3):
        affected(incident, "en", ["credentials"])
    return signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)


@pytest.mark.parametrize("role", [roles.AUDITOR, roles.CMO, roles.MARKETING_OPERATOR])
@pytest.mark.parametrize(
    "model,query",
    [
        ("delivery", "Breach"),
        ("notification", "example"),
        ("letterbatch", "x"),
        ("remediationcode", "Experian"),
    ],
)
def test_delivery_pages_render_for_every_role_that_views(
    client, make_user, communication, cmo, role, model, query
):
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    client.force_login(make_user("viewer", role))
    assert client.get(url(f"{model}_changelist")).status_code == 200
    assert client.get(url(f"{model}_changelist") + f"?q={query}").status_code == 200
    notification = Notification.objects.first()
    obj = {"delivery": delivery, "notification": notification}.get(model)
    if obj is not None:
        assert client.get(url(f"{model}_change", obj.pk)).status_code == 200


def test_the_communication_page_shows_progress_and_a_send_link(client, communication, cmo):
    client.force_login(cmo)
    page = client.get(url("communication_change", communication.pk)).content.decode()
    assert url("delivery_send", communication.pk) in page
    communication_send(communication_id=communication.pk, actor=cmo)
    page = client.get(url("communication_change", communication.pk)).content.decode()
    assert "Pending: 3 (100.0%)" in page


def test_the_send_page_sends_and_a_marketing_operator_cannot_open_it(
    client, communication, cmo, marketing
):
    client.force_login(marketing)
    assert client.get(url("delivery_send", communication.pk)).status_code == 403
    client.force_login(cmo)
    assert client.get(url("delivery_send", communication.pk)).status_code == 200
    response = client.post(url("delivery_send", communication.pk), {"kind": "breach_notice"})
    assert response.status_code == 302
    assert Notification.objects.filter(communication=communication).count() == 3


def test_the_send_page_says_why_a_changed_communication_is_not_sent(client, communication, cmo):
    from incidents.models import Incident

    Incident.objects.filter(pk=communication.incident_id).update(nature="Changed.")
    client.force_login(cmo)
    page = client.post(url("delivery_send", communication.pk), {"kind": "breach_notice"})
    assert "not what the CMO and the CISO signed off" in page.content.decode()
    assert not Notification.objects.exists()


def test_a_paused_wave_shows_why_and_the_ciso_resumes_it(client, communication, cmo, ciso):
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    client.force_login(cmo)
    pause = {"action": "pause", "_selected_action": [delivery.pk]}
    confirm = client.post(url("delivery_changelist"), pause).content.decode()
    assert "Pause these waves of breach messages?" in confirm
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENDING
    client.post(url("delivery_changelist"), {**pause, "confirmed": "yes"})
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.PAUSED
    page = client.get(url("communication_change", communication.pk)).content.decode()
    assert f"Paused: Paused by {cmo}." in page
    client.force_login(ciso)
    client.post(
        url("delivery_changelist"),
        {"action": "resume", "_selected_action": [delivery.pk], "confirmed": "yes"},
    )
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENDING


def test_letters_are_built_downloaded_and_posted_from_the_admin(
    client, smtp_server, communication, cmo, marketing, make_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    Notification.objects.filter(communication=communication).update(
        channel="letter", status="letter"
    )
    client.force_login(marketing)
    client.post(
        url("delivery_changelist"), {"action": "letters_a4", "_selected_action": [delivery.pk]}
    )
    batch = LetterBatch.objects.get()
    letter_batch_build(batch_id=batch.pk)
    assert client.get(url("letterbatch_change", batch.pk)).status_code == 200
    pdf = client.get(url("letterbatch_file", batch.pk, "pdf"))
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    # Addresses in full left the system: the contact-data access log says who took them.
    assert PiiAccess.objects.filter(user=marketing, detail__contains="letter batch").exists()
    client.post(
        url("letterbatch_changelist"), {"action": "mark_posted", "_selected_action": [batch.pk]}
    )
    assert LetterBatch.objects.get(pk=batch.pk).status == LetterBatch.Status.POSTED
    # Staff without a delivery role may not download the letters.
    client.force_login(make_user("nobody"))
    assert client.get(url("letterbatch_file", batch.pk, "pdf")).status_code == 403


def test_codes_and_bounces_are_uploaded_in_the_admin(
    client, smtp_server, communication, cmo, marketing
):
    client.force_login(marketing)
    upload = SimpleUploadedFile("codes.csv", b"code,vendor,expiry\nC1,Experian,2099-01-01\n")
    response = client.post(
        url("remediationcode_import", communication.incident_id), {"file": upload}
    )
    assert response.status_code == 302
    assert RemediationCode.objects.count() == 1
    bad = SimpleUploadedFile("codes.csv", b"code,vendor,expiry\nC2,Experian,soon\n")
    page = client.post(url("remediationcode_import", communication.incident_id), {"file": bad})
    assert "line 2: expiry" in page.content.decode()
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    delivery_send_batch(delivery_id=delivery.pk)
    email = Notification.objects.order_by("pk")[0].email
    bounce = SimpleUploadedFile("bounces.csv", f"email\n{email}\n".encode())
    assert client.post(url("delivery_bounces"), {"file": bounce}).status_code == 302
    assert Notification.objects.get(email=email).status == Notification.Status.BOUNCED


def test_a_bounce_report_over_the_upload_limit_is_refused(client, marketing, settings):
    settings.UPLOAD_MAX_BYTES = 100
    client.force_login(marketing)
    bounce = SimpleUploadedFile("bounces.csv", b"email\n" + b"x@example.org\n" * 50)

    response = client.post(url("delivery_bounces"), {"file": bounce})

    assert response.status_code == 200
    assert "are read here" in response.content.decode()


def test_the_send_page_refuses_before_the_button_while_art34_is_undecided(
    client, communication, cmo, make_user
):
    from incidents.models import Incident

    Incident.objects.filter(pk=communication.incident_id).update(art34_decision="undecided")
    client.force_login(make_user("dpo-and-cmo", roles.CMO, roles.DPO))
    page = client.get(url("delivery_send", communication.pk)).content.decode()
    assert "Art. 34 decision" in page and "not decided yet" in page
    decide = reverse("admin:incidents_incident_decide", args=[communication.incident_id])
    assert f'href="{decide}"' in page
    assert 'value="Send"' not in page
    # A forged POST is refused by the service too, and the reason is said once.
    page = client.post(url("delivery_send", communication.pk), {"kind": "breach_notice"})
    assert page.content.decode().count("is not decided yet") == 1
    assert not Notification.objects.exists()


def test_a_drills_send_page_shows_the_banner_and_refuses_up_front_without_recipients(
    client, marketing, cmo, ciso, settings
):
    incident = IncidentFactory.create(is_drill=True)
    version = approved(incident, "en", ["credentials"])
    affected(incident, "en", ["credentials"])
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    settings.DRILL_RECIPIENTS = []
    client.force_login(cmo)
    page = client.get(url("delivery_send", communication.pk)).content.decode()
    assert "bd-drill-banner" in page and "DRILL" in page
    assert "DRILL_RECIPIENTS is empty" in page
    assert 'value="Send"' not in page

    settings.DRILL_RECIPIENTS = ["drill-desk@corp.example"]
    page = client.get(url("delivery_send", communication.pk)).content.decode()
    assert "goes only to" in page and "drill-desk@corp.example" in page
    assert 'value="Send"' in page


def test_a_refused_send_says_its_reason_once(client, communication, cmo):
    from incidents.models import Incident

    Incident.objects.filter(pk=communication.incident_id).update(nature="Changed.")
    client.force_login(cmo)
    page = client.post(url("delivery_send", communication.pk), {"kind": "breach_notice"})
    assert page.content.decode().count("not what the CMO and the CISO signed off") == 1
