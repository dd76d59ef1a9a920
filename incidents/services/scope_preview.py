"""What a scope change would do, shown before anyone confirms it.

The preview runs the very service the confirmation will run, inside a transaction that is
always rolled back: the counts, regimes and holds it reports are the ones the real change
would produce (same SQL, same receivers), and nothing of it stays. The scope's row lock is
held for the length of the dry run only.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from incidents.selectors import ScopeSummary, scope_summary
from incidents.signals import scope_holds_ask

from .scope import ScopeChange


@dataclass(frozen=True)
class HeldCampaign:
    name: str
    status: str
    withheld_before: int
    withheld_after: int


@dataclass(frozen=True)
class ScopePreview:
    added: int
    removed: int
    total_before: int
    total_after: int
    unmatched: int
    countries_appearing: list[tuple[str, int]] = field(default_factory=list)
    countries_going: list[tuple[str, int]] = field(default_factory=list)
    states_appearing: list[tuple[str, int]] = field(default_factory=list)
    states_going: list[tuple[str, int]] = field(default_factory=list)
    regimes_appearing: list[tuple[str, str]] = field(default_factory=list)
    regimes_going: list[tuple[str, str]] = field(default_factory=list)
    campaigns: list[HeldCampaign] = field(default_factory=list)

    @property
    def withheld_after(self) -> int:
        return sum(c.withheld_after for c in self.campaigns)

    @property
    def withheld_before(self) -> int:
        return sum(c.withheld_before for c in self.campaigns)


class _DryRun(Exception):
    """Raised at the end of the dry run so that its transaction rolls back, carrying what
    the change did out of it."""

    def __init__(
        self, result: ScopeChange, after: ScopeSummary, holds: dict[str, tuple[str, int]]
    ) -> None:
        super().__init__("dry run")
        self.result, self.after, self.holds = result, after, holds


def _holds(incident_id: int) -> dict[str, tuple[str, int]]:
    # Campaigns live in an app incidents does not import: they answer through a signal.
    return scope_holds_ask(incident_id=incident_id)


Counts = list[tuple[str, int]]


def _diff(before: Counts, after: Counts) -> tuple[Counts, Counts]:
    old, new = dict(before), dict(after)
    appearing = [(key, n) for key, n in after if key not in old]
    going = [(key, n) for key, n in before if key not in new]
    return appearing, going


def scope_preview(*, incident_id: int, change: Callable[[], ScopeChange]) -> ScopePreview:
    """Run `change` (a scope service call) in a transaction that is rolled back, and say
    who it adds and removes, which countries, US states and regimes appear or go, and
    which campaigns would hold back how many people."""
    before = scope_summary(incident_id=incident_id)
    holds_before = _holds(incident_id)
    try:
        with transaction.atomic():
            result = change()
            raise _DryRun(result, scope_summary(incident_id=incident_id), _holds(incident_id))
    except _DryRun as done:
        result, after, holds_after = done.result, done.after, done.holds
    countries_appearing, countries_going = _diff(before.by_country, after.by_country)
    states_appearing, states_going = _diff(before.by_us_state, after.by_us_state)
    regimes_before = {regime.name: why for regime, why in before.regimes}
    regimes_after = {regime.name: why for regime, why in after.regimes}
    campaigns = [
        HeldCampaign(
            name=name,
            status=holds_after.get(name, holds_before.get(name, ("", 0)))[0],
            withheld_before=holds_before.get(name, ("", 0))[1],
            withheld_after=holds_after.get(name, ("", 0))[1],
        )
        for name in sorted(set(holds_before) | set(holds_after))
    ]
    return ScopePreview(
        added=result.added,
        removed=result.removed,
        total_before=before.total,
        total_after=after.total,
        unmatched=result.unmatched,
        countries_appearing=countries_appearing,
        countries_going=countries_going,
        states_appearing=states_appearing,
        states_going=states_going,
        regimes_appearing=[(n, w) for n, w in regimes_after.items() if n not in regimes_before],
        regimes_going=[(n, w) for n, w in regimes_before.items() if n not in regimes_after],
        campaigns=campaigns,
    )
