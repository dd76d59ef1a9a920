"""Merge keys that deserve trust: malformed, placeholder and shared emails join nobody."""

import pytest
from django.urls import reverse

from customers.models import Customer, PlaceholderEmail, SharedEmail, SourceRecord
from customers.services import customer_save

from .conftest import run_import
from .factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "Contact ID,First Name,Last Name,Email,Mailing Street,Mailing Zip/Postal Code,Mailing Country\n"
)
HUBSPOT_HEADER = "Record ID,First Name,Last Name,Email,Street Address,Postal Code,Country/Region\n"


def sf(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


def hubspot(*rows: str) -> bytes:
    return (HUBSPOT_HEADER + "".join(r + "\n" for r in rows)).encode()


def test_two_hundred_people_sharing_one_malformed_address_stay_two_hundred(small_batches):
    rows = [
        f"S{i},Person,Number{i},@example.org,{i} High Street,{10000 + i},DE" for i in range(200)
    ]

    job = run_import(sf(*rows), source="salesforce")

    assert (job.created, job.merged, job.email_malformed) == (200, 0, 200)
    assert "200 malformed" in job.email_unkeyed_summary
    customers = Customer.objects.all()
    assert customers.count() == 200
    assert {c.email_status for c in customers} == {Customer.EmailStatus.UNDELIVERABLE}
    assert {c.email for c in customers} == {"@example.org"}
    # Each keeps their own address: 200 letters to 200 houses.
    assert len({c.street for c in customers}) == 200
    assert SourceRecord.objects.get(external_id="S42").customer.street == "42 High Street"


def test_reimport_of_the_malformed_rows_changes_nothing():
    data = sf("S1,Ann,Lee,@example.org,1 Way,10001,DE", "S2,Bo,Ma,@example.org,2 Way,10002,DE")
    run_import(data, source="salesforce")
    again = run_import(data, source="salesforce")
    assert (again.unchanged, again.created, again.merged) == (2, 0, 0)
    assert Customer.objects.count() == 2


def test_placeholder_shared_by_three_external_ids_joins_nobody():
    job = run_import(
        sf(
            "S1,Ann,Lee,noemail@shop.example,1 Way,10001,DE",
            "S2,Bo,Ma,NoEmail@shop.example,2 Way,10002,DE",
            "S3,Cy,Ng,noemail@shop.example,3 Way,10003,DE",
        ),
        source="salesforce",
    )
    assert (job.created, job.merged, job.email_placeholder) == (3, 0, 3)
    assert "3 a placeholder address" in job.email_unkeyed_summary
    assert sorted(Customer.objects.values_list("street", "email_status")) == [
        ("1 Way", "shared"),
        ("2 Way", "shared"),
        ("3 Way", "shared"),
    ]
    # Nor does it join a later row from another CRM.
    later = run_import(hubspot("9,Di,Ox,noemail@shop.example,4 Way,10004,DE"), source="hubspot")
    assert (later.created, later.merged) == (1, 0)


def test_pattern_added_by_an_admin_applies_to_the_next_import():
    PlaceholderEmail.objects.create(pattern="*@nomail.example")
    job = run_import(sf("S1,Ann,Lee,ann@NOMAIL.example,1 Way,10001,DE"), source="salesforce")
    assert job.email_placeholder == 1
    assert Customer.objects.get().email_normalized == ""


def test_address_on_several_ids_of_one_source_is_remembered_as_shared():
    first = run_import(sf("S1,Ann,Lee,family@home.example,1 Way,10001,DE"), source="salesforce")
    assert first.email_shared == 0
    ann = Customer.objects.get()
    assert ann.email_normalized == "family@home.example"

    second = run_import(sf("S2,Bo,Lee,family@home.example,1 Way,10001,DE"), source="salesforce")

    assert (second.created, second.merged, second.email_shared) == (1, 0, 1)
    ann.refresh_from_db()
    # Ann loses the address as a key, and no one is mailed at an address two people read.
    assert (ann.email, ann.email_normalized, ann.email_status) == (
        "family@home.example",
        "",
        "shared",
    )
    assert SharedEmail.objects.get().source == "salesforce"
    third = run_import(hubspot("7,Cy,Lee,family@home.example,,,DE"), source="hubspot")
    assert (third.created, third.merged, third.email_shared) == (1, 0, 1)


def test_one_person_in_two_crms_still_merges_on_a_valid_email():
    run_import(sf("S1,Ann,Lee,ann@example.com,1 Way,10001,DE"), source="salesforce")
    job = run_import(hubspot("9,Ann,Lee,ANN@example.com,,,DE"), source="hubspot")
    assert (job.created, job.merged) == (0, 1)


def test_malformed_address_does_not_replace_a_usable_one():
    run_import(sf("S1,Ann,Lee,ann@example.com,1 Way,10001,DE"), source="salesforce")
    run_import(sf("S1,Ann,Lee,ann@,1 Way,10001,DE"), source="salesforce")
    ann = Customer.objects.get()
    assert (ann.email, ann.email_status) == ("ann@example.com", "valid")


def test_row_without_id_and_with_a_placeholder_email_is_rejected_saying_why():
    job = run_import(sf(",Ann,Lee,none@none.com,1 Way,10001,DE"), source="salesforce")
    assert (job.created, job.rejected) == (0, 1)
    rejection = job.rejections.get()
    assert rejection.field == "external_id"
    assert "placeholder" in rejection.reason


def test_placeholder_typed_by_hand_is_no_key():
    customer = CustomerFactory.build(email="info@company.example")
    customer_save(customer=customer)
    assert (customer.email_normalized, customer.email_status) == ("", "shared")


def test_job_page_says_why_emails_join_nobody(admin_client):
    job = run_import(
        sf("S1,Ann,Lee,ann@,1 Way,10001,DE", "S2,Bo,Ma,none@none.com,2 Way,10002,DE"),
        source="salesforce",
    )
    page = admin_client.get(
        reverse("admin:customers_importjob_change", args=[job.pk])
    ).content.decode()
    assert "2 rows kept with an email that matches no one else" in page
    assert "1 malformed" in page and "1 a placeholder address" in page
