"""The cohort figures, computed in SQL, against the same figures computed here by plain
Python over the same rows."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from customers.models import SegmentMembership, Touchpoint
from incidents.models import AffectedCustomer, Incident
from notifications.recovery.cohorts import (
    AFFECTED,
    METRICS,
    UNAFFECTED,
    recovery_cohorts,
    recovery_figures_refresh,
)
from tests.campaigns.factories import segment_with

from .factories import CustomerFactory, IncidentFactory, affected

pytestmark = pytest.mark.django_db

NOTICE_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


@pytest.fixture
def population():
    """60 affected and 90 unaffected people over two segments, 40 outside both, and
    touchpoints of every kind from a week before the notice to a week after week 12,
    some exactly on a week's boundary."""
    rng = random.Random(22)  # noqa: S311 (a repeatable population, not a secret)
    incident = IncidentFactory.create()
    other_incident = IncidentFactory.create()
    hit = [affected(incident, "en", ["credentials"]) for _ in range(60)]
    spared = [CustomerFactory.create() for _ in range(90)]
    outside = [CustomerFactory.create() for _ in range(40)]
    # Affected by another incident only: unaffected by this one.
    for person in spared[:10]:
        AffectedCustomer.objects.create(
            incident=other_incident, customer=person, data_categories=["contact"]
        )
    segment_with(hit[:30] + spared[:45])
    segment_with(hit[20:50] + spared[40:])  # some people are in both
    segment_with(outside)
    Incident.objects.filter(pk=incident.pk).update(people_notified_at=NOTICE_AT)
    kinds = [*METRICS, Touchpoint.Kind.PROMOTIONAL, Touchpoint.Kind.RECORD]
    rows = []
    for person in hit + spared + outside:
        for _ in range(rng.randint(0, 8)):
            offset = timedelta(seconds=rng.randint(-7 * 86400, 13 * 7 * 86400))
            if rng.random() < 0.1:
                offset = WEEK * rng.randint(-1, 13)  # exactly on a boundary
            rows.append(
                Touchpoint(
                    customer=person,
                    channel=Touchpoint.Channel.EMAIL,
                    kind=rng.choice(kinds),
                    occurred_at=NOTICE_AT + offset,
                )
            )
    Touchpoint.objects.bulk_create(rows)
    recovery_figures_refresh(incident_id=incident.pk)
    incident.refresh_from_db()
    return incident


def figures_in_python(incident):
    """The same figures by plain Python over the rows, from their definition."""
    affected_ids = set(
        AffectedCustomer.objects.filter(incident=incident).values_list("customer_id", flat=True)
    )
    segments = set(
        SegmentMembership.objects.filter(customer_id__in=affected_ids).values_list(
            "segment_id", flat=True
        )
    )
    unaffected_ids = (
        set(
            SegmentMembership.objects.filter(segment_id__in=segments).values_list(
                "customer_id", flat=True
            )
        )
        - affected_ids
    )
    people: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    for customer_id, kind, at in Touchpoint.objects.values_list(
        "customer_id", "kind", "occurred_at"
    ):
        if kind not in METRICS or not NOTICE_AT <= at < NOTICE_AT + 12 * WEEK:
            continue
        week = int((at - NOTICE_AT) // WEEK)
        if customer_id in affected_ids:
            people[(AFFECTED, kind, week)].add(customer_id)
        elif customer_id in unaffected_ids:
            people[(UNAFFECTED, kind, week)].add(customer_id)
    sizes = {AFFECTED: len(affected_ids), UNAFFECTED: len(unaffected_ids)}
    return sizes, people


def test_cohort_figures_match_plain_python_over_the_same_rows(population):
    sizes, people = figures_in_python(population)
    with time_machine.travel(NOTICE_AT + 20 * WEEK):
        cohorts = recovery_cohorts(incident=population)
    assert cohorts is not None
    assert cohorts.size == sizes == {AFFECTED: 60, UNAFFECTED: 90}
    checked = 0
    for cohort in (AFFECTED, UNAFFECTED):
        for metric in METRICS:
            for week in range(12):
                expected = len(people[(cohort, metric, week)])
                assert cohorts.counts[cohort][metric][week] == expected, (cohort, metric, week)
                assert cohorts.rate(cohort, metric, week) == round(
                    100.0 * expected / sizes[cohort], 2
                )
                checked += expected
    assert checked > 300  # the seeded rows do land in the figures


def test_the_table_has_a_row_per_response_and_week_begun(population):
    with time_machine.travel(NOTICE_AT + 20 * WEEK):
        rows = recovery_cohorts(incident=population).rows()  # type: ignore[union-attr]
    assert len(rows) == len(METRICS) * 12
    assert {row["metric"] for row in rows} == set(METRICS.values())
    # Two and a half weeks in: three weeks have begun, the rest have no figures yet.
    with time_machine.travel(NOTICE_AT + 2.5 * WEEK):
        cohorts = recovery_cohorts(incident=population)
    assert cohorts is not None
    assert len(cohorts.rows()) == len(METRICS) * 3
    assert cohorts.rate(AFFECTED, Touchpoint.Kind.OPENED, 3) is None


def test_no_figures_before_the_notice(db):
    incident = IncidentFactory.create()
    assert recovery_figures_refresh(incident_id=incident.pk) is None
    assert recovery_cohorts(incident=incident) is None


def test_a_refresh_counts_what_came_in_since(population):
    person = AffectedCustomer.objects.filter(incident=population).earliest("pk").customer
    before = recovery_cohorts(incident=population)
    Touchpoint.objects.create(
        customer=person,
        channel=Touchpoint.Channel.IMPORT,
        kind=Touchpoint.Kind.CODE_REDEEMED,
        occurred_at=NOTICE_AT + 11 * WEEK + timedelta(days=6),
    )
    recovery_figures_refresh(incident_id=population.pk)
    after = recovery_cohorts(incident=population)
    assert before is not None and after is not None
    redeemed = Touchpoint.Kind.CODE_REDEEMED
    assert after.counts[AFFECTED][redeemed][11] in (
        before.counts[AFFECTED][redeemed][11],  # they had redeemed in that week already
        before.counts[AFFECTED][redeemed][11] + 1,
    )
    assert after.computed_at >= before.computed_at


def test_reading_the_figures_takes_two_queries_whatever_the_population(
    population, django_assert_num_queries
):
    with django_assert_num_queries(2):
        recovery_cohorts(incident=population)
