"""The incident record: opening, editing, status transitions, decisions, severity."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from config import roles
from incidents.models import Assessment, Incident
from incidents.services import (
    IncidentError,
    assessment_record,
    incident_close,
    incident_decide_art33,
    incident_decide_art34,
    incident_mark_contained,
    incident_open,
    incident_record_materiality,
    incident_record_people_notified,
    incident_start_assessing,
    incident_start_notifying,
    incident_update,
    obligation_mark_not_required,
)
from incidents.signals import incident_closed

from .factories import IncidentFactory

pytestmark = pytest.mark.django_db
AWARE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)


def kinds(incident):
    return list(incident.timeline.order_by("seq").values_list("kind", flat=True))


def test_opening_an_incident_writes_its_first_timeline_event(make_user):
    analyst = make_user("analyst", roles.SECURITY_ANALYST)

    incident = incident_open(
        actor=analyst,
        title="Portal breach",
        nature="Credential stuffing",
        awareness_at=AWARE,
        data_categories=["credentials", "contact"],
        systems=["portal", " "],
        approximate_records=1200,
    )

    assert incident.status == Incident.Status.OPEN
    assert incident.data_categories == ["contact", "credentials"]
    assert incident.systems == ["portal"]
    assert incident.created_by == analyst
    opened = incident.timeline.get(seq=1)
    assert opened.kind == "incident.opened"
    assert opened.payload["approximate_records"] == 1200
    assert opened.actor_label == "analyst"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"awareness_at": datetime(2026, 3, 27, 9, 0)}, "time zone"),
        ({"awareness_at": datetime(2099, 1, 1, tzinfo=UTC)}, "in the future"),
        ({"occurred_at": AWARE + timedelta(days=1)}, "cannot occur after"),
        ({"data_categories": ["gossip"]}, "unknown gossip"),
        ({"title": " "}, "needs a title"),
        ({"status": "closed"}, "Unknown incident fields: status"),
    ],
)
def test_an_incident_that_cannot_be_opened_says_why(kwargs, message):
    fields = {"actor": None, "title": "t", "nature": "n", "awareness_at": AWARE, **kwargs}
    with pytest.raises(IncidentError, match=message):
        incident_open(**fields)
    assert not Incident.objects.exists()


def test_editing_the_record_keeps_old_and_new_values_on_the_timeline():
    incident = IncidentFactory.create(likely_consequences="")

    incident_update(incident_id=incident.pk, actor=None, likely_consequences="Phishing")

    event = incident.timeline.get(kind="incident.updated")
    assert event.payload["changes"] == {"likely_consequences": ["", "Phishing"]}


def test_status_and_decisions_are_not_edited_as_plain_fields():
    incident = IncidentFactory.create()
    with pytest.raises(IncidentError, match="own action"):
        incident_update(incident_id=incident.pk, actor=None, status="closed")


def test_an_incident_walks_its_statuses_through_named_transitions():
    received = []
    incident_closed.connect(
        lambda sender, **kw: received.append(kw), dispatch_uid="t-closed", weak=False
    )
    try:
        incident = IncidentFactory.create()
        incident_start_assessing(incident_id=incident.pk, actor=None)
        incident_start_notifying(incident_id=incident.pk, actor=None)
        contained = incident_mark_contained(
            incident_id=incident.pk, actor=None, contained_at=AWARE + timedelta(days=2)
        )
        assert contained.contained_at == AWARE + timedelta(days=2)
        closed = incident_close(incident_id=incident.pk, actor=None)
    finally:
        incident_closed.disconnect(dispatch_uid="t-closed")

    assert closed.status == Incident.Status.CLOSED
    assert kinds(incident) == [
        "incident.assessing",
        "incident.notifying",
        "incident.contained",
        "incident.closed",
    ]
    assert received == [{"signal": incident_closed, "incident_id": incident.pk, "actor": None}]


def test_a_transition_from_the_wrong_status_is_refused_and_changes_nothing():
    incident = IncidentFactory.create(status=Incident.Status.NOTIFYING)

    with pytest.raises(IncidentError, match="is notifying; only an incident that is open can be"):
        incident_start_assessing(incident_id=incident.pk, actor=None)
    with pytest.raises(IncidentError, match="only an incident that is contained can be closed"):
        incident_close(incident_id=incident.pk, actor=None)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.NOTIFYING
    assert kinds(incident) == []


def test_an_incident_that_still_owes_a_filing_cannot_close(settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    incident = incident_open(actor=None, title="t", nature="n", awareness_at=AWARE)
    incident_mark_contained(incident_id=incident.pk, actor=None)

    with pytest.raises(IncidentError, match=r"still owes: GDPR Art\. 33"):
        incident_close(incident_id=incident.pk, actor=None)

    for obligation in incident.obligations.all():
        obligation_mark_not_required(obligation_id=obligation.pk, actor=None, reason="drill")
    assert incident_close(incident_id=incident.pk, actor=None).status == "closed"


def test_only_the_dpo_or_the_ciso_record_the_art33_and_art34_decisions(make_user):
    incident = IncidentFactory.create()
    analyst = make_user("analyst", roles.SECURITY_ANALYST)

    for decide in (incident_decide_art33, incident_decide_art34):
        with pytest.raises(IncidentError, match="recorded by the DPO or the CISO"):
            decide(incident_id=incident.pk, actor=analyst, decision="notify", reason="")

    incident_decide_art33(
        incident_id=incident.pk, actor=make_user("dpo", roles.DPO), decision="notify", reason=""
    )
    incident.refresh_from_db()
    assert incident.art33_decision == Incident.Art33Decision.NOTIFY
    assert incident.timeline.get(kind="incident.art33_decision").actor_label == "dpo"


@pytest.mark.parametrize(
    ("decide", "decision", "message"),
    [
        (incident_decide_art33, "not_required", "say why"),
        (incident_decide_art33, "maybe", "choose notify or not required"),
        (incident_decide_art34, "exempt_c", "exemption needs its reason"),
        (incident_decide_art34, "undecided", "not a decision"),
    ],
)
def test_decisions_need_their_reasons(make_user, decide, decision, message):
    incident = IncidentFactory.create()
    with pytest.raises(IncidentError, match=message):
        decide(
            incident_id=incident.pk,
            actor=make_user("dpo", roles.DPO),
            decision=decision,
            reason=" ",
        )
    incident.refresh_from_db()
    assert (incident.art33_decision, incident.art34_decision) == ("undecided", "undecided")


def test_materiality_is_recorded_once(make_user):
    incident = IncidentFactory.create()
    ciso = make_user("ciso", roles.CISO)
    incident_record_materiality(incident_id=incident.pk, actor=ciso, determined_at=AWARE)

    with pytest.raises(IncidentError, match="already has its materiality"):
        incident_record_materiality(incident_id=incident.pk, actor=ciso, determined_at=AWARE)


def test_people_notified_is_recorded_once_with_a_timeline_event():
    incident = IncidentFactory.create()
    first = AWARE + timedelta(days=1)

    assert incident_record_people_notified(incident_id=incident.pk, actor=None, notified_at=first)
    assert not incident_record_people_notified(
        incident_id=incident.pk, actor=None, notified_at=first + timedelta(hours=1)
    )

    incident.refresh_from_db()
    assert incident.people_notified_at == first
    assert kinds(incident) == ["incident.people_notified"]
    with pytest.raises(IncidentError, match="does not exist"):
        incident_record_people_notified(incident_id=0, actor=None, notified_at=first)


def test_assessment_shows_its_arithmetic_and_is_versioned():
    incident = IncidentFactory.create(data_categories=["contact", "payment_card"])

    first = assessment_record(
        incident_id=incident.pk,
        actor=None,
        ei=D("0.75"),
        cb_confidentiality=D("0.5"),
        malicious=True,
        dpc_adjustments=[(1, "Card numbers with CVV")],
    )
    second = assessment_record(
        incident_id=incident.pk,
        actor=None,
        ei=D("0.5"),
        dpc_adjustments=[(-1, "Tokenised PANs only")],
    )

    assert (first.version, first.dpc, first.score, first.level) == (1, 4, D("4.00"), "very_high")
    assert first.arithmetic == (
        "DPC 3 (financial) +1 (Card numbers with CVV) = 4; SE = DPC x EI + CB = 4 x 0.75 + "
        "(0.5 + 0 + 0 + 0.5) = 4.00 -> very high"
    )
    assert (second.version, second.dpc, second.score, second.level) == (2, 2, D("1.00"), "low")
    assert list(incident.assessments.values_list("version", flat=True)) == [2, 1]
    event = incident.timeline.filter(kind="assessment.recorded").latest("seq")
    assert event.payload["arithmetic"] == second.arithmetic


def test_dpc_bound_shows_in_the_arithmetic():
    incident = IncidentFactory.create(data_categories=["health"])
    assessment = assessment_record(
        incident_id=incident.pk, actor=None, ei=D("1"), dpc_adjustments=[(2, "Minors' records")]
    )
    assert assessment.dpc == 4
    assert "= 6, bounded to 4" in assessment.arithmetic


def test_credentials_take_the_category_of_what_they_open():
    incident = IncidentFactory.create(data_categories=["credentials"])
    with pytest.raises(IncidentError, match="say what they open"):
        assessment_record(incident_id=incident.pk, actor=None, ei=D("1"))

    Incident.objects.filter(pk=incident.pk).update(credentials_open="bank_account")
    assessment = assessment_record(incident_id=incident.pk, actor=None, ei=D("1"))
    assert assessment.basic_category == 3
    assert assessment.get_basic_category_display() == "Financial"


@pytest.mark.parametrize(
    ("adjustments", "ei", "message"),
    [
        ([(1, " ")], D("1"), "adjustment 1: give its reason"),
        ([(1, "ok"), (0, "nothing")], D("1"), "adjustment 2: a whole step"),
        ([], D("0.6"), "Ease of identification"),
    ],
)
def test_assessment_inputs_are_checked(adjustments, ei, message):
    incident = IncidentFactory.create(data_categories=["contact"])
    with pytest.raises(IncidentError, match=message):
        assessment_record(incident_id=incident.pk, actor=None, ei=ei, dpc_adjustments=adjustments)
    assert not Assessment.objects.exists()


def test_an_incident_without_categories_cannot_be_assessed():
    incident = IncidentFactory.create(data_categories=[])
    with pytest.raises(IncidentError, match="data categories"):
        assessment_record(incident_id=incident.pk, actor=None, ei=D("1"))


def test_a_closed_incident_keeps_its_record_and_decisions(make_user):
    incident = IncidentFactory.create(status=Incident.Status.CLOSED)
    dpo = make_user("dpo", roles.DPO)

    with pytest.raises(IncidentError, match="closed"):
        incident_update(incident_id=incident.pk, actor=None, title="Renamed")
    with pytest.raises(IncidentError, match="closed"):
        incident_decide_art33(incident_id=incident.pk, actor=dpo, decision="notify", reason="")
    with pytest.raises(IncidentError, match="closed"):
        incident_decide_art34(incident_id=incident.pk, actor=dpo, decision="notify", reason="")

    before = incident.title
    incident.refresh_from_db()
    assert (incident.title, incident.art33_decision, incident.art34_decision) == (
        before,
        "undecided",
        "undecided",
    )


def test_materiality_is_determined_by_the_dpo_or_the_ciso(make_user):
    incident = IncidentFactory.create()
    with pytest.raises(IncidentError, match="DPO or the CISO"):
        incident_record_materiality(
            incident_id=incident.pk,
            actor=make_user("analyst", roles.SECURITY_ANALYST),
            determined_at=AWARE,
        )
