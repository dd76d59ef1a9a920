"""Pure rules: ENISA severity, deadline clocks and which regimes apply. No database here.

Deadlines are computed on aware datetimes in UTC. Hours are exact durations (72 h across
a DST change is still 72 h of real time); calendar days and months end at the end of the
local day in the jurisdiction's time zone; business days are counted on the regulator's
holiday calendar and end at its local cut-off time.
"""

import calendar
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from config.services import ServiceError

EI_VALUES = (Decimal("0.25"), Decimal("0.5"), Decimal("0.75"), Decimal("1"))
CB_VALUES = (Decimal("0"), Decimal("0.25"), Decimal("0.5"))
MALICIOUS_VALUE = Decimal("0.5")


class RuleError(ServiceError, ValueError):
    """An input the rules cannot work with; the message names it."""


@dataclass(frozen=True)
class Severity:
    dpc: int
    score: Decimal
    level: str


def severity_level(score: Decimal) -> str:
    """ENISA bands: low below 2, medium below 3, high below 4, very high from 4."""
    if score < 2:
        return "low"
    if score < 3:
        return "medium"
    if score < 4:
        return "high"
    return "very_high"


def enisa_severity(
    *,
    dpc_base: int,
    adjustments: Sequence[int],
    ei: Decimal,
    cb_confidentiality: Decimal,
    cb_integrity: Decimal,
    cb_availability: Decimal,
    malicious: bool,
) -> Severity:
    """SE = DPC x EI + CB, DPC adjusted by context and bounded to 1..4."""
    if dpc_base not in (1, 2, 3, 4):
        raise RuleError(f"The base DPC must be 1 to 4, not {dpc_base}.")
    if ei not in EI_VALUES:
        raise RuleError(f"Ease of identification must be one of 0.25, 0.5, 0.75, 1; not {ei}.")
    for name, value in (
        ("confidentiality", cb_confidentiality),
        ("integrity", cb_integrity),
        ("availability", cb_availability),
    ):
        if value not in CB_VALUES:
            raise RuleError(f"Loss of {name} must be 0, 0.25 or 0.5; not {value}.")
    dpc = min(4, max(1, dpc_base + sum(adjustments)))
    cb = cb_confidentiality + cb_integrity + cb_availability
    cb += MALICIOUS_VALUE if malicious else Decimal("0")
    score = (Decimal(dpc) * ei + cb).quantize(Decimal("0.01"))
    return Severity(dpc=dpc, score=score, level=severity_level(score))


# --- Calendars and clocks ---------------------------------------------------------------

# A day that ends "at the end of the day" ends at its last second in the jurisdiction's zone.
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=256)
def _calendar_holidays(calendar_code: str, year: int) -> frozenset[date]:
    """Public holidays of a calendar ("US", "US-NY", "BR", "NYSE"...) in `year`, as the
    `holidays` library keeps them (observed days included)."""
    code = calendar_code.strip().upper()
    if code in holidays.list_supported_financial():
        days = holidays.financial_holidays(code, years=year)
    else:
        country, _, subdiv = code.partition("-")
        try:
            days = holidays.country_holidays(country, subdiv=subdiv or None, years=year)
        except NotImplementedError:
            raise RuleError(f"No holiday calendar is known as {calendar_code!r}.") from None
    return frozenset(d for d in days if d.year == year)


def calendar_holidays(calendar_code: str, year: int) -> set[date]:
    return set(_calendar_holidays(calendar_code, year))


def us_federal_holidays(year: int) -> set[date]:
    """The days federal offices close in `year` (5 U.S.C. 6103, observed dates)."""
    return calendar_holidays("US", year)


def is_business_day(day: date, calendar_code: str, closures: Collection[date] = ()) -> bool:
    return (
        day.weekday() < 5
        and day not in _calendar_holidays(calendar_code, day.year)
        and day not in closures
    )


def is_us_business_day(day: date) -> bool:
    return is_business_day(day, "US")


def add_business_days(
    start: datetime,
    days: int,
    *,
    cutoff: time,
    tz: str,
    calendar_code: str,
    closures: Collection[date] = (),
) -> datetime:
    """The cut-off time on the `days`-th business day after `start`'s local date, in UTC.

    Business days skip weekends, the calendar's holidays and the one-off closures an admin
    entered (a federal office closed by executive order)."""
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day, calendar_code, closures):
            counted += 1
    return datetime.combine(day, cutoff, tzinfo=zone).astimezone(UTC)


def add_us_business_days(start: datetime, days: int, *, cutoff: time, tz: str) -> datetime:
    return add_business_days(start, days, cutoff=cutoff, tz=tz, calendar_code="US")


def add_months(start: datetime, months: int) -> datetime:
    """Same day and time `months` later, or the month's last day when it is shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _end_of_local_day(day: date, cutoff: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, cutoff, tzinfo=zone).astimezone(UTC)


def deadline(
    terms: Mapping[str, Any],
    clock_start: datetime | None,
    *,
    closures: Collection[date] = (),
    paused: timedelta = timedelta(0),
) -> datetime | None:
    """When an obligation with these (copied) terms is due, or None without a fixed clock.

    Hours are exact durations (72 h across a DST change is 72 h of real time). Calendar
    days and months count local dates in the jurisdiction's time zone and end at the end
    of the last day, or at the regulator's cut-off. Business days follow the regulator's
    holiday calendar plus one-off `closures`. A documented pause (a law-enforcement delay)
    moves the due time by its length.
    """
    unit = terms["deadline_unit"]
    if unit == "none" or clock_start is None:
        return None
    amount = int(terms["deadline_amount"])
    if clock_start.tzinfo is None:
        raise RuleError("A clock cannot start at a naive datetime.")
    start = clock_start.astimezone(UTC)
    zone = ZoneInfo(terms.get("due_timezone") or "UTC")
    cutoff = time.fromisoformat(terms["due_local_time"]) if terms.get("due_local_time") else None
    if unit == "hours":
        due = start + timedelta(hours=amount)
    elif unit == "days":
        local = start.astimezone(zone).date() + timedelta(days=amount)
        due = _end_of_local_day(local, cutoff or END_OF_DAY, zone)
    elif unit == "months":
        local = add_months(start.astimezone(zone), amount).date()
        due = _end_of_local_day(local, cutoff or END_OF_DAY, zone)
    elif unit in ("business_days", "us_business_days"):
        code = terms.get("holiday_calendar") or "US"
        due = add_business_days(
            start,
            amount,
            cutoff=cutoff or END_OF_DAY,
            tz=terms.get("due_timezone") or "America/New_York",
            calendar_code=code,
            closures=closures,
        )
    else:
        raise RuleError(f"Unknown deadline unit {unit!r}.")
    return due + paused


# --- Which regimes apply ----------------------------------------------------------------


def residents(
    counts: Mapping[tuple[str, str], int], countries: Iterable[str], regions: Iterable[str]
) -> int:
    """How many affected people live in these countries (and, if given, these regions)."""
    country_set = {c.upper() for c in countries}
    region_set = {r.upper() for r in regions}
    return sum(
        n
        for (country, region), n in counts.items()
        if country.upper() in country_set and (not region_set or region.upper() in region_set)
    )


def _largest_subdivision(
    counts: Mapping[tuple[str, str], int], countries: Iterable[str]
) -> tuple[str, int]:
    """The subdivision ("US-TX") of these countries (all, when none named) with the most
    affected residents, and how many; people with no known subdivision count for none."""
    country_set = {c.upper() for c in countries}
    best, most = "", 0
    for (country, region), n in sorted(counts.items()):
        if region and (not country_set or country.upper() in country_set) and n > most:
            best, most = f"{country.upper()}-{region.upper()}", n
    return best, most


def regime_applies(
    *,
    profile_flag: str,
    countries: Sequence[str],
    regions: Sequence[str],
    min_affected: int,
    profile: Mapping[str, bool],
    counts: Mapping[tuple[str, str], int],
    per_subdivision: bool = False,
) -> str | None:
    """Why a regime applies ("company profile" or "N residents of ..."), or None.

    By profile: the flag is set and the scope holds at least `min_affected` people. By
    residence: at least max(`min_affected`, 1) affected people live in the jurisdiction.
    A threshold `per_subdivision` counts the residents of each subdivision on their own
    (HIPAA's media notice: more than 500 residents of one State), never a sum of several.
    """
    total = sum(counts.values())
    if per_subdivision and min_affected:
        if profile_flag and not profile.get(profile_flag):
            return None
        where, most = _largest_subdivision(counts, countries)
        if most >= min_affected:
            return f"{most} affected residents of {where} (threshold {min_affected} in one)"
        return None
    if profile_flag and profile.get(profile_flag) and total >= min_affected:
        return f"company profile: {profile_flag.replace('_', ' ')}" + (
            f", {total} affected (threshold {min_affected})" if min_affected else ""
        )
    if countries:
        living = residents(counts, countries, regions)
        if living >= max(min_affected, 1):
            where = "/".join(regions) if regions else ", ".join(countries[:5])
            if not regions and len(countries) > 5:
                where += ", ..."
            threshold = f" (threshold {min_affected})" if min_affected > 1 else ""
            return f"{living} affected resident{'s' if living != 1 else ''} of {where}{threshold}"
    return None
