"""A campaign mails people, not records: a record merged into another is not mailed again."""

from typing import Any

import pytest

from campaigns.models import Campaign
from campaigns.selectors import campaign_audience, campaign_list_annotated
from customers.models import DuplicateCandidate
from customers.services import customer_merge, customer_unmerge

from .factories import CampaignFactory, CustomerFactory, SegmentFactory, segment_with

pytestmark = pytest.mark.django_db


def test_the_survivor_takes_the_merged_records_place_in_the_audience(make_user):
    operator = make_user("mo")
    survivor = CustomerFactory.create()
    merged = CustomerFactory.create()
    stays = CustomerFactory.create()
    newsletter = segment_with([merged, stays])
    campaign = CampaignFactory.create(segments=[newsletter])
    other = CampaignFactory.create(segments=[SegmentFactory.create()])

    a, b = sorted([survivor.pk, merged.pk])
    pair = DuplicateCandidate.objects.create(
        customer_a_id=a, customer_b_id=b, reason="phone", score=0.95
    )
    done = customer_merge(candidate=pair, survivor=survivor, by=operator)

    assert set(campaign_audience(campaign=campaign).values_list("pk", flat=True)) == {
        survivor.pk,
        stays.pk,
    }
    listed: Any = campaign_list_annotated(Campaign.objects.all())
    counts = {c.pk: c.audience_count for c in listed}
    assert counts == {campaign.pk: 2, other.pk: 0}

    customer_unmerge(merge=done, by=operator)
    assert set(campaign_audience(campaign=campaign).values_list("pk", flat=True)) == {
        merged.pk,
        stays.pk,
    }
