"""A campaign mails people, not records: a record merged into another is not mailed again."""

from typing import Any

import pytest

from campaigns.models import Campaign, CampaignSend
from campaigns.selectors import (
    campaign_audience,
    campaign_list_annotated,
    held_customer_incidents,
)
from customers.models import DuplicateCandidate
from customers.services import customer_merge, customer_unmerge
from incidents.services import scope_add_forensic_list

from .factories import (
    CampaignFactory,
    CustomerFactory,
    IncidentFactory,
    SegmentFactory,
    segment_with,
)

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


def test_an_affected_record_merged_away_is_not_mailed_once_it_leaves_the_scope(make_user):
    analyst = make_user("analyst")
    survivor = CustomerFactory.create()
    merged = CustomerFactory.create()
    campaign = CampaignFactory.create(segments=[segment_with([merged])])
    # Started before the merge: the merged record has a send waiting, held by the breach.
    CampaignSend.objects.create(campaign=campaign, customer=merged)
    incident = IncidentFactory.create(data_categories=["contact"])
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=analyst,
        content=f"email\n{merged.email}\n".encode(),
        filename="leak.csv",
    )
    assert held_customer_incidents(campaign_id=campaign.pk, customer_ids=[merged.pk])

    a, b = sorted([survivor.pk, merged.pk])
    pair = DuplicateCandidate.objects.create(
        customer_a_id=a, customer_b_id=b, reason="phone", score=0.95
    )
    customer_merge(candidate=pair, survivor=survivor, by=analyst)

    # The merged record is out of the scope, so no hold would stop its send: it is skipped,
    # and the person is held as the survivor.
    send = CampaignSend.objects.get(campaign=campaign, customer=merged)
    assert (send.status, send.get_skip_reason_display()) == (
        "skipped",
        "Record merged into another",
    )
    assert held_customer_incidents(campaign_id=campaign.pk, customer_ids=[survivor.pk]) == [
        (survivor.pk, incident.pk)
    ]
