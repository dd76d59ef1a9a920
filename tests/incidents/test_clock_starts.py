"""Clock starts other than awareness, law-enforcement pauses and obligations ordered
against the consumer notice."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config import roles
from incidents.models import Regime
from incidents.services import (
    IncidentError,
    ObligationError,
    incident_mark_contained,
    incident_record_clock_start,
    incident_record_people_notified,
    obligation_meet,
    obligation_pause,
)

from .test_jurisdictions import opened, owed, scope

pytestmark = pytest.mark.django_db
CT = ZoneInfo("America/Chicago")
AWARE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)


def regime(code, **fields):
    defaults = {
        "name": code,
        "recipient": "r",
        "countries": ["US"],
        "regions": ["TX"],
        "deadline_amount": 10,
        "deadline_unit": "days",
        "due_timezone": "America/Chicago",
        "terms": "t",
        "source": "s",
    }
    return Regime.objects.create(code=code, **{**defaults, **fields})


def test_a_law_enforcement_delay_moves_the_due_time_by_its_length():
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    texas = owed(incident)["us-tx-individuals"]
    due = texas.due_at

    obligation_pause(
        obligation_id=texas.pk,
        actor=None,
        requested_by="FBI Dallas field office, SA J. Doe",
        reference="Letter 2026-114",
        starts_at=AWARE + timedelta(days=2),
        until=AWARE + timedelta(days=23),
    )

    assert owed(incident)["us-tx-individuals"].due_at == due + timedelta(days=21)
    event = incident.timeline.filter(kind="obligation.paused").get()
    assert event.payload["requested_by"] == "FBI Dallas field office, SA J. Doe"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requested_by": " "}, "agency"),
        ({"reference": ""}, "written request"),
        ({"until": AWARE}, "end after it starts"),
    ],
)
def test_a_pause_without_who_what_or_a_length_is_refused(kwargs, message):
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    args = {
        "obligation_id": owed(incident)["us-tx-individuals"].pk,
        "actor": None,
        "requested_by": "FBI",
        "reference": "L-1",
        "starts_at": AWARE,
        "until": AWARE + timedelta(days=1),
        **kwargs,
    }
    with pytest.raises(ObligationError, match=message):
        obligation_pause(**args)
    assert not incident.timeline.filter(kind="obligation.paused").exists()


def test_clocks_start_at_determination_scope_and_containment(make_user):
    regime("tx-determined", clock_start="determination")
    regime("tx-scoped", clock_start="scope_identified")
    regime("tx-contained", clock_start="containment")
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    obligations = owed(incident)
    # Until a determination is recorded, the stricter reading: from awareness.
    assert obligations["tx-determined"].clock_started_at == AWARE
    assert obligations["tx-contained"].due_at is None
    # The first scope written is when the people were identified.
    assert obligations["tx-scoped"].clock_started_at is not None

    dpo = make_user("dpo", roles.DPO)
    determined = datetime(2026, 4, 1, 16, 0, tzinfo=CT)
    incident_record_clock_start(
        incident_id=incident.pk, actor=dpo, fact="breach_determined_at", at=determined
    )
    incident_mark_contained(
        incident_id=incident.pk, actor=None, contained_at=datetime(2026, 4, 3, 8, 0, tzinfo=CT)
    )

    obligations = owed(incident)
    assert obligations["tx-determined"].due_at == datetime(2026, 4, 11, 23, 59, 59, tzinfo=CT)
    assert obligations["tx-contained"].due_at == datetime(2026, 4, 13, 23, 59, 59, tzinfo=CT)


def test_a_clock_start_before_awareness_or_by_an_analyst_is_refused(make_user):
    incident = opened()
    with pytest.raises(IncidentError, match="before awareness"):
        incident_record_clock_start(
            incident_id=incident.pk,
            actor=make_user("dpo", roles.DPO),
            fact="breach_determined_at",
            at=AWARE - timedelta(hours=1),
        )
    with pytest.raises(IncidentError, match="DPO or the CISO"):
        incident_record_clock_start(
            incident_id=incident.pk,
            actor=make_user("sa", roles.SECURITY_ANALYST),
            fact="breach_determined_at",
            at=AWARE,
        )


def test_relations_to_the_consumer_notice():
    consumer = regime("tx-consumer", deadline_amount=60)
    regime("tx-no-later", deadline_amount=90, relation="no_later_than", relative_to=consumer)
    regime("tx-sooner", deadline_amount=30, relation="sooner_of", relative_to=consumer)
    regime("tx-same", deadline_unit="none", relation="same_time", relative_to=consumer)
    regime(
        "tx-after-notice",
        clock_start="consumer_notice",
        deadline_amount=5,
    )
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    obligations = owed(incident)
    consumer_due = obligations["tx-consumer"].due_at
    # No later than the consumer notice: its own 90 days give way to the notice's 60.
    assert obligations["tx-no-later"].due_at == consumer_due
    # Its own 30 days are sooner than the notice's 60.
    assert obligations["tx-sooner"].due_at == datetime(2026, 4, 26, 23, 59, 59, tzinfo=CT)
    assert obligations["tx-same"].due_at == consumer_due
    assert obligations["tx-after-notice"].due_at is None

    sent = datetime(2026, 4, 10, 15, 0, tzinfo=CT)
    obligation_meet(obligation_id=obligations["tx-consumer"].pk, actor=None, met_at=sent)
    incident_record_people_notified(incident_id=incident.pk, actor=None, notified_at=sent)

    obligations = owed(incident)
    assert obligations["tx-same"].due_at == sent
    assert obligations["tx-no-later"].due_at == sent
    assert obligations["tx-after-notice"].due_at == datetime(2026, 4, 15, 23, 59, 59, tzinfo=CT)


def test_the_hipaa_small_breach_log_is_due_60_days_after_the_year_ends():
    regime(
        "log",
        clock_start="year_end",
        deadline_amount=60,
        due_timezone="America/New_York",
    )
    incident = opened()
    scope(incident, [("US", "TX", "", 1)])
    due = owed(incident)["log"].due_at
    # 60 days after 31 December 2026 is 1 March 2027.
    assert due == datetime(2027, 3, 1, 23, 59, 59, tzinfo=ZoneInfo("America/New_York"))
    assert due.astimezone(ZoneInfo("America/New_York")).date() == date(2027, 3, 1)
