"""ENISA arithmetic, regime clocks and applicability: the rules on their own."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from incidents.rules import (
    RuleError,
    add_months,
    add_us_business_days,
    deadline,
    enisa_severity,
    regime_applies,
    us_federal_holidays,
)

SEC = {
    "deadline_unit": "us_business_days",
    "deadline_amount": 4,
    "due_local_time": "17:30",
    "due_timezone": "America/New_York",
}
ET = ZoneInfo("America/New_York")


def severity(dpc_base, ei, adjustments=(), c="0", i="0", a="0", malicious=False):
    return enisa_severity(
        dpc_base=dpc_base,
        adjustments=list(adjustments),
        ei=D(ei),
        cb_confidentiality=D(c),
        cb_integrity=D(i),
        cb_availability=D(a),
        malicious=malicious,
    )


@pytest.mark.parametrize(
    ("args", "score", "level"),
    [
        ((1, "0.25"), "0.25", "low"),
        ((1, "1", (), "0.5", "0.25", "0.25"), "2.00", "medium"),  # 2 is no longer low
        ((2, "1", (), "0.5", "0", "0", False), "2.50", "medium"),
        ((3, "1"), "3.00", "high"),  # 3 is no longer medium
        ((3, "0.75", (), "0.5", "0", "0", True), "3.25", "high"),
        ((3, "1", (), "0.5", "0", "0", True), "4.00", "very_high"),  # from 4: very high
        ((4, "1", (), "0.5", "0.5", "0.5", True), "6.00", "very_high"),
    ],
)
def test_enisa_score_is_dpc_times_ei_plus_cb_in_its_band(args, score, level):
    result = severity(*args)
    assert (result.score, result.level) == (D(score), level)


def test_dpc_adjustments_are_bounded_to_one_and_four():
    assert severity(4, "1", adjustments=[1, 1]).dpc == 4
    assert severity(1, "1", adjustments=[-1]).dpc == 1
    assert severity(2, "1", adjustments=[1]).dpc == 3
    assert severity(3, "0.5", adjustments=[-1]).score == D("1.00")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dpc_base": 5, "ei": "1"}, "base DPC"),
        ({"dpc_base": 2, "ei": "0.3"}, "Ease of identification"),
        ({"dpc_base": 2, "ei": "1", "c": "0.3"}, "confidentiality"),
        ({"dpc_base": 2, "ei": "1", "a": "1"}, "availability"),
    ],
)
def test_enisa_inputs_outside_the_method_are_refused(kwargs, message):
    with pytest.raises(RuleError, match=message):
        severity(**kwargs)


def test_us_federal_holidays_are_computed_with_observed_days():
    observed = {
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),  # 4 July is a Saturday
        date(2026, 9, 7),
        date(2026, 10, 12),
        date(2026, 11, 11),
        date(2026, 11, 26),
        date(2026, 12, 25),
    }
    weekdays = {d for d in us_federal_holidays(2026) if d.weekday() < 5}
    assert weekdays == observed
    # 1 January 2028 is a Saturday: observed on Friday 31 December 2027.
    assert date(2027, 12, 31) in us_federal_holidays(2027)
    assert date(2027, 7, 5) in us_federal_holidays(2027)  # 4 July 2027 is a Sunday


def test_sec_clock_skips_weekends_and_thanksgiving():
    # Wednesday before Thanksgiving, 15:00 Eastern.
    determined = datetime(2026, 11, 25, 15, 0, tzinfo=ET)
    due = deadline(SEC, determined)
    # Thu 26 is Thanksgiving; Fri 27, Mon 30, Tue 1, Wed 2 December; 17:30 EST = 22:30 UTC.
    assert due == datetime(2026, 12, 2, 22, 30, tzinfo=UTC)


def test_sec_clock_counts_from_the_eastern_date_not_the_utc_date():
    # 23:30 Eastern on Tuesday 24 November is already Wednesday in UTC.
    determined = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
    assert deadline(SEC, determined) == datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


def test_sec_cut_off_follows_eastern_time_across_the_dst_change():
    summer = deadline(SEC, datetime(2026, 7, 13, 12, 0, tzinfo=UTC))
    assert summer == datetime(2026, 7, 17, 21, 30, tzinfo=UTC)  # 17:30 EDT
    # Determined Thursday 29 October (EDT); due Wednesday 4 November (EST since 1 November).
    across = deadline(SEC, datetime(2026, 10, 29, 14, 0, tzinfo=UTC))
    assert across == datetime(2026, 11, 4, 22, 30, tzinfo=UTC)


def test_business_days_before_new_year_skip_the_observed_holiday():
    due = add_us_business_days(
        datetime(2027, 12, 28, 15, 0, tzinfo=ET), 4, cutoff=time(17, 30), tz="America/New_York"
    )
    # Wed 29, Thu 30, (Fri 31 observed New Year), Mon 3, Tue 4 January 2028.
    assert due.astimezone(ET).date() == date(2028, 1, 4)


def test_72_hours_across_a_dst_change_are_72_hours():
    # Europe moves to summer time on 29 March 2026; the wall clock gains an hour.
    aware = datetime(2026, 3, 27, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = deadline({"deadline_unit": "hours", "deadline_amount": 72}, aware)
    assert due is not None
    assert due - aware == timedelta(hours=72)
    assert due == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert due.astimezone(ZoneInfo("Europe/Berlin")).hour == 11
    assert due.tzinfo == UTC


def test_calendar_days_and_months_end_at_the_end_of_the_local_day():
    start = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)
    assert deadline({"deadline_unit": "days", "deadline_amount": 60}, start) == datetime(
        2026, 4, 1, 23, 59, 59, tzinfo=UTC
    )
    assert add_months(start, 1) == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)
    month = {"deadline_unit": "months", "deadline_amount": 1, "due_timezone": "Europe/Paris"}
    # 23:30 UTC on 31 January is already 1 February in Paris: the month runs to 1 March.
    due = deadline(month, datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    assert due == datetime(2026, 3, 1, 23, 59, 59, tzinfo=ZoneInfo("Europe/Paris"))


def test_no_fixed_deadline_and_no_clock_start_mean_no_due_time():
    assert deadline({"deadline_unit": "none", "deadline_amount": None}, datetime.now(UTC)) is None
    assert deadline({"deadline_unit": "hours", "deadline_amount": 72}, None) is None


def test_a_naive_clock_start_is_refused():
    with pytest.raises(RuleError, match="naive"):
        deadline({"deadline_unit": "hours", "deadline_amount": 72}, datetime(2026, 1, 1))


def applies(counts, profile=None, **regime):
    return regime_applies(
        profile_flag=regime.get("profile_flag", ""),
        countries=regime.get("countries", []),
        regions=regime.get("regions", []),
        min_affected=regime.get("min_affected", 0),
        profile=profile or {},
        counts=counts,
    )


def test_texas_attorney_general_needs_250_residents():
    texas = {"countries": ["US"], "regions": ["TX"], "min_affected": 250}
    assert applies({("US", "TX"): 249, ("US", "CA"): 500}, **texas) is None
    assert applies({("US", "TX"): 250}, **texas) == "250 affected residents of TX (threshold 250)"


def test_residents_path_needs_at_least_one_resident():
    gdpr = {"countries": ["DE", "FR"], "profile_flag": "eu_establishment"}
    assert applies({("US", "CA"): 3}, **gdpr) is None
    assert applies({("FR", ""): 1}, **gdpr) == "1 affected resident of DE, FR"
    assert applies({}, {"eu_establishment": True}, **gdpr) == "company profile: eu establishment"


def test_profile_thresholds_count_the_whole_scope():
    hhs = {"profile_flag": "hipaa_covered", "min_affected": 500}
    assert applies({("US", "CA"): 499}, {"hipaa_covered": True}, **hhs) is None
    assert applies({("US", "CA"): 300, ("US", "NY"): 200}, {"hipaa_covered": True}, **hhs)
    assert applies({("US", "CA"): 900}, {"hipaa_covered": False}, **hhs) is None
