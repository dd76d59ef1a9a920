"""Pure rules: ENISA severity, deadline clocks and which regimes apply. No database here.

Deadlines are computed on aware datetimes in UTC. Hour and day periods are exact
durations (72 h across a DST change is still 72 h of real time); business days are
counted on the regulator's local calendar and end at its local cut-off time.
"""

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

EI_VALUES = (Decimal("0.25"), Decimal("0.5"), Decimal("0.75"), Decimal("1"))
CB_VALUES = (Decimal("0"), Decimal("0.25"), Decimal("0.5"))
MALICIOUS_VALUE = Decimal("0.5")


class RuleError(ValueError):
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


# --- US federal holidays (5 U.S.C. 6103, observed per Executive Order 11582) -----------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A holiday on a Saturday is observed the Friday before, on a Sunday the Monday after."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def us_federal_holidays(year: int) -> set[date]:
    """The days federal offices close in `year` (observed dates), computed by rule."""
    days: set[date] = set()
    # New Year's Day of the next year may be observed on 31 December of this one.
    for y in (year, year + 1):
        fixed = [date(y, 1, 1), date(y, 7, 4), date(y, 11, 11), date(y, 12, 25)]
        if y >= 2021:
            fixed.append(date(y, 6, 19))  # Juneteenth, a federal holiday since 2021
        days.update(_observed(d) for d in fixed)
        days.update(
            {
                _nth_weekday(y, 1, 0, 3),  # Birthday of Martin Luther King, Jr.
                _nth_weekday(y, 2, 0, 3),  # Washington's Birthday
                _last_weekday(y, 5, 0),  # Memorial Day
                _nth_weekday(y, 9, 0, 1),  # Labor Day
                _nth_weekday(y, 10, 0, 2),  # Columbus Day
                _nth_weekday(y, 11, 3, 4),  # Thanksgiving Day
            }
        )
    return {d for d in days if d.year == year}


def is_us_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in us_federal_holidays(day.year)


def add_us_business_days(start: datetime, days: int, *, cutoff: time, tz: str) -> datetime:
    """The cut-off time on the `days`-th US business day after `start`'s local date, in UTC."""
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_us_business_day(day):
            counted += 1
    return datetime.combine(day, cutoff, tzinfo=zone).astimezone(UTC)


def add_months(start: datetime, months: int) -> datetime:
    """Same day and time `months` later in UTC, or the month's last day when it is shorter."""
    start = start.astimezone(UTC)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def deadline(terms: Mapping[str, Any], clock_start: datetime | None) -> datetime | None:
    """When an obligation with these (copied) terms is due, or None without a fixed clock."""
    unit = terms["deadline_unit"]
    if unit == "none" or clock_start is None:
        return None
    amount = int(terms["deadline_amount"])
    if clock_start.tzinfo is None:
        raise RuleError("A clock cannot start at a naive datetime.")
    start = clock_start.astimezone(UTC)
    if unit == "hours":
        return start + timedelta(hours=amount)
    if unit == "days":
        return start + timedelta(days=amount)
    if unit == "months":
        return add_months(start, amount)
    if unit == "us_business_days":
        cutoff = time.fromisoformat(terms.get("due_local_time") or "23:59:59")
        return add_us_business_days(
            start, amount, cutoff=cutoff, tz=terms.get("due_timezone") or "America/New_York"
        )
    raise RuleError(f"Unknown deadline unit {unit!r}.")


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


def regime_applies(
    *,
    profile_flag: str,
    countries: Sequence[str],
    regions: Sequence[str],
    min_affected: int,
    profile: Mapping[str, bool],
    counts: Mapping[tuple[str, str], int],
) -> str | None:
    """Why a regime applies ("company profile" or "N residents of ..."), or None.

    By profile: the flag is set and the scope holds at least `min_affected` people. By
    residence: at least max(`min_affected`, 1) affected people live in the jurisdiction.
    """
    total = sum(counts.values())
    if profile_flag and profile.get(profile_flag) and total >= min_affected:
        return f"company profile: {profile_flag.replace('_', ' ')}" + (
            f", {total} affected" if min_affected else ""
        )
    if countries:
        living = residents(counts, countries, regions)
        if living >= max(min_affected, 1):
            where = "/".join(regions) if regions else ", ".join(countries[:5])
            if not regions and len(countries) > 5:
                where += ", ..."
            return f"{living} affected resident{'s' if living != 1 else ''} of {where}"
    return None
