"""A customer merged into another is no second person: the survivor takes their place."""

import pytest

from customers.models import DuplicateCandidate
from customers.services import customer_merge, customer_unmerge
from incidents.models import AffectedCustomer, Incident, TimelineEvent
from incidents.selectors import scope_jurisdiction_counts
from incidents.services import scope_add_forensic_list, scope_set

from .factories import CustomerFactory, IncidentFactory, SegmentFactory, SegmentMembershipFactory

pytestmark = pytest.mark.django_db


def scoped(incident):
    return dict(
        AffectedCustomer.objects.filter(incident=incident).values_list(
            "customer_id", "data_categories"
        )
    )


def merge(survivor, merged, by):
    a, b = sorted([survivor.pk, merged.pk])
    pair = DuplicateCandidate.objects.create(
        customer_a_id=a, customer_b_id=b, reason="name_postal", score=0.9
    )
    return customer_merge(candidate=pair, survivor=survivor, by=by)


def test_a_forensic_list_naming_a_merged_away_record_scopes_the_survivor(make_user):
    analyst = make_user("analyst")
    survivor = CustomerFactory.create(country="FR")
    merged = CustomerFactory.create(email="old.address@example.com", country="DE")
    merge(survivor, merged, analyst)
    incident = IncidentFactory.create(data_categories=["contact"])

    change = scope_add_forensic_list(
        incident_id=incident.pk,
        actor=analyst,
        content=b"email\nOLD.address@example.com\n",
        filename="leak.csv",
    )

    assert (change.added, change.total, change.unmatched) == (1, 1, 0)
    assert scoped(incident) == {survivor.pk: ["contact"]}
    # Counted where the survivor lives, once.
    assert scope_jurisdiction_counts(incident_id=incident.pk) == {("FR", ""): 1}


def test_both_records_in_a_segment_count_as_one_person(make_user):
    analyst = make_user("analyst")
    segment = SegmentFactory.create()
    survivor = SegmentMembershipFactory.create(segment=segment).customer
    merged = SegmentMembershipFactory.create(segment=segment).customer
    other = SegmentMembershipFactory.create(segment=segment).customer
    merge(survivor, merged, analyst)
    incident = IncidentFactory.create(data_categories=["contact"])

    change = scope_set(incident_id=incident.pk, actor=analyst, segment_ids=[segment.pk])

    assert change.total == 2
    assert set(scoped(incident)) == {survivor.pk, other.pk}


def test_merging_an_affected_record_moves_it_to_the_survivor_on_the_timeline(make_user):
    analyst = make_user("analyst")
    survivor, merged, bystander = CustomerFactory.create_batch(3)
    incident = IncidentFactory.create(data_categories=["contact", "credentials"])
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=analyst,
        content=f"email\n{merged.email}\n{bystander.email}\n".encode(),
        filename="leak.csv",
        data_categories=["credentials"],
    )
    # A second incident holds both records already: they become one person in it.
    both = IncidentFactory.create(data_categories=["contact", "credentials"])
    scope_add_forensic_list(
        incident_id=both.pk,
        actor=analyst,
        content=f"email\n{survivor.email}\n".encode(),
        filename="a.csv",
        data_categories=["contact"],
    )
    scope_add_forensic_list(
        incident_id=both.pk,
        actor=analyst,
        content=f"email\n{merged.email}\n".encode(),
        filename="b.csv",
        data_categories=["credentials"],
    )

    done = merge(survivor, merged, analyst)

    assert scoped(incident) == {survivor.pk: ["credentials"], bystander.pk: ["credentials"]}
    assert scoped(both) == {survivor.pk: ["contact", "credentials"]}
    moved = TimelineEvent.objects.get(incident=incident, kind="scope.merged")
    assert moved.payload["merged"] == merged.pk
    assert moved.payload["survivor"] == survivor.pk
    assert TimelineEvent.objects.filter(incident=both, kind="scope.merged").count() == 1

    # Undoing the merge puts the split-off record back; the survivor stays affected.
    customer_unmerge(merge=done, by=analyst)
    assert scoped(incident) == {
        survivor.pk: ["credentials"],
        merged.pk: ["credentials"],
        bystander.pk: ["credentials"],
    }
    assert TimelineEvent.objects.filter(incident=incident, kind="scope.unmerged").count() == 1


def test_a_closed_incident_keeps_the_scope_it_was_closed_with(make_user):
    analyst = make_user("analyst")
    survivor, merged = CustomerFactory.create_batch(2)
    incident = IncidentFactory.create(data_categories=["contact"])
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=analyst,
        content=f"email\n{merged.email}\n".encode(),
        filename="leak.csv",
    )
    # Closed the way incident_close leaves it; its scope is the record of what was.
    Incident.objects.filter(pk=incident.pk).update(status=Incident.Status.CLOSED)

    merge(survivor, merged, analyst)

    assert scoped(incident) == {merged.pk: ["contact"]}
