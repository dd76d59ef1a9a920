"""Readiness counts people: a record merged into another is counted once, as the survivor."""

import pytest

from config.readiness.selectors import reach_rows, stale_count
from customers.models import DuplicateCandidate
from customers.services import customer_merge
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_merged_away_record_is_no_second_person_to_reach(make_user):
    survivor = CustomerFactory.create(country="DE")
    merged = CustomerFactory.create(country="DE")
    CustomerFactory.create(country="FR")
    assert sum(r.total for r in reach_rows()) == 3
    assert stale_count() == 3

    a, b = sorted([survivor.pk, merged.pk])
    pair = DuplicateCandidate.objects.create(
        customer_a_id=a, customer_b_id=b, reason="phone", score=0.95
    )
    customer_merge(candidate=pair, survivor=survivor, by=make_user("mo"))

    assert {(r.country, r.total) for r in reach_rows()} == {("DE", 1), ("FR", 1)}
    assert stale_count() == 2
