"""Obligations: which regimes an incident owes, their clocks, meeting them, waiving them."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config import roles
from customers.models import Customer
from incidents.models import Incident, Obligation, Regime
from incidents.services import (
    ObligationError,
    closure_add,
    incident_decide_art33,
    incident_decide_art34,
    incident_open,
    incident_record_materiality,
    incident_update,
    obligation_mark_not_required,
    obligation_meet,
    scope_set,
)

from .factories import SegmentFactory, SegmentMembershipFactory

pytestmark = pytest.mark.django_db
AWARE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)


def end_of(day, zone):
    """The last second of a local day: where a calendar-day clock ends."""
    return datetime.combine(day, datetime.max.time(), tzinfo=ZoneInfo(zone)).replace(microsecond=0)


def open_incident(**kwargs):
    defaults = {
        "actor": None,
        "title": "Portal breach",
        "nature": "Credential stuffing",
        "awareness_at": AWARE,
        "data_categories": ["contact"],
    }
    return incident_open(**{**defaults, **kwargs})


def owed(incident):
    return {o.terms["code"]: o for o in Obligation.objects.filter(incident=incident)}


def scope_people(incident, *, country, region="", n=1):
    segment = SegmentFactory.create()
    start = Customer.objects.count()
    customers = Customer.objects.bulk_create(
        Customer(
            email=f"p{start + i}@example.com",
            email_normalized=f"p{start + i}@example.com",
            country=country,
            region=region,
        )
        for i in range(n)
    )
    for customer in customers:
        SegmentMembershipFactory.create(segment=segment, customer=customer)
    scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment.pk], replace=False)


@pytest.fixture
def profile(settings):
    for name in ("EU", "UK"):
        setattr(settings, f"COMPANY_{name}_ESTABLISHMENT", False)
    settings.COMPANY_NIS2_ENTITY = False
    settings.COMPANY_HIPAA_COVERED = False
    settings.COMPANY_SEC_REGISTRANT = False
    return settings


def test_an_eu_company_owes_the_authority_72_hours_and_the_people_no_invented_clock(profile):
    profile.COMPANY_EU_ESTABLISHMENT = True

    incident = open_incident()

    obligations = owed(incident)
    assert set(obligations) == {"gdpr-art33", "gdpr-art34"}
    assert obligations["gdpr-art33"].due_at == AWARE + timedelta(hours=72)
    assert obligations["gdpr-art33"].status == Obligation.Status.OPEN
    assert obligations["gdpr-art34"].due_at is None
    assert "Art. 33(1)" in obligations["gdpr-art33"].terms["source"]
    assert incident.timeline.filter(kind="obligation.created").count() == 2


def test_where_the_affected_live_decides_the_regimes(profile):
    incident = open_incident()
    assert owed(incident) == {}

    scope_people(incident, country="FR")
    scope_people(incident, country="GB")
    scope_people(incident, country="US", region="ca")
    scope_people(incident, country="US", region="TX", n=249)

    assert set(owed(incident)) == {
        "gdpr-art33",
        "gdpr-art34",
        "uk-gdpr-art33",
        "us-ca",
        "us-tx-individuals",
    }
    assert owed(incident)["uk-gdpr-art33"].due_at == AWARE + timedelta(hours=72)
    # Calendar days end at the end of the local day in the state's own time zone.
    assert owed(incident)["us-ca"].due_at == end_of(date(2026, 4, 26), "America/Los_Angeles")
    assert owed(incident)["us-tx-individuals"].due_at == end_of(
        date(2026, 5, 26), "America/Chicago"
    )

    scope_people(incident, country="US", region="TX")

    assert owed(incident)["us-tx-attorney-general"].due_at == end_of(
        date(2026, 4, 26), "America/Chicago"
    )


def test_hipaa_owes_hhs_from_500_and_the_media_above_500(profile):
    profile.COMPANY_HIPAA_COVERED = True
    incident = open_incident()
    # Under 500 (so far): the breach goes in the annual log to HHS.
    assert set(owed(incident)) == {"hipaa-individuals", "hipaa-annual-log"}
    assert owed(incident)["hipaa-individuals"].due_at == end_of(
        date(2026, 5, 26), "America/New_York"
    )

    scope_people(incident, country="US", region="OR", n=500)
    hipaa = {code for code in owed(incident) if code.startswith("hipaa")}
    assert hipaa == {"hipaa-individuals", "hipaa-hhs", "hipaa-annual-log"}

    scope_people(incident, country="US", region="OR")
    assert {"hipaa-hhs", "hipaa-media", "us-or-attorney-general"} <= set(owed(incident))


def test_nis2_final_report_runs_one_month_from_the_notification_actually_filed(profile):
    profile.COMPANY_NIS2_ENTITY = True
    incident = open_incident()
    obligations = owed(incident)
    assert obligations["nis2-early-warning"].due_at == AWARE + timedelta(hours=24)
    assert obligations["nis2-notification"].due_at == AWARE + timedelta(hours=72)
    assert obligations["nis2-final-report"].due_at is None

    filed = AWARE + timedelta(hours=50)
    obligation_meet(obligation_id=obligations["nis2-notification"].pk, actor=None, met_at=filed)

    final = owed(incident)["nis2-final-report"]
    assert final.clock_started_at == filed
    assert final.due_at == end_of(date(2026, 4, 29), "Europe/Brussels")


def test_sec_clock_starts_at_the_materiality_determination(profile, make_user):
    profile.COMPANY_SEC_REGISTRANT = True
    incident = open_incident()
    assert owed(incident)["sec-8k-item-1-05"].due_at is None

    incident_record_materiality(
        incident_id=incident.pk,
        actor=make_user("dpo", roles.DPO),
        determined_at=datetime(2026, 11, 25, 20, 0, tzinfo=UTC),
    )

    assert owed(incident)["sec-8k-item-1-05"].due_at == datetime(2026, 12, 2, 22, 30, tzinfo=UTC)


def test_a_closure_entered_by_an_admin_moves_an_open_sec_clock(profile, make_user):
    profile.COMPANY_SEC_REGISTRANT = True
    incident = open_incident()
    incident_record_materiality(
        incident_id=incident.pk,
        actor=make_user("dpo", roles.DPO),
        determined_at=datetime(2026, 6, 8, 15, 0, tzinfo=UTC),
    )
    eastern = ZoneInfo("America/New_York")
    assert owed(incident)["sec-8k-item-1-05"].due_at == datetime(
        2026, 6, 12, 17, 30, tzinfo=eastern
    )

    closure_add(calendar="us", day=date(2026, 6, 10), reason="Executive order", actor=None)

    assert owed(incident)["sec-8k-item-1-05"].due_at == datetime(
        2026, 6, 15, 17, 30, tzinfo=eastern
    )
    assert incident.timeline.filter(kind="obligation.clock").count() == 2


def test_a_closure_needs_a_known_calendar_and_a_reason():
    with pytest.raises(ObligationError, match="XX"):
        closure_add(calendar="XX", day=date(2026, 6, 10), reason="r", actor=None)
    with pytest.raises(ObligationError, match="why"):
        closure_add(calendar="US", day=date(2026, 6, 10), reason=" ", actor=None)


def test_terms_are_copied_so_editing_a_regime_changes_no_deadline_already_owed(profile, make_user):
    dpo = make_user("dpo", roles.DPO)
    profile.COMPANY_EU_ESTABLISHMENT = True
    incident = open_incident()
    Regime.objects.filter(code="gdpr-art33").update(deadline_amount=24, terms="changed")

    incident_update(
        incident_id=incident.pk,
        actor=dpo,
        clock_change_reason="corrected",
        awareness_at=AWARE + timedelta(hours=1),
    )

    obligation = owed(incident)["gdpr-art33"]
    assert obligation.terms["deadline_amount"] == 72
    assert obligation.due_at == AWARE + timedelta(hours=73)


def test_meeting_in_time_is_met_with_no_lateness(profile):
    profile.COMPANY_EU_ESTABLISHMENT = True
    obligation = owed(open_incident())["gdpr-art33"]

    met = obligation_meet(
        obligation_id=obligation.pk, actor=None, met_at=AWARE + timedelta(hours=71)
    )

    assert (met.status, met.lateness, met.delay_reason) == ("met", timedelta(0), "")
    assert met.incident.timeline.filter(kind="obligation.met").exists()


def test_meeting_late_needs_the_reason_for_the_delay(profile):
    profile.COMPANY_EU_ESTABLISHMENT = True
    obligation = owed(open_incident())["gdpr-art33"]
    late = AWARE + timedelta(hours=75, minutes=30)

    with pytest.raises(ObligationError, match="3 h 30 min late: give the reason"):
        obligation_meet(obligation_id=obligation.pk, actor=None, met_at=late, delay_reason="  ")

    obligation.refresh_from_db()
    assert (obligation.status, obligation.met_at) == ("open", None)

    met = obligation_meet(
        obligation_id=obligation.pk,
        actor=None,
        met_at=late,
        delay_reason="Forensics needed the weekend to confirm scope",
    )
    assert met.status == Obligation.Status.LATE
    assert met.lateness == timedelta(hours=3, minutes=30)


def test_lateness_is_frozen_when_met(profile, make_user):
    dpo = make_user("dpo", roles.DPO)
    profile.COMPANY_EU_ESTABLISHMENT = True
    incident = open_incident()
    obligation = owed(incident)["gdpr-art33"]
    obligation_meet(
        obligation_id=obligation.pk,
        actor=None,
        met_at=AWARE + timedelta(hours=80),
        delay_reason="late",
    )

    # The awareness time is corrected afterwards: the met filing keeps its clock and lateness.
    incident_update(
        incident_id=incident.pk,
        actor=dpo,
        clock_change_reason="corrected",
        awareness_at=AWARE - timedelta(days=1),
    )

    obligation.refresh_from_db()
    assert obligation.lateness == timedelta(hours=8)
    assert obligation.due_at == AWARE + timedelta(hours=72)


@pytest.mark.parametrize(
    ("met_at", "message"),
    [
        (AWARE - timedelta(hours=1), "before its clock started"),
        (datetime(2099, 1, 1, tzinfo=UTC), "in the future"),
        (datetime(2026, 3, 28, 9, 0), "time zone"),
    ],
)
def test_impossible_meeting_times_are_refused(profile, met_at, message):
    profile.COMPANY_EU_ESTABLISHMENT = True
    obligation = owed(open_incident())["gdpr-art33"]

    with pytest.raises(ObligationError, match=message):
        obligation_meet(obligation_id=obligation.pk, actor=None, met_at=met_at)


def test_an_obligation_is_met_once(profile):
    profile.COMPANY_EU_ESTABLISHMENT = True
    obligation = owed(open_incident())["gdpr-art33"]
    obligation_meet(obligation_id=obligation.pk, actor=None, met_at=AWARE + timedelta(hours=1))

    with pytest.raises(ObligationError, match="already met on time"):
        obligation_meet(obligation_id=obligation.pk, actor=None, met_at=AWARE + timedelta(hours=2))


def test_not_required_needs_a_reason(profile):
    profile.COMPANY_EU_ESTABLISHMENT = True
    obligation = owed(open_incident())["gdpr-art33"]

    with pytest.raises(ObligationError, match="why"):
        obligation_mark_not_required(obligation_id=obligation.pk, actor=None, reason="")

    done = obligation_mark_not_required(
        obligation_id=obligation.pk, actor=None, reason="Controller is the customer, not us"
    )
    assert (done.status, done.not_required_reason) == (
        "not_required",
        "Controller is the customer, not us",
    )


def test_art33_not_required_waives_the_authority_filing_and_notify_reopens_it(profile, make_user):
    profile.COMPANY_EU_ESTABLISHMENT = True
    incident = open_incident()
    dpo = make_user("dpo", roles.DPO)

    incident_decide_art33(
        incident_id=incident.pk,
        actor=dpo,
        decision=Incident.Art33Decision.NOT_REQUIRED,
        reason="Encrypted laptop, key not compromised",
    )

    art33 = owed(incident)["gdpr-art33"]
    assert art33.status == Obligation.Status.NOT_REQUIRED
    assert "Encrypted laptop" in art33.not_required_reason
    assert owed(incident)["gdpr-art34"].status == Obligation.Status.OPEN

    incident_decide_art33(
        incident_id=incident.pk, actor=dpo, decision=Incident.Art33Decision.NOTIFY, reason=""
    )
    assert owed(incident)["gdpr-art33"].status == Obligation.Status.OPEN


def test_art34_exemption_waives_the_people_filing(profile, make_user):
    profile.COMPANY_EU_ESTABLISHMENT = True
    incident = open_incident()

    incident_decide_art34(
        incident_id=incident.pk,
        actor=make_user("ciso", roles.CISO),
        decision=Incident.Art34Decision.EXEMPT_A,
        reason="Data was encrypted at rest with AES-256",
    )

    assert owed(incident)["gdpr-art34"].status == Obligation.Status.NOT_REQUIRED
    assert owed(incident)["gdpr-art33"].status == Obligation.Status.OPEN


def test_a_first_build_writes_every_obligation_at_once_and_chains_its_events(
    profile, django_assert_max_num_queries
):
    """A scope across every US state owes dozens of obligations at once: they and their
    events are written set-based (a fixed handful of queries, not a few per obligation),
    one "created" event each, then each clock, on a chain that still verifies."""
    from incidents.regime_data import STATES
    from incidents.selectors import timeline_verify
    from incidents.services import obligations_sync

    incident = open_incident()
    segment = SegmentFactory.create()
    customers = Customer.objects.bulk_create(
        Customer(
            email=f"s{i}@example.com",
            email_normalized=f"s{i}@example.com",
            country="US",
            region=state.code,
        )
        for i, state in enumerate(STATES)
    )
    for customer in customers:
        SegmentMembershipFactory.create(segment=segment, customer=customer)
    with django_assert_max_num_queries(len(STATES)):
        scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment.pk], replace=False)

    obligations = owed(incident)
    assert len(obligations) >= 40
    created = list(incident.timeline.filter(kind="obligation.created").order_by("seq"))
    assert [e.payload["obligation"] for e in created] == sorted(o.pk for o in obligations.values())
    clocks = incident.timeline.filter(kind="obligation.clock")
    started = [o for o in obligations.values() if (o.clock_started_at, o.due_at) != (None, None)]
    assert clocks.count() == len(started) > 0
    assert min(c.seq for c in clocks) > max(e.seq for e in created)
    assert timeline_verify(incident_id=incident.pk).ok
    assert obligations_sync(incident_id=incident.pk, actor=None) == []
