"""The Art. 33 notice: drafted from the record, filed in phases, each filing meeting its
obligation on time or late with the reason for the delay."""

import hashlib
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader

from config import roles
from incidents.models import Filing, Incident, Obligation, RegulatorNotice, TimelineEvent
from incidents.services import incident_decide_art33, incident_open, obligation_meet
from incidents.services.notice import NoticeError, filing_record, notice_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def dpo(make_user):
    return make_user("dora", roles.DPO)


@pytest.fixture
def incident(make_user):
    return incident_open(
        actor=make_user("sven", roles.CISO),
        title="Portal breach",
        nature="Passwords were read from a backup.",
        awareness_at=timezone.now() - timedelta(hours=10),
        data_categories=["contact", "credentials"],
        approximate_records=5000,
        contact_point="dpo@example.com",
        likely_consequences="Account takeover.",
        measures_taken="Backups encrypted.",
        measures_proposed="Password reset for everyone.",
    )


def gdpr(incident: Incident) -> Obligation:
    return incident.obligations.get(regime__code="gdpr-art33")


def pdf_text(filing: Filing) -> str:
    with filing.file.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == filing.file_sha256
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def test_initial_notice_is_drafted_from_the_record_for_the_art33_obligation(incident, dpo):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)

    assert (notice.number, notice.phase) == (1, RegulatorNotice.Phase.INITIAL)
    assert notice.obligation == gdpr(incident)
    answers = {label: value for s in notice.content["sections"] for label, value in s["fields"]}
    assert answers["What has happened"] == "Passwords were read from a backup."
    assert answers["Approximate number of records"] == "5,000"
    assert answers["Data protection officer or other contact"] == "dpo@example.com"
    assert answers["Likely consequences for the people"] == "Account takeover."
    # The authority's measures are written for it, never copied from the customer text.
    assert answers["Measures taken and proposed"].startswith("Not yet known")
    assert "Credentials" in answers["Categories of personal data"]
    assert TimelineEvent.objects.filter(incident=incident, kind="notice.drafted").exists()


def test_filing_on_time_meets_the_obligation_and_keeps_the_file_sent(incident, dpo):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    filed_at = timezone.now() - timedelta(minutes=5)

    filing = filing_record(
        notice_id=notice.pk, actor=dpo, authority="BfDI", filed_at=filed_at, reference="R-1"
    )

    obligation = gdpr(incident)
    assert (obligation.status, obligation.met_at) == (Obligation.Status.MET, filed_at)
    kinds = list(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds[-2:] == ["obligation.met", "notice.filed"]
    event = TimelineEvent.objects.get(incident=incident, kind="notice.filed")
    assert event.payload["file_sha256"] == filing.file_sha256
    text = pdf_text(filing)
    # Titled for its addressee, under its own regime.
    assert f"Personal data breach report to {obligation.recipient}" in text
    assert obligation.regime.name in text
    assert "BfDI" in text and "R-1" in text and "Passwords were read from a backup." in text


def test_late_filing_needs_the_reason_for_the_delay(incident, dpo):
    Incident.objects.filter(pk=incident.pk).update(awareness_at=timezone.now() - timedelta(days=5))
    Obligation.objects.filter(pk=gdpr(incident).pk).update(
        due_at=timezone.now() - timedelta(days=2)
    )
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    RegulatorNotice.objects.filter(pk=notice.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    filed_at = timezone.now() - timedelta(hours=1)

    with pytest.raises(NoticeError, match="give the reason for the delay"):
        filing_record(
            notice_id=notice.pk, actor=dpo, authority="BfDI", filed_at=filed_at, reference="R-2"
        )
    assert not Filing.objects.exists()
    assert gdpr(incident).status == Obligation.Status.OPEN

    filing = filing_record(
        notice_id=notice.pk,
        actor=dpo,
        authority="BfDI",
        filed_at=filed_at,
        reference="R-2",
        delay_reason="The forensic report came in on day four.",
    )
    obligation = gdpr(incident)
    assert obligation.status == Obligation.Status.LATE
    assert obligation.delay_reason == "The forensic report came in on day four."
    assert "The forensic report came in on day four." in pdf_text(filing)


def test_follow_up_comes_after_the_filed_initial_notice_and_names_it(incident, dpo):
    first = notice_draft(incident_id=incident.pk, actor=dpo)
    with pytest.raises(NoticeError, match=r"Notice 1 .* is not filed yet"):
        notice_draft(incident_id=incident.pk, actor=dpo)
    filing_record(
        notice_id=first.pk,
        actor=dpo,
        authority="BfDI",
        filed_at=timezone.now(),
        reference="R-3",
    )

    follow_up = notice_draft(
        incident_id=incident.pk, actor=dpo, additional_information="All 5,000 were reset."
    )

    assert (follow_up.number, follow_up.phase) == (2, RegulatorNotice.Phase.FOLLOW_UP)
    assert follow_up.obligation is None
    answers = {label: v for s in follow_up.content["sections"] for label, v in s["fields"]}
    assert "R-3" in answers["Earlier reports of this breach to this authority"]
    assert answers["Information added in this phase"] == "All 5,000 were reset."
    filing = filing_record(
        notice_id=follow_up.pk,
        actor=dpo,
        authority="BfDI",
        filed_at=timezone.now(),
        reference="R-3b",
    )
    assert "Follow-up" in pdf_text(filing)
    assert gdpr(incident).status == Obligation.Status.MET


def test_drafting_is_refused_to_others_and_when_not_owed(incident, dpo, make_user):
    cmo = make_user("carla", roles.CMO)
    with pytest.raises(NoticeError, match="may not draft"):
        notice_draft(incident_id=incident.pk, actor=cmo)
    other = incident_open(actor=dpo, title="Other", nature="x", awareness_at=timezone.now())
    with pytest.raises(NoticeError, match="is not one of"):
        notice_draft(incident_id=incident.pk, actor=dpo, obligation_id=gdpr(other).pk)
    incident_decide_art33(
        incident_id=incident.pk, actor=dpo, decision="not_required", reason="Encrypted."
    )
    with pytest.raises(NoticeError, match="not required"):
        notice_draft(incident_id=incident.pk, actor=dpo)
    with pytest.raises(NoticeError, match="already"):
        notice_draft(incident_id=other.pk, actor=dpo, obligation_id=_met(other, dpo).pk)
    assert not RegulatorNotice.objects.filter(incident=incident).exists()


def _met(incident: Incident, actor) -> Obligation:
    return obligation_meet(obligation_id=gdpr(incident).pk, actor=actor, met_at=timezone.now())


def test_closed_incident_gets_no_new_notice(incident, dpo):
    Incident.objects.filter(pk=incident.pk).update(status=Incident.Status.CLOSED)
    with pytest.raises(NoticeError, match="closed"):
        notice_draft(incident_id=incident.pk, actor=dpo)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"authority": " "}, "Name the authority"),
        ({"reference": ""}, "authority's reference"),
        ({"filed_at": timezone.now().replace(tzinfo=None)}, "time zone"),
        ({"filed_at": timezone.now() + timedelta(hours=2)}, "in the future"),
    ],
)
def test_filing_with_bad_input_is_refused_and_nothing_is_written(incident, dpo, changes, message):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    given: dict[str, Any] = {
        "authority": "BfDI",
        "filed_at": timezone.now(),
        "reference": "R",
        **changes,
    }
    with pytest.raises(NoticeError, match=message):
        filing_record(notice_id=notice.pk, actor=dpo, **given)
    assert not Filing.objects.exists()
    assert gdpr(incident).status == Obligation.Status.OPEN


def test_filing_is_refused_twice_and_to_others(incident, dpo, make_user):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    given: dict[str, Any] = {"authority": "BfDI", "filed_at": timezone.now(), "reference": "R"}
    with pytest.raises(NoticeError, match="may not record"):
        filing_record(notice_id=notice.pk, actor=make_user("aud", roles.AUDITOR), **given)
    filing_record(notice_id=notice.pk, actor=dpo, **given)
    with pytest.raises(NoticeError, match="already filed"):
        filing_record(notice_id=notice.pk, actor=dpo, **given)
    with pytest.raises(NoticeError, match="does not exist"):
        filing_record(notice_id=notice.pk + 99, actor=dpo, **given)
    assert Filing.objects.count() == 1


def test_a_filing_cannot_be_dated_before_its_notice_existed(incident, dpo):
    notice = notice_draft(incident_id=incident.pk, actor=dpo)

    with pytest.raises(NoticeError, match=r"before .* was drafted"):
        filing_record(
            notice_id=notice.pk,
            actor=dpo,
            authority="BfDI",
            filed_at=notice.created_at - timedelta(hours=2),
            reference="R-early",
            backdate_reason="entered late",
        )
    assert not Filing.objects.exists()
    assert gdpr(incident).status == Obligation.Status.OPEN


def test_a_filing_recorded_days_after_it_happened_needs_the_reason(incident, dpo):
    Obligation.objects.filter(pk=gdpr(incident).pk).update(
        clock_started_at=timezone.now() - timedelta(days=4),
        due_at=timezone.now() + timedelta(days=1),
    )
    notice = notice_draft(incident_id=incident.pk, actor=dpo)
    RegulatorNotice.objects.filter(pk=notice.pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    given: dict[str, Any] = {"authority": "BfDI", "filed_at": timezone.now() - timedelta(days=2)}

    with pytest.raises(NoticeError, match="say why it is recorded only now"):
        filing_record(notice_id=notice.pk, actor=dpo, reference="R-old", **given)

    filing_record(
        notice_id=notice.pk,
        actor=dpo,
        reference="R-old",
        backdate_reason="The DPO was travelling; the portal receipt is attached.",
        **given,
    )
    event = TimelineEvent.objects.get(incident=incident, kind="notice.filed")
    assert event.payload["backdate_reason"].startswith("The DPO was travelling")
