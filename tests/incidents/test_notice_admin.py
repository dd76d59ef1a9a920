"""The notice pages as the DPO and an auditor use them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import roles
from incidents.models import Filing, Obligation, RegulatorNotice
from incidents.services import incident_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(make_user):
    return incident_open(
        actor=make_user("sven", roles.CISO),
        title="Portal breach",
        nature="Passwords were read.",
        awareness_at=timezone.now() - timedelta(hours=3),
    )


def test_dpo_drafts_and_files_a_notice_in_the_admin(client, make_user, incident):
    client.force_login(make_user("dora", roles.DPO))
    add = reverse("admin:incidents_regulatornotice_add")
    assert client.get(add).status_code == 200
    response = client.post(add, {"incident": incident.pk, "additional_information": ""})
    notice = RegulatorNotice.objects.get()
    assert response.status_code == 302

    change = client.get(reverse("admin:incidents_regulatornotice_change", args=[notice.pk]))
    assert change.status_code == 200 and b"Record the filing" in change.content
    assert b"Passwords were read." in change.content
    draft = client.get(reverse("admin:incidents_regulatornotice_pdf", args=[notice.pk]))
    assert draft.status_code == 200 and draft.content.startswith(b"%PDF")

    file_url = reverse("admin:incidents_regulatornotice_file", args=[notice.pk])
    now = timezone.now()
    form = {"authority": "BfDI", "reference": "R-9", "delay_reason": ""}
    form |= {"filed_at_0": now.strftime("%Y-%m-%d"), "filed_at_1": now.strftime("%H:%M:%S")}
    assert client.post(file_url, form).status_code == 302
    assert Filing.objects.get().reference == "R-9"
    assert incident.obligations.get(regime__code="gdpr-art33").status == Obligation.Status.MET

    for name in ("regulatornotice", "filing"):
        listing = client.get(reverse(f"admin:incidents_{name}_changelist"), {"q": "R-9"})
        assert listing.status_code == 200 and b"R-9" in listing.content
    filing = Filing.objects.get()
    assert client.get(reverse("admin:incidents_filing_change", args=[filing.pk])).status_code == 200


def test_refused_draft_shows_the_reason_and_others_may_only_read(client, make_user, incident):
    dpo = make_user("dora", roles.DPO)
    client.force_login(dpo)
    add = reverse("admin:incidents_regulatornotice_add")
    client.post(add, {"incident": incident.pk})
    again = client.post(add, {"incident": incident.pk})
    assert again.status_code == 200 and b"is not filed yet" in again.content

    notice = RegulatorNotice.objects.get()
    client.force_login(make_user("audrey", roles.AUDITOR))
    assert client.get(add).status_code == 403
    file_url = reverse("admin:incidents_regulatornotice_file", args=[notice.pk])
    assert client.get(file_url).status_code == 403
    page = client.get(reverse("admin:incidents_regulatornotice_change", args=[notice.pk]))
    assert page.status_code == 200
