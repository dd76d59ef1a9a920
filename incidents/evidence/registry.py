"""Sections of the evidence pack that other apps contribute, as plain data.

campaigns and notifications depend on incidents, never the reverse: they register a
provider here from their AppConfig.ready, and the pack calls it with an incident id.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    empty: str = "None."


@dataclass(frozen=True)
class Sample:
    """A document shown whole, as its reader gets it (line breaks kept): a message as sent."""

    title: str
    text: str


@dataclass(frozen=True)
class BarPart:
    label: str
    value: int
    percent: float
    colour: str


@dataclass(frozen=True)
class Bar:
    """A stacked bar of parts of one whole, with its label (read by screen readers too)."""

    label: str
    parts: list[BarPart]


@dataclass(frozen=True)
class SectionContent:
    """What a section says: label/value facts, then tables, then notes. Plain strings only;
    the template escapes all of it."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Whole documents after the tables, each under its title.
    samples: list[Sample] = field(default_factory=list)
    # (label, URL) shown under the section on the incident page; the pack leaves them out.
    links: list[tuple[str, str]] = field(default_factory=list)
    # Stacked bars, shown on the incident page above the facts.
    bars: list[Bar] = field(default_factory=list)
    # (title, data: URI of an SVG image) drawn in the pack after the tables: charts made
    # on the server, embedded whole, so the PDF fetches nothing.
    images: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    order: int
    provider: Callable[[int], SectionContent]
    # Shown on the incident page too, read when the page is: it must stay a cheap query.
    on_incident_page: bool = False
    # False for a section of the incident page only.
    in_pack: bool = True
    # What the incident page shows instead of `provider`'s content (kept counts, say).
    page_provider: Callable[[int], SectionContent] | None = None


# (customer id, notice status) for an incident, ordered by customer id.
CustomerStatusProvider = Callable[[int], Iterable[tuple[int, str]]]

_sections: dict[str, Section] = {}
_customer_status: list[CustomerStatusProvider] = []


def evidence_section_register(
    *,
    key: str,
    title: str,
    order: int,
    provider: Callable[[int], SectionContent],
    on_incident_page: bool = False,
    page_provider: Callable[[int], SectionContent] | None = None,
) -> None:
    """Add (or replace, so a reloaded app registers once) a section of the pack."""
    _sections[key] = Section(
        key=key,
        title=title,
        order=order,
        provider=provider,
        on_incident_page=on_incident_page,
        page_provider=page_provider,
    )


def evidence_customer_status_register(*, provider: CustomerStatusProvider) -> None:
    """Name the source of each affected person's notice status for the customers annex."""
    if provider not in _customer_status:
        _customer_status.append(provider)


def incident_page_section_register(
    *, key: str, title: str, order: int, provider: Callable[[int], SectionContent]
) -> None:
    """Add a section of the incident page that the evidence pack does not print."""
    _sections[key] = Section(
        key=key, title=title, order=order, provider=provider, on_incident_page=True, in_pack=False
    )


def _ordered() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))


def evidence_sections() -> list[Section]:
    return [s for s in _ordered() if s.in_pack]


def incident_page_sections(incident_id: int) -> list[tuple[Section, SectionContent]]:
    """The sections other apps show on the incident page, with their content now."""
    return [
        (s, (s.page_provider or s.provider)(incident_id)) for s in _ordered() if s.on_incident_page
    ]


def evidence_customer_statuses(incident_id: int) -> Iterator[tuple[int, str]]:
    """The registered statuses, or nothing when no app tells who was notified."""
    for provider in _customer_status[:1]:
        yield from provider(incident_id)
