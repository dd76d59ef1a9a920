"""Counting by jurisdiction: a residence is an ISO 3166-2 subdivision, and every threshold
counts the residents of its own jurisdiction."""

import pytest

from customers.imports.normalize import row_normalize
from customers.models import Customer
from customers.regions import region_normalize, zip_state
from incidents.models import Obligation
from incidents.selectors import scope_jurisdiction_counts, scope_unplaced_regions
from incidents.services import incident_open, scope_set

from .factories import SegmentFactory, SegmentMembershipFactory
from .test_obligations import AWARE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("region", "country", "postal_code", "expected"),
    [
        ("Texas", "US", "", "TX"),
        ("tx", "US", "", "TX"),
        ("Tex.", "US", "", "TX"),
        (" TEXAS ", "US", "", "TX"),
        ("", "US", "78701", "TX"),  # Austin
        ("", "US", "73301", "TX"),  # 733 is the Austin IRS prefix inside Oklahoma's range
        ("", "US", "88510", "TX"),  # El Paso
        ("", "US", "09012", ""),  # military mail: no state
        ("", "US", "96910", ""),  # 969 serves Guam and the Northern Marianas
        ("Calif.", "US", "", "CA"),
        ("N.Y.", "US", "", "NY"),
        ("District of Columbia", "US", "", "DC"),
        ("Washington, D.C.", "US", "", "DC"),
        ("Puerto Rico", "US", "", "PR"),
        ("U.S. Virgin Islands", "US", "", "VI"),
        ("Guam", "US", "", "GU"),
        ("Bayern", "DE", "", "BY"),
        ("Ontario", "CA", "", "ON"),
        ("Narnia", "US", "", "Narnia"),  # kept as written, listed for a person
        ("Texas", "", "", "Texas"),  # no country: nothing to place it in
    ],
)
def test_a_region_is_placed_by_name_abbreviation_or_zip(region, country, postal_code, expected):
    assert region_normalize(region, country, postal_code) == expected


def test_a_zip_code_with_its_plus_four_is_placed():
    assert zip_state("78701-1234") == "TX"
    assert zip_state("7870") == ""


def test_the_import_stores_the_subdivision_code():
    row = row_normalize({"email": "a@example.com", "country": "US", "region": "Texas"})
    assert row.region == "TX"
    by_zip = row_normalize({"email": "b@example.com", "country": "US", "postal_code": "77002"})
    assert by_zip.region == "TX"


def scope(incident, people):
    """people: [(country, region, postal_code, n)] as they were stored (not normalised)."""
    segment = SegmentFactory.create()
    start = Customer.objects.count()
    batch: list[Customer] = []
    for country, region, postal_code, n in people:
        for _ in range(n):
            i = start + len(batch)
            batch.append(
                Customer(
                    email=f"p{i}@example.com",
                    email_normalized=f"p{i}@example.com",
                    country=country,
                    region=region,
                    postal_code=postal_code,
                )
            )
    for customer in Customer.objects.bulk_create(batch):
        SegmentMembershipFactory.create(segment=segment, customer=customer)
    scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment.pk], replace=False)


def owed(incident):
    return {o.terms["code"]: o for o in Obligation.objects.filter(incident=incident)}


def opened():
    return incident_open(
        actor=None, title="Portal", nature="n", awareness_at=AWARE, data_categories=["contact"]
    )


def test_texas_written_out_abbreviated_or_by_zip_all_count_for_texas():
    incident = opened()
    scope(incident, [("US", "Texas", "", 100), ("US", "tx", "", 100), ("US", "", "75201", 50)])

    assert scope_jurisdiction_counts(incident_id=incident.pk) == {("US", "TX"): 250}
    # 250 Texans owe the Attorney General's notice, whatever way they were written down.
    assert "us-tx-attorney-general" in owed(incident)
    assert "us-tx-individuals" in owed(incident)


def test_300_and_300_residents_of_two_states_owe_no_hipaa_media_notice(settings):
    settings.COMPANY_HIPAA_COVERED = True
    incident = opened()
    scope(incident, [("US", "California", "", 300), ("US", "NY", "", 300)])

    assert set(owed(incident)) >= {"hipaa-individuals", "hipaa-hhs"}
    assert "hipaa-media" not in owed(incident)


def test_501_residents_of_one_state_owe_the_hipaa_media_notice(settings):
    settings.COMPANY_HIPAA_COVERED = True
    incident = opened()
    scope(incident, [("US", "California", "", 300), ("US", "NY", "", 300)])
    scope(incident, [("US", "New York", "", 201)])

    media = owed(incident)["hipaa-media"]
    assert (
        incident.timeline.filter(kind="obligation.created", payload__regime="hipaa-media")
        .get()
        .payload["why"]
        == "501 affected residents of US-NY (threshold 501 in one)"
    )
    assert media.status == "open"


def test_residences_no_subdivision_was_found_for_are_listed():
    incident = opened()
    scope(
        incident,
        [("US", "Narnia", "", 3), ("US", "", "09012", 2), ("US", "TX", "", 1), ("FR", "", "", 4)],
    )

    assert scope_unplaced_regions(incident_id=incident.pk) == [
        ("US", "Narnia", 3),
        ("US", "09012", 2),
    ]
