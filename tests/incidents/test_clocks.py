"""Clocks the way the law counts them, table-driven from the statutes' own numbers."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.rules import RuleError, add_business_days, deadline, is_business_day

ET = ZoneInfo("America/New_York")
CT = ZoneInfo("America/Chicago")
PT = ZoneInfo("America/Los_Angeles")
SP = ZoneInfo("America/Sao_Paulo")

HIPAA = {"deadline_unit": "days", "deadline_amount": 60, "due_timezone": "America/New_York"}
TEXAS = {"deadline_unit": "days", "deadline_amount": 60, "due_timezone": "America/Chicago"}
CALIFORNIA = {"deadline_unit": "days", "deadline_amount": 30, "due_timezone": "America/Los_Angeles"}
SEC = {
    "deadline_unit": "business_days",
    "deadline_amount": 4,
    "due_local_time": "17:30",
    "due_timezone": "America/New_York",
    "holiday_calendar": "US",
}
LGPD = {
    "deadline_unit": "business_days",
    "deadline_amount": 3,
    "due_timezone": "America/Sao_Paulo",
    "holiday_calendar": "BR",
}
NYDFS = {"deadline_unit": "hours", "deadline_amount": 72}


@pytest.mark.parametrize(
    ("regime", "started", "met", "on_time"),
    [
        # Discovered 2 January at 10:00; day 60 is 3 March. A letter at 15:00 that day is
        # on time, which a 60 x 24 h clock would call five hours late.
        (
            HIPAA,
            datetime(2026, 1, 2, 10, 0, tzinfo=ET),
            datetime(2026, 3, 3, 15, 0, tzinfo=ET),
            True,
        ),
        (
            HIPAA,
            datetime(2026, 1, 2, 10, 0, tzinfo=ET),
            datetime(2026, 3, 3, 23, 59, tzinfo=ET),
            True,
        ),
        (
            HIPAA,
            datetime(2026, 1, 2, 10, 0, tzinfo=ET),
            datetime(2026, 3, 4, 0, 1, tzinfo=ET),
            False,
        ),
        # Texas counts on Central time: 23:30 in Chicago is already the next day in UTC.
        (
            TEXAS,
            datetime(2026, 5, 1, 23, 30, tzinfo=CT),
            datetime(2026, 6, 30, 22, 0, tzinfo=CT),
            True,
        ),
        (
            TEXAS,
            datetime(2026, 5, 1, 23, 30, tzinfo=CT),
            datetime(2026, 7, 1, 9, 0, tzinfo=CT),
            False,
        ),
        # California's 30 days across the spring DST change end at midnight Pacific.
        (
            CALIFORNIA,
            datetime(2026, 3, 1, 9, 0, tzinfo=PT),
            datetime(2026, 3, 31, 23, 0, tzinfo=PT),
            True,
        ),
        # Hours are exact, not the day's end: 72 h from 10:00 EST across the spring DST
        # change end at 11:00 EDT.
        (
            NYDFS,
            datetime(2026, 3, 6, 10, 0, tzinfo=ET),
            datetime(2026, 3, 9, 11, 0, tzinfo=ET),
            True,
        ),
        (
            NYDFS,
            datetime(2026, 3, 6, 10, 0, tzinfo=ET),
            datetime(2026, 3, 9, 11, 1, tzinfo=ET),
            False,
        ),
    ],
)
def test_a_deadline_is_met_when_the_law_says(regime, started, met, on_time):
    due = deadline(regime, started)
    assert due is not None
    assert (met <= due) is on_time


def test_a_day_deadline_met_at_15_local_on_its_last_day_is_on_time():
    discovered = datetime(2026, 1, 2, 10, 0, tzinfo=ET)
    due = deadline(HIPAA, discovered)
    assert due == datetime(2026, 3, 3, 23, 59, 59, tzinfo=ET)
    assert datetime(2026, 3, 3, 15, 0, tzinfo=ET) <= due


def test_a_cut_off_ends_the_day_earlier_than_midnight():
    regime = {**HIPAA, "deadline_amount": 3, "due_local_time": "17:00"}
    due = deadline(regime, datetime(2026, 4, 6, 9, 0, tzinfo=ET))
    assert due == datetime(2026, 4, 9, 17, 0, tzinfo=ET)


def test_a_one_off_closure_moves_the_sec_due_date():
    # Determined Monday 8 June 2026; four business days end Friday 12 June at 17:30 ET.
    determined = datetime(2026, 6, 8, 11, 0, tzinfo=ET)
    assert deadline(SEC, determined) == datetime(2026, 6, 12, 17, 30, tzinfo=ET)
    # Federal offices closed by executive order on Wednesday 10 June: due Monday 15 June.
    moved = deadline(SEC, determined, closures={date(2026, 6, 10)})
    assert moved == datetime(2026, 6, 15, 17, 30, tzinfo=ET)


def test_brazil_counts_business_days_on_its_own_holidays():
    # Tiradentes (21 April 2026, a Tuesday) is no business day in Brazil.
    assert not is_business_day(date(2026, 4, 21), "BR")
    assert is_business_day(date(2026, 4, 21), "US")
    due = deadline(LGPD, datetime(2026, 4, 17, 12, 0, tzinfo=SP))
    # Fri 17 -> Mon 20, (Tue 21 holiday), Wed 22, Thu 23: end of that day in Sao Paulo.
    assert due == datetime(2026, 4, 23, 23, 59, 59, tzinfo=SP)


def test_a_law_enforcement_delay_moves_the_due_time_by_its_length():
    discovered = datetime(2026, 1, 2, 10, 0, tzinfo=ET)
    due = deadline(HIPAA, discovered)
    assert due is not None
    delayed = deadline(HIPAA, discovered, paused=timedelta(days=30))
    assert delayed == due + timedelta(days=30)


def test_an_unknown_calendar_is_named():
    with pytest.raises(RuleError, match="XX"):
        add_business_days(
            datetime(2026, 1, 5, tzinfo=UTC),
            2,
            cutoff=datetime.min.time(),
            tz="UTC",
            calendar_code="XX",
        )
