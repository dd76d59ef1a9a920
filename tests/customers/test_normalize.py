import pytest

from customers.imports import ImportFileError
from customers.imports.layouts import layout_detect, placement_for
from customers.imports.normalize import (
    RowRejected,
    consent_normalize,
    country_normalize,
    email_normalize,
    phone_normalize,
    row_normalize,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann.Lee@Example.COM ", ("Ann.Lee@Example.COM", "ann.lee@example.com", "valid")),
        # A malformed address is kept as written but is no matching key.
        ("ann at example.org", ("ann at example.org", "", "undeliverable")),
        ("wulf@", ("wulf@", "", "undeliverable")),
        ("x.example.org", ("x.example.org", "", "undeliverable")),
        ("", ("", "", "missing")),
    ],
)  # fmt: skip
def test_email_normalize(raw, expected):
    assert email_normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("DE", ("DE", "")), ("Germany", ("DE", "")), ("united kingdom", ("GB", "")),
     ("Deutschland", ("DE", "")), ("USA", ("US", "")), ("NLD", ("NL", "")),
     ("Atlantis", ("", "Atlantis")), ("", ("", ""))],
)  # fmt: skip
def test_country_from_name_or_code(raw, expected):
    assert country_normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49(0)1661318609", "DE", "+491661318609"),
        ("02199 35181", "DE", "+49219935181"),
        ("(029) 2018899", "GB", "+44292018899"),
        ("+1-753-458-7671", "", "+17534587671"),
        ("call me maybe", "DE", "call me maybe"),
    ],
)
def test_phone_to_e164_where_it_parses(raw, region, expected):
    assert phone_normalize(raw, region) == expected


def test_consent_values_and_opt_out_flags():
    assert consent_normalize("Do Not Allow") == "withdrawn"
    assert consent_normalize("ja") == "granted"
    assert consent_normalize("Non-marketing contact") == "withdrawn"
    assert consent_normalize("true", inverted=True) == "withdrawn"
    # Not having opted out is no consent.
    assert consent_normalize("false", inverted=True) == ""
    with pytest.raises(RowRejected):
        consent_normalize("perhaps")


def test_row_hash_changes_with_any_value():
    a = row_normalize({"external_id": "1", "email": "a@example.com", "city": "Berlin"})
    b = row_normalize({"external_id": "1", "email": "a@example.com", "city": "Bonn"})
    assert a.row_hash != b.row_hash
    assert a == row_normalize({"external_id": "1", "email": " a@example.com", "city": "Berlin "})


def test_too_long_value_is_rejected_naming_the_field():
    with pytest.raises(RowRejected) as exc:
        row_normalize({"external_id": "1", "city": "x" * 200})
    assert exc.value.field == "city"


def test_layouts_are_told_apart_by_their_headers():
    assert layout_detect(["Contact ID", "First Name", "Email", "Mailing Zip/Postal Code"]) == (
        "salesforce"
    )
    assert layout_detect(["Id", "FirstName", "Email", "MailingPostalCode"]) == "salesforce"
    assert layout_detect(["Record ID", "Email", "Country/Region"]) == "hubspot"
    assert layout_detect(["Record Id", "Email", "Mailing Zip"]) == "zoho"
    assert layout_detect(["(Do Not Modify) Contact", "Email", "Bulk Email"]) == "dynamics"
    assert layout_detect(["Kundennummer", "E-Mail"]) is None


def test_mapping_with_unknown_field_is_refused():
    with pytest.raises(ImportFileError, match="fields we do not have: shoe_size"):
        placement_for(["A"], mapping={"shoe_size": "A"})
