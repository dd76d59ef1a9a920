"""Suspected duplicates without an email match: found, queued, merged only when confirmed."""

import pytest
from django.urls import reverse

from config import roles
from customers.models import Customer, CustomerMerge, DuplicateCandidate, SourceRecord
from customers.services import (
    MergeError,
    customer_merge,
    customer_unmerge,
    duplicate_dismiss,
    duplicates_find,
)
from customers.services.duplicates import pair_score

from .conftest import run_import

pytestmark = pytest.mark.django_db

SF = (
    "Contact ID,First Name,Last Name,Email,Phone,Mailing Street,Mailing City,"
    "Mailing Zip/Postal Code,Mailing Country\n"
)
HS = (
    "Record ID,First Name,Last Name,Email,Phone Number,Street Address,City,Postal Code,"
    "Country/Region\n"
)


@pytest.fixture
def ann_in_two_crms():
    # Two addresses, so no exact key joins them: the same woman at the same postcode.
    run_import(
        (SF + "003A,Ann,Lee,ann.lee@work.example,,12 High Street,Leeds,LS1 1AA,UK\n").encode(),
        source="salesforce",
    )
    run_import(
        (HS + "77,Ann,LEE,annlee@home.example,,12 High St,Leeds,ls1 1aa,UK\n").encode(),
        source="hubspot",
    )
    assert Customer.objects.count() == 2


def test_same_name_and_postal_code_in_two_crms_is_queued_not_merged(
    ann_in_two_crms, client, make_user
):
    assert duplicates_find() == 1

    pair = DuplicateCandidate.objects.get()
    assert (pair.reason, pair.status) == ("name_postal", "pending")
    assert pair.score >= 0.85
    # Found, not merged: two customers, each with their own source record.
    assert Customer.objects.filter(merged_into__isnull=True).count() == 2
    # Running again queues nothing twice.
    assert duplicates_find() == 0

    # A marketing operator finds the queue from the customer list and confirms.
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    listing = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    queue_url = reverse("admin:customers_duplicatecandidate_changelist")
    assert queue_url in listing
    queue = client.get(queue_url + "?status__exact=pending").content.decode()
    assert "Ann Lee" in queue and "Ann LEE" in queue
    client.post(
        queue_url,
        {"action": "merge_keep_older", "_selected_action": [pair.pk]},
    )

    pair.refresh_from_db()
    assert pair.status == "merged"
    survivor = Customer.objects.get(merged_into__isnull=True)
    assert survivor.pk == pair.customer_a_id
    assert sorted(survivor.sources.values_list("source", flat=True)) == ["hubspot", "salesforce"]
    assert survivor.touchpoints.filter(kind="record").exists()


def test_unmerge_gives_each_their_source_records_back(ann_in_two_crms, admin_user):
    duplicates_find()
    pair = DuplicateCandidate.objects.get()
    merge = customer_merge(candidate=pair, survivor=pair.customer_a, by=admin_user)
    with pytest.raises(MergeError):
        customer_merge(candidate=pair, survivor=pair.customer_a, by=admin_user)

    customer_unmerge(merge=merge, by=admin_user)

    assert Customer.objects.filter(merged_into__isnull=True).count() == 2
    assert SourceRecord.objects.get(source="hubspot").customer_id == pair.customer_b_id
    pair.refresh_from_db()
    assert pair.status == "dismissed"
    merge.refresh_from_db()
    assert merge.unmerged_by == admin_user
    with pytest.raises(MergeError):
        customer_unmerge(merge=merge, by=admin_user)
    assert CustomerMerge.objects.count() == 1


def test_dismissed_pair_never_returns(ann_in_two_crms, admin_user):
    duplicates_find()
    duplicate_dismiss(candidate=DuplicateCandidate.objects.get(), by=admin_user)
    assert duplicates_find() == 0


def test_same_phone_with_different_names_is_not_queued():
    run_import(
        (SF + "1,Ann,Lee,a@x.example,+44 20 7946 0000,,,,UK\n"
         "2,Zed,Quist,z@x.example,+44 20 7946 0000,,,,UK\n").encode(),
        source="salesforce",
    )  # fmt: skip
    assert duplicates_find() == 0


def test_scores():
    ann = ("Ann", "Lee", "12 High Street", "")
    assert pair_score(ann, ("ann", "LEE", "12 High Street", "")) == 1.0
    assert pair_score(ann, ("Bob", "Lee", "40 Low Road", "")) < 0.85


def test_same_phone_and_name_in_two_crms_is_queued():
    run_import(
        (SF + "1,Ann,Lee,a@x.example,+44 20 7946 0000,,,,UK\n").encode(), source="salesforce"
    )
    run_import((HS + "9,Ann,Lee,b@y.example,020 7946 0000,,,,UK\n").encode(), source="hubspot")
    assert duplicates_find() == 1
    assert DuplicateCandidate.objects.get().reason == "phone"


def test_a_later_import_of_the_merged_away_email_finds_the_survivor(ann_in_two_crms, admin_user):
    duplicates_find()
    pair = DuplicateCandidate.objects.get()
    customer_merge(candidate=pair, survivor=pair.customer_a, by=admin_user)

    job = run_import(
        (SF + "003NEW,Ann,Lee,AnnLee@home.example,,12 High Street,Leeds,LS1 1AA,UK\n").encode(),
        source="zoho",
    )

    assert (job.created, job.merged) == (0, 1)
    assert SourceRecord.objects.get(source="zoho").customer_id == pair.customer_a_id
    assert Customer.objects.filter(merged_into__isnull=True).count() == 1


def test_a_record_others_were_merged_into_can_only_survive(admin_user):
    run_import(
        (SF + "1,Ann,Lee,a@x.example,+44 20 7946 0000,,,,UK\n").encode(), source="salesforce"
    )
    run_import((HS + "9,Ann,Lee,b@y.example,020 7946 0000,,,,UK\n").encode(), source="hubspot")
    run_import((HS + "10,Ann,Lee,c@z.example,+44 20 7946 0000,,,,UK\n").encode(), source="shop")
    first, second, third = Customer.objects.order_by("pk")
    duplicates_find()
    pair = DuplicateCandidate.objects.get(customer_a=first, customer_b=second)
    customer_merge(candidate=pair, survivor=first, by=admin_user)
    other = DuplicateCandidate.objects.get(customer_a=first, customer_b=third)

    with pytest.raises(MergeError, match="keep it as the survivor"):
        customer_merge(candidate=other, survivor=third, by=admin_user)
    customer_merge(candidate=other, survivor=first, by=admin_user)
    assert Customer.objects.filter(merged_into=first).count() == 2
