"""Which column of a CRM export holds which of our fields.

A layout is recognised from the header: its id column must be there, and most of its
other columns. Anything else needs a saved mapping; without one the file is refused
before a row is read.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import ImportFileError
from .normalize import FIELDS


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    # Our field -> the header names this CRM uses for it (any one of them).
    columns: Mapping[str, tuple[str, ...]]


LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout(
            "salesforce",
            "Salesforce (report or Data Loader)",
            {
                "external_id": ("Contact ID", "Id"),
                "first_name": ("First Name", "FirstName"),
                "last_name": ("Last Name", "LastName"),
                "email": ("Email",),
                "phone": ("Phone",),
                "street": ("Mailing Street", "MailingStreet"),
                "city": ("Mailing City", "MailingCity"),
                "region": ("Mailing State/Province", "MailingState"),
                "postal_code": ("Mailing Zip/Postal Code", "MailingPostalCode"),
                "country": ("Mailing Country", "MailingCountry", "MailingCountryCode"),
                "email_opt_out": ("Email Opt Out", "HasOptedOutOfEmail"),
                "language": ("Language", "Language__c"),
                "lifecycle_stage": ("Lead Source", "LeadSource"),
            },
        ),
        Layout(
            "hubspot",
            "HubSpot",
            {
                "external_id": ("Record ID", "Contact ID"),
                "first_name": ("First Name",),
                "last_name": ("Last Name",),
                "email": ("Email",),
                "phone": ("Phone Number",),
                "street": ("Street Address",),
                "city": ("City",),
                "region": ("State/Region",),
                "postal_code": ("Postal Code",),
                "country": ("Country/Region",),
                "marketing_consent": ("Marketing contact status",),
                "lifecycle_stage": ("Lifecycle Stage",),
                "language": ("Preferred language",),
            },
        ),
        Layout(
            "dynamics",
            "Dynamics 365",
            {
                "external_id": ("(Do Not Modify) Contact",),
                "first_name": ("First Name",),
                "last_name": ("Last Name",),
                "email": ("Email", "E-mail"),
                "phone": ("Business Phone", "Mobile Phone"),
                "street": ("Address 1: Street 1",),
                "city": ("Address 1: City",),
                "region": ("Address 1: State/Province",),
                "postal_code": ("Address 1: ZIP/Postal Code",),
                "country": ("Address 1: Country/Region",),
                "marketing_consent": ("Bulk Email",),
                "language": ("Preferred Language",),
                "lifecycle_stage": ("Status Reason",),
            },
        ),
        Layout(
            "zoho",
            "Zoho CRM",
            {
                "external_id": ("Record Id",),
                "first_name": ("First Name",),
                "last_name": ("Last Name",),
                "email": ("Email",),
                "phone": ("Phone", "Mobile"),
                "street": ("Mailing Street",),
                "city": ("Mailing City",),
                "region": ("Mailing State",),
                "postal_code": ("Mailing Zip",),
                "country": ("Mailing Country",),
                "email_opt_out": ("Email Opt Out",),
                "lifecycle_stage": ("Lead Source",),
            },
        ),
    )
}

_KNOWN_HEADERS = {h for layout in LAYOUTS.values() for hs in layout.columns.values() for h in hs}


@dataclass(frozen=True)
class Placement:
    """Where each of our fields sits in this file's rows (column index)."""

    layout: str
    indexes: Mapping[str, int]


def _place(headers: Sequence[str], columns: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    position = {header: i for i, header in enumerate(headers)}
    placed = {}
    for field, names in columns.items():
        for name in names:
            if name in position:
                placed[field] = position[name]
                break
    return placed


def layout_detect(headers: Sequence[str]) -> str | None:
    """The layout whose id column is in the header and which places the most columns."""
    best, best_score = None, 0
    for layout in LAYOUTS.values():
        placed = _place(headers, layout.columns)
        if "external_id" not in placed or "email" not in placed:
            continue
        if len(placed) > best_score:
            best, best_score = layout.name, len(placed)
    return best


def placement_for(
    headers: Sequence[str], *, layout: str = "", mapping: Mapping[str, str] | None = None
) -> Placement:
    """Place the columns by a saved mapping, a named layout, or the layout the header shows."""
    if mapping is not None:
        unknown = sorted(set(mapping) - set(FIELDS))
        if unknown:
            raise ImportFileError(f"The mapping names fields we do not have: {', '.join(unknown)}.")
        missing = sorted(header for header in mapping.values() if header not in headers)
        if missing:
            raise ImportFileError(
                f"The file has no column {', '.join(repr(m) for m in missing)} "
                "that the mapping names."
            )
        if "external_id" not in mapping and "email" not in mapping:
            raise ImportFileError("The mapping must place an external id or an email column.")
        return Placement("mapping", {field: headers.index(h) for field, h in mapping.items()})
    if layout:
        if layout not in LAYOUTS:
            raise ImportFileError(
                f"Unknown layout {layout!r}; known layouts: {', '.join(sorted(LAYOUTS))}."
            )
        placed = _place(headers, LAYOUTS[layout].columns)
        if "external_id" not in placed and "email" not in placed:
            raise ImportFileError(
                f"This file is not in the {LAYOUTS[layout].label} layout: "
                "it has neither its id nor its email column."
            )
        return Placement(layout, placed)
    detected = layout_detect(headers)
    if detected is None:
        unplaced = [h for h in headers if h and h not in _KNOWN_HEADERS] or list(headers)
        raise ImportFileError(
            "The columns do not match a known CRM layout (Salesforce, HubSpot, Dynamics 365, "
            "Zoho) and no column mapping was given. Columns that could not be placed: "
            + ", ".join(repr(h) for h in unplaced)
            + "."
        )
    return Placement(detected, _place(headers, LAYOUTS[detected].columns))
