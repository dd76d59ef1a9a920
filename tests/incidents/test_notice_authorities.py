"""One notice per authority, each drafted on its own, checked from the filed PDF too."""

import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import pdfplumber
import pytest
from django.urls import reverse
from django.utils import timezone

from config import roles
from config.company import company_profile_update
from customers.models import Customer
from incidents.models import AffectedCustomer, RegulatorNotice, TimelineEvent
from incidents.services import assessment_record, incident_open, obligations_sync
from incidents.services.notice import NoticeError, filing_record, notice_draft, notice_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def dpo(make_user):
    return make_user("dora", roles.DPO)


@pytest.fixture
def incident(make_user, settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    settings.COMPANY_UK_ESTABLISHMENT = True
    company_profile_update(
        actor=None,
        values={
            "legal_name": "Nordwind Versand GmbH",
            "registration": "Amtsgericht Stendal HRB 4711",
            "dpo_name": "Dr. Jana Weber",
            "dpo_email": "dpo@nordwind-versand.de",
        },
    )
    incident = incident_open(
        actor=make_user("sven", roles.CISO),
        title="Portal breach",
        nature="Passwords were read from a backup.",
        awareness_at=timezone.now() - timedelta(hours=10),
        data_categories=["contact", "credentials"],
        credentials_open="contact",
        contact_point="dpo@nordwind-versand.de",
        likely_consequences="Account takeover.",
        measures_taken="We reset your password.",
        measures_proposed="Use the code in this message.",
        encryption="The backup was not encrypted at rest.",
        processor_involvement="Hosted by Example Cloud Ltd (processor), not at fault.",
        measures_for_authority="Backups are now encrypted; all 33 passwords were reset.",
    )
    people = [("DE", 20), ("FR", 6), ("IE", 3), ("GB", 4)]
    n = 0
    for country, count in people:
        for _ in range(count):
            n += 1
            customer = Customer.objects.create(
                email=f"p{n}@mail.test", email_normalized=f"p{n}@mail.test", country=country
            )
            AffectedCustomer.objects.create(
                incident=incident,
                customer=customer,
                data_categories=["credentials"],
                found_by="list",
            )
    obligations_sync(incident_id=incident.pk, actor=None)
    assessment_record(
        incident_id=incident.pk,
        actor=None,
        ei=Decimal("0.75"),
        cb_confidentiality=Decimal("0.5"),
        malicious=True,
    )
    return incident


def _answers(notice: RegulatorNotice) -> dict[str, str]:
    return {label: value for s in notice.content["sections"] for label, value in s["fields"]}


def test_a_uk_and_eu_incident_drafts_two_independent_notices_with_their_own_counts(incident, dpo):
    eu_obligation = incident.obligations.get(regime__code="gdpr-art33")
    uk_obligation = incident.obligations.get(regime__code="uk-gdpr-art33")
    eu = notice_draft(incident_id=incident.pk, actor=dpo, obligation_id=eu_obligation.pk)
    filing_record(
        notice_id=eu.pk,
        actor=dpo,
        authority="Irish DPC",
        filed_at=timezone.now(),
        reference="DPC-77",
    )
    uk = notice_draft(incident_id=incident.pk, actor=dpo, obligation_id=uk_obligation.pk)

    assert (eu.phase, uk.phase) == (RegulatorNotice.Phase.INITIAL, RegulatorNotice.Phase.INITIAL)
    eu_answers, uk_answers = _answers(eu), _answers(uk)
    assert eu_answers["Approximate number of people affected in this jurisdiction"] == "29"
    assert uk_answers["Approximate number of people affected in this jurisdiction"] == "4"
    assert "Germany: 20" in eu_answers["People affected per country"]
    assert "France: 6" in eu_answers["People affected per country"]
    assert "Ireland: 3" in eu_answers["People affected per country"]
    assert "United Kingdom" not in eu_answers["People affected per country"]
    assert uk_answers["Country"] == "United Kingdom: 4"
    # Never a follow-up of the other authority's filing: its reference appears nowhere.
    assert uk_answers["Earlier reports of this breach to this authority"] == "None"
    assert "DPC-77" not in str(uk.content)
    assert uk_answers["Our reference"] != eu_answers["Our reference"]
    assert uk_answers["Addressed to"] == uk_obligation.recipient
    assert "Information Commissioner" in uk_answers["Addressed to"]
    assert "GDPR" not in uk.content["title"] or "UK" in uk.content["regime"]
    for answers in (eu_answers, uk_answers):
        assert answers["Organisation"] == "Nordwind Versand GmbH"
        assert answers["Registration"] == "Amtsgericht Stendal HRB 4711"
        assert answers["Was the data encrypted"] == "The backup was not encrypted at rest."
        assert "processor" in answers["Was a processor involved"]
        assert answers["Measures taken and proposed"].startswith("Backups are now encrypted")
        assert "code in this message" not in str(answers)
        assert "SE = DPC x EI + CB" in answers["Assessment"]


def test_the_dpo_edits_a_draft_and_a_filed_notice_is_frozen_and_hashed(incident, dpo):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    notice = notice_update(
        notice_id=notice.pk,
        actor=dpo,
        answers={"Likely consequences for the people": "Account takeover; phishing."},
    )
    assert _answers(notice)["Likely consequences for the people"] == "Account takeover; phishing."
    assert TimelineEvent.objects.filter(incident=incident, kind="notice.edited").exists()
    with pytest.raises(NoticeError, match="no question"):
        notice_update(notice_id=notice.pk, actor=dpo, answers={"Made up": "x"})
    filing = filing_record(
        notice_id=notice.pk, actor=dpo, authority="BfDI", filed_at=timezone.now(), reference="B-1"
    )
    with pytest.raises(NoticeError, match="filed"):
        notice_update(
            notice_id=notice.pk, actor=dpo, answers={"Likely consequences for the people": "x"}
        )
    with filing.file.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == filing.file_sha256
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        text = " ".join(page.extract_text() for page in pdf.pages)
        assert "Account takeover; phishing." in " ".join(text.split())
        for page in pdf.pages:
            for char in page.chars:
                assert char["x0"] >= 0 and char["x1"] <= page.width, char["text"]
                assert char["top"] >= 0 and char["bottom"] <= page.height, char["text"]


def test_the_dpo_edits_the_draft_in_the_admin_from_the_notice_page(client, incident, dpo):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    client.force_login(dpo)
    page = client.get(reverse("admin:incidents_regulatornotice_change", args=[notice.pk]))
    edit_url = reverse("admin:incidents_regulatornotice_edit", args=[notice.pk])
    assert edit_url in page.content.decode()
    form = client.get(edit_url).context["form"]
    data = {name: form.fields[name].initial for name in form.fields}
    label_of = form.labels
    name = next(n for n, label in label_of.items() if label == "Likely consequences for the people")
    data[name] = "Account takeover and targeted phishing."
    response = client.post(edit_url, data)
    assert response.status_code == 302
    notice.refresh_from_db()
    assert _answers(notice)["Likely consequences for the people"] == (
        "Account takeover and targeted phishing."
    )
