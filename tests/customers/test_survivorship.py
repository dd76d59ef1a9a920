"""Survivorship with provenance: which source's contact value is kept, and where it came from."""

import pytest
from django.urls import reverse

from config import roles
from customers.models import Customer, SourcePriority, SourceRecord

from .conftest import run_import

pytestmark = pytest.mark.django_db

SF_HEADER = (
    "Contact ID,First Name,Last Name,Email,Phone,Mailing Street,Mailing City,"
    "Mailing Zip/Postal Code,Mailing Country\n"
)
HS_HEADER = (
    "Record ID,First Name,Last Name,Email,Phone Number,Street Address,City,Postal Code,"
    "Country/Region\n"
)


def sf(*rows: str) -> bytes:
    return (SF_HEADER + "".join(r + "\n" for r in rows)).encode()


def hubspot(*rows: str) -> bytes:
    return (HS_HEADER + "".join(r + "\n" for r in rows)).encode()


def test_an_address_change_in_a_newer_export_wins_and_its_source_shows(admin_client):
    run_import(hubspot("77,Ann,Lee,ann@example.com,,1 Old Road,Leeds,LS1 1AA,UK"), source="hubspot")
    run_import(
        sf("003A,Ann,Lee,ann@example.com,,2 New Street,York,YO1 7HH,UK"), source="salesforce"
    )

    ann = Customer.objects.get()
    assert (ann.street, ann.city, ann.postal_code) == ("2 New Street", "York", "YO1 7HH")
    assert (ann.address_source, ann.address_source_id) == ("salesforce", "003A")
    # Salesforce brought the same email later: it is the last to have brought it.
    assert ann.email_source == "salesforce"
    # Each source still holds what it said.
    assert SourceRecord.objects.get(source="hubspot").street == "1 Old Road"

    page = admin_client.get(reverse("admin:customers_customer_change", args=[ann.pk]))
    text = page.content.decode()
    assert "postal address: salesforce record 003A" in text
    assert "1 Old Road" in text and "2 New Street" in text


def test_a_source_of_higher_priority_keeps_its_address_over_a_newer_one():
    SourcePriority.objects.create(source="hubspot", priority=10)
    run_import(
        hubspot("77,Ann,Lee,ann@example.com,+44 20 7946 0000,1 Old Road,Leeds,LS1 1AA,UK"),
        source="hubspot",
    )
    run_import(
        sf("003A,Ann,Lee,ann@example.com,+44 20 7946 1111,2 New Street,York,YO1 7HH,UK"),
        source="salesforce",
    )

    ann = Customer.objects.get()
    assert (ann.street, ann.address_source) == ("1 Old Road", "hubspot")
    assert (ann.phone, ann.phone_source) == ("+442079460000", "hubspot")
    assert SourceRecord.objects.get(source="salesforce").street == "2 New Street"

    # The trusted source's own change still wins.
    run_import(
        hubspot("77,Ann,Lee,ann@example.com,,3 Third Way,Leeds,LS2 2BB,UK"), source="hubspot"
    )
    ann.refresh_from_db()
    assert (ann.street, ann.postal_code, ann.address_source) == (
        "3 Third Way",
        "LS2 2BB",
        "hubspot",
    )


def test_a_new_customer_records_where_each_value_came_from():
    run_import(sf("003A,Ann,Lee,ann@example.com,,,,,DE"), source="salesforce")
    ann = Customer.objects.get()
    assert (ann.email_source, ann.email_source_id) == ("salesforce", "003A")
    assert ann.email_seen_at is not None
    # A country alone is part of the address; no phone was given, so none is attributed.
    assert ann.address_source == "salesforce"
    assert (ann.phone_source, ann.phone_seen_at) == ("", None)


def test_values_each_source_holds_are_masked_for_roles_without_view_pii(client, make_user):
    run_import(
        sf("003A,Ann,Lee,ann@example.com,,2 New Street,York,YO1 7HH,UK"), source="salesforce"
    )
    client.force_login(make_user("ciso", roles.CISO))
    ann = Customer.objects.get()
    text = client.get(reverse("admin:customers_customer_change", args=[ann.pk])).content.decode()
    assert "2 New Street" not in text and "ann@example.com" not in text
    assert "postal address: salesforce record 003A" in text
