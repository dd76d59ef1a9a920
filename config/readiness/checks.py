"""The shapes the readiness page, the board PDF and the daily snapshot share."""

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class State(StrEnum):
    OK = "ok"
    GAP = "gap"
    # The feature the check reads is not built (or not configured) yet: neither green nor
    # a measured gap, and said so in words.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    # Dotted Django permission needed to open it ("" for any reader of the page). A link
    # the person cannot open keeps its words but loses its address, rather than lead to a
    # 403: the CMO still reads what the fix is and who does it.
    permission: str = ""


@dataclass(frozen=True)
class Check:
    """One figure of a dimension: what it measures, the number, whether it is green."""

    key: str
    label: str
    figure: str
    state: State
    detail: str = ""
    drill: Link | None = None
    fix: Link | None = None
    # The raw number behind the figure, kept in the snapshot and compared on the PDF.
    value: float | int | None = None


@dataclass(frozen=True)
class Dimension:
    key: str
    title: str
    question: str
    checks: list[Check]
    # Extra tables (header row + rows) and a chart (inline SVG) under the checks.
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    chart_svg: str = ""

    @property
    def gaps(self) -> int:
        return sum(1 for c in self.checks if c.state == State.GAP)

    @property
    def unknown(self) -> int:
        return sum(1 for c in self.checks if c.state == State.UNKNOWN)

    @property
    def state(self) -> State:
        if self.gaps:
            return State.GAP
        return State.UNKNOWN if self.unknown else State.OK


def checks_for_user(dimensions: list[Dimension], user: Any) -> list[Dimension]:
    """The dimensions with only the links this person may open."""

    def allowed(link: Link | None) -> Link | None:
        if link is None or not link.permission or user.has_perm(link.permission):
            return link
        return replace(link, url="")

    return [
        replace(
            d,
            checks=[replace(c, drill=allowed(c.drill), fix=allowed(c.fix)) for c in d.checks],
        )
        for d in dimensions
    ]


def percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def share(part: int, whole: int) -> str:
    """ "90.0% (900 of 1,000)": the share and the count behind it."""
    return f"{percent(part, whole):.1f}% ({part:,} of {whole:,})"
